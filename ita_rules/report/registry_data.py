"""The registry as the report shows it (docs/architecture.md#report): every valid version in
the work tree with what the history index knows of it (the commit, git author and date that
introduced it, its lifecycle events and so its active windows), and the diff between any two
versions of a setup, classified as ``ita-rules diff`` classifies it."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ita_rules.core.findings import dotted
from ita_rules.report.diffs import changes, level

if TYPE_CHECKING:
    from ita_rules.core.findings import Finding
    from ita_rules.rules.index import Progress
    from ita_rules.rules.model import Rule
    from ita_rules.workspace import Workspace

IGNORED_IN_DIFFS = ("version", "created", "params_hash")  # always differ (as ``diff`` does)


@dataclass(frozen=True)
class Event:
    """A lifecycle event of a version file from the history index."""

    kind: str  # introduced, deprecated, activated, deleted, renamed, restored
    commit: str
    at: str
    git_author: str
    detail: str


@dataclass(frozen=True)
class VersionView:
    """One version of a setup: its file, and its history (None when not committed yet)."""

    rule: Rule
    commit: str | None = None
    git_author: str | None = None
    introduced_at: str | None = None
    events: tuple[Event, ...] = ()

    @property
    def version(self) -> str:
        return str(self.rule.version)

    def windows(self, now: str) -> list[tuple[str, str]]:
        """The active windows ``(from, to)`` replayed from the events (``to`` = ``now`` while
        still active); a version never committed has none."""
        out: list[tuple[str, str]] = []
        start: str | None = None
        for e in self.events:
            if e.kind in ("introduced", "restored", "activated") and start is None:
                if not (e.kind == "introduced" and e.detail == "inactive"):
                    start = e.at
            elif e.kind in ("deprecated", "deleted", "renamed") and start is not None:
                out.append((start, e.at))
                start = None
        if start is not None:
            out.append((start, now))
        return out


@dataclass(frozen=True)
class DiffView:
    """What changed from version ``a`` to ``b``: each change, the bump level, and the commits
    (with author) that introduced the versions after ``a`` up to ``b``."""

    a: str
    b: str
    level: str  # none, minor, major
    changes: list[dict[str, Any]]
    via: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "level": self.level,
            "changes": self.changes,
            "via": self.via,
        }


@dataclass
class SetupView:
    """A setup and its versions, oldest first."""

    setup_id: str
    versions: list[VersionView] = field(default_factory=list)

    @property
    def latest(self) -> VersionView:
        return self.versions[-1]

    @property
    def active(self) -> bool:
        return any(v.rule.active for v in self.versions)

    @property
    def tags(self) -> list[str]:
        return sorted({t for v in self.versions for t in v.rule.tags})

    def diffs(self) -> list[DiffView]:
        """Every pair of versions (older first), each diffed once."""
        return [
            version_diff(self.versions, i, j) for j in range(len(self.versions)) for i in range(j)
        ]


def version_diff(versions: Sequence[VersionView], i: int, j: int) -> DiffView:
    """The diff from ``versions[i]`` to ``versions[j]`` (``i < j``), as ``ita-rules diff``
    shows it (:func:`ita_rules.rules.diffing.compare_versions`)."""
    old, new = versions[i].rule.data, versions[j].rule.data
    found = changes(
        {k: v for k, v in old.items() if k not in IGNORED_IN_DIFFS},
        {k: v for k, v in new.items() if k not in IGNORED_IN_DIFFS},
    )
    bump = level(old, new, found)
    via = [
        {
            "version": v.version,
            "commit": (v.commit or "")[:12],
            "author": v.rule.author,
            "git_author": v.git_author or "",
            "at": v.introduced_at or "",
        }
        for v in versions[i + 1 : j + 1]
    ]
    rows = [
        {
            "path": dotted(c.path),
            "change": {"+": "added", "-": "removed", "~": "changed"}[c.kind],
            "old": shown(c.old) if c.kind != "+" else "",
            "new": shown(c.new) if c.kind != "-" else "",
        }
        for c in found
    ]
    return DiffView(versions[i].version, versions[j].version, bump, rows, via)


def shown(value: Any) -> str:
    """A value of a diff as one line of JSON, cut at 120 characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 120 else text[:119] + "…"


def gather_setups(
    ws: Workspace, progress: Progress | None = None
) -> tuple[list[SetupView], list[Finding]]:
    """Every setup of the work tree with its valid versions and their history; the findings of
    the files that are not valid (shown as a note, as ``list`` does)."""
    rules, findings = ws.registry.scan()
    history = _history(ws, progress) if rules else {}
    setups: dict[str, SetupView] = {}
    for rule in rules:
        setup = setups.setdefault(rule.setup_id, SetupView(rule.setup_id))
        row, events = history.get(rule.path, (None, ()))
        if row is None:
            setup.versions.append(VersionView(rule))
            continue
        setup.versions.append(
            VersionView(
                rule,
                commit=row["introduced_commit"],
                git_author=row["git_author"],
                introduced_at=row["introduced_at"],
                events=tuple(events),
            )
        )
    return list(setups.values()), findings


def _history(
    ws: Workspace, progress: Progress | None
) -> dict[str, tuple[sqlite3.Row, list[Event]]]:
    """The refreshed index read in two queries: path -> (its versions row, its events)."""
    from ita_rules.rules.index import opened, source

    src = source(ws.root, ws.settings.rules_dir, ws.settings.protected_ref)
    events: defaultdict[str, list[Event]] = defaultdict(list)
    with opened(src, progress) as conn:
        rows = conn.execute("SELECT * FROM versions WHERE deleted_commit IS NULL").fetchall()
        for path, kind, commit, at, author, detail in conn.execute(
            "SELECT file_path, kind, commit_id, at, git_author, detail FROM events ORDER BY id"
        ):
            events[path].append(Event(kind, commit, at, author, detail))
    return {r["file_path"]: (r, events[r["file_path"]]) for r in rows}

"""What the registry index answers (docs/architecture.md#registry-index): the history audit
(``check --history``), a setup's log, the manifest and its export, and the versions present at
a past moment (``list --at``). The functions that take a :class:`~ita_rules.rules.index.Source`
refresh the index first; those that take a connection read an open one.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ita_rules.core import times
from ita_rules.core.errors import NotFound
from ita_rules.core.findings import Finding
from ita_rules.rules.compare import CheckResult
from ita_rules.rules.folders import named_folders
from ita_rules.rules.index import Progress, Source, opened
from ita_rules.rules.model import check_setup_id

EXPORT_FORMATS = ("json", "csv")
EXPORT_COLUMNS = (
    "setup_id",
    "version",
    "rule_version",
    "file_path",
    "author",
    "git_author",
    "created",
    "introduced_commit",
    "introduced_at",
    "params_hash",
    "active",
    "deprecation_reason",
    "active_changed_commit",
    "active_changed_at",
)


def audit(conn: sqlite3.Connection) -> list[Finding]:
    """Every finding of the history audit, oldest commit first."""
    rows = conn.execute("SELECT path, code, field, message FROM findings ORDER BY id").fetchall()
    return [Finding(r[0], r[3], field=r[2], code=r[1]) for r in rows]


def introduced_if_changed(conn: sqlite3.Connection, file_path: str) -> str | None:
    """The commit that introduced the version at ``file_path`` (its path in the repository)
    when a later commit of the indexed history changed it beyond its lifecycle fields (a
    ``changed`` event), else None."""
    changed = conn.execute(
        "SELECT 1 FROM events WHERE file_path = ? AND kind = 'changed' LIMIT 1", (file_path,)
    ).fetchone()
    if changed is None:
        return None
    row = conn.execute(
        "SELECT introduced_commit FROM versions WHERE file_path = ?", (file_path,)
    ).fetchone()
    return str(row[0]) if row is not None else None


def _row_dict(r: sqlite3.Row) -> dict[str, Any]:
    d = {k: r[k] for k in r.keys() if k != "blob"}  # noqa: SIM118 - sqlite3.Row
    d["active"] = bool(d["active"])
    d["rule_version"] = f"v{d['version']}"
    return d


def _order(rows: list[sqlite3.Row]) -> list[sqlite3.Row]:
    def key(r: sqlite3.Row) -> tuple[str, int, int]:
        major, _, minor = str(r["version"]).partition(".")
        return (r["setup_id"], int(major), int(minor or 0))

    return sorted(rows, key=key)


def setup_log(conn: sqlite3.Connection, setup_id: str) -> list[dict[str, Any]]:
    """Each version of a setup (oldest first) with its introducing commit and its events."""
    rows = _order(conn.execute("SELECT * FROM versions WHERE setup_id = ?", (setup_id,)).fetchall())
    out = []
    for r in rows:
        d = _row_dict(r)
        d["events"] = [
            {"kind": e[0], "commit": e[1], "at": e[2], "git_author": e[3], "detail": e[4]}
            for e in conn.execute(
                "SELECT kind, commit_id, at, git_author, detail FROM events WHERE file_path = ? "
                "ORDER BY id",
                (r["file_path"],),
            )
        ]
        out.append(d)
    return out


def setup_history(
    src: Source, setup_id: str, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """``log``: :func:`setup_log` of the refreshed index; :class:`NotFound` when the history
    never held the setup."""
    check_setup_id(setup_id)
    with opened(src, progress) as conn:
        entries = setup_log(conn, setup_id)
    if not entries:
        raise NotFound(f"no setup {setup_id!r} in the history")
    return entries


def manifest(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The registry as it stands at the indexed ref: one record per present version file."""
    rows = conn.execute("SELECT * FROM versions WHERE deleted_commit IS NULL").fetchall()
    return [_row_dict(r) for r in _order(rows)]


def present_at(
    conn: sqlite3.Connection, when: _dt.datetime, *, active_only: bool = True
) -> list[dict[str, Any]]:
    """The versions that existed (and were active) just before ``when`` (an exclusive bound:
    docs/architecture.md#times), replaying the recorded events; ``active`` in each record is
    the state at that moment."""
    state: dict[str, tuple[bool, bool]] = {}  # path -> (present, active)
    for path, kind, at, detail in conn.execute(
        "SELECT file_path, kind, at, detail FROM events ORDER BY id"
    ):
        if times.parse_iso(at) >= when:
            continue
            continue
        present, active = state.get(path, (False, True))
        if kind == "introduced":
            present, active = True, detail != "inactive"
        elif kind == "restored":
            present = True
        elif kind in ("deleted", "renamed"):
            present = False
        elif kind == "deprecated":
            active = False
        elif kind == "activated":
            active = True
        state[path] = (present, active)
    live = {p: a for p, (present, a) in state.items() if present and (a or not active_only)}
    rows = conn.execute("SELECT * FROM versions").fetchall()
    out = []
    for r in _order([r for r in rows if r["file_path"] in live]):
        d = _row_dict(r)
        d["active"] = live[r["file_path"]]
        out.append(d)
    return out


def history_check(src: Source, progress: Progress | None = None) -> CheckResult:
    """``check --history``: the audit findings of the whole history of the indexed ref, in
    the indexed folder and in every other folder that ``rules.dir`` named in that history (read
    from the commits, not from the work tree; those are replayed without the index)."""
    from ita_rules.rules.history import audit_folders

    with opened(src, progress) as conn:
        findings = audit(conn)
        files = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    head = src.git.commit_id(src.ref)
    if head is not None:
        folders, _ = named_folders(src.git, head, "" if src.prefix == "." else src.prefix)
        others = [f for f in folders if f != src.rules_path]
        for f in audit_folders(src.git, head, others):  # as the index keeps them: no line:col
            findings.append(Finding(f.path, f.message, field=f.field, code=f.code))
    return CheckResult("history", src.ref, src.ref, files, findings)


@dataclass(frozen=True)
class VersionsAt:
    """``list --at``: the moment asked for (an exclusive bound) and the versions then."""

    when: _dt.datetime
    rules: list[dict[str, Any]]


def versions_at(
    src: Source,
    at: str,
    *,
    active_only: bool,
    setup: str | None = None,
    progress: Progress | None = None,
) -> VersionsAt:
    """The versions (of ``setup``, or all) present, and active with ``active_only``, at ``at``:
    a date ``YYYY-MM-DD`` covers that whole day, an ISO time is that moment (``--at``)."""
    when = times.parse_bound(at, "--at", end=True)
    with opened(src, progress) as conn:
        rows = present_at(conn, when, active_only=active_only)
    return VersionsAt(when, [r for r in rows if setup is None or r["setup_id"] == setup])


def render_manifest(rows: list[dict[str, Any]], fmt: str) -> str:
    """The manifest as JSON (``{"versions": [...]}``) or CSV, in :data:`EXPORT_COLUMNS`."""
    if fmt == "json":
        import json

        doc = {"versions": [{k: r.get(k) for k in EXPORT_COLUMNS} for r in rows]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, EXPORT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "active": "true" if r["active"] else "false"})
    return buf.getvalue()


def export_manifest(
    src: Source, fmt: str, output: Path | None = None, progress: Progress | None = None
) -> str:
    """``export``: the manifest of the indexed ref in ``fmt``; written (atomically) to
    ``output`` when given. Returns the text."""
    with opened(src, progress) as conn:
        text = render_manifest(manifest(conn), fmt)
    if output is not None:
        from ita_rules.core.fsutil import atomic_write_text

        atomic_write_text(output, text)
    return text

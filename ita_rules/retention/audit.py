"""The purge audit trail: one JSON line per file in ``logs/purge_YYYY_MM_DD.log`` and the
report of each apply/sweep (``schemas/purge_report.schema.json``).

Write-ahead, and true whatever happens next. Each apply, sweep, restore or admin purge that acts
is one *attempt* (an id, ``attempt`` on each of its lines, all in the log of the day it started).
Its per-file lines are appended before the act and state an intent (``action`` ``delete`` or
``archive`` for apply's soft delete and ``delete`` for the admin purge's, ``restore``,
``purge``, ``remove``; a sweep's ``disk`` says what the removal is to do), never a result.
When the attempt has committed, one more line closes it: ``action`` ``completed`` with
``done`` (how many of its files were acted on), ``not_done`` (the file_ids whose intent was not
carried out: a removal vetoed at the last moment, logged again as ``kept`` with why) and, for a
sweep or purge, ``files_removed`` and ``freed_bytes``. An attempt killed before that line is
closed by the next acting run (under the retention lock, before it decides anything): it reads
the records as they are and appends ``action`` ``interrupted`` with ``done`` and ``not_done``
(the file_ids left undone: the re-run, which decides again, logs them in its own attempt).
So a file counts as done once: the distinct file_ids of an attempt's intent lines less its
``not_done``. The open attempt is named in ``.ita/retention.attempt`` (written before its first
line, removed after its closing line). A decision to keep a file changes nothing and writes no
line (the command's output and ``retention status`` say why a file stays); the vectors' sweep
still logs its keeps (:mod:`ita_rules.vectors.prune`)."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

GB = 1024**3
INTENTS = ("delete", "archive", "restore", "purge", "remove")  # what a per-file line announces


def new_attempt() -> str:
    return uuid.uuid4().hex[:16]


def open_attempt(marker: Path, attempt: str, phase: str, log: Path) -> None:
    """Name the attempt about to write to ``log`` (atomically, fsynced: before its lines)."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(marker.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump({"attempt": attempt, "phase": phase, "log": str(log)}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, marker)


def open_attempt_named(marker: Path) -> dict[str, str] | None:
    """The attempt ``marker`` names (None without one, or when it cannot be read: it is
    written whole before any line, so an unreadable one announced nothing)."""
    try:
        value = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) for k in ("attempt", "phase", "log")
    ):
        return None
    return {k: value[k] for k in ("attempt", "phase", "log")}


def lines_of(log: Path, attempt: str) -> list[dict[str, Any]]:
    """The lines of ``attempt`` in ``log`` (a line cut by a crash is skipped)."""
    try:
        text = log.read_text(encoding="utf-8")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("attempt") == attempt:
            found.append(entry)
    return found


def log_path(logs_dir: Path, when: datetime) -> Path:
    return logs_dir / f"purge_{when:%Y_%m_%d}.log"


def append(logs_dir: Path, when: datetime, entries: Iterable[dict[str, Any]]) -> Path:
    """Append one JSON line per entry and fsync: the trail survives a crash right after."""
    return append_to(log_path(logs_dir, when), entries)


def append_to(path: Path, entries: Iterable[dict[str, Any]]) -> Path:
    """:func:`append` to the log ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(e, sort_keys=True, default=str) + "\n" for e in entries)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(lines)
        fh.flush()
        os.fsync(fh.fileno())
    return path


@dataclass
class Report:
    """What one apply, sweep or admin purge did. Counts and bytes are what left the disk: a
    purged record whose stored content another record still needs frees nothing
    (``content_kept``). The audit log and the report file are named only once written."""

    purge_date: str
    phase: str
    plan_id: str | None = None
    affected: list[tuple[str, str, int]] = field(default_factory=list)  # (file_id, type, bytes)
    removed: list[tuple[str, int]] = field(
        default_factory=list
    )  # files off the disk: (path, bytes)
    content_kept: list[tuple[str, str]] = field(default_factory=list)  # (file_id, shared with)
    kept: list[tuple[str, str]] = field(default_factory=list)  # sweep: (file_id, why not removed)
    restored: list[tuple[str, str]] = field(default_factory=list)  # apply: (file_id, protection)
    safety_window_days: int | None = None
    warnings: list[str] = field(default_factory=list)  # apply: the plan's (unknown runs)
    vectors: list[str] = field(default_factory=list)  # vectors soft-deleted or purged (ids)
    audit_log_path: str | None = None
    report_path: str | None = None
    attempt: str | None = None  # the id of its lines in the audit log (once one is written)
    not_done: list[str] = field(default_factory=list)  # logged intents not carried out

    def closing(self, at: str) -> dict[str, Any]:
        """The line that closes this attempt in the audit log, once it has committed."""
        done = len(self.affected) + len(self.restored) + len(self.vectors)
        line: dict[str, Any] = {
            "at": at,
            "attempt": self.attempt,
            "phase": self.phase,
            "action": "completed",
            "done": done,
            "not_done": sorted(set(self.not_done)),
        }
        if self.phase != "apply":
            line["files_removed"] = len(self.removed)
            line["freed_bytes"] = sum(b for _, b in self.removed)
        return line

    def as_dict(self) -> dict[str, Any]:
        by_type = Counter(t for _, t, _ in self.affected)
        freed = sum(b for _, b in self.removed)
        soft = self.phase == "apply"
        return {
            "purge_date": self.purge_date,
            "phase": self.phase,
            "plan_id": self.plan_id,
            "total_files_purged": len(self.removed),
            "freed_space_gb": round(freed / GB, 6),
            "freed_bytes": freed,
            "records_soft_deleted": len(self.affected) if soft else 0,
            "records_purged": 0 if soft else len(self.affected),
            "by_type": dict(sorted(by_type.items())),
            "content_kept": [{"file_id": f, "shared_with": h} for f, h in self.content_kept],
            "kept": [{"file_id": f, "reason": r} for f, r in self.kept],
            "records_restored": len(self.restored),
            "restored": [{"file_id": f, "reason": r} for f, r in self.restored],
            "safety_window_days": self.safety_window_days,
            "warnings": list(self.warnings),
            "audit_log_path": self.audit_log_path,
            "report_path": self.report_path,
            "affected_file_ids": [f for f, _, _ in self.affected],
            "vectors_soft_deleted": len(self.vectors) if soft else 0,
            "vectors_purged": 0 if soft else len(self.vectors),
            "affected_vector_ids": list(self.vectors),
        }


def write_report(logs_dir: Path, report: Report, root: Path) -> Path:
    """Save a report beside the audit log: ``logs/purge_YYYY_MM_DD_<phase>.json`` (more runs
    of the same day and phase keep one file per run: a counter is added). Sets
    ``report.report_path`` (shown relative to ``root``)."""
    base = logs_dir / f"purge_{report.purge_date.replace('-', '_')}_{report.phase}"
    path = base.with_suffix(".json")
    n = 1
    while path.exists():
        n += 1
        path = Path(f"{base}_{n}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        report.report_path = path.relative_to(root).as_posix()
    except ValueError:
        report.report_path = str(path)
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path

"""The purge audit trail: one JSON line per file in ``logs/purge_YYYY_MM_DD.log`` and the
report of each apply/sweep (``schemas/purge_report.schema.json``)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

GB = 1024**3


def log_path(logs_dir: Path, when: datetime) -> Path:
    return logs_dir / f"purge_{when:%Y_%m_%d}.log"


def append(logs_dir: Path, when: datetime, entries: Iterable[dict[str, Any]]) -> Path:
    """Append one JSON line per entry and fsync: the trail survives a crash right after."""
    path = log_path(logs_dir, when)
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

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
    purge_date: str
    phase: str
    audit_log_path: str
    plan_id: str | None = None
    affected: list[tuple[str, str, int]] = field(default_factory=list)  # (file_id, type, bytes)

    def as_dict(self) -> dict[str, Any]:
        by_type = Counter(t for _, t, _ in self.affected)
        return {
            "purge_date": self.purge_date,
            "phase": self.phase,
            "plan_id": self.plan_id,
            "total_files_purged": len(self.affected),
            "freed_space_gb": round(sum(b for _, _, b in self.affected) / GB, 6),
            "by_type": dict(sorted(by_type.items())),
            "audit_log_path": self.audit_log_path,
            "affected_file_ids": [f for f, _, _ in self.affected],
        }


def write_report(logs_dir: Path, report: Report) -> Path:
    """Save a report beside the audit log: ``logs/purge_YYYY_MM_DD_<phase>.json`` (appended runs
    of the same day and phase keep one file per run: a counter is added)."""
    base = logs_dir / f"purge_{report.purge_date.replace('-', '_')}_{report.phase}"
    path = base.with_suffix(".json")
    n = 1
    while path.exists():
        n += 1
        path = Path(f"{base}_{n}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path

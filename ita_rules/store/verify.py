"""``store verify``: re-hash stored files, record ``last_verified_at``, report corrupt/missing."""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass, field
from typing import Any

from ita_rules.db import tables as t
from ita_rules.errors import UsageError
from ita_rules.store import blobs
from ita_rules.store.core import Progress, Store, now_utc
from ita_rules.store.naming import iso
from ita_rules.store.records import Record


@dataclass
class VerifyReport:
    checked: int = 0  # stored files re-hashed
    records: int = 0  # records they cover
    corrupt: list[Record] = field(default_factory=list)
    missing: list[Record] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked_files": self.checked,
            "checked_records": self.records,
            "ok": self.ok,
            "corrupt": [r.as_dict() for r in self.corrupt],
            "missing": [r.as_dict() for r in self.missing],
        }


def select(
    store: Store, *, sample: int | None = None, older_than_days: float | None = None
) -> list[Record]:
    """The live records to verify: all, a random sample of stored files, or the stale ones."""
    if sample is not None and sample < 1:
        raise UsageError(f"--sample: expected a positive number, got {sample}")
    records = store.find()
    if older_than_days is not None:
        if older_than_days < 0:
            raise UsageError(f"--older-than: expected days >= 0, got {older_than_days}")
        cutoff = iso(now_utc() - _dt.timedelta(days=older_than_days))
        records = [r for r in records if r.last_verified_at is None or r.last_verified_at < cutoff]
    if sample is not None:
        hashes = sorted({r.hash for r in records})
        chosen = set(random.sample(hashes, min(sample, len(hashes))))
        records = [r for r in records if r.hash in chosen]
    return records


def verify(store: Store, records: list[Record], progress: Progress | None = None) -> VerifyReport:
    """Hash each stored file once; mark the records of intact files as verified now."""
    report = VerifyReport(records=len(records))
    by_hash: dict[str, list[Record]] = {}
    for record in records:
        by_hash.setdefault(record.hash, []).append(record)
    verified: list[str] = []
    for done, (hash_, group) in enumerate(by_hash.items(), 1):
        path = store.abspath(group[0].path)
        if not path.is_file() or path.is_symlink():
            report.missing.extend(group)
        elif blobs.hash_file(path)[0] != hash_:
            report.corrupt.extend(group)
        else:
            verified.append(hash_)
        report.checked += 1
        if progress:
            progress(done, len(by_hash))
    if verified:
        at = iso(now_utc())
        with store.db.write() as conn:
            for start in range(0, len(verified), 500):
                chunk = verified[start : start + 500]
                conn.execute(
                    t.records.update()
                    .where(t.records.c.hash.in_(chunk), t.records.c.status == "live")
                    .values(last_verified_at=at)
                )
    return report

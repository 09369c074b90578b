"""``retention status``: what is soft-deleted, until when, and what waits for a remote copy
(docs/architecture.md#retention). Changes nothing.

Each soft-deleted record with its path, type, size, the real time apply soft-deleted it and the
end of its safety window (``purge_after``: the first sweep from then on removes it), and the
reason apply gave (read from that day's audit log, ``logs/purge_YYYY_MM_DD.log``); soft-deleted
vectors of the managed collections too (docs/architecture.md#vectors). The sweep
deletes a file whose type is ``archive_to_remote`` (or any file under ``backup_before_delete``)
only after a verified copy on the remote: such a file without one is listed as waiting, and
with no remote configured it waits for ``remote.name``. A soft-deleted record a protection
covers again is not due: the next apply restores it (``restore``: the protection, as the plan
says it), and the sweep keeps it meanwhile.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core import times

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.retention.engine import Retention
    from ita_rules.store.core import Store


@dataclass(frozen=True)
class SoftDeleted:
    file_id: str
    path: str
    type: str
    size: int
    deleted_at: str
    purge_after: str  # deleted_at + the safety window
    reason: str | None  # apply's reason, None when no audit entry names it
    needs_remote: bool  # the sweep deletes it only after a verified remote copy
    remote_verified_at: str | None  # when its content was last found intact on the remote
    restore: str | None = None  # the protection that covers it again: apply restores it

    @property
    def waits_for_remote(self) -> bool:
        return self.restore is None and self.needs_remote and self.remote_verified_at is None

    def is_due(self, now: str) -> bool:
        return self.restore is None and self.purge_after <= now

    def to_dict(self, now: str) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "path": self.path,
            "type": self.type,
            "size": self.size,
            "deleted_at": self.deleted_at,
            "purge_after": self.purge_after,
            "due": self.is_due(now),
            "reason": self.reason,
            "restore": self.restore,
            "needs_remote_copy": self.needs_remote,
            "remote_verified_at": self.remote_verified_at,
            "waits_for_remote_copy": self.waits_for_remote,
        }


@dataclass
class RetentionStatus:
    now: str
    safety_window_days: int
    remote: str | None  # remote.name as recorded (secrets redacted), None without one
    soft_deleted: list[SoftDeleted] = field(default_factory=list)  # by purge_after

    @property
    def waiting(self) -> list[SoftDeleted]:
        """What waits for a verified remote copy before the sweep may remove it."""
        return [s for s in self.soft_deleted if s.waits_for_remote]

    @property
    def due(self) -> list[SoftDeleted]:
        """Past the safety window: the next sweep removes these (or checks their copy)."""
        return [s for s in self.soft_deleted if s.is_due(self.now)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "safety_window_days": self.safety_window_days,
            "remote": self.remote,
            "soft_deleted": [s.to_dict(self.now) for s in self.soft_deleted],
            "count": len(self.soft_deleted),
            "bytes": sum(s.size for s in self.soft_deleted),
            "due": len(self.due),
            "waiting_for_remote_copy": [s.file_id for s in self.waiting],
        }


def retention_status(desk: Desk, *, now: _dt.datetime | None = None) -> RetentionStatus:
    """What is soft-deleted in ``desk``'s store, as of ``now`` (default: the real clock)."""
    from ita_rules.retention.jobs import opened

    with opened(desk) as retention:
        return status_of(retention, times.utc(now or times.now()))


def status_of(retention: Retention, now: _dt.datetime) -> RetentionStatus:
    """:func:`retention_status` of an open retention."""
    from ita_rules.retention.inputs import items

    policy, store = retention.policy, retention.store
    window = _dt.timedelta(days=policy.safety_window_days)
    remote = _remote_key(store.settings.remote_name)
    deleted = [(item, row) for item, row in items(store, ("deleted",)) if row["deleted_at"]]
    copies = _verified(store, remote, [item.hash for item, _ in deleted])
    reasons = _reasons(retention.workspace.root / "logs", [row for _, row in deleted])
    again = {r.file_id: r.reason for r in retention.restores(retention.lineage())}
    out = RetentionStatus(times.iso(now), policy.safety_window_days, remote)
    for item, row in deleted:
        rule = policy.types.get(item.type)
        archive = rule is not None and rule.strategy == "archive_to_remote"
        out.soft_deleted.append(
            SoftDeleted(
                item.file_id,
                row["path"],
                item.type,
                item.size,
                row["deleted_at"],
                times.iso(times.parse_iso(row["deleted_at"]) + window),
                reasons.get(item.file_id),
                archive or policy.backup_before_delete,
                copies.get(item.hash),
                again.get(item.file_id),
            )
        )
    out.soft_deleted += _vectors(retention, window)
    out.soft_deleted.sort(key=lambda s: (s.purge_after, s.file_id))
    return out


def _vectors(retention: Retention, window: _dt.timedelta) -> list[SoftDeleted]:
    """The soft-deleted vectors of the managed collections (size 0: a delete frees no disk;
    never copied to the remote)."""
    vectors = retention.vectors()
    if vectors is None:
        return []
    found = []
    for row, gone in vectors.rows(deleted=True):
        fid, type_ = str(row[0]), str(row[1])
        at = _dt.datetime.fromtimestamp(gone, _dt.UTC)
        found.append((fid, type_, vectors.path(fid), times.iso(at), times.iso(at + window)))
    logs = retention.workspace.root / "logs"
    reasons = _reasons(logs, [{"file_id": f[0], "deleted_at": f[3]} for f in found])
    return [
        SoftDeleted(fid, path, type_, 0, at, after, reasons.get(fid), False, None)
        for fid, type_, path, at, after in found
    ]


def _remote_key(name: str) -> str | None:
    if not name:
        return None
    from ita_rules.remote import remote_key

    return remote_key(name)


def _verified(store: Store, remote: str | None, hashes: list[str]) -> dict[str, str]:
    """content hash -> when its copy on ``remote`` was last verified (none without a remote)."""
    if remote is None or not hashes:
        return {}
    from ita_rules.remote import verified_copies

    found = verified_copies(store.db, hashes, remote)
    return {h: c.verified_at for h, c in found.items() if c.verified_at is not None}


def _reasons(logs: Path, rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """file_id -> the reason of the apply that soft-deleted it: its entry in the audit log of
    the day of ``deleted_at`` (apply logs each file with the time it marks the record); for a
    record no such entry names (its time was changed by hand), the latest apply entry of any
    day's log."""
    wanted: dict[str, str] = {str(r["file_id"]): str(r["deleted_at"]) for r in rows}
    days = sorted({f"purge_{times.parse_iso(at).date():%Y_%m_%d}.log" for at in wanted.values()})
    found: dict[str, str] = {}
    for fid, entry in _applied(logs / name for name in days):
        if entry.get("at") == wanted.get(fid):
            found[fid] = str(entry.get("reason"))
    if len(found) < len(wanted):
        latest: dict[str, str] = {}
        for fid, entry in _applied(sorted(logs.glob("purge_*.log"))):
            if fid in wanted and fid not in found:
                latest[fid] = str(entry.get("reason"))
        found.update(latest)
    return found


def _applied(paths: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file_id, entry)`` of each apply entry in the audit logs ``paths``, in order."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        for line in text.splitlines():
            entry = _entry(line)
            if entry.get("phase") == "apply" and isinstance(entry.get("file_id"), str):
                yield entry["file_id"], entry


def _entry(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}  # a line cut by a crash
    return value if isinstance(value, dict) else {}

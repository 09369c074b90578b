"""The sweep: records soft-deleted longer than the safety window ago leave the disk.

Each is checked again first (a protection gained since apply keeps it, so does content a
protected live record holds; a file the policy wants on the remote goes only after a verified
copy), every removal is appended to the audit log as an intent before anything is removed
(:mod:`.audit`: its ``disk`` says what the removal is to do, the attempt's closing line what
it did), and the store asks :meth:`_Sweep.veto` under its lock just before each removal
(another process may have tagged or restored the record meanwhile). A sweep killed half-way is
completed by the next one, which first closes the killed attempt's lines.

A record kept (protected again, content a protected record holds, no verified remote copy yet)
changes nothing and writes no audit line: the report lists it with why (``kept``), and a sweep
that only keeps writes no report either, so a file waiting for its remote copy day after day
leaves no daily trail (``retention status`` lists it as waiting). Two records of one content
purged by the same sweep: the first's content leaves the disk with the last, and only content
a record that stays still needs is reported as kept (``content_kept``).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.core.errors import ItaRulesError
from ita_rules.db import tables as t
from ita_rules.provenance.lineage_emit import announce_purged
from ita_rules.retention import inputs
from ita_rules.retention.protect import now_protected
from ita_rules.store.errors import RemovalVetoed
from ita_rules.store.records import CLAIMING

if TYPE_CHECKING:
    from ita_rules.retention.audit import Report
    from ita_rules.retention.decisions import Item
    from ita_rules.retention.engine import Retention
    from ita_rules.store.core import Store
    from ita_rules.store.records import Record

Due = tuple["Item", dict[str, Any]]  # a soft-deleted record and its row (path, deleted_at)
NO_REMOTE = "no verified remote copy: no remote configured (remote.name in ita.toml): not deleted"
UNVERIFIED = "no verified remote copy: the copy on {remote} could not be verified: not deleted"
UPLOAD_FAILED = "no verified remote copy: upload failed: {error}: not deleted"


def sweep(retention: Retention, report: Report, now: _dt.datetime, max_delete: int | None) -> None:
    """Sweep at ``now`` (the real clock), at most ``max_delete`` records (the longest
    soft-deleted first); what was done goes into ``report``."""
    _Sweep(retention, report, now).run(max_delete)


class _Sweep:
    def __init__(self, retention: Retention, report: Report, now: _dt.datetime) -> None:
        self.retention = retention
        self.store = retention.store
        self.policy = retention.policy
        self.report = report
        self.now = now
        self.protections = retention.lineage().protections(self.policy)
        self.entries: dict[str, dict[str, Any]] = {}  # file_id -> its audit entry
        self.shared: dict[str, str] = {}  # file_id -> the record that keeps its stored file
        self.leaving: set[str] = set()  # the file_ids this sweep means to purge
        self.outcome: dict[str, str | None] = {}  # purged: None (bytes left) or who keeps them

    def run(self, max_delete: int | None) -> None:
        inputs.hold_protected_live(self.store, self.protections)
        going = [(item, row) for item, row in self.due(max_delete) if self.judge(item, row)]
        self.shared = inputs.sharers(self.store, [item for item, _ in going])
        self.leaving = {item.file_id for item, _ in going}
        for file_id, entry in self.entries.items():
            entry["disk"] = self.intent_text(self.shared.get(file_id))
        if self.entries:
            self.log(self.entries.values())
        for item, row in going:
            self.remove(item, row)
        self.report.content_kept = self.content_kept()
        announce_purged(self.store, [file_id for file_id, _type, _size in self.report.affected])
        leftovers = finish_interrupted_removals(self.store)
        if leftovers:
            self.log(
                {
                    "at": times.iso(self.now),
                    "phase": "sweep",
                    "path": path,
                    "size": size,
                    "action": "remove",
                    "reason": "stored file of records purged by an interrupted sweep",
                }
                for path, size in leftovers
            )
            self.report.removed += leftovers

    def due(self, max_delete: int | None) -> list[Due]:
        """The records soft-deleted at least the safety window ago, longest first."""
        cutoff = self.now - _dt.timedelta(days=self.policy.safety_window_days)
        due = [
            (item, row)
            for item, row in inputs.items(self.store, ("deleted",))
            if row["deleted_at"] and times.parse_iso(row["deleted_at"]) <= cutoff
        ]
        due.sort(key=lambda pair: (pair[1]["deleted_at"], pair[0].file_id))
        return due if max_delete is None else due[:max_delete]

    def judge(self, item: Item, row: dict[str, Any]) -> bool:
        """Check one record again; True when it goes (its audit entry is then prepared), a
        record kept is only reported (it changes nothing: no audit line)."""
        reason = self.kept_because(item, row)
        if reason is not None:
            self.report.kept.append((item.file_id, reason))
            return False
        self.entries[item.file_id] = {
            "at": times.iso(self.now),
            "phase": "sweep",
            "file_id": item.file_id,
            "type": item.type,
            "path": row["path"],
            "size": item.size,
            "action": "purge",
            "reason": f"soft-deleted at {row['deleted_at']}, past the safety window",
        }
        return True

    def kept_because(self, item: Item, row: dict[str, Any]) -> str | None:
        reason = self.protections.reason(item.type, item.tags, item.run_id, item.hash, item.file_id)
        if reason is not None:
            return now_protected(reason)
        held = self.protections.shared(item.hash)
        if held is not None:
            return held
        if self.needs_remote(item):
            return self.no_remote_copy(item, row)
        return None

    def needs_remote(self, item: Item) -> bool:
        rule = self.policy.types.get(item.type)
        archive = rule is not None and rule.strategy == "archive_to_remote"
        return archive or self.policy.backup_before_delete

    def no_remote_copy(self, item: Item, row: dict[str, Any]) -> str | None:
        """Why the file may not leave the disk yet for want of a verified remote copy (None:
        there is one now)."""
        if self.retention.remote_copy is None:
            return NO_REMOTE
        try:
            if self.retention.remote_copy(self.store, item.hash, row["path"]):
                return None
        except ItaRulesError as exc:
            return UPLOAD_FAILED.format(error=str(exc).rstrip("."))
        remote = self.store.settings.remote_name
        from ita_rules.remote import remote_key

        return UNVERIFIED.format(remote=remote_key(remote) if remote else "the remote")

    def remove(self, item: Item, row: dict[str, Any]) -> None:
        """Remove one record that goes (unless the store's last check vetoes it), and count
        what left the disk."""
        entry = self.entries[item.file_id]
        try:
            removed = self.store.remove(item.file_id, unless=self.veto)
        except RemovalVetoed as exc:
            self.log([{**entry, "action": "kept", "reason": str(exc)}])
            self.report.kept.append((item.file_id, str(exc)))
            self.report.not_done.append(item.file_id)
            return
        self.report.affected.append((item.file_id, item.type, item.size))
        predicted = self.shared.get(item.file_id)
        sharer: str | None = None
        if removed:
            self.report.removed.append((row["path"], item.size))
        else:
            sharer = predicted or inputs.holder(self.store, item.hash) or "another record"
        self.outcome[item.file_id] = sharer
        if sharer != predicted:  # another process changed the picture meanwhile: as it is
            self.log([{**entry, "disk": _disk_text(sharer)}])

    def content_kept(self) -> list[tuple[str, str]]:
        """(file_id, the record that keeps its stored content) of the records purged whose
        content is still on disk when the sweep ends: one shared only with records this
        sweep purged too left the disk with the last of them (nothing is kept)."""
        kept = []
        for file_id, sharer in self.outcome.items():
            seen = {file_id}
            while sharer in self.outcome and sharer not in seen:  # purged by this sweep too
                seen.add(sharer)
                sharer = self.outcome[sharer]
            if sharer is not None:
                kept.append((file_id, sharer))
        return kept

    def intent_text(self, sharer: str | None) -> str:
        """What a removal is to do on disk, as its audit line says it before it happens."""
        if sharer is None:
            return "remove the file from disk"
        if sharer in self.leaving:
            return (
                f"purge the record; its content, shared with {sharer} (purged by this sweep "
                "too), leaves the disk with the last of them"
            )
        return f"purge the record, keep the content: shared with {sharer}"

    def veto(self, record: Record) -> str | None:
        """Asked by the store under its lock, just before a removal: the record as it is now
        must still be soft-deleted and unprotected."""
        if record.status != "deleted":
            return f"now {record.status}, not deleted: not removed"
        reason = self.protections.reason(
            record.type, record.tags, record.run_id, record.hash, record.file_id
        )
        return None if reason is None else now_protected(reason)

    def log(self, entries: Iterable[dict[str, Any]]) -> None:
        self.retention.log(self.report, self.now, entries)


def finish_interrupted_removals(store: Store) -> list[tuple[str, int]]:
    """A sweep killed between marking a record purged and unlinking its file leaves the purged
    record's name on disk: remove it now (the purge was already decided), unless a record
    that still names its file (live, soft-deleted, or marked missing or corrupt: its file may
    come back) uses that name, or the content it needs is stored under it.
    Returns the (path, bytes) of the stored content that left the disk (a name whose bytes
    another record still holds frees nothing)."""
    # Under the store lock: a put of the same bytes cannot slip in between the query that
    # finds the file unneeded and its deletion (puts place files under this lock).
    r = t.records.c
    with store.locked():
        with store.db.read() as conn:
            kept = conn.execute(sa.select(r.hash, r.path).where(r.status.in_(CLAIMING))).all()
            stored = dict(conn.execute(sa.select(t.blobs.c.hash, t.blobs.c.path)).all())
            purged = conn.execute(
                sa.select(r.hash, r.path).where(r.status == "purged").distinct()
            ).all()
        needed = {hash_ for hash_, _ in kept}
        in_use = {path for _, path in kept} | {stored[h] for h in needed if h in stored}
        removed = []
        for hash_, path in purged:
            if path in in_use:
                continue
            full = store.abspath(path)
            try:
                size = full.stat().st_size
                full.unlink()
            except FileNotFoundError:
                continue
            if hash_ not in needed:
                removed.append((str(path), size))
        return removed


def _disk_text(sharer: str | None) -> str:
    """What a purge did on disk, as the audit log says it."""
    if sharer is None:
        return "file removed from disk"
    return f"record purged, content kept: shared with {sharer}"

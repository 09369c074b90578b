"""Apply, sweep, restore and the admin purge: the retention plan acted on, under a lock.

Mark and sweep, like ``pre-commit gc``: ``apply`` only marks records ``deleted`` (files stay on
disk, restorable); ``sweep`` removes files soft-deleted longer than the safety window, checking
every protection again first, and only after a verified remote copy where the policy asks for
one. Every decision is appended to ``logs/purge_YYYY_MM_DD.log`` before it is acted on, and a
crash at any point leaves a state that the next run completes.

Two moments: ``as_of`` is the day a plan is made for (a replay may simulate another day: the
records' ages are measured to it), ``clock`` is the real time at which things happen. The
soft-delete time, the safety window, the audit log and the reports all use the clock, so a
simulated day can never make a file leave the disk sooner than the window allows.

The inputs of the delete decision are read completely or not at all: an invalid registry, a run
whose rule version cannot be found, or a selected file missing from disk aborts the run.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ita_rules.core.errors import ItaRulesError, UsageError
from ita_rules.db import tables as t
from ita_rules.retention import audit, inputs
from ita_rules.retention.decisions import KEEP, Decision, Item, Plan
from ita_rules.retention.inputs import Lineage, RetentionAborted
from ita_rules.retention.notify import Telegram
from ita_rules.retention.plan import plan_records
from ita_rules.retention.policy import Policy, load_policy
from ita_rules.retention.protect import Protections, now_protected
from ita_rules.store.core import Store
from ita_rules.store.errors import RemovalVetoed
from ita_rules.store.records import Record
from ita_rules.workspace import Workspace

GB = 1024**3
LOCK_TIMEOUT_S = 30.0


class ConfirmationNeeded(ItaRulesError):
    """A large purge waits for ``--confirm PLAN_ID``."""


def real_clock() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@dataclass
class Retention:
    """Retention of one workspace: plans for the day ``as_of`` (a replay may simulate one),
    acts at the time ``clock`` tells (the real clock; a test may inject another)."""

    workspace: Workspace
    store: Store
    policy: Policy
    as_of: _dt.datetime
    remote_copy: Callable[[Store, str, str], bool] | None = None  # (store, hash, path) -> verified
    clock: Callable[[], _dt.datetime] = real_clock

    @classmethod
    def open(
        cls,
        workspace: Workspace,
        store: Store,
        as_of: _dt.datetime | None = None,
        *,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> Retention:
        settings = workspace.settings
        known = [*settings.folders, *inputs.types_in_store(store)]
        policy = load_policy(
            settings.retention_policy, known, _shown(settings.retention_policy, settings.root)
        )
        clock = clock or real_clock
        return cls(workspace, store, policy, _utc(as_of or clock()), clock=clock)

    def now(self) -> _dt.datetime:
        """The real time things happen at (never ``as_of``)."""
        return _utc(self.clock())

    # -- inputs (read completely or not at all: see inputs.py) ------------------------
    def _items(self, statuses: Sequence[str] = ("live",)) -> list[tuple[Item, dict[str, Any]]]:
        return inputs.items(self.store, statuses)

    def _paths(self, file_ids: Iterable[str]) -> dict[str, str]:
        return inputs.paths(self.store, file_ids)

    def _lineage(self) -> Lineage:
        return inputs.lineage(self.workspace, self.store)

    def plan(self, *, max_delete: int | None = None) -> Plan:
        """What apply would do on the day ``as_of``, every file with its reason. Changes nothing.

        The records stream from the database cursor into the plan (one pass, no object per
        record but its decision): a million records plan in seconds."""
        lineage = self._lineage()
        r = t.records
        query = sa.select(  # Item's fields; the tags (NULL here) come from ``tags``
            r.c.file_id, r.c.type, r.c.size, r.c.created_at, r.c.hash, sa.null(),
            r.c.run_id, r.c.symbol, r.c.timeframe,
        ).where(r.c.status.in_(["live"]))  # fmt: skip
        with self.store.db.read() as conn:
            tags = inputs.tags_by_file(conn)
            with inputs.cursor(self.store, conn, query) as rows:
                return plan_records(
                    rows,
                    tags,
                    self.policy,
                    self.as_of,
                    lineage.runs,
                    inputs=lineage.inputs,
                    outputs=lineage.outputs,
                    max_delete=max_delete,
                )

    # -- acting ------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        path = self.workspace.root / ".ita" / "retention.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(path), timeout=LOCK_TIMEOUT_S):
                yield
        except Timeout:
            raise UsageError(
                "another retention run holds the lock (.ita/retention.lock); try again later"
            ) from None

    def _logs(self) -> Path:
        return self.workspace.root / "logs"

    def _report(self, phase: str, plan_id: str | None, now: _dt.datetime) -> audit.Report:
        return audit.Report(
            now.date().isoformat(),
            phase,
            plan_id,
            safety_window_days=self.policy.safety_window_days,
        )

    def _log(
        self, report: audit.Report, now: _dt.datetime, entries: Iterable[dict[str, Any]]
    ) -> None:
        """Append to the day's audit log, and name it in the report (only once written)."""
        path = audit.append(self._logs(), now, entries)
        report.audit_log_path = _shown(path, self.workspace.root)

    def _finish(self, report: audit.Report) -> audit.Report:
        """Save the report beside the audit log when the run wrote to it (did something)."""
        if report.audit_log_path is not None:
            audit.write_report(self._logs(), report, self.workspace.root)
        return report

    def _check_on_disk(self, rows: Sequence[dict[str, Any]]) -> None:
        missing = [r["path"] for r in rows if not self.store.abspath(r["path"]).is_file()]
        if missing:
            raise RetentionAborted(
                f"{len(missing)} file(s) in the records are missing on disk (first: {missing[0]}); "
                "the records and the disk disagree: run `ita-rules store fsck` first"
            )

    def apply(
        self,
        *,
        confirm: str | None = None,
        max_delete: int | None = None,
        telegram: Telegram | None = None,
    ) -> audit.Report:
        """Soft-delete what the plan selects. A plan over ``large_purge_gb`` sends a Telegram
        notice and stops until confirmed with its plan id. The records' ``deleted_at`` is the
        real time (the safety window starts then, whatever day the plan was made for)."""
        with self._locked():
            plan = self.plan(max_delete=max_delete)
            now = self.now()
            report = self._report("apply", plan.plan_id, now)
            report.warnings = plan.warnings
            selected = plan.selected
            if not selected:
                return report
            if confirm is not None and confirm != plan.plan_id:
                raise ConfirmationNeeded(
                    f"--confirm {confirm} does not match the current plan {plan.plan_id}: the "
                    "set of files changed; review `ita-rules retention plan` and confirm again"
                )
            size_gb = plan.bytes_selected / GB
            if size_gb > self.policy.large_purge_gb and confirm != plan.plan_id:
                notice = (
                    f"ita-rules: a purge of {len(selected)} file(s), {size_gb:.2f} GB, waits for "
                    f"confirmation in {self.workspace.root.name}: "
                    f"ita-rules retention apply --confirm {plan.plan_id}"
                )
                if telegram is not None:
                    telegram.send(notice)
                raise ConfirmationNeeded(
                    f"this plan frees {size_gb:.2f} GB "
                    f"(> large_purge_gb {self.policy.large_purge_gb:g}); "
                    f"{'a Telegram notice was sent; ' if telegram else ''}"
                    f"confirm with `ita-rules retention apply --confirm {plan.plan_id}`"
                )
            paths = self._paths(d.file_id for d in selected)
            self._check_on_disk([{"path": paths[d.file_id]} for d in selected])
            at, planned_for = _iso(now), _iso(self.as_of)
            self._log(
                report,
                now,
                (
                    {
                        "at": at,
                        "as_of": planned_for,
                        "phase": "apply",
                        "plan_id": plan.plan_id,
                        "file_id": d.file_id,
                        "type": d.type,
                        "path": paths[d.file_id],
                        "size": d.size,
                        "action": d.action,
                        "reason": d.reason,
                    }
                    for d in selected
                ),
            )
            self.store.set_status([d.file_id for d in selected], "deleted", at=at)
            report.affected = [(d.file_id, d.type, d.size) for d in selected]
            return self._finish(report)

    def sweep(self, *, max_delete: int | None = None) -> audit.Report:
        """Remove from disk what was soft-deleted longer than the safety window ago, on the real
        clock. The report counts what left the disk: a purged record whose content another
        record still needs keeps the file (``content_kept``)."""
        with self._locked():
            now = self.now()
            report = self._report("sweep", None, now)
            cutoff = now - _dt.timedelta(days=self.policy.safety_window_days)
            deleted = [
                (item, row)
                for item, row in self._items(("deleted",))
                if row["deleted_at"] and inputs.parse(row["deleted_at"]) <= cutoff
            ]
            deleted.sort(key=lambda pair: (pair[1]["deleted_at"], pair[0].file_id))
            if max_delete is not None:
                deleted = deleted[:max_delete]
            protections = self._lineage().protections(self.policy)
            inputs.hold_protected_live(self.store, protections)
            entries: list[dict[str, Any]] = []
            to_remove: list[tuple[Item, dict[str, Any]]] = []
            at = _iso(now)
            for item, row in deleted:
                reason = protections.reason(
                    item.type, item.tags, item.run_id, item.hash, item.file_id
                )
                if reason is not None:
                    reason = now_protected(reason)
                elif (held := protections.shared(item.hash)) is not None:
                    reason = held
                elif self._needs_remote(item) and not self._remote_ok(item, row):
                    reason = "no verified remote copy (upload failed or unverified): not deleted"
                entry = {
                    "at": at,
                    "phase": "sweep",
                    "file_id": item.file_id,
                    "type": item.type,
                    "path": row["path"],
                    "size": item.size,
                    "action": "kept" if reason else "purge",
                    "reason": reason
                    or f"soft-deleted at {row['deleted_at']}, past the safety window",
                }
                entries.append(entry)
                if reason is None:
                    to_remove.append((item, row))
                else:
                    report.kept.append((item.file_id, reason))
            shared = inputs.sharers(self.store, [item for item, _ in to_remove])
            for entry in entries:
                if entry["action"] == "purge":
                    entry["disk"] = _disk_text(shared.get(entry["file_id"]))
            if entries:
                self._log(report, now, entries)
            for item, row in to_remove:
                try:
                    removed = self.store.remove(item.file_id, unless=self._veto(protections))
                except RemovalVetoed as exc:
                    self._log(
                        report,
                        now,
                        [
                            {
                                **_entry_for(entries, item.file_id),
                                "action": "kept",
                                "reason": str(exc),
                            }
                        ],
                    )
                    report.kept.append((item.file_id, str(exc)))
                    continue
                report.affected.append((item.file_id, item.type, item.size))
                predicted = shared.get(item.file_id)
                sharer: str | None = None
                if removed:
                    report.removed.append((row["path"], item.size))
                else:
                    sharer = predicted or inputs.holder(self.store, item.hash) or "another record"
                    report.content_kept.append((item.file_id, sharer))
                if sharer != predicted:  # another process changed the picture meanwhile
                    entry = {**_entry_for(entries, item.file_id), "disk": _disk_text(sharer)}
                    self._log(report, now, [entry])
            leftovers = self._finish_interrupted_removals()
            if leftovers:
                self._log(
                    report,
                    now,
                    (
                        {
                            "at": at,
                            "phase": "sweep",
                            "path": path,
                            "size": size,
                            "action": "remove",
                            "reason": "stored file of records purged by an interrupted sweep",
                        }
                        for path, size in leftovers
                    ),
                )
                report.removed += leftovers
            return self._finish(report)

    def _veto(self, protections: Protections) -> Callable[[Record], str | None]:
        """Asked by the store under its lock, just before a removal: the record as it is now
        must still be soft-deleted and unprotected (another process may have tagged or
        restored it since the sweep read it)."""

        def veto(record: Record) -> str | None:
            if record.status != "deleted":
                return f"now {record.status}, not deleted: not removed"
            reason = protections.reason(
                record.type, record.tags, record.run_id, record.hash, record.file_id
            )
            return None if reason is None else now_protected(reason)

        return veto

    def _needs_remote(self, item: Item) -> bool:
        rule = self.policy.types.get(item.type)
        archive = rule is not None and rule.strategy == "archive_to_remote"
        return archive or self.policy.backup_before_delete

    def _remote_ok(self, item: Item, row: dict[str, Any]) -> bool:
        if self.remote_copy is None:
            return False
        try:
            return self.remote_copy(self.store, item.hash, row["path"])
        except ItaRulesError:
            return False

    def _finish_interrupted_removals(self) -> list[tuple[str, int]]:
        """A sweep killed between marking a record purged and unlinking its file leaves the
        purged record's name on disk: remove it now (the purge was already decided), unless a
        live or soft-deleted record uses that name, or the content still needed is stored
        under it. Returns the (path, bytes) of the stored content that left the disk (a name
        whose bytes another record still holds frees nothing)."""
        # Under the store lock: a put of the same bytes cannot slip in between the query that
        # finds the file unneeded and its deletion (puts place files under this lock).
        r = t.records.c
        with self.store.locked():
            with self.store.db.read() as conn:
                kept = conn.execute(
                    sa.select(r.hash, r.path).where(r.status.in_(("live", "deleted")))
                ).all()
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
                full = self.store.abspath(path)
                try:
                    size = full.stat().st_size
                    full.unlink()
                except FileNotFoundError:
                    continue
                if hash_ not in needed:
                    removed.append((str(path), size))
            return removed

    def restore(self, *, file_ids: Sequence[str] = (), run_id: str | None = None) -> list[str]:
        """Undo a soft delete: the records become live again (their files are still on disk)."""
        with self._locked():
            r = t.records
            query = sa.select(r.c.file_id, r.c.path, r.c.status)
            if run_id is not None:
                query = query.where(r.c.run_id == run_id)
            else:
                query = query.where(r.c.file_id.in_(list(file_ids)))
            with self.store.db.read() as conn:
                rows = conn.execute(query).all()
            if run_id is None:
                unknown = sorted(set(file_ids) - {row[0] for row in rows})
                if unknown:
                    raise UsageError(f"no such file_id: {unknown[0]}")
            purged = [row[0] for row in rows if row[2] == "purged"]
            if purged:
                raise RetentionAborted(
                    f"{purged[0]} was already swept from disk; restore it from the remote "
                    "(`ita-rules remote pull`)"
                )
            ids = [row[0] for row in rows if row[2] == "deleted"]
            if ids:
                self._check_on_disk([{"path": row[1]} for row in rows if row[0] in ids])
                now = self.now()
                audit.append(
                    self._logs(),
                    now,
                    ({"at": _iso(now), "phase": "restore", "file_id": i} for i in ids),
                )
                self.store.set_status(ids, "live", at=_iso(now))
            return ids

    def admin_purge(
        self, *, type_: str, before: _dt.datetime, confirm: str | None
    ) -> tuple[Plan, audit.Report | None]:
        """The only way a backtest result leaves the store: an administrator names the type and
        a cut-off, reviews the plan, and confirms its id. Protected tags still hold. Without
        ``confirm`` it is a dry run (no report); an id that is not the current plan's raises
        :class:`ConfirmationNeeded` and nothing is purged."""
        with self._locked():
            items = [
                item for item, _ in self._items() if item.type == type_ and item.created_at < before
            ]
            tagged = Protections(self.policy, {}).tagged  # only protected tags hold
            purge = f"admin purge of {type_} created before {before:%Y-%m-%d}"
            decisions = [
                _decision(item, KEEP, reason, True)
                if (reason := tagged(item.tags)) is not None
                else _decision(item, "delete", purge)
                for item in items
            ]
            plan = Plan(_iso(self.as_of), decisions)
            if confirm is None:
                return plan, None
            if confirm != plan.plan_id:
                raise ConfirmationNeeded(
                    f"--confirm {confirm} does not match the current plan {plan.plan_id}: review "
                    f"the dry run (`ita-rules retention purge --admin --type {type_} "
                    f"--before {before:%Y-%m-%d}`) and confirm again"
                )
            now = self.now()
            report = self._report("purge", plan.plan_id, now)
            paths = self._paths(d.file_id for d in plan.selected)
            self._log(
                report,
                now,
                (
                    {
                        "at": _iso(now),
                        "phase": "purge",
                        "plan_id": plan.plan_id,
                        **d.as_dict(),
                        "path": paths[d.file_id],
                    }
                    for d in plan.selected
                ),
            )
            for d in plan.selected:
                if self.store.remove(d.file_id):
                    report.removed.append((paths[d.file_id], d.size))
                else:
                    holder = (
                        inputs.holder(self.store, self.store.get(d.file_id).hash)
                        or "another record"
                    )
                    report.content_kept.append((d.file_id, holder))
                report.affected.append((d.file_id, d.type, d.size))
            return plan, self._finish(report)


def _entry_for(entries: list[dict[str, Any]], file_id: str) -> dict[str, Any]:
    return next(e for e in entries if e["file_id"] == file_id)


def _disk_text(sharer: str | None) -> str:
    """What a purge did on disk, as the audit log says it."""
    if sharer is None:
        return "file removed from disk"
    return f"record purged, content kept: shared with {sharer}"


def _utc(moment: _dt.datetime) -> _dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def _decision(item: Item, action: str, reason: str, protected: bool = False) -> Decision:
    return Decision(
        item.file_id, item.type, item.size, item.created_at.isoformat(), action, reason, protected
    )


def _iso(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)

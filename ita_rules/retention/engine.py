"""Apply, sweep, restore and the admin purge: the retention plan acted on, under a lock.

Mark and sweep, like ``pre-commit gc``: ``apply`` only marks records ``deleted`` (files stay on
disk, restorable); ``sweep`` (:mod:`.sweep`) removes files soft-deleted longer than the safety
window, checking every protection again first, and only after a verified remote copy where the
policy asks for one. A soft-deleted record that a protection covers again (tagged, or touched
by a run that protects, since) is made live again by the next ``apply``, logged as a
``restore`` (the plan lists it first); the sweep keeps it meanwhile. Every act is appended to
``logs/purge_YYYY_MM_DD.log`` as an intent before it happens and each attempt is closed by a
line saying what it did (:mod:`.audit`); a crash at any point leaves a state that the next run
completes, and the next run first closes the killed attempt's lines with what really happened.

Two moments: ``as_of`` is the day a plan is made for (a replay may simulate another day: the
records' ages are measured to it), ``clock`` is the real time at which things happen. The
soft-delete time, the safety window, the audit log and the reports all use the clock, so a
simulated day can never make a file leave the disk sooner than the window allows.

The inputs of the delete decision are read completely or not at all: a run snapshot that cannot
be read, or a selected file missing from disk, aborts the run. A run whose rule version is not in
the registry (a rule file deleted, broken or never committed) keeps what it touched, with a
warning (:mod:`.inputs`).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.core.errors import ItaRulesError, UsageError
from ita_rules.db import tables as t
from ita_rules.retention import audit, inputs
from ita_rules.retention.decisions import ConfirmationNeeded, Plan, Restore
from ita_rules.retention.inputs import Lineage, RetentionAborted
from ita_rules.retention.plan import plan_records
from ita_rules.retention.policy import Policy, load_policy
from ita_rules.retention.purge import admin_purge
from ita_rules.retention.stream import StreamedPlan, read_plan
from ita_rules.retention.sweep import sweep
from ita_rules.vectors.ids import is_vector
from ita_rules.vectors.prune import restore_vectors, sweep_vectors
from ita_rules.vectors.side import Vectors

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.provenance.desk import Desk
    from ita_rules.retention.notify import Telegram
    from ita_rules.store.core import Store

GB = 1024**3
LOCK_TIMEOUT_S = 30.0

RemoteCopy = Callable[["Store", str, str], bool]
"""(store, content hash, path) -> whether a verified copy is on the remote (made if needed)."""


@dataclass
class Retention:
    """Retention of one workspace: plans for the day ``as_of`` (a replay may simulate one),
    acts at the time ``clock`` tells (the real clock; a test may inject another)."""

    workspace: Desk
    store: Store
    policy: Policy
    as_of: _dt.datetime
    remote_copy: RemoteCopy | None = None
    clock: Callable[[], _dt.datetime] = times.now

    @classmethod
    def open(
        cls,
        workspace: Desk,
        store: Store,
        as_of: _dt.datetime | None = None,
        *,
        clock: Callable[[], _dt.datetime] | None = None,
    ) -> Retention:
        settings = workspace.settings
        _check_not_lost(settings, store)
        known = [*settings.folders, *inputs.types_in_store(store)]
        policy = load_policy(
            settings.retention_policy, known, _shown(settings.retention_policy, settings.root)
        )
        clock = clock or times.now
        return cls(workspace, store, policy, times.utc(as_of or clock()), clock=clock)

    def now(self) -> _dt.datetime:
        """The real time things happen at (never ``as_of``)."""
        return times.utc(self.clock())

    def vectors(self) -> Vectors | None:
        """The managed vector collections (docs/architecture.md#vectors), None without any."""
        return Vectors.open(self.workspace.settings, self.store.db)

    def lineage(self) -> Lineage:
        """What the runs say (read completely or not at all: see :mod:`.inputs`)."""
        return inputs.lineage(self.workspace, self.store)

    def plan(self, *, max_delete: int | None = None) -> StreamedPlan:
        """What apply would do on the day ``as_of``, every file with its reason. Changes nothing.

        The database decides the records, one query per type (:mod:`.query`); the decisions
        stream from it whenever they are read (:mod:`.stream`). The vectors are planned here,
        and so are the soft-deleted records a protection covers again (:meth:`restores`)."""
        lineage, vectors = self.lineage(), self.vectors()
        vector_plan = None
        if vectors is not None:
            vector_plan = plan_records(
                (row for row, _ in vectors.rows()),
                {},
                self.policy,
                self.as_of,
                lineage.runs,
                inputs=lineage.inputs,
                outputs=lineage.outputs,
            )
        restores = functools.cache(lambda: self.restores(lineage))
        return read_plan(
            self.store, self.policy, self.as_of, lineage, vector_plan, max_delete, restores
        )

    def restores(self, lineage: Lineage) -> list[Restore]:
        """The soft-deleted records a protection covers again (a protected tag, a run that
        protects, its declared output or input: the protections that keep a live record),
        by file_id. Content shared with a protected record is not one: that keeps the stored
        file, which the sweep never removes while such a record needs it."""
        reason = lineage.protections(self.policy).reason
        found = []
        for item, row in inputs.items(self.store, ("deleted",)):
            why = reason(item.type, item.tags, item.run_id, item.hash, item.file_id)
            if why is not None:
                path, deleted_at = row["path"], row["deleted_at"]
                found.append(
                    Restore(item.file_id, item.type, item.size, path, deleted_at, why, item.hash)
                )
        return sorted(found)

    # -- acting ------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        path = self.workspace.root / ".ita" / "retention.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except Timeout:
            raise UsageError(
                "another retention run holds the lock (.ita/retention.lock); try again later"
            ) from None
        try:
            self._close_interrupted()
            yield
        finally:
            lock.release()

    def _marker(self) -> Path:
        return self.workspace.root / ".ita" / "retention.attempt"

    def _close_interrupted(self) -> None:
        """Close the audit lines of an attempt killed before its closing line (:mod:`.audit`):
        one ``interrupted`` line saying, from the records as they are now, which of its
        intents were carried out (``done``, a count) and which not (``not_done``)."""
        marker = self._marker()
        named = audit.open_attempt_named(marker)
        if named is None:
            marker.unlink(missing_ok=True)
            return
        log = Path(named["log"])
        lines = audit.lines_of(log, named["attempt"])
        closed = any(e.get("action") in ("completed", "interrupted") for e in lines)
        intents: dict[str, dict[str, Any]] = {}
        for e in lines:
            fid = e.get("file_id")
            if isinstance(fid, str) and e.get("action") in audit.INTENTS:
                intents[fid] = e
        if intents and not closed:
            undone = set(self._undone(intents))
            undone |= {str(e["file_id"]) for e in lines if e.get("action") == "kept"}
            undone &= set(intents)
            now = self.now()
            audit.append_to(
                log,
                [
                    {
                        "at": times.iso(now),
                        "attempt": named["attempt"],
                        "phase": named["phase"],
                        "action": "interrupted",
                        "done": len(intents) - len(undone),
                        "not_done": sorted(undone),
                    }
                ],
            )
        marker.unlink(missing_ok=True)

    def _undone(self, intents: dict[str, dict[str, Any]]) -> list[str]:
        """Those of the logged intents (file_id -> its line) the records say did not happen."""
        r = t.records
        files = [f for f in intents if not is_vector(f)]
        found: dict[str, str] = {}
        with self.store.db.read() as conn:
            for start in range(0, len(files), 500):
                query = sa.select(r.c.file_id, r.c.status).where(
                    r.c.file_id.in_(files[start : start + 500])
                )
                found.update((row[0], row[1]) for row in conn.execute(query))
        undone = []
        wanted = {"apply": "deleted", "restore": "live", "sweep": "purged", "purge": "purged"}
        for fid in files:  # under the lock: only the killed attempt changed them
            if found.get(fid) != wanted.get(str(intents[fid].get("phase"))):
                undone.append(fid)
        vecs = [f for f in intents if is_vector(f)]
        vectors = self.vectors() if vecs else None
        for fid in vecs:
            try:
                deleted = vectors is not None and bool(vectors.deleted_among([fid]))
                there = vectors is not None
            except ItaRulesError:  # no longer in the collection: purged
                deleted, there = False, False
            phase = intents[fid].get("phase")
            done = (
                (phase == "apply" and deleted)
                or (phase == "sweep" and not there)
                or (phase == "restore" and there and not deleted)
            )
            if not done:
                undone.append(fid)
        return undone

    def _logs(self) -> Path:
        return self.workspace.root / "logs"

    def report(self, phase: str, plan_id: str | None, now: _dt.datetime) -> audit.Report:
        return audit.Report(
            now.date().isoformat(),
            phase,
            plan_id,
            safety_window_days=self.policy.safety_window_days,
        )

    def log(
        self, report: audit.Report, now: _dt.datetime, entries: Iterable[dict[str, Any]]
    ) -> None:
        """Append to the day's audit log as lines of the report's attempt (named first in
        ``.ita/retention.attempt``), and name the log in the report (only once written)."""
        path = audit.log_path(self._logs(), now)
        if report.attempt is None:
            report.attempt = audit.new_attempt()
            audit.open_attempt(self._marker(), report.attempt, report.phase, path)
        audit.append_to(path, ({**e, "attempt": report.attempt} for e in entries))
        report.audit_log_path = _shown(path, self.workspace.root)

    def complete(self, report: audit.Report) -> None:
        """Close the report's attempt in the audit log (it has committed): what it did. Its
        lines are in the log of the day it started (``purge_date``)."""
        if report.attempt is None:
            return
        day = _dt.date.fromisoformat(report.purge_date)
        path = self._logs() / f"purge_{day:%Y_%m_%d}.log"
        audit.append_to(path, [report.closing(times.iso(self.now()))])
        self._marker().unlink(missing_ok=True)

    def finish(self, report: audit.Report) -> audit.Report:
        """Close the attempt and save the report beside the audit log when the run wrote to
        it (did something)."""
        if report.audit_log_path is not None:
            self.complete(report)
            audit.write_report(self._logs(), report, self.workspace.root)
        return report

    def _check_on_disk(self, paths: Iterable[str]) -> None:
        missing = [p for p in paths if not self.store.abspath(p).is_file()]
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
        """Soft-delete what the plan selects, after making live again the soft-deleted records
        a protection covers again (:meth:`restores`: an audit entry of phase ``restore`` each,
        with the protection as its reason). A plan over ``large_purge_gb`` sends a Telegram
        notice and stops, changing nothing, until confirmed with its plan id. The records'
        ``deleted_at`` is the real time (the safety window starts then, whatever day the plan
        was made for)."""
        with self._locked():
            plan = self.plan(max_delete=max_delete)
            selected = plan.selected  # first: the plan id is then the id of these
            now = self.now()
            report = self.report("apply", plan.plan_id, now)
            report.warnings = list(plan.warnings)
            if not selected and not plan.restores:
                return report
            if selected:
                self._confirmed(plan, confirm, telegram)
            files = [d for d in selected if not is_vector(d.file_id)]
            vecs = [d.file_id for d in selected if is_vector(d.file_id)]
            paths = inputs.paths(self.store, (d.file_id for d in files))
            self._check_on_disk(paths[d.file_id] for d in files)
            at, planned_for = times.iso(now), times.iso(self.as_of)
            self._restore_protected(plan.restores, report, now, planned_for)
            if not selected:
                return self.finish(report)
            vectors = self.vectors() if vecs else None
            if vectors is not None:
                paths.update((f, vectors.path(f)) for f in vecs)
            entry = {"at": at, "as_of": planned_for, "phase": "apply", "plan_id": plan.plan_id}
            self.log(
                report,
                now,
                (
                    {
                        **entry,
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
            self.store.set_status([d.file_id for d in files], "deleted", at=at)
            if vectors is not None:
                vectors.set_deleted(vecs, now.timestamp())
            report.affected, report.vectors = [(d.file_id, d.type, d.size) for d in files], vecs
            return self.finish(report)

    def _restore_protected(
        self, restores: Sequence[Restore], report: audit.Report, now: _dt.datetime, as_of: str
    ) -> None:
        """Make live again the soft-deleted records a protection covers again, each logged
        first (phase ``restore``); one whose file is no longer on disk stays soft-deleted (a
        live record must have its file), with a warning naming ``store fsck``."""
        back = [r for r in restores if self.store.abspath(r.path).is_file()]
        on_disk = {r.file_id for r in back}
        for r in restores:
            if r.file_id not in on_disk:
                report.warnings.append(
                    f"{r.file_id} is protected again ({r.reason}) but its file {r.path} is "
                    "missing on disk: left soft-deleted; run `ita-rules store fsck`"
                )
        if not back:
            return
        at = times.iso(now)
        entry = {"at": at, "as_of": as_of, "phase": "restore", "action": "restore"}
        self.log(
            report,
            now,
            (
                {
                    **entry,
                    "file_id": r.file_id,
                    "type": r.type,
                    "path": r.path,
                    "size": r.size,
                    "deleted_at": r.deleted_at,
                    "reason": r.reason,
                }
                for r in back
            ),
        )
        self.store.set_status([r.file_id for r in back], "live", at=at)
        report.restored = [(r.file_id, r.reason) for r in back]

    def _confirmed(
        self, plan: StreamedPlan, confirm: str | None, telegram: Telegram | None
    ) -> None:
        """Raise :class:`ConfirmationNeeded` when ``confirm`` names another plan, or when the
        plan frees more than ``large_purge_gb`` and is not confirmed (after the notice)."""
        if confirm is not None and confirm != plan.plan_id:
            raise ConfirmationNeeded(
                f"--confirm {confirm} does not match the current plan {plan.plan_id}: the "
                "set of files changed; review `ita-rules retention plan` and confirm again"
            )
        size_gb = plan.bytes_selected / GB
        if size_gb <= self.policy.large_purge_gb or confirm == plan.plan_id:
            return
        if telegram is not None:
            telegram.send(
                f"ita-rules: a purge of {plan.n_selected} file(s), {size_gb:.2f} GB, waits for "
                f"confirmation in {self.workspace.root.name}: "
                f"ita-rules retention apply --confirm {plan.plan_id}"
            )
        raise ConfirmationNeeded(
            f"this plan frees {size_gb:.2f} GB "
            f"(> large_purge_gb {self.policy.large_purge_gb:g}); "
            f"{'a Telegram notice was sent; ' if telegram else ''}"
            f"confirm with `ita-rules retention apply --confirm {plan.plan_id}`"
        )

    def sweep(self, *, max_delete: int | None = None) -> audit.Report:
        """Remove from disk what was soft-deleted longer than the safety window ago, on the real
        clock (see :mod:`.sweep`). The report counts what left the disk: a purged record whose
        content another record still needs keeps the file (``content_kept``)."""
        with self._locked():
            now = self.now()
            report = self.report("sweep", None, now)
            sweep(self, report, now, max_delete)
            vectors = self.vectors()
            if vectors is not None:
                sweep_vectors(vectors, self, report, now, max_delete)
            return self.finish(report)

    def restore(self, *, file_ids: Sequence[str] = (), run_id: str | None = None) -> list[str]:
        """Undo a soft delete: the records become live again (their files are still on disk)."""
        with self._locked():
            vecs = [f for f in file_ids if is_vector(f)]
            file_ids = [f for f in file_ids if not is_vector(f)]
            back = restore_vectors(self, vecs, run_id)
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
                self._check_on_disk(row[1] for row in rows if row[0] in ids)
                at = times.iso(now := self.now())
                report = self.report("restore", None, now)
                entries = (
                    {"at": at, "phase": "restore", "action": "restore", "file_id": i} for i in ids
                )
                self.log(report, now, entries)
                self.store.set_status(ids, "live", at=at)
                report.restored = [(i, "restored by hand") for i in ids]
                self.complete(report)
            return ids + back

    def admin_purge(
        self, *, type_: str, before: _dt.datetime, confirm: str | None
    ) -> tuple[Plan, audit.Report | None]:
        """The administrator's purge (:func:`.purge.admin_purge`), under the lock."""
        with self._locked():
            return admin_purge(self, type_, before, confirm)


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _check_not_lost(settings: Settings, store: Store) -> None:
    """A database that lacks records or runs the disk holds (lost, maybe written to since)
    cannot tell what those protect: retention refuses it, naming ``store rebuild``, before a
    policy naming types only the lost records had is judged."""
    from ita_rules.provenance.runstore import RunStore

    store.check_not_lost()
    RunStore(settings, store.db, owned=False).check_not_lost()

"""Runs in the metadata database and their snapshot files under the store root.

* :meth:`RunStore.allocate` gives the next ``run_YYYY_MM_DD_NNN`` and inserts the run (status
  ``running``) in one transaction. The id is claimed by creating its snapshot file
  ``archive/provenance/{run_id}_snapshot.json`` exclusively (a hard link of a complete temp
  file, which fails when the name exists): an id whose snapshot file exists is skipped, so an
  id is never handed out twice, not even after the database was lost, and no run's snapshot
  file is ever overwritten by another run.
* The snapshot file is the run's durable state: it is rewritten atomically (temp file + fsync
  + ``os.replace``) at every change and at the end, before the database commits, and
  :meth:`RunStore.restore` rebuilds the ``runs`` table from the snapshot files alone.
* Every write of a snapshot file records the SHA-256 of the exact bytes written twice: in the
  run's row (``snapshot_sha256``, same transaction) and in the store's journal (a ``snapshot``
  entry, appended before the file is written, under the store lock, which is taken before the
  database transaction as every store writer does). ``runs verify`` compares the file with
  both (:mod:`ita_rules.provenance.verify`). A row restored from its file takes the hash the
  journal kept, so a file edited before the database was lost is still caught; a file the
  journal has no hash for (written before hashes were kept) cannot be checked, and verify says
  so.
* A running run renews its lease (heartbeat). :meth:`RunStore.reap` marks ``abandoned`` every
  running run whose lease ran out or whose process (on this host) is gone; the completion of a
  run only changes a run that is still ``running``, so an abandoned run never becomes
  ``succeeded``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.core.config import Settings
from ita_rules.core.errors import ItaRulesError, NotFound, UsageError
from ita_rules.core.fsutil import atomic_write_text
from ita_rules.db import Database
from ita_rules.db.migrations import ensure_schema
from ita_rules.provenance import snapfiles
from ita_rules.provenance.rundb import (
    columns_of,
    database,
    dump,
    output_ids,
    stored_for,
    summaries,
)
from ita_rules.provenance.snapfiles import STATUSES as STATUSES
from ita_rules.provenance.tables import lock, runs

if TYPE_CHECKING:
    from ita_rules.store.core import Store

RUN_ID_FORMAT = "run_{day}_{seq:03d}"
RESTORED_LEASE_S = 24 * 3600.0  # a running run restored from its file: its lease is unknown
FINAL = ("succeeded", "failed")
ALLOCATE_TRIES = 100


class RunStateError(ItaRulesError):
    """A run is not in the state the operation needs (e.g. finishing an abandoned run)."""


class RunsLost(ItaRulesError):
    """The database lacks runs whose snapshot files exist (it was lost or replaced)."""


def check_run_id(run_id: str) -> str:
    if not snapfiles.RUN_ID_RE.fullmatch(run_id):
        raise UsageError(f"not a run id: {run_id!r} (expected run_YYYY_MM_DD_NNN)")
    return run_id


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still exists (always True where we cannot tell)."""
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate it there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


MAX_LEASE_S = 366 * 24 * 3600  # a lease longer than a year is a mistake, not a long run


def checked_lease(seconds: float, what: str = "lease") -> float:
    """``seconds`` when it is a usable lease (a finite number of seconds above 0, at most a
    year); a one-line :class:`UsageError` otherwise (``nan``, ``inf``, ``1e300``, ``0``,
    ``-5``)."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise UsageError(f"{what}: expected a number of seconds, got {seconds!r}") from None
    if not 0 < value <= MAX_LEASE_S:  # also false for nan
        raise UsageError(
            f"{what}: expected a number of seconds above 0 and at most {MAX_LEASE_S} "
            f"(a year), got {seconds}"
        )
    return value


class RunStore:
    """The runs of one workspace: database rows plus snapshot files."""

    def __init__(self, settings: Settings, db: Database, *, owned: bool = True) -> None:
        self.settings = settings
        self.db = db
        self._owned = owned
        self._store: Store | None = None
        if owned:
            ensure_schema(db)

    @classmethod
    def open(cls, settings: Settings) -> RunStore:
        """The runs of a workspace, on the process's shared connection to its database:
        ``with RunStore.open(settings) as runs:``."""
        return cls(settings, database(settings), owned=False)

    def close(self) -> None:
        """Release the database when this RunStore owns it (a shared one stays open)."""
        if self._owned:
            self.db.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.db.write() as conn:
            lock(conn)
            yield conn

    # -- files ---------------------------------------------------------------------------
    def snapshot_folder(self) -> Path:
        return self.settings.store_root / self.settings.folder_for("provenance")

    def snapshot_path(self, run_id: str) -> Path:
        return self.snapshot_folder() / f"{check_run_id(run_id)}{snapfiles.SNAPSHOT_SUFFIX}"

    def write_file(self, snapshot: Mapping[str, Any]) -> str:
        """Rewrite the snapshot file of a run that has one (its id was claimed) with the bytes
        its row's ``snapshot_sha256`` names; return their SHA-256. (A change of the snapshot
        goes through :meth:`update_running`, :meth:`finish` or :meth:`reap`, which record the
        new hash.)"""
        content = snapfiles.text(snapshot)
        atomic_write_text(self.snapshot_path(str(snapshot["run_id"])), content)
        return snapfiles.sha256(content)

    @property
    def store(self) -> Store:
        """The store of this workspace (its lock, journal and records), sharing this database."""
        if self._store is None:
            from ita_rules.store.core import Store

            self._store = Store(self.settings, self.db)
        return self._store

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The store lock, taken before any database transaction (the store's lock order)."""
        with self.store.locked():
            yield

    def _journal_hash(self, run_id: str, sha: str) -> None:
        """Keep the hash of a snapshot file about to be written in the store's journal (under
        the store lock): it survives the loss of the database."""
        from ita_rules.store.journal import snapshot_entry

        self.store.journal.append([snapshot_entry(run_id, sha, times.iso(times.now()))])

    def _rewrite(self, snapshot: Mapping[str, Any]) -> None:
        """Journal the new file's hash, then write the file (inside the run's transaction,
        under the store lock, after the row's update)."""
        content = snapfiles.text(snapshot)
        self._journal_hash(str(snapshot["run_id"]), snapfiles.sha256(content))
        atomic_write_text(self.snapshot_path(str(snapshot["run_id"])), content)

    def _announce(self, snapshot: Mapping[str, Any]) -> None:
        """The run's OpenLineage event when ``lineage.url`` is set (never raises)."""
        if self.settings.lineage_url:
            from ita_rules.provenance.lineage_emit import announce

            announce(self, snapshot)

    def journaled_hash(self, run_id: str) -> str | None:
        """The hash the store's journal kept for the last write of the run's snapshot file."""
        return self.store.journal.snapshot_hashes().get(run_id)

    def row(self, run_id: str) -> dict[str, Any] | None:
        """The run's row as stored (every column), or None."""
        with self.db.read() as conn:
            found = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        return None if found is None else dict(found._mapping)

    # -- allocate ------------------------------------------------------------------------
    def allocate(
        self, snapshot: dict[str, Any], *, pid: int | None, lease_s: float
    ) -> dict[str, Any]:
        """Insert a new running run with the next free id of the day; return its snapshot.

        The next id is past the highest of the day in the database and on disk; its snapshot
        file is created exclusively before the row is inserted (an id whose file appeared
        meanwhile is skipped), so the file exists whenever the row does."""
        lease_s = checked_lease(lease_s)
        for _ in range(ALLOCATE_TRIES):
            now = times.now()
            day = now.strftime("%Y_%m_%d")
            claimed: Path | None = None
            try:
                with self._locked(), self._write() as conn:
                    top = conn.execute(
                        sa.select(sa.func.max(runs.c.seq)).where(runs.c.day == day)
                    ).scalar()
                    seq = max(int(top or 0), snapfiles.highest_seq(self.snapshot_folder(), day))
                    snap, seq, content = self._claim(snapshot, day, seq + 1, times.iso(now))
                    claimed = self.snapshot_path(snap["run_id"])
                    sha = snapfiles.sha256(content)
                    self._journal_hash(snap["run_id"], sha)
                    row = columns_of(snap)
                    row.update(
                        day=day,
                        seq=seq,
                        snapshot_sha256=sha,
                        pid=pid,
                        heartbeat_at=times.iso(now),
                        lease_until=times.iso(now + _dt.timedelta(seconds=lease_s)),
                    )
                    conn.execute(runs.insert().values(**row))
                self._announce(snap)
                return snap
            except sa.exc.IntegrityError:
                # another database took that number: the file we created is ours to remove
                if claimed is not None:
                    claimed.unlink(missing_ok=True)
                continue
            except BaseException:
                if claimed is not None:
                    claimed.unlink(missing_ok=True)
                raise
        raise ItaRulesError(f"could not allocate a run id after {ALLOCATE_TRIES} tries")

    def _claim(
        self, snapshot: Mapping[str, Any], day: str, seq: int, started: str
    ) -> tuple[dict[str, Any], int, str]:
        """The running snapshot with the first id of ``day`` from number ``seq`` on whose
        snapshot file this call creates (holding that snapshot), its number and the file's
        text."""
        for number in range(seq, seq + ALLOCATE_TRIES):
            snap = {
                **snapshot,
                "run_id": RUN_ID_FORMAT.format(day=day, seq=number),
                "status": "running",
                "started_at": started,
                "finished_at": None,
            }
            content = snapfiles.text(snap)
            if snapfiles.claim(self.snapshot_path(snap["run_id"]), content):
                return snap, number, content
        raise ItaRulesError(
            f"could not allocate a run id: {ALLOCATE_TRIES} ids of {day} "
            f"in a row have snapshot files in {self.snapshot_folder()}"
        )

    # -- change --------------------------------------------------------------------------
    def heartbeat(self, run_id: str, lease_s: float) -> bool:
        """Renew the lease of a running run; False when it is no longer running."""
        lease_s = checked_lease(lease_s)
        now = times.now()
        with self.db.write() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.status == "running")
                .values(
                    heartbeat_at=times.iso(now),
                    lease_until=times.iso(now + _dt.timedelta(seconds=lease_s)),
                )
            )
        return bool(result.rowcount)

    def update_running(self, snapshot: dict[str, Any]) -> None:
        """Store a changed snapshot (new outputs) of a run that is still running."""
        sha = snapfiles.sha256(snapfiles.text(snapshot))
        with self._locked(), self.db.write() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.run_id == snapshot["run_id"], runs.c.status == "running")
                .values(snapshot=dump(snapshot), snapshot_sha256=sha)
            )
            if not result.rowcount:
                raise RunStateError(f"run {snapshot['run_id']} is no longer running")
            self._rewrite(snapshot)  # before the commit: the file is what a rebuild restores

    def finish(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        outputs: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """``succeeded`` or ``failed``: only a run that is still running changes. Its outputs
        are the records stored for it (``store put --run-id``; not the diff of a dirty tree,
        which its snapshot names) and ``outputs``, which name
        stored records (a file_id or a prefix of one, recorded as the whole id); an id that
        names no record is a usage error and nothing is recorded."""
        if status not in FINAL:
            raise UsageError(f"--status: expected succeeded or failed, got {status!r}")
        now = times.iso(times.now())
        with self._locked(), self._write() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
            if row is None:
                self._check_not_lost(run_id)
                raise NotFound(f"no run {run_id}")
            if row.status != "running":
                raise RunStateError(
                    f"run {run_id} is {row.status}; only a running run can be finished"
                    + (f" ({row.error})" if row.error else "")
                )
            snap: dict[str, Any] = json.loads(row.snapshot)
            whole = output_ids(conn, outputs, run_id) if outputs else []
            self._refuse_other_results(conn, whole, snap)
            stored = [f for f in stored_for(conn, run_id) if f != snap.get("git_diff_file_id")]
            known = [*snap.get("outputs", []), *stored, *whole]
            snap["outputs"] = list(dict.fromkeys(known))
            snap.update(status=status, finished_at=now, error=error)
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.status == "running")
                .values(
                    status=status,
                    finished_at=now,
                    error=error,
                    snapshot=dump(snap),
                    snapshot_sha256=snapfiles.sha256(snapfiles.text(snap)),
                )
            )
            self._rewrite(snap)  # before the commit: the file is what a rebuild restores
        self._announce(snap)
        return snap

    def _refuse_other_results(
        self, conn: sa.Connection, file_ids: Sequence[str], snap: Mapping[str, Any]
    ) -> None:
        """Refuse (a usage error, nothing recorded) an ``--output`` that is a result stating
        another run, rule version or params_hash than this run's: it was stored without
        ``--run-id``, so nothing compared it with the run then, and claiming it would list
        another setup's metrics under this run's version; any result, for a run that used no
        rule version. A result file that cannot be read is left to ``store verify``."""
        from ita_rules.db import tables as t
        from ita_rules.provenance.stamp import NO_RULE_VERSION, RULE_ADVICE, agrees, claims

        if not file_ids:
            return
        r = t.records.c
        rows = conn.execute(
            sa.select(r.file_id, r.path).where(r.file_id.in_(file_ids), r.type == "result")
        ).all()
        if rows and not snap.get("rule_id"):  # a result names a rule version; this run none
            results = {row[0] for row in rows}
            first = next(f for f in file_ids if f in results)
            raise UsageError(
                f"--output: record {first} is a result, and run {snap['run_id']} "
                f"{NO_RULE_VERSION}: a run's outputs are its own results; {RULE_ADVICE}"
            )
        expected = claims(snap["run_id"], snap)
        for file_id, path in rows:
            try:
                value = json.loads((self.settings.store_root / path).read_bytes())
            except (OSError, ValueError, RecursionError):
                continue
            if not isinstance(value, dict):
                continue
            for key, want in expected.items():
                if key in value and want is not None and not agrees(key, value[key], want):
                    raise UsageError(
                        f"--output: record {file_id} is a result whose {key} is "
                        f"{value[key]!r}, not run {snap['run_id']}'s {want!r}; a run's outputs "
                        "are its own results"
                    )

    def reap(self, host: str | None = None) -> list[str]:
        """Mark ``abandoned`` the running runs whose lease expired or whose process is gone."""
        from ita_rules.provenance.capture import host as this_host

        here = host or this_host()
        now = times.now()
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(runs.c.run_id, runs.c.host, runs.c.pid, runs.c.lease_until).where(
                    runs.c.status == "running"
                )
            ).all()
        dead = []
        for run_id, run_host, pid, lease_until in rows:
            if lease_until is not None and lease_until < times.iso(now):
                dead.append((run_id, f"no heartbeat since its lease ended at {lease_until}"))
            elif run_host == here and pid and pid != os.getpid() and not pid_alive(pid):
                dead.append((run_id, f"its process {pid} on {here} is gone"))
        reaped = []
        for run_id, why in dead:
            stamp = times.iso(times.now())
            with self._locked(), self._write() as conn:
                row = conn.execute(
                    sa.select(runs.c.snapshot).where(
                        runs.c.run_id == run_id, runs.c.status == "running"
                    )
                ).first()
                if row is None:
                    continue
                snap = json.loads(row.snapshot)
                error = f"abandoned: {why}"
                snap.update(status="abandoned", finished_at=stamp, error=error)
                conn.execute(
                    runs.update()
                    .where(runs.c.run_id == run_id, runs.c.status == "running")
                    .values(
                        status="abandoned",
                        finished_at=stamp,
                        error=error,
                        snapshot=dump(snap),
                        snapshot_sha256=snapfiles.sha256(snapfiles.text(snap)),
                    )
                )
                self._rewrite(snap)
            self._announce(snap)
            reaped.append(run_id)
        return reaped

    # -- rebuild -------------------------------------------------------------------------
    def restore(self) -> tuple[list[str], list[str]]:
        """Insert every run whose snapshot file exists but whose row does not (the database
        was lost); return the restored run ids and the snapshot files that could not be read
        (as paths relative to the store root). Idempotent.

        A restored row is made from the file, so it cannot tell an edited file by itself: it
        records ``restored_at`` and, as ``snapshot_sha256``, the hash the store's journal kept
        for the run's last write (not the file's own hash). ``runs verify`` then reports a file
        edited before the database was lost; a run the journal has no hash for keeps NULL and
        verify says that its file could not be checked."""
        folder = self.snapshot_folder()
        restored: list[str] = []
        unreadable: list[str] = []
        now = times.now()
        with self._write() as conn:
            present = {row[0] for row in conn.execute(sa.select(runs.c.run_id))}
            rows: list[dict[str, Any]] = []
            for run_id, day, seq in snapfiles.listed(folder):
                if run_id in present:
                    continue
                path = self.snapshot_path(run_id)
                snap = snapfiles.read_snapshot(path, run_id)
                if snap is None:
                    unreadable.append(path.relative_to(self.settings.store_root).as_posix())
                    continue
                row = columns_of(snap)
                running = snap["status"] == "running"
                lease = (
                    times.iso(now + _dt.timedelta(seconds=RESTORED_LEASE_S)) if running else None
                )
                row.update(
                    day=day,
                    seq=seq,
                    pid=None,
                    heartbeat_at=None,
                    lease_until=lease,
                )
                rows.append(row)
                restored.append(run_id)
            if rows:
                journaled = self.store.journal.snapshot_hashes()
                for row in rows:
                    row.update(
                        snapshot_sha256=journaled.get(row["run_id"]), restored_at=times.iso(now)
                    )
                conn.execute(runs.insert(), rows)
        return restored, unreadable

    # -- read ----------------------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any]:
        check_run_id(run_id)
        with self.db.read() as conn:
            row = conn.execute(sa.select(runs.c.snapshot).where(runs.c.run_id == run_id)).first()
        if row is None:
            self._check_not_lost(run_id)
            raise NotFound(f"no run {run_id}")
        snap: dict[str, Any] = json.loads(row.snapshot)
        return snap

    def list(
        self,
        *,
        status: str | None = None,
        flow_type: str | None = None,
        setup_id: str | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Summaries of runs, newest first."""
        filters = {"status": status, "flow_type": flow_type, "setup_id": setup_id, "symbol": symbol}
        with self.db.read() as conn:
            found = summaries(conn, filters, limit)
        self.check_not_lost()
        return found

    def check_not_lost(self) -> None:
        """Raise :class:`RunsLost` when the database lacks runs whose snapshot files exist:
        all of them, or the oldest (a database lost, then written to by new runs)."""
        listed = snapfiles.listed(self.snapshot_folder())
        if not listed:
            return
        oldest = min(listed, key=lambda item: (item[1], item[2]))[0]
        with self.db.read() as conn:
            if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == oldest)).first():
                return
            empty = conn.execute(sa.select(runs.c.run_id).limit(1)).first() is None
        self._check_not_lost(None if empty else oldest, count=len(listed))

    def _check_not_lost(self, run_id: str | None = None, *, count: int | None = None) -> None:
        """Raise :class:`RunsLost` when the database lacks runs (all of them, or ``run_id``)
        whose snapshot files exist: it was lost or replaced, and an empty answer would
        mislead."""
        folder = self.snapshot_folder()
        if run_id is not None:
            if not self.snapshot_path(run_id).is_file():
                return
            what = f"holds no run {run_id}, but its snapshot file exists"
        else:
            if count is None:  # the snapshot files, unless the caller listed them already
                count = len(snapfiles.listed(folder))
            if not count:
                return
            try:
                shown = folder.relative_to(self.settings.root).as_posix()
            except ValueError:
                shown = str(folder)
            what = f"holds no runs, but {shown} has {count} snapshot file(s)"
        raise RunsLost(
            f"the metadata database {what}: the database was lost or replaced; run "
            "`ita-rules store rebuild` (or `ita-rules index --rebuild`) to restore them"
        )

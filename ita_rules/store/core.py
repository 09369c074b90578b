"""The store: put, get, find, tag and remove, over stored files plus the metadata database.

Order of a put: stage (temp file in the target folder, hash while copying, fsync) -> under
the store lock: database transaction [look the hash up; if new, ``os.replace`` the temp file
to its name; insert blob, record, tags; fsync the folder; journal append + fsync] -> commit
-> unlock (:mod:`ita_rules.store.batch`). A bulk put stages every file first and makes them
all durable with one ``syncfs`` before the lock. A record therefore never points to a missing
or partial file, and is never in the database without its journal entry (a tag, a status
change and a blob move too are journaled before their commit; a failed commit cuts the
journal back). A crash leaves at most a temp file, a file without a record, or a journal
entry whose commit never happened, which ``store fsck`` finds (and the rebuild restores from
the files on disk).

A full disk, a read-only store root or one the user may not write to is a one-line
:class:`StoreError` naming the store root, with nothing written.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core import times
from ita_rules.core.config import Settings
from ita_rules.core.errors import NotFound, UsageError
from ita_rules.db import Database
from ita_rules.db.engine import Sql
from ita_rules.store import batch, blobs, lock, names, naming, rootcheck
from ita_rules.store.errors import SourceError, StoreBusy, StoreError
from ita_rules.store.journal import Journal
from ita_rules.store.records import LIVE, STATUSES, Record, load_records, resolve_file_id
from ita_rules.store.sources import BYTES_SHOWN, Source, check_candles, stage_all
from ita_rules.store.spec import PutSpec

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ita_rules.rules.registry import Registry

HOUSEKEEPING = ".ita-store"  # journal, lock, lost+found: under the store root
LOCK_TIMEOUT_S = 600.0
# the disk refuses the write: full, read-only, not ours. Told in one line, not an internal error
DISK_ERRNOS = frozenset(
    {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EACCES}
    | {errno.EPERM, errno.EFBIG}
)
Progress = Callable[[int, int], None]  # progress(done, total), see ita_rules.core.progress


class Store:
    """The persistent store of one workspace. Open it with :func:`ita_rules.store.open_store`."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: Registry | Callable[[], Registry] | None = None,
    ) -> None:
        """``registry`` may be a function that returns it: it is only needed to check results,
        so a put of other files does not load it (nor import its modules)."""
        self.settings = settings
        self.root = settings.store_root
        self.db = db
        self._registry = registry
        self.housekeeping = self.root / HOUSEKEEPING
        self.journal = Journal(self.housekeeping / "journal.jsonl")

    def close(self) -> None:
        """Release the database connections. ``with open_store(ws) as store:`` calls it."""
        self.db.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from ita_rules.rules.registry import Registry

            self._registry = Registry(self.settings.rules_dir, self.settings.root)
        elif callable(self._registry):
            self._registry = self._registry()
        return self._registry

    # -- locking -------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """The store lock: held while files are placed, the DB changes and the journal grows."""
        self.housekeeping.mkdir(parents=True, exist_ok=True)
        try:
            with lock.exclusive(str(self.housekeeping / "lock"), LOCK_TIMEOUT_S):
                yield
        except lock.LockTimeout:
            raise StoreBusy(
                f"the store {self.root} stayed locked for {LOCK_TIMEOUT_S:.0f} s"
            ) from None

    @contextmanager
    def disk_errors(self, outcome: str) -> Iterator[None]:
        """Turn the disk refusing a write (full, read-only, permission) into one line naming
        the store root; ``outcome`` says what that left (e.g. ``nothing was stored``)."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                raise
            try:
                shown = self.root.relative_to(self.settings.root).as_posix()
            except ValueError:
                shown = str(self.root)
            raise StoreError(
                f"{shown}: cannot write to the store: {exc.strerror}; {outcome}"
            ) from None

    @contextmanager
    def write_ahead(self, entries: Sequence[Mapping[str, Any]]) -> Iterator[sa.Connection]:
        """A database transaction for the change ``entries`` describe, journaled first: the
        entries are appended and fsynced, then the transaction runs and commits; when it fails
        the entries are cut from the journal again. Call under the store lock."""
        mark = self.journal.append(entries)
        try:
            with self.db.write() as conn:
                yield conn
        except BaseException:
            self.journal.rollback(mark)
            raise

    # -- paths ---------------------------------------------------------------------------
    def folder(self, type_: str) -> str:
        return naming.check_folder(self.settings.folder_for(type_))

    def abspath(self, relative: str) -> Path:
        return naming.inside(self.root, relative)

    # -- put -----------------------------------------------------------------------------
    def put(
        self,
        path: str | Path,
        *,
        type: str,
        symbol: str | None = None,
        timeframe: str | None = None,
        run_id: str | None = None,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Record:
        """Store one file; return its new record (deduplicated when the bytes are stored)."""
        spec = PutSpec(type, symbol, timeframe, run_id, tuple(tags), metadata)
        return self.put_many([Path(path)], spec)[0]

    def put_bytes(self, data: bytes, *, ext: str, spec: PutSpec) -> Record:
        """Store bytes (e.g. a result document a flow built in memory)."""
        if ext and naming.extension(f"x.{ext}") != ext:
            raise UsageError(f"ext: {ext!r} is not a plain file extension")
        source = Source(f"{BYTES_SHOWN}.{ext}", data=data)
        return self._put_sources([source], spec.checked(), None)[0]

    def put_many(
        self,
        paths: Sequence[str | os.PathLike[str]],
        spec: PutSpec,
        progress: Progress | None = None,
    ) -> list[Record]:
        """Store many files in one transaction (a bulk put); all are checked before any write."""
        spec = spec.checked()
        if not paths:
            raise UsageError("no files to store")
        shown = [os.fspath(p) for p in paths]
        sources = [Source(p, path=p) for p in shown]
        return self._put_sources(sources, spec, progress)

    def _put_sources(
        self, sources: list[Source], spec: PutSpec, progress: Progress | None
    ) -> list[Record]:
        folder_rel = self.folder(spec.type)
        folder = os.fspath(self.abspath(folder_rel))
        if spec.type == "result":
            for src in sources:
                src.load_result(self.registry)
        else:  # check every source first: a bad one refuses the batch before any write
            for src in sources:
                src.check()
            if spec.type == "candles":
                check_candles(sources)
        bulk = len(sources) > 1
        staged: list[blobs.Staged] = []
        moved: set[str] = set()
        # the sources were checked, and a source that cannot be read is a SourceError: an
        # OSError from here on is the store's disk refusing a write
        with self.disk_errors("nothing was stored"):
            try:
                rootcheck.check_before_creating(self, "nothing was stored")
                os.makedirs(folder, exist_ok=True)
                if bulk:
                    staged = stage_all(sources, folder, progress)
                    blobs.sync_all([s.path for s in staged])  # data durable before any rename
                else:
                    staged.append(sources[0].stage(folder, sync=True))
                    if progress:
                        progress(1, 1)
                return batch.commit(self, staged, spec, folder_rel, folder, times.now(), moved)
            finally:
                for src in sources:
                    src.close()
                for s in staged:
                    if s.path not in moved:  # duplicates, or everything when the commit failed
                        blobs.discard(s.path)

    # -- read ----------------------------------------------------------------------------
    def get(self, file_id: str) -> Record:
        """The record of a file id, or of a unique prefix of one (8 characters or more)."""
        found = self.find(file_id=self.resolve(file_id))
        if not found:
            raise NotFound(f"no record {file_id!r} in the store" + self._lost_hint())
        return found[0]

    def resolve(self, file_id: str) -> str:
        """The whole file id a user means (see :func:`records.resolve_file_id`)."""
        if len(file_id) >= 36:
            return file_id
        try:
            with self.db.read() as conn:
                return resolve_file_id(conn, file_id)
        except NotFound as exc:
            raise NotFound(exc.message + self._lost_hint()) from None

    def check_not_lost(self) -> None:
        """Raise :class:`StoreError` when the database lacks what the journal says was stored
        (no records at all, or not the first one ever put, even after new puts): the database
        was lost or replaced, and its answer would mislead."""
        hint = self._lost_hint()
        if hint:
            raise StoreError(hint.removeprefix("; "))

    def _lost_hint(self) -> str:
        import sqlalchemy as sa

        from ita_rules.db import tables as t

        ids = t.records.c.file_id
        with self.db.read() as conn:
            if conn.execute(sa.select(ids).limit(1)).first() is not None:
                first = self.journal.first_put()
                if first is None or conn.execute(sa.select(ids).where(ids == first[0])).first():
                    return ""
                # a record whose files are gone is one a rebuild leaves out (store/replay.py):
                # its absence says nothing of a lost database
                if not any(os.path.lexists(self.root / path) for path in first[1]):
                    return ""
                return self._partly_lost(first[0])
        if not self.journal.path.exists():
            return ""
        entries = sum(1 for e in self.journal.read()[0] if e.data.get("op") == "put")
        if not entries:
            return ""
        return (
            f"; the metadata database holds no records, but the store's journal "
            f"({self._journal_shown()}) has "
            f"{entries}: the database was lost or replaced; run `ita-rules store rebuild` "
            "(or `ita-rules index --rebuild`) to restore them"
        )

    def _journal_shown(self) -> str:
        try:
            return self.journal.path.relative_to(self.settings.root).as_posix()
        except ValueError:
            return str(self.journal.path)

    def _partly_lost(self, first: str) -> str:
        return (
            f"; the metadata database lacks records the store's journal "
            f"({self._journal_shown()}) has, the "
            f"first one stored ({first}) among them: the database was lost or replaced and "
            "written to since; run `ita-rules store rebuild` (or `ita-rules index --rebuild`) to "
            "restore them"
        )

    def find(
        self,
        *,
        file_id: str | None = None,
        type: str | None = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        run_id: str | None = None,
        tag: str | None = None,
        since: str | None = None,
        until: str | None = None,
        hash: str | None = None,
        status: Sequence[str] | None = ("live",),
        limit: int | None = None,
    ) -> list[Record]:
        """Records matching every given filter, oldest first."""
        import sqlalchemy as sa

        from ita_rules.db import tables as t

        r = t.records.c
        query = sa.select(t.records)
        for column, value in (
            (r.file_id, file_id),
            (r.type, type),
            (r.symbol, symbol),
            (r.timeframe, timeframe),
            (r.run_id, run_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if hash is not None:
            query = query.where(
                r.hash == (hash if hash.startswith("sha256:") else "sha256:" + hash)
            )
        if tag is not None:
            query = query.where(
                sa.exists().where(t.tags.c.file_id == r.file_id, t.tags.c.tag == tag)
            )
        if since is not None:
            query = query.where(r.created_at >= times.iso(times.parse_bound(since, "--since")))
        if until is not None:
            query = query.where(
                r.created_at < times.iso(times.parse_bound(until, "--until", end=True))
            )
        if status is not None and file_id is None:
            query = query.where(r.status.in_(list(status)))
        query = query.order_by(r.created_at, r.file_id)
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as conn:
            return load_records(conn, query)

    def export(self, file_id: str, dest: Path) -> Record:
        """Copy a stored file to ``dest`` (atomically), checking its hash on the way."""
        record = self.get(file_id)
        source = self.abspath(record.path)
        try:
            fd = blobs.open_source(source, record.path)
        except SourceError:
            raise StoreError(
                f"{record.path}: the stored file of {record.file_id} is missing"
            ) from None
        target = dest / Path(record.path).name if dest.is_dir() else dest
        staged: blobs.Staged | None = None
        try:
            try:
                staged = blobs.stage(fd, target.parent.absolute(), record.path)
            finally:
                os.close(fd)
            if staged.hash != record.hash:
                raise StoreError(
                    f"{record.path}: content does not match its hash {record.hash} (corrupt)"
                )
            os.replace(staged.tmp, target)
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                raise
            raise StoreError(
                f"{target}: cannot write: {exc.strerror}; nothing was written"
            ) from None
        finally:
            if staged is not None:
                blobs.discard(staged.path)  # gone after the rename; left only when it failed
        return record

    def refcount(self, hash_: str) -> int:
        """How many records still need the stored file with this hash."""
        import sqlalchemy as sa

        from ita_rules.db import tables as t

        with self.db.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.records)
                    .where(t.records.c.hash == hash_, t.records.c.status.in_(LIVE))
                ).scalar_one()
            )

    def stored_paths(self, hashes: Iterable[str]) -> dict[str, str]:
        """The stored file of each content (one of its records' names): what a remote copy
        of the content is named after."""
        with self.db.read() as conn:
            sql = Sql(conn.exec_driver_sql, conn.dialect.name)
            return batch.stored_paths(sql, sorted(set(hashes)))

    def relink(self, hash_: str) -> list[str]:
        """Give back their names to the live records of a content whose stored file is on
        disk (e.g. after a pull restored it); returns the names made
        (:func:`ita_rules.store.names.relink`)."""
        return names.relink(self, hash_)

    # -- change --------------------------------------------------------------------------
    def tag(self, file_id: str, *tags: str) -> Record:

        from ita_rules.db import tables as t

        new = sorted({naming.check_tag(tag) for tag in tags})
        record = self.get(file_id)
        rootcheck.check_before_creating(self, "nothing was changed")
        with self.disk_errors("nothing was changed"), self.locked():
            record = self.get(record.file_id)
            file_id = record.file_id
            added = [tag for tag in new if tag not in record.tags]
            if added:
                entry = {"op": "tag", "at": times.iso(times.now()), "file_id": file_id}
                with self.write_ahead([{**entry, "tags": added}]) as conn:
                    conn.execute(
                        t.tags.insert(), [{"file_id": file_id, "tag": tag} for tag in added]
                    )
        return record.replace(tags=tuple(sorted({*record.tags, *added})))

    def set_status(self, file_ids: Sequence[str], status: str, *, at: str | None = None) -> None:
        """Change the status of records (retention: ``deleted``, ``live`` again, ``purged``...);
        journaled. ``at`` (an ISO time, default now) becomes ``deleted_at`` for ``deleted``."""
        if status not in STATUSES:
            raise UsageError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
        with self.disk_errors("nothing was changed"), self.locked():
            self._set_status(file_ids, status, at or times.iso(times.now()))

    def _set_status(self, file_ids: Sequence[str], status: str, at: str) -> None:

        from ita_rules.db import tables as t

        values: dict[str, Any] = {"status": status}
        if status == "deleted":
            values["deleted_at"] = at
        elif status == "live":
            values["deleted_at"] = None
        entries = [{"op": "status", "at": at, "file_id": fid, "status": status} for fid in file_ids]
        with self.write_ahead(entries) as conn:
            conn.execute(
                t.records.update().where(t.records.c.file_id.in_(list(file_ids))).values(**values)
            )

    def remove(self, file_id: str, *, unless: Callable[[Record], str | None] | None = None) -> bool:
        """Purge one record, and its name and stored bytes from disk when no live record
        needs them (:func:`ita_rules.store.names.remove`); ``unless`` may veto it under the
        store lock. Returns True when the stored bytes were deleted from disk."""
        return names.remove(self, file_id, unless)

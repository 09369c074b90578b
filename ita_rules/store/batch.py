"""The locked part of a put, for one file or a batch of many.

Under the store lock, in one database transaction: look every hash up (one query per 500),
move each new content from its temp file to a free name (``os.replace``), give each record of
content already stored its own name in its type's folder (a hard link to the stored file; the
temp copy instead where the file system cannot link), insert the blobs,
records and tags (one ``executemany`` each), fsync the folder so the renames are durable,
append one journal entry per record (one write, one fsync: write-ahead, the journal always
holds what the database commits) and commit. If anything fails before the commit finishes,
the journal is cut back to where it was and the files placed so far are removed again: a
failed put leaves neither a record nor a journal entry, and a record never points to a
missing or partial file. The temp files were made durable before (fsync,
or one ``syncfs`` for a bulk put), so a rename never exposes unsynced data.
"""

from __future__ import annotations

import operator
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.db import tables as t
from ita_rules.store import blobs, journal, naming
from ita_rules.store.records import LIVE, Record, dump_metadata
from ita_rules.store.sources import BYTES_SHOWN

if TYPE_CHECKING:
    import datetime as _dt

    from ita_rules.store.core import PutSpec, Store

LOOKUP_CHUNK = 500  # hashes per IN (...) query: well under every driver's parameter limit


def commit(
    store: Store,
    staged: Sequence[blobs.Staged],
    spec: PutSpec,
    folder_rel: str,
    folder: str,
    now: _dt.datetime,
    moved: set[str],
) -> list[Record]:
    """Record the staged files (see the module docstring); ``moved`` receives the temp files
    that were renamed into place (the caller removes the others). Every record of a batch
    shares ``spec`` and ``now``: they differ in file_id, path, hash, size and original name."""
    created = times.iso(now)
    placed: list[str] = []
    mark: int | None = None  # the journal's size before this put's lines
    journaled = False
    with store.locked():
        try:
            with store.db.write() as conn:
                hashes = sorted({s.hash for s in staged})
                known = Known(stored_paths(conn, hashes), *_live_paths(conn, hashes, spec))
                plan = _plan(store, staged, spec, known, folder_rel, folder, now)
                out, new_blobs = plan.records, plan.new_blobs
                for src, dst, spare in plan.ops:
                    if spare is None:  # new content: the temp file becomes the stored file
                        os.replace(src, dst)
                        moved.add(src)
                    elif blobs.link_or_copy(src, dst, spare):
                        moved.add(spare)  # no hard link here: the temp copy took its place
                    placed.append(dst)
                # rows in key order: the B-tree inserts then touch neighbouring pages
                new_blobs.sort(key=operator.itemgetter("hash"))
                insert_many(conn, t.blobs, new_blobs)
                for hash_, path in plan.moved.items():
                    conn.execute(t.blobs.update().where(t.blobs.c.hash == hash_).values(path=path))
                metadata = dump_metadata(spec.metadata or {})
                docs = [r.as_dict() for r in out]
                rows = sorted((_row(d, metadata) for d in docs), key=operator.itemgetter("file_id"))
                insert_many(conn, t.records, rows)
                tags = [{"file_id": r["file_id"], "tag": tag} for r in rows for tag in spec.tags]
                insert_many(conn, t.tags, tags)
                for parent in {os.path.dirname(p) for p in placed}:
                    blobs.sync_dir(parent)
                # write-ahead: the entries are durable before the commit (the files they name
                # are already in place, so an entry the commit never confirmed is harmless)
                mark = store.journal.append_lines(_journal_lines(docs, plan, created))
                journaled = True
        except BaseException:
            if journaled:  # but the commit failed: take the entries back
                store.journal.rollback(mark)
            for path in placed:  # the transaction did not commit: nothing may point to them
                blobs.discard(path)
            raise
    return out


def _journal_lines(docs: Sequence[dict[str, Any]], plan: Plan, created: str) -> bytes:
    """The journal lines of a put: one entry per record, then the stale blobs stored again."""
    varying = [(d["file_id"], d["path"], d["hash"], d["size"], d["original_name"]) for d in docs]
    lines = journal.encode_puts(docs[0], varying, created)
    return lines + b"".join(
        journal.encode({"op": "blob", "at": created, "hash": h, "path": p})
        for h, p in plan.moved.items()
    )


@dataclass
class Known:
    """What the database knows of a batch's hashes, read in the put's transaction."""

    stored: dict[str, str]  # hash -> its stored file (the first path its bytes got)
    needed: set[str]  # hashes some live record needs
    same: dict[str, str]  # hash -> path of a live record of the same type, symbol and run


@dataclass
class Plan:
    records: list[Record]
    new_blobs: list[dict[str, Any]]
    moved: dict[str, str]  # hash -> new path of a stored content no live record needed
    ops: list[tuple[str, str, str | None]]  # (source, target, spare temp file or None)


def _plan(
    store: Store,
    staged: Sequence[blobs.Staged],
    spec: PutSpec,
    known: Known,
    folder_rel: str,
    folder: str,
    now: _dt.datetime,
) -> Plan:
    """One record per staged file (not yet inserted), the new blob rows, the stale blobs
    stored again under a new name, and the file operations: ``(temp file, target, None)``
    renames a new content into place, ``(stored file, target, temp file)`` gives a record
    its own name for bytes already stored (a hard link; the temp copy when the file system
    cannot link).

    Each record's path is in its type's folder and named after its own symbol and run: bytes
    first stored as candles and put again as a screenshot get a second name under the
    screenshot folder. A record of the same content, type, symbol and run shares the path
    that record has. ``known.stored`` grows with what is placed, so a content that appears
    twice in a batch is stored once."""
    created = times.iso(now)
    placer = _Placer(store, spec, known, folder_rel, folder, times.stamp(now), created)
    placer.start({s.hash for s in staged})
    out: list[Record] = []
    for s in staged:
        blob = known.stored.get(s.hash)
        if blob is None or s.hash in placer.stale:
            rel, dedup = placer.new_content(s, blob), False
        else:
            rel, dedup = placer.stored_content(s, blob)
        out.append(
            Record(
                str(uuid.uuid4()),
                rel,
                s.hash,
                s.size,
                spec.type,
                spec.symbol,
                spec.timeframe,
                spec.run_id,
                spec.tags,
                dict(spec.metadata or {}),
                created,
                original_name=original_name(s.source),
                deduplicated=dedup,
            )
        )
    return Plan(out, placer.new_blobs, placer.moved, placer.ops)


@dataclass
class _Placer:
    """Where each file of a batch goes, decided one file after the other (see :func:`_plan`)."""

    store: Store
    spec: PutSpec
    known: Known  # .stored and .same grow with what this batch places
    folder_rel: str
    folder: str
    stamp: str
    created: str
    names: dict[str, str] = field(default_factory=dict)  # extension -> this batch's file name
    here: set[str] = field(default_factory=set)  # paths this batch places: known to exist
    stale: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)  # names in ``folder`` that must stay free
    new_blobs: list[dict[str, Any]] = field(default_factory=list)
    moved: dict[str, str] = field(default_factory=dict)  # hash -> its new stored file
    ops: list[tuple[str, str, str | None]] = field(default_factory=list)

    def start(self, hashes: set[str]) -> None:
        """Sort the batch's contents that are stored already: ``stale`` when no live record
        needs them (purged, or marked corrupt or missing: stored again under the new record's
        own name, which becomes their stored file), ``gone`` when needed but removed from disk
        since (their bytes go back to their stored paths, which new contents of this batch
        must not take)."""
        stored = self.known.stored
        seen = hashes & stored.keys()
        self.stale = {h for h in seen if h not in self.known.needed}
        root = self.store.root
        self.gone = {h for h in seen - self.stale if not os.path.lexists(root / stored[h])}
        old_paths = [os.fspath(root / stored[h]) for h in self.gone]
        self.taken = {os.path.basename(p) for p in old_paths if os.path.dirname(p) == self.folder}

    def own_name(self, source: str) -> str:
        ext = naming.extension(source)
        if ext not in self.names:
            spec = self.spec
            self.names[ext] = naming.file_name(spec.symbol, spec.run_id, self.stamp, ext)
        return self.names[ext]

    def new_content(self, s: blobs.Staged, blob: str | None) -> str:
        """Bytes not stored (or stale): the temp file becomes the stored file."""
        used = blobs.free_name(s.hash, self.folder, self.own_name(s.source), self.taken)
        self.ops.append((s.path, f"{self.folder}{os.sep}{used}", None))
        rel = self.known.stored[s.hash] = self.known.same[s.hash] = f"{self.folder_rel}/{used}"
        self.here.add(rel)
        if blob is None:
            row = {"hash": s.hash, "path": rel, "size": s.size, "created_at": self.created}
            self.new_blobs.append(row)
        else:
            self.moved[s.hash] = rel
            self.stale.discard(s.hash)
        return rel

    def stored_content(self, s: blobs.Staged, blob: str) -> tuple[str, bool]:
        """Bytes stored already under ``blob``: put back there first when they were lost
        from disk; the record gets its own name (a hard link) unless a live record of the
        same type, symbol and run has one. Returns the path and whether the put was
        deduplicated."""
        dedup = True
        store = self.store
        if s.hash in self.gone and blob not in self.here:
            target = store.abspath(blob)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.ops.append((s.path, str(target), None))
            self.here.add(blob)
            dedup = False
        rel = self.known.same.get(s.hash, "")
        if not rel or (rel not in self.here and not os.path.lexists(store.root / rel)):
            used = blobs.free_name(s.hash, self.folder, self.own_name(s.source), self.taken)
            rel = self.known.same[s.hash] = f"{self.folder_rel}/{used}"
            spare = s.path if dedup else ""  # the temp file, unless it restored the bytes
            self.ops.append((os.fspath(store.abspath(blob)), f"{self.folder}{os.sep}{used}", spare))
            self.here.add(rel)
        return rel, dedup


def original_name(shown: str) -> str | None:
    """The base name of the file that was put (None for bytes from memory), as valid text."""
    if shown.startswith(BYTES_SHOWN):
        return None
    name = os.path.basename(shown)[:255]
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _live_paths(
    conn: sa.Connection, hashes: Sequence[str], spec: PutSpec
) -> tuple[set[str], dict[str, str]]:
    """The hashes some live record needs, and for each the path of a live record of the
    same type, symbol and run (the oldest), if any."""
    r = t.records.c
    needed: set[str] = set()
    same: dict[str, str] = {}
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = list(hashes[start : start + LOOKUP_CHUNK])
        query = (
            sa.select(r.hash, r.path, r.type, r.symbol, r.run_id)
            .where(r.hash.in_(chunk), r.status.in_(LIVE))
            .order_by(r.created_at, r.file_id)
        )
        for hash_, path, type_, symbol, run_id in conn.execute(query):
            needed.add(hash_)
            if (type_, symbol, run_id) == (spec.type, spec.symbol, spec.run_id):
                same.setdefault(hash_, path)
    return needed, same


def _row(doc: dict[str, Any], metadata: str) -> dict[str, Any]:
    """The ``store_records`` row of a new record from its ``as_dict()`` (``Record.row`` with
    the metadata JSON that every record of the batch shares, encoded once)."""
    row = dict(doc)
    del row["tags"]
    row["metadata"] = metadata
    return row


def stored_paths(conn: sa.Connection, hashes: Sequence[str]) -> dict[str, str]:
    """The stored path of each hash that is already stored."""
    found: dict[str, str] = {}
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = list(hashes[start : start + LOOKUP_CHUNK])
        query = sa.select(t.blobs.c.hash, t.blobs.c.path).where(t.blobs.c.hash.in_(chunk))
        found.update({h: p for h, p in conn.execute(query)})
    return found


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows (dicts with the same keys, plain str/int/None values) in one
    ``executemany``: the statement is compiled once for the connection's dialect and the
    driver gets the parameters directly (SQLAlchemy's per-row processing is skipped; none of
    our column types needs a bind processor)."""
    if not rows:
        return
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        order = compiled.positiontup or []
        if len(order) > 1:
            row_values = operator.itemgetter(*order)
            params: Any = [row_values(row) for row in rows]
        else:
            params = [tuple(row[key] for key in order) for row in rows]
    else:
        params = list(rows)
    conn.exec_driver_sql(compiled.string, params)

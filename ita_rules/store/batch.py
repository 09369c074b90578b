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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.db import tables as t
from ita_rules.store import blobs, journal, names
from ita_rules.store.plan import Known, Plan, place
from ita_rules.store.records import LIVE, Record, dump_metadata

if TYPE_CHECKING:
    import datetime as _dt

    from ita_rules.store.core import Store
    from ita_rules.store.spec import PutSpec

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
                plan = place(store, staged, spec, known, folder_rel, folder, now)
                out, new_blobs = plan.records, plan.new_blobs
                for src, dst, spare in plan.ops:
                    if spare is None:  # new content: the temp file becomes the stored file
                        os.replace(src, dst)
                        moved.add(src)
                    elif names.link_or_copy(src, dst, spare):
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

"""The locked part of a put, for one file or a batch of many.

Under the store lock, in one database transaction: look every hash up (one query per 500),
move each new content from its temp file to a free name (``os.replace``), insert the blobs,
records and tags (one ``executemany`` each), fsync the folder so the renames are durable, and
commit; then append one journal entry per record (one write, one fsync) before unlocking.
If anything fails before the commit, the files placed so far are removed again: a record
never points to a missing or partial file. The temp files were made durable before (fsync,
or one ``syncfs`` for a bulk put), so a rename never exposes unsynced data.
"""

from __future__ import annotations

import operator
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store import blobs, journal, naming
from ita_rules.store.records import Record, dump_metadata

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
    shares ``spec`` and ``now``: they differ only in file_id, path, hash and size."""
    created = naming.iso(now)
    placed: list[str] = []
    with store.locked():
        try:
            with store.db.write() as conn:
                stored = stored_paths(conn, sorted({s.hash for s in staged}))
                out, new_blobs, moves = _plan(store, staged, spec, stored, folder_rel, folder, now)
                for src, dst in moves:
                    os.replace(src, dst)
                    moved.add(src)
                    placed.append(dst)
                # rows in key order: the B-tree inserts then touch neighbouring pages
                new_blobs.sort(key=operator.itemgetter("hash"))
                insert_many(conn, t.blobs, new_blobs)
                metadata = dump_metadata(spec.metadata or {})
                docs = [r.as_dict() for r in out]
                rows = sorted((_row(d, metadata) for d in docs), key=operator.itemgetter("file_id"))
                insert_many(conn, t.records, rows)
                tags = [{"file_id": r["file_id"], "tag": tag} for r in rows for tag in spec.tags]
                insert_many(conn, t.tags, tags)
                for parent in {os.path.dirname(p) for p in placed}:
                    blobs.sync_dir(parent)
        except BaseException:
            for path in placed:  # the transaction did not commit: nothing may point to them
                blobs.discard(path)
            raise
        varying = [(d["file_id"], d["path"], d["hash"], d["size"]) for d in docs]
        store.journal.append_lines(journal.encode_puts(docs[0], varying, created))
    return out


def _plan(
    store: Store,
    staged: Sequence[blobs.Staged],
    spec: PutSpec,
    stored: dict[str, str],
    folder_rel: str,
    folder: str,
    now: _dt.datetime,
) -> tuple[list[Record], list[dict[str, Any]], list[tuple[str, str]]]:
    """One record per staged file (not yet inserted), the new blob rows, and the renames
    (temp file -> free name) that put new contents in place.

    ``stored`` (hash -> path) grows with what is placed, so a content that appears twice in a
    batch is stored once."""
    stamp, created = naming.timestamp(now), naming.iso(now)
    names: dict[str, str] = {}  # extension -> file name of this batch
    here: set[str] = set()  # hashes whose file this batch places: known to exist
    # stored before and removed since: their bytes go back to their old paths, which new
    # contents of this batch must not take (names this batch used, in ``folder``)
    seen = {s.hash for s in staged} & stored.keys()
    gone = {h for h in seen if not os.path.lexists(store.root / stored[h])}
    old_paths = [os.fspath(store.root / stored[h]) for h in gone]
    taken = {os.path.basename(p) for p in old_paths if os.path.dirname(p) == folder}
    out: list[Record] = []
    new_blobs: list[dict[str, Any]] = []
    moves: list[tuple[str, str]] = []
    for s in staged:
        rel = stored.get(s.hash)
        dedup = rel is not None
        if rel is None:
            ext = naming.extension(s.source)
            name = names.get(ext)
            if name is None:
                name = names[ext] = naming.file_name(spec.symbol, spec.run_id, stamp, ext)
            used = blobs.free_name(s.hash, folder, name, taken)
            moves.append((s.path, f"{folder}{os.sep}{used}"))
            rel = stored[s.hash] = f"{folder_rel}/{used}"
            here.add(s.hash)
            new_blobs.append({"hash": s.hash, "path": rel, "size": s.size, "created_at": created})
        elif s.hash in gone and s.hash not in here:
            # stored before and removed since: store the bytes again at their path
            target = store.abspath(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            moves.append((s.path, str(target)))
            here.add(s.hash)
            dedup = False
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
                deduplicated=dedup,
            )
        )
    return out, new_blobs, moves


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

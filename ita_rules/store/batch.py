"""The locked part of a put, for one file or a batch of many.

Under the store lock, in one database transaction: look every hash up (one query per 500),
move each new content from its temp file to a free name (``os.replace``), give each record of
content already stored its own name in its type's folder (a hard link to the stored file; the
temp copy instead where the file system cannot link), insert the blobs, records and tags (up to
1,000 rows a statement: :func:`insert_rows`), fsync the folder so the renames are durable,
append one journal entry per record (one write, one fsync: write-ahead, the journal always
holds what the database commits) and commit. If anything fails before the commit finishes,
the journal is cut back to where it was and the files placed so far are removed again: a
failed put leaves neither a record nor a journal entry, and a record never points to a
missing or partial file. The temp files were made durable before (fsync,
or one ``syncfs`` for a bulk put), so a rename never exposes unsynced data.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ita_rules.core import times
from ita_rules.db.engine import Sql, unindexed
from ita_rules.store import blobs, journal, names
from ita_rules.store.plan import Known, Plan, place
from ita_rules.store.records import LIVE, Record, dump_metadata

if TYPE_CHECKING:
    import datetime as _dt

    import sqlalchemy as sa

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
    placed: list[str] = []
    mark: int | None = None  # the journal's size before this put's lines
    journaled = False
    with store.locked():
        try:
            with store.db.sql_write() as conn, _cache_for(conn, len(staged)):
                hashes = sorted({s.hash for s in staged})
                known = Known(stored_paths(conn, hashes), *_live_paths(conn, hashes, spec))
                plan = place(store, staged, spec, known, folder_rel, folder, now)
                _carry_out(plan, moved, placed)
                varying = [_varying(r) for r in plan.records]
                _insert(conn, plan, spec, varying, times.iso(now))
                for parent in {os.path.dirname(p) for p in placed}:
                    blobs.sync_dir(parent)
                # write-ahead: the entries are durable before the commit (the files they name
                # are already in place, so an entry the commit never confirmed is harmless)
                mark = store.journal.append_lines(_journal_lines(plan, varying, times.iso(now)))
                journaled = True
        except BaseException:
            if journaled:  # but the commit failed: take the entries back
                store.journal.rollback(mark)
            for path in placed:  # the transaction did not commit: nothing may point to them
                blobs.discard(path)
            raise
    return plan.records


def _carry_out(plan: Plan, moved: set[str], placed: list[str]) -> None:
    """Move and link the files as planned; ``placed`` gets every name made, ``moved`` every
    temp file that took a name."""
    for src, dst, spare in plan.ops:
        if spare is None:  # new content: the temp file becomes the stored file
            os.replace(src, dst)
            moved.add(src)
        elif names.link_or_copy(src, dst, spare):
            moved.add(spare)  # no hard link here: the temp copy took its place
        placed.append(dst)


_VARYING = ("file_id", "path", "hash", "size", "original_name")
Varying = tuple[str, str, str, int, str | None]  # what differs between the records of a batch


def _varying(record: Record) -> Varying:
    return (record.file_id, record.path, record.hash, record.size, record.original_name)


_SHARED = ("type", "symbol", "timeframe", "run_id", "metadata", "created_at", "status")


def _insert(conn: Sql, plan: Plan, spec: PutSpec, varying: Sequence[Varying], created: str) -> None:
    """Insert the batch's new blobs, records and tags, and move its stale blobs. Rows go in
    key order (the B-tree inserts then touch neighbouring pages), as tuples: a record's row is
    its varying fields and the ones every record of the batch shares."""
    new_blobs = sorted(plan.new_blobs)
    insert_rows(conn, "store_blobs", ("hash", "path", "size", "created_at"), new_blobs)
    conn.many(
        "UPDATE store_blobs SET path = ? WHERE hash = ?", [(p, h) for h, p in plan.moved.items()]
    )
    metadata = dump_metadata(spec.metadata or {})
    shared = (spec.type, spec.symbol, spec.timeframe, spec.run_id, metadata, created, "live")
    # values every row shares go into the statement as literals when they are plain (bound
    # once, not per row); the others stay parameters of each row
    literal = {k: v for k, v in zip(_SHARED, shared, strict=True) if is_plain(v)}
    bound = tuple(k for k in _SHARED if k not in literal)
    extra = tuple(v for k, v in zip(_SHARED, shared, strict=True) if k not in literal)
    # in hash order: the hash index, the largest written at random, then grows page by page
    rows = sorted((row + extra for row in varying) if extra else varying, key=itemgetter(2))
    insert_rows(conn, "store_records", _VARYING + bound, rows, literal)
    tags = [(row[0], tag) for row in rows for tag in spec.tags]
    insert_rows(conn, "store_tags", ("file_id", "tag"), tags)


# rows a statement inserts (see insert_rows): a tenth of the rows, within these bounds
FEWEST_ROWS_PER_INSERT = 100
MOST_ROWS_PER_INSERT = 1000
# parameters a statement may have: SQLite's limit (999 before 3.32); psycopg2 has none
MAX_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_rows(
    conn: Sql,
    table: str,
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    same: Mapping[str, str | None] | None = None,
) -> None:
    """Insert ``rows`` (tuples of the ``keys`` columns; ``same`` as in :func:`insert_sql`)
    many rows a statement (``VALUES (...), (...), ...``) instead of one a statement: SQLite's
    work for each statement run (binding, its start and end, its savepoint) is then shared by
    the rows. Measured with valgrind on 10,000 blob and record rows: 709 -> 383 million
    instructions in sqlite3, the same database.

    How many: a tenth of the rows, from FEWEST_ROWS_PER_INSERT to MOST_ROWS_PER_INSERT. Each
    statement is compiled once (~34,000 instructions a row of its VALUES, about what running
    a row in it saves), so it runs ten times or more. And a statement of many rows keeps each
    page it changes in a statement journal, to undo it alone if it fails: a temp file, unless
    the connection keeps temp files in memory (``temp_store``); larger statements change fewer
    pages a row. The rows come in key order (a put's file ids too:
    :func:`ita_rules.store.plan.ids_in_hash_order`), so a statement changes few pages: a put
    of 10,000 files into a new store wrote ~600 pages more (pwrite) than with one row a
    statement in statements of 1,000 rows, ~5,700 in statements of 100 (~14,000 with its
    file ids at random)."""
    if not rows:
        return
    per = min(
        max(len(rows) // 10, FEWEST_ROWS_PER_INSERT),
        MOST_ROWS_PER_INSERT,
        max(1, MAX_PARAMETERS // max(1, len(keys))),
    )
    whole = len(rows) - len(rows) % per
    if whole:
        conn.many(
            insert_sql(table, keys, same, rows=per),
            [tuple(chain.from_iterable(rows[i : i + per])) for i in range(0, whole, per)],
        )
    if whole < len(rows):
        rest = rows[whole:]
        conn.execute(
            insert_sql(table, keys, same, rows=len(rest)), tuple(chain.from_iterable(rest))
        )


def insert_sql(
    table: str,
    keys: Sequence[str],
    same: Mapping[str, str | None] | None = None,
    *,
    rows: int = 1,
) -> str:
    """``INSERT INTO table (keys...) VALUES (?, ...)`` (see :class:`Sql`), with ``rows``
    rows of values; ``same``: columns whose plain value (:func:`is_plain`) every row shares,
    written into the statement as SQL literals, so that an ``executemany`` does not bind them
    again for each row."""
    columns = [*keys, *(same or {})]
    values = ["?"] * len(keys) + [_literal(v) for v in (same or {}).values()]
    row = f"({', '.join(values)})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)}"


_PLAIN = re.compile(r'[A-Za-z0-9 _.:+=,{}"\[\]-]*')  # no quote, backslash or control character


def is_plain(value: str | None) -> bool:
    """Whether ``value`` is NULL or a string SQLite and PostgreSQL read alike when it is
    written in single quotes (no quote, backslash, control or non-ASCII character)."""
    return value is None or _PLAIN.fullmatch(value) is not None


def _literal(value: str | None) -> str:
    if not is_plain(value):
        raise ValueError(f"not a plain SQL string: {value!r}")
    return "NULL" if value is None else f"'{value}'"


CACHE_KIB_PER_FILE = 1  # a put grows the SQLite file by ~0.8 KiB a record (indexes included)
CACHE_MAX_KIB = 256 << 10


@contextmanager
def _cache_for(conn: Sql, files: int) -> Iterator[None]:
    """On SQLite, a page cache that holds the batch's changes (restored after). With the
    default 2 MiB a put of 50,000 files spilled dirty pages to the WAL before its commit and
    read them back: ~160,000 pread/pwrite calls, kernel time growing faster than the batch."""
    want = min(files * CACHE_KIB_PER_FILE, CACHE_MAX_KIB)
    if conn.dialect != "sqlite" or want <= 2048:
        yield
        return
    before = conn.scalar("PRAGMA cache_size")
    conn.execute(f"PRAGMA cache_size=-{want}")
    try:
        yield
    finally:  # best effort: a connection that failed keeps the larger cache, no harm done
        with contextlib.suppress(Exception):  # sqlite3's or the driver's error, whichever
            conn.execute(f"PRAGMA cache_size={int(before)}")


def _journal_lines(plan: Plan, varying: Sequence[Varying], created: str) -> bytes:
    """The journal lines of a put: one entry per record, then the stale blobs stored again."""
    lines = journal.encode_puts(plan.records[0].as_dict(), varying, created)
    return lines + b"".join(
        journal.encode({"op": "blob", "at": created, "hash": h, "path": p})
        for h, p in plan.moved.items()
    )


def _live_paths(conn: Sql, hashes: Sequence[str], spec: PutSpec) -> tuple[set[str], dict[str, str]]:
    """The hashes some live record needs, and for each the path of a live record of the
    same type, symbol and run (the oldest), if any.

    The rows are found through the hash index (:func:`~ita_rules.db.engine.unindexed`: a put
    of 1,000 new files into a store of 100,000 records took 40 ms through the status index,
    2 ms now)."""
    needed: set[str] = set()
    same: dict[str, str] = {}
    status = unindexed("status", conn.dialect)
    query = (
        "SELECT hash, path, type, symbol, run_id FROM store_records WHERE hash IN ({}) "
        f"AND {status} IN ({', '.join('?' * len(LIVE))}) ORDER BY created_at, file_id"
    )
    for hash_, path, type_, symbol, run_id in select_in(conn, query, hashes, LIVE):
        needed.add(hash_)
        if (type_, symbol, run_id) == (spec.type, spec.symbol, spec.run_id):
            same.setdefault(hash_, path)
    return needed, same


def stored_paths(conn: Sql, hashes: Sequence[str]) -> dict[str, str]:
    """The stored path of each hash that is already stored."""
    query = "SELECT hash, path FROM store_blobs WHERE hash IN ({})"
    return dict(select_in(conn, query, hashes))


def select_in(conn: Sql, query: str, values: Sequence[str], more: Sequence[Any] = ()) -> list[Any]:
    """The rows of ``query`` (whose ``IN ({})`` takes the values, then ``more`` fills the
    parameters after it) for ``values``, LOOKUP_CHUNK at a time and in that order."""
    rows: list[Any] = []
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        rows.extend(conn.rows(query.format(", ".join("?" * len(chunk))), (*chunk, *more)))
    return rows


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows (dicts with the same keys, plain str/int/None values) in one
    ``executemany``: the driver gets the parameters directly (SQLAlchemy's per-row processing
    is skipped; none of our column types needs a bind processor)."""
    if rows:
        keys = list(rows[0])
        sql = Sql(conn.exec_driver_sql, conn.dialect.name)
        sql.many(insert_sql(table.name, keys), [tuple(row[key] for key in keys) for row in rows])

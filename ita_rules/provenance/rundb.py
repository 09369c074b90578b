"""The runs' rows in the metadata database (docs/architecture.md#runs): one shared connection
per process and workspace, the columns a snapshot gives its row, and the stored records a run
names as its outputs; the run summaries ``runs list`` shows."""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ita_rules.core.canonical import canonical_json
from ita_rules.core.config import Settings
from ita_rules.core.errors import NotFound, UsageError
from ita_rules.db import Database
from ita_rules.db.migrations import ensure_schema
from ita_rules.provenance.tables import runs

SUMMARY = (
    "run_id", "flow_type", "status", "setup_id", "rule_version", "symbol", "timeframe",
    "git_commit", "git_dirty", "data_hash", "started_at", "finished_at", "error", "flow_run_id",
)  # fmt: skip
_CACHE: OrderedDict[tuple[int, str, str], Database] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 4


def database(settings: Settings) -> Database:
    """One connected database per (process, URL, workspace), its schemas checked once: a flow
    that starts many runs does not reconnect each time. The least recently used is closed."""
    from ita_rules.db import open_database

    key = (os.getpid(), settings.database_url, str(settings.root))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    db = open_database(settings.database_url, settings.root)
    try:
        ensure_schema(db)
    except BaseException:
        db.dispose()
        raise
    with _CACHE_LOCK:
        _CACHE[key] = db
        while len(_CACHE) > CACHE_SIZE:
            _key, old = _CACHE.popitem(last=False)
            old.dispose()
    return db


@atexit.register
def _dispose_all() -> None:
    with _CACHE_LOCK:
        while _CACHE:
            _key, db = _CACHE.popitem()
            db.dispose()


def stored_for(conn: sa.Connection, run_id: str) -> list[str]:
    """The live records stored for ``run_id`` (``store put --run-id RUN``, ``save_file``),
    oldest first: a run's outputs include them, so a flow that is not written in Python need
    not name each file it stored again at ``runs finish``."""
    from ita_rules.db import tables as t

    if not sa.inspect(conn).has_table(t.records.name):
        return []
    r = t.records.c
    select = (
        sa.select(r.file_id)
        .where(r.run_id == run_id, r.status == "live")
        .order_by(r.created_at, r.file_id)
    )
    return [str(file_id) for file_id in conn.execute(select).scalars()]


def output_ids(conn: sa.Connection, given: Sequence[str], run_id: str) -> list[str]:
    """The whole file_ids of the records ``given`` names (ids or prefixes, as the store takes
    them). One that names no record is a usage error: a mistyped id would protect nothing. So
    is a record stored for another run (``store put --run-id``, ``save_result``): it states
    that run's rule and data, and claiming it would make two runs the source of one file."""
    from ita_rules.db import tables as t
    from ita_rules.store.records import resolve_file_id

    ids = t.records.c.file_id
    has_records = sa.inspect(conn).has_table(t.records.name)
    out = []
    for text in given:
        hint = (
            f"--output: no record {text!r} in the store "
            "(give a file_id that `ita-rules store find` lists)"
        )
        if not has_records:
            raise UsageError(hint)
        try:
            file_id = resolve_file_id(conn, text)
        except NotFound:
            raise UsageError(hint) from None
        except UsageError as exc:
            raise UsageError(f"--output: {exc.message}") from None
        row = conn.execute(sa.select(t.records.c.run_id).where(ids == file_id)).first()
        if row is None:
            raise UsageError(hint)
        if row.run_id is not None and row.run_id != run_id:
            raise UsageError(
                f"--output: record {file_id} was stored by run {row.run_id}, not by "
                f"{run_id}; a run's outputs are its own records or records stored without "
                "--run-id"
            )
        out.append(file_id)
    return out


def dump(snapshot: Mapping[str, Any]) -> str:
    return canonical_json(dict(snapshot)).decode("utf-8")


def columns_of(snap: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a run's row that its snapshot determines (the ``snapshot`` copy too)."""
    return {
        "run_id": snap["run_id"],
        "flow_type": snap["flow_type"],
        "status": snap["status"],
        "setup_id": snap.get("rule_id"),
        "rule_version": snap.get("rule_version"),
        "params_hash": snap.get("params_hash"),
        "symbol": snap.get("symbol"),
        "timeframe": snap.get("timeframe"),
        "git_commit": snap.get("git_commit"),
        "git_dirty": bool(snap.get("git_dirty")),
        "data_hash": snap.get("data_hash"),
        "flow_run_id": snap.get("flow_run_id"),
        "host": snap.get("host"),
        "started_at": snap["started_at"],
        "finished_at": snap.get("finished_at"),
        "error": snap.get("error"),
        "snapshot": dump(snap),
    }


def summaries(
    conn: sa.Connection, filters: Mapping[str, str | None], limit: int | None
) -> list[dict[str, Any]]:
    """The :data:`SUMMARY` columns of the runs whose columns equal the ``filters`` given (None:
    any), newest first, at most ``limit``."""
    query = sa.select(*(runs.c[name] for name in SUMMARY))
    for name, value in filters.items():
        if value is not None:
            query = query.where(runs.c[name] == value)
    query = query.order_by(runs.c.day.desc(), runs.c.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]

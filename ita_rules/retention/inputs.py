"""The inputs of the delete decision, read completely or not at all (SPEC 6): the records
and their tags, the runs of active rule versions (from the registry: any problem aborts), and
the stored content a protected record still needs.

Rows stream from a plain DB-API cursor (see :func:`cursor`): a million records plan in seconds.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.errors import ItaRulesError
from ita_rules.retention.plan import Item, protection
from ita_rules.retention.policy import Policy

if TYPE_CHECKING:
    from ita_rules.store.core import Store
    from ita_rules.workspace import Workspace


class RetentionAborted(ItaRulesError):
    """The inputs of the delete decision are incomplete or disagree: nothing was changed."""


def items(store: Store, statuses: Sequence[str] = ("live",)) -> list[tuple[Item, dict[str, Any]]]:
    """Every record with one of ``statuses``, with its path and ``deleted_at``."""
    r = t.records
    columns = (
        r.c.file_id, r.c.type, r.c.size, r.c.created_at, r.c.hash,
        r.c.run_id, r.c.symbol, r.c.timeframe, r.c.path, r.c.deleted_at,
    )  # fmt: skip
    with store.db.read() as conn:
        rows = conn.execute(sa.select(*columns).where(r.c.status.in_(list(statuses)))).all()
        tags = tags_by_file(conn)
    none: frozenset[str] = frozenset()
    out = []
    for fid, type_, size, created, hash_, run_id, symbol, tf, path, deleted_at in rows:
        item = Item(
            fid, type_, int(size), parse(created), hash_,
            frozenset(tags[fid]) if fid in tags else none, run_id, symbol, tf,
        )  # fmt: skip
        out.append((item, {"file_id": fid, "path": path, "deleted_at": deleted_at}))
    return out


def paths(store: Store, file_ids: Iterable[str]) -> dict[str, str]:
    """file_id -> path, for those of ``file_ids`` that are live records."""
    wanted = set(file_ids)
    r = t.records
    query = sa.select(r.c.file_id, r.c.path).where(r.c.status.in_(["live"]))
    with store.db.read() as conn, cursor(store, conn, query) as rows:
        return {fid: path for fid, path in rows if fid in wanted}


def active_runs(workspace: Workspace, store: Store) -> dict[str, str]:
    """Run ids whose rule version is active -> ``setup@version``. Aborts when a run's rule
    version cannot be resolved, or the registry cannot be read completely."""
    rules, findings = workspace.registry.scan()
    if findings:
        raise RetentionAborted(
            f"the rule registry has {len(findings)} problem(s) (first: {findings[0]}); "
            "retention needs every rule's lifecycle: fix them (`ita-rules validate`)"
        )
    lifecycle = {(r.setup_id, r.rule_version): r.active for r in rules}
    with store.db.read() as conn:
        if not sa.inspect(conn).has_table("runs"):
            return {}
        runs = sa.table(
            "runs", sa.column("run_id"), sa.column("setup_id"), sa.column("rule_version")
        )
        rows = conn.execute(sa.select(runs.c.run_id, runs.c.setup_id, runs.c.rule_version)).all()
    active: dict[str, str] = {}
    for run_id, setup_id, version in rows:
        if not setup_id:
            continue
        key = (setup_id, version if str(version).startswith("v") else f"v{version}")
        if key not in lifecycle:
            raise RetentionAborted(
                f"run {run_id} used {setup_id} {key[1]}, which is not in the registry: "
                "its lifecycle is unknown, so no file can be judged safe to delete"
            )
        if lifecycle[key]:
            active[run_id] = f"{setup_id}@{key[1][1:]}"
    return active


def protected_live_hashes(store: Store, policy: Policy, active: dict[str, str]) -> set[str]:
    """The stored content a protected live record points to."""
    r = t.records
    query = sa.select(r.c.file_id, r.c.type, r.c.hash, r.c.run_id).where(r.c.status.in_(["live"]))
    none: frozenset[str] = frozenset()
    with store.db.read() as conn:
        tags = tags_by_file(conn)
        with cursor(store, conn, query) as rows:
            return {
                hash_
                for fid, type_, hash_, run_id in rows
                if protection(type_, tags.get(fid, none), run_id, policy, active)
            }


def tags_by_file(conn: sa.Connection) -> dict[str, set[str]]:
    """file_id -> its tags (files without tags are absent)."""
    tags: dict[str, set[str]] = {}
    for file_id, tag in conn.execute(sa.select(t.tags.c.file_id, t.tags.c.tag)):
        tags.setdefault(file_id, set()).add(tag)
    return tags


@contextmanager
def cursor(store: Store, conn: sa.Connection, query: sa.Select[Any]) -> Iterator[Any]:
    """The rows of ``query`` as plain tuples from a DB-API cursor of ``conn`` (inside its
    transaction): SQLAlchemy's row objects would cost a fifth of a plan over a million records.
    The query is compiled for the connection's dialect; its literals are our own constants.

    The rows stream: SQLite's cursor steps through them; on Postgres the cursor is a named
    (server-side) one, as SQLAlchemy's ``stream_results`` makes, since psycopg's default cursor
    would hold all the rows in memory (300 MiB more for a million records)."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        cursor = dbapi.cursor(name=f"ita_retention_{uuid.uuid4().hex}")
        cursor.itersize = 5000  # rows per round trip
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        raise store.db.error(exc, "read") from None
    finally:
        cursor.close()


def types_in_store(store: Store) -> list[str]:
    with store.db.read() as conn:
        return [row[0] for row in conn.execute(sa.select(t.records.c.type).distinct())]


def parse(text: str) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(text)  # Python 3.11 reads the trailing "Z" itself
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)

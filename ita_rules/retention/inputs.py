"""The inputs of the delete decision, read completely or not at all: the records and their
tags, the lineage (every known run, whether its rule version is active — from the registry —
and the content runs of active rule versions read and the records they declared as outputs),
and the stored content a protected record still needs.

A run whose rule version the registry does not hold (its file deleted in a later commit, broken
in the working tree, or never committed) protects what it touched as a run of an active rule
version does, and the plan warns about it: its lifecycle cannot be judged, so nothing of it can
be judged safe to delete. A rule file with problems only takes its own version out of the
registry (each file declares one version and its lifecycle: a broken file can hide a lifecycle,
never make another version look inactive), so it no longer stops retention.

Rows stream from a plain DB-API cursor (see :func:`cursor`): a million records plan in seconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from ita_rules.core.errors import ItaRulesError
from ita_rules.db import tables as t
from ita_rules.db.engine import unindexed
from ita_rules.retention.decisions import Item, created_moment
from ita_rules.retention.policy import Policy
from ita_rules.retention.protect import Inputs, Outputs, Protections, Runs, unregistered
from ita_rules.store.records import CLAIMING

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.store.core import Store


# A record that keeps shared content, in the order one is named: live, soft-deleted, then marked
# missing or corrupt (its file may come back: fsck, remote pull), which still claims the content.
_RANK = {"live": 0, "deleted": 1, "missing": 2, "corrupt": 3}


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
        tags = tags_by_file(conn, statuses)
    none: frozenset[str] = frozenset()
    out = []
    for fid, type_, size, created, hash_, run_id, symbol, tf, path, deleted_at in rows:
        item = Item(
            fid, type_, int(size), created_moment(created), hash_,
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


class Lineage(NamedTuple):
    """What the runs say about stored files: :data:`~ita_rules.retention.protect.Runs`,
    :data:`~ita_rules.retention.protect.Inputs` and :data:`~ita_rules.retention.protect.Outputs`;
    ``unregistered``: each rule version runs name that is not in the registry (``setup@version``)
    -> those runs; ``problems``: the registry's findings (each takes its file's version out)."""

    runs: Runs
    inputs: Inputs
    outputs: Outputs
    unregistered: dict[str, list[str]] = {}  # noqa: RUF012 (read, never changed)
    problems: tuple[str, ...] = ()

    def protections(self, policy: Policy) -> Protections:
        """The protections of ``policy`` over this lineage (see :mod:`.protect`)."""
        return Protections(policy, self.runs, self.inputs, self.outputs)

    def warnings(self, policy: Policy) -> list[str]:
        """One line per rule version runs name that is not in the registry (what they touched
        is kept), then one for the registry's problems; none when the policy does not protect
        what runs touch."""
        if not policy.protect_active_rules:
            return []
        out = []
        for rule, run_ids in sorted(self.unregistered.items()):
            more = len(run_ids) - 3
            shown = ", ".join(run_ids[:3]) + (f" and {more} more" if more > 0 else "")
            out.append(
                f"rule version {rule} is not in the registry: the records, outputs and inputs "
                f"of its {len(run_ids)} run(s) are kept until its lifecycle is known: {shown} "
                "(restore its rule file from git, or see `ita-rules validate`)"
            )
        if self.problems:
            out.append(
                f"the rule registry has {len(self.problems)} problem(s) (first: "
                f"{self.problems[0]}): the runs of a version in a file with problems are kept "
                "as not in the registry; fix them (`ita-rules validate`)"
            )
        return out


def lineage(desk: Desk, store: Store) -> Lineage:
    """Every run the metadata knows, with the rule version it used when that protects (active,
    or not in the registry: see the module), the stored content those runs read (their declared
    inputs, by hash) and the records they declared as outputs (by file_id; an id naming no
    record protects nothing). Aborts when a run's snapshot cannot be read. A database without
    runs knows none: every record naming a run is then kept."""
    rules, findings = desk.registry.scan()
    problems = tuple(str(f) for f in findings)
    lifecycle = {(r.setup_id, r.rule_version): r.active for r in rules}
    with store.db.read() as conn:
        if not sa.inspect(conn).has_table("runs"):
            return Lineage({}, {}, {}, {}, problems)
        runs = sa.table(
            "runs",
            sa.column("run_id"),
            sa.column("setup_id"),
            sa.column("rule_version"),
            sa.column("snapshot"),
        )
        listed = sa.select(runs.c.run_id, runs.c.setup_id, runs.c.rule_version)
        rows = conn.execute(listed.order_by(runs.c.run_id)).all()
        known: dict[str, str | None] = {}
        missing: dict[str, list[str]] = {}  # rule version not in the registry -> its runs
        for run_id, setup_id, version in rows:
            known[run_id] = None
            if not setup_id:
                continue
            key = (setup_id, version if str(version).startswith("v") else f"v{version}")
            rule = f"{setup_id}@{key[1][1:]}"
            if key not in lifecycle:  # its lifecycle is unknown: it protects
                missing.setdefault(rule, []).append(run_id)
                known[run_id] = unregistered(rule)
            elif lifecycle[key]:
                known[run_id] = rule
        protecting = [run_id for run_id, rule in known.items() if rule is not None]
        read: dict[str, tuple[str, str]] = {}
        made: dict[str, tuple[str, str]] = {}
        for start in range(0, len(protecting), 500):
            chunk = protecting[start : start + 500]
            query = sa.select(runs.c.run_id, runs.c.snapshot).where(runs.c.run_id.in_(chunk))
            for run_id, text in conn.execute(query.order_by(runs.c.run_id)):
                hashes, file_ids = _snapshot_lineage(run_id, text)
                for entry in hashes:
                    read.setdefault(entry, (run_id, str(known[run_id])))
                for file_id in file_ids:
                    made.setdefault(file_id, (run_id, str(known[run_id])))
    return Lineage(known, read, made, missing, problems)


def _snapshot_lineage(run_id: str, text: str | None) -> tuple[list[str], list[str]]:
    """The content hashes of a run's declared inputs and the file_ids of its declared outputs,
    from its snapshot. A snapshot that cannot be read aborts: what it declares cannot be
    protected otherwise."""
    try:
        snapshot = json.loads(text or "{}")
        entries = snapshot.get("inputs") or []
        outputs = snapshot.get("outputs") or []
        if not isinstance(outputs, list):
            raise TypeError(outputs)
        return [str(e["hash"]) for e in entries if e.get("hash")], [str(o) for o in outputs]
    except (ValueError, TypeError, AttributeError, KeyError):
        raise RetentionAborted(
            f"run {run_id}: its snapshot in the database cannot be read, so the inputs and "
            "outputs it declares cannot be protected; check it with `ita-rules runs show "
            + run_id
            + "`"
        ) from None


def hold_protected_live(store: Store, protections: Protections) -> None:
    """Record in ``protections`` the stored content each protected live record holds (for
    :meth:`~.protect.Protections.shared`)."""
    r = t.records
    query = sa.select(r.c.file_id, r.c.type, r.c.hash, r.c.run_id).where(r.c.status.in_(["live"]))
    with store.db.read() as conn:
        tags = tags_by_file(conn)
        with cursor(store, conn, query.order_by(r.c.file_id)) as rows:
            for fid, type_, hash_, run_id in rows:
                if protections.reason(type_, tags.get(fid), run_id, hash_, fid) is not None:
                    protections.hold(hash_, fid)


def sharers(store: Store, going: Sequence[Item]) -> dict[str, str]:
    """file_id -> a record that still needs the stored file when that one is purged, removing
    ``going`` in order: a record that stays and still names its file (live first, then
    soft-deleted, then marked missing or corrupt), else the next of ``going`` with the same
    content. Purged records absent from it free their file."""
    leaving = {item.file_id for item in going}
    stays: dict[str, str] = {}  # hash -> a record keeping it
    r = t.records
    listed = sorted({item.hash for item in going})
    with store.db.read() as conn:
        # found through the hash index, not the status index (db.engine.unindexed)
        status: sa.ColumnClause[str] = sa.literal_column(unindexed("status", conn.dialect.name))
        for start in range(0, len(listed), 500):
            query = (
                sa.select(r.c.hash, r.c.file_id, r.c.status)
                .where(r.c.hash.in_(listed[start : start + 500]))
                .where(status.in_(CLAIMING))
            )
            rows = sorted(conn.execute(query), key=lambda row: (_RANK[row[2]], row[1]))
            for hash_, file_id, _status in rows:
                if file_id not in leaving:
                    stays.setdefault(hash_, file_id)
    out: dict[str, str] = {}
    later: dict[str, str] = {}  # hash -> the next record of ``going`` holding it
    for item in reversed(going):
        sharer = stays.get(item.hash) or later.get(item.hash)
        if sharer is not None:
            out[item.file_id] = sharer
        later[item.hash] = item.file_id
    return out


def holder(store: Store, hash_: str) -> str | None:
    """A record still naming ``hash_`` (live or soft-deleted first, then one marked missing or
    corrupt, whose file may come back), if any."""
    r = t.records
    with store.db.read() as conn:
        rows = conn.execute(
            sa.select(r.c.file_id, r.c.status).where(r.c.hash == hash_, r.c.status.in_(CLAIMING))
        ).all()
    return min(rows, key=lambda row: (_RANK[row[1]], row[0]))[0] if rows else None


def tags_by_file(conn: sa.Connection, statuses: Sequence[str] | None = None) -> dict[str, set[str]]:
    """file_id -> its tags (files without tags are absent); with ``statuses``, only of the
    records with one of them (the soft-deleted ones are few)."""
    tags: dict[str, set[str]] = {}
    query = sa.select(t.tags.c.file_id, t.tags.c.tag)
    if statuses is not None and tuple(statuses) != ("live",):
        r = t.records
        query = query.join(r, r.c.file_id == t.tags.c.file_id).where(r.c.status.in_(list(statuses)))
    for file_id, tag in conn.execute(query):
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

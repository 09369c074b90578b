"""The set work of the plan in SQL: one query per type reads the live records of that type
with what other rows decide for them (docs/architecture.md#retention). The same SQLAlchemy
Core on SQLite and Postgres; the rows stream. :mod:`.judge` turns each row into its decision.

Per record the query of its type gives what the decision needs: file_id, size, created_at,
run_id and hash. For a prune_old type a second, small query names the newest ``keep_last`` live
records of each (symbol, timeframe) (:meth:`Query.newest`, a window function): a few rows per
group, read before the records of the type.

Only the registry knows which rule versions are active, so what the runs say comes from Python:
:func:`lineage_rows` makes the rows of a temporary table, ``ita_ret_lineage`` (kind, name,
reason): ``t`` a protected tag, ``r`` a run that protects its records (of an active rule version,
or unknown to the metadata), ``o`` a record such a run declared as its output (file_id), ``i``
content such a run read (hash). Every reason text is made in Python (:mod:`.protect`).
:meth:`Query.prepare` then fills ``ita_ret_holders`` (hash, file_id): the first protected live
record (by file_id) holding content that more than one live record holds (there is little of it).

Why a record is protected is looked up in Python (:class:`Lookups`), not by correlated
subqueries: the protected tags, runs, outputs, inputs and holders are few (the tagged records,
the runs, the lineage Python holds already), and a dictionary lookup per record costs a third of
the three index searches per record SQLite made (measured over 1,000,000 records: 0.5 s of
SQLite per 500,000 records for the subqueries). The joins and the window stay in SQL. Text is
compared byte by byte, as Python compares it (on Postgres ``COLLATE "C"``, whatever the
database's collation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.retention.policy import Policy
from ita_rules.retention.protect import (
    RESULT_REASON,
    Inputs,
    Outputs,
    Runs,
    input_reason,
    output_reason,
    run_reason,
    tag_reason,
    unknown_run_reason,
)

_temporary = sa.MetaData()
lineage_table = sa.Table(
    "ita_ret_lineage",
    _temporary,
    sa.Column("kind", sa.String(1), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
holders_table = sa.Table(
    "ita_ret_holders",
    _temporary,
    sa.Column("hash", sa.String(71), primary_key=True),
    sa.Column("file_id", sa.String(36), nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


def lineage_rows(
    policy: Policy, run_ids: Iterable[str], runs: Runs, inputs: Inputs, outputs: Outputs
) -> list[dict[str, str]]:
    """The rows of ``ita_ret_lineage``: the protected tags, and when the policy protects what
    runs of active rule versions touch, those of ``run_ids`` (the runs live records name) that
    protect, the outputs and the inputs."""
    rows = [{"kind": "t", "name": tag, "reason": tag_reason(tag)} for tag in policy.protect_tags]
    if not policy.protect_active_rules:
        return rows
    for run_id in run_ids:
        if run_id not in runs:
            rows.append({"kind": "r", "name": run_id, "reason": unknown_run_reason(run_id)})
        elif (rule := runs[run_id]) is not None:
            rows.append({"kind": "r", "name": run_id, "reason": run_reason(run_id, rule)})
    rows += [{"kind": "o", "name": f, "reason": output_reason(*by)} for f, by in outputs.items()]
    rows += [{"kind": "i", "name": h, "reason": input_reason(*by)} for h, by in inputs.items()]
    return rows


class Query:
    """The queries of ``policy`` in ``dialect``, over the lineage rows :meth:`prepare` loads."""

    def __init__(self, policy: Policy, dialect: str, rows: Sequence[Mapping[str, str]]) -> None:
        self.policy = policy
        self.postgres = dialect == "postgresql"
        self.rows = rows
        self.kinds = frozenset(row["kind"] for row in rows)
        # content of soft-deleted records apply restores first (hash -> file_id): a live record
        # holding it stays as a protected record's does
        self.restored: Mapping[str, str] = {}

    def prepare(self, conn: sa.Connection) -> None:
        """Create and fill the temporary tables in ``conn``'s transaction (Postgres drops them
        at the commit; a SQLite connection keeps them, so those of an earlier plan go first)."""
        for table in (lineage_table, holders_table):
            if not self.postgres:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS temp.{table.name}"))
            table.create(conn)
        if self.rows:
            conn.execute(lineage_table.insert(), list(self.rows))
        r = t.records
        live = r.c.status == "live"
        # Content more than one record holds, whatever their status: a superset of what more
        # than one live record holds, read from the hash index alone (no table row per record);
        # a hash only one live record holds gets a holder only when that record is protected,
        # and a protected record's own protection comes first.
        shared = sa.select(r.c.hash).group_by(r.c.hash).having(sa.func.count() > 1)
        protected = self._protection(r, None).is_not(None)
        first = sa.func.min(self.bytewise(r.c.file_id))
        holders = sa.select(r.c.hash, first).where(live, r.c.hash.in_(shared), protected)
        conn.execute(
            holders_table.insert().from_select(["hash", "file_id"], holders.group_by(r.c.hash))
        )

    def of_type(self, type_: str, lookups: Lookups) -> sa.Select[Any]:
        """(file_id, size, created_at, run_id, hash) of each live record of ``type_``. A column
        nothing will look at is NULL (a NULL costs no string to fetch): run_id when no run
        protects, hash when no input protects and no content is held by a protected record."""
        r = t.records
        run_id = r.c.run_id if lookups.runs else sa.null()
        hash_ = r.c.hash if lookups.inputs or lookups.holders else sa.null()
        return sa.select(
            r.c.file_id, r.c.size, r.c.created_at, run_id.label("run_id"), hash_.label("hash")
        ).where(r.c.status == "live", r.c.type == type_)

    def newest(self, type_: str, keep_last: int) -> sa.Select[Any]:
        """(file_id, symbol, timeframe) of the newest ``keep_last`` live records of ``type_`` in
        each (symbol, timeframe): ``ROW_NUMBER() OVER (PARTITION BY symbol, timeframe ORDER BY
        created_at DESC, file_id DESC) <= keep_last``. The window sorts the type's live records
        (there is no index in its order: one would slow every put); a few rows per group come
        back."""
        r = t.records
        rank = sa.func.row_number().over(
            partition_by=(r.c.symbol, r.c.timeframe),
            order_by=(self.bytewise(r.c.created_at).desc(), self.bytewise(r.c.file_id).desc()),
        )
        ranked = (
            sa.select(r.c.file_id, r.c.symbol, r.c.timeframe, rank.label("rank"))
            .where(r.c.status == "live", r.c.type == type_)
            .subquery()
        )
        return sa.select(ranked.c.file_id, ranked.c.symbol, ranked.c.timeframe).where(
            ranked.c.rank <= keep_last
        )

    def lookups(self, conn: sa.Connection) -> Lookups:
        """What protects a record, as dictionaries (after :meth:`prepare`, in its transaction):
        the first protected tag of each tagged record, the runs, outputs and inputs of the
        lineage rows, the holders of shared content."""
        named: dict[str, dict[str, str]] = {kind: {} for kind in "trio"}
        for row in self.rows:
            named[row["kind"]][row["name"]] = row["reason"]
        tagged: dict[str, str] = {}
        if named["t"]:
            g = t.tags
            tags = sa.select(g.c.file_id, g.c.tag).where(g.c.tag.in_(sorted(named["t"])))
            for file_id, tag in conn.execute(tags):
                first = tagged.get(file_id)
                if first is None or tag < first:  # Python's order is the bytes' order
                    tagged[file_id] = tag
        h = holders_table
        holders = {
            hash_: file_id for hash_, file_id in conn.execute(sa.select(h.c.hash, h.c.file_id))
        }
        for hash_, file_id in self.restored.items():
            holders.setdefault(hash_, file_id)
        return Lookups(
            {file_id: named["t"][tag] for file_id, tag in tagged.items()},
            named["r"],
            named["o"],
            named["i"],
            holders,
        )

    def knows_unknown_runs(self) -> bool:
        """Whether live records name runs the metadata does not know (and that protects)."""
        return any(_is_unknown(row) for row in self.rows)

    def unknown_runs(self) -> sa.Select[Any]:
        """(run id, file_id) of the live records kept because they name a run the metadata
        does not know (that is their first protection), by file_id."""
        r = t.records
        unknown = [row for row in self.rows if _is_unknown(row)]
        first = self._protection(r, None).in_([row["reason"] for row in unknown])
        named = r.c.run_id.in_([row["name"] for row in unknown])
        chosen = sa.select(r.c.run_id, r.c.file_id).where(r.c.status == "live", named, first)
        return chosen.order_by(self.bytewise(r.c.file_id))

    def _protection(self, r: sa.Table, type_: str | None) -> sa.ColumnElement[Any]:
        """Why a record of ``type_`` (None: of its own type) can never be selected, or NULL:
        the first protection that holds."""
        if type_ == "result":
            return sa.literal(RESULT_REASON)
        lin, g = lineage_table, t.tags
        reasons: list[sa.ColumnElement[Any]] = []
        if "t" in self.kinds:
            first_tag = (
                sa.select(lin.c.reason)
                .where(lin.c.kind == "t", lin.c.name == g.c.tag, g.c.file_id == r.c.file_id)
                .order_by(self.bytewise(g.c.tag))
                .limit(1)
            )
            reasons.append(first_tag.scalar_subquery())
        for kind, column in (("r", r.c.run_id), ("o", r.c.file_id), ("i", r.c.hash)):
            if kind in self.kinds:
                named = sa.select(lin.c.reason).where(lin.c.kind == kind, lin.c.name == column)
                reasons.append(named.scalar_subquery())
        found: sa.ColumnElement[Any] = sa.null()
        if reasons:
            found = reasons[0] if len(reasons) == 1 else sa.func.coalesce(*reasons)
        if type_ is not None:
            return found
        return sa.case((r.c.type == "result", RESULT_REASON), else_=found)

    def bytewise(self, text: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``text`` compared byte by byte (Python's order)."""
        return sa.collate(text, "C") if self.postgres else text


class Lookups(NamedTuple):
    """Why a record is protected, by what it is looked up by (see the module): file_id -> the
    reason of its first protected tag; run_id -> the reason of a run that protects its records;
    file_id -> the reason of a declared output; hash -> the reason of content a run read; hash
    -> the first protected live record holding it (when more than one live record does)."""

    tags: dict[str, str]
    runs: dict[str, str]
    outputs: dict[str, str]
    inputs: dict[str, str]
    holders: dict[str, str]

    def protection(self, file_id: str, run_id: str | None, hash_: str) -> str | None:
        """The first protection of a record that is not a result: a protected tag, its run, a
        declared output, content read as an input; None."""
        return (
            self.tags.get(file_id)
            or (self.runs.get(run_id) if run_id is not None else None)
            or self.outputs.get(file_id)
            or self.inputs.get(hash_)
        )


def _is_unknown(row: Mapping[str, str]) -> bool:
    return row["kind"] == "r" and row["reason"] == unknown_run_reason(row["name"])

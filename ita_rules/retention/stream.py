"""A plan decided as it is read: the records stream from the database, one query per type
(:mod:`.query`), and become decisions row by row (:mod:`.judge`); a plan over a million
records holds no million decisions.

Each reading of :attr:`StreamedPlan.decisions` is a read transaction of its own and counts what
the summary needs as it goes (the selected files and bytes per type, the plan id): the summary
is that of the last complete reading, and asking for it first reads the decisions once. So
``apply`` takes :attr:`~StreamedPlan.selected` first and the plan id it logs is the id of what it
selected; ``plan --json`` writes the decisions and then the id and the totals, in one reading.

The vectors (Chroma, not in the database) are planned in Python (:mod:`.plan`) and come after
the records; ``max_delete`` counts both, oldest first.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.db import tables as t
from ita_rules.retention import inputs
from ita_rules.retention.decisions import (
    KEEP,
    Decision,
    Plan,
    Restore,
    document_of,
    summary_of,
    warning_lines,
)
from ita_rules.retention.judge import Cap, TypeJudge, over_reason
from ita_rules.retention.policy import Policy
from ita_rules.retention.query import Lookups, Query, lineage_rows

if TYPE_CHECKING:
    from ita_rules.store.core import Store

_FIELDS = ("selected", "selected_bytes", "kept", "kept_bytes")


@dataclass
class _Source:
    """What a reading of the decisions needs: the store and the query, the policy and the day,
    the live types, and the vectors' decisions (planned already)."""

    store: Store
    query: Query
    policy: Policy
    as_of: _dt.datetime
    types: list[str]
    vectors: list[Decision]
    restores: Callable[[], list[Restore]] = list

    def _hold_restored(self) -> None:
        """The content of the records apply restores first is held (read before the records'
        transaction: the restores read the store themselves)."""
        restored = sorted(self.restores(), reverse=True)  # the first by file_id wins
        self.query.restored = {r.hash: r.file_id for r in restored}

    def decisions(self, cap: Cap | None, tally: _Tally) -> Iterator[Decision]:
        """Every decision, counted in ``tally``: the records', then the vectors'. The store's
        connections are let go after the reading (a plan may be read after its store was
        closed)."""
        self._hold_restored()
        try:
            with self.store.db.read() as conn:
                self.query.prepare(conn)
                lookups = self.query.lookups(conn)
                for judge, rows in self._rows(conn, cap, lookups):
                    yield from judge.decisions(rows, lookups)
                    tally.add_type(judge)
        finally:
            self.store.db.dispose()
        for decision in self.vectors:
            decision = _capped(decision, cap)
            tally.add(decision)
            yield decision

    def cap(self, max_delete: int | None) -> Cap | None:
        """The :class:`.judge.Cap` of ``max_delete`` (None when every candidate can go): the
        candidates are read once for it, oldest first."""
        if max_delete is None:
            return None
        oldest: list[tuple[str, str]] = []
        self._hold_restored()
        with self.store.db.read() as conn:
            self.query.prepare(conn)
            lookups = self.query.lookups(conn)
            protection, holders = lookups.protection, lookups.holders
            for judge, rows in self._rows(conn, None, lookups):
                keys = (
                    (c, f)
                    for f, _, c, run_id, h in rows
                    if protection(f, run_id, h) is None and judge.candidate(f, c, holders.get(h))
                )
                oldest = heapq.nsmallest(max_delete + 1, [*oldest, *keys])
        stored = (
            (times.iso(_dt.datetime.fromisoformat(d.created_at)), d.file_id)
            for d in self.vectors
            if d.action != KEEP
        )
        oldest = heapq.nsmallest(max_delete + 1, [*oldest, *stored])
        if len(oldest) <= max_delete:
            return None
        return Cap(max_delete, oldest[max_delete - 1] if max_delete else None)

    def _rows(
        self, conn: sa.Connection, cap: Cap | None, lookups: Lookups
    ) -> Iterator[tuple[TypeJudge, Any]]:
        for type_ in self.types:
            judge = TypeJudge(type_, self.policy.types.get(type_), self.as_of, cap)
            if judge.needs_newest:
                newest = self.query.newest(type_, judge.keep_last)
                with inputs.cursor(self.store, conn, newest) as rows:
                    judge.read_newest(rows)
            select = self.query.of_type(type_, lookups)
            with inputs.cursor(self.store, conn, select) as rows:
                yield judge, rows


class _Tally:
    """What a plan's summary needs, counted during one reading of its decisions: per type the
    files and bytes kept and selected, and the selected (file_id, action); the plan id is
    computed once, when first asked for."""

    def __init__(self) -> None:
        self.count = 0
        self.selected: list[tuple[str, str]] = []
        self.numbers: dict[str, list[int]] = {}  # type -> [selected, its bytes, kept, its bytes]
        self._plan_id: str | None = None

    def add_type(self, judge: TypeJudge) -> None:
        """What ``judge`` counted while it decided the records of its type."""
        counts = self.numbers.setdefault(judge.type, [0, 0, 0, 0])
        counts[0] += len(judge.selected)
        counts[1] += judge.selected_bytes
        counts[2] += judge.kept
        counts[3] += judge.kept_bytes
        self.selected += judge.selected
        self.count += len(judge.selected) + judge.kept

    def add(self, d: Decision) -> None:
        """One decision (a vector's)."""
        counts = self.numbers.setdefault(d.type, [0, 0, 0, 0])
        if d.action == KEEP:
            counts[2] += 1
            counts[3] += d.size
        else:
            counts[0] += 1
            counts[1] += d.size
            self.selected.append((d.file_id, d.action))
        self.count += 1

    def plan_id(self) -> str:
        if self._plan_id is None:
            self._plan_id = plan_id_of(self.selected)
        return self._plan_id

    def by_type(self) -> dict[str, dict[str, int]]:
        return {
            ty: dict(zip(_FIELDS, self.numbers[ty], strict=True)) for ty in sorted(self.numbers)
        }


class Decisions:
    """A plan's decisions: each iteration reads them again (see the module)."""

    def __init__(self, plan: StreamedPlan) -> None:
        self._plan = plan

    def __iter__(self) -> Iterator[Decision]:
        tally = _Tally()
        yield from self._plan.source.decisions(self._plan.cap, tally)
        self._plan.tally = tally

    def __len__(self) -> int:
        return self._plan.tallied().count


@dataclass
class StreamedPlan:
    """What :class:`~.decisions.Plan` tells, its decisions streamed (see the module)."""

    as_of: str
    source: _Source
    cap: Cap | None
    warnings: list[str]
    tally: _Tally | None = field(default=None, repr=False)
    find_restores: Callable[[], list[Restore]] = field(default=list, repr=False)

    @property
    def restores(self) -> list[Restore]:
        """The soft-deleted records apply makes live again first, read when first asked for
        (by the plan's document, its decisions, or apply)."""
        return self.find_restores()

    @property
    def decisions(self) -> Decisions:
        return Decisions(self)

    def tallied(self) -> _Tally:
        """The tally of the last complete reading (reading the decisions once if none was)."""
        if self.tally is None:
            for _ in self.decisions:
                pass
        assert self.tally is not None
        return self.tally

    @property
    def selected(self) -> list[Decision]:
        """The selected decisions (one reading: the summary is theirs)."""
        return [d for d in self.decisions if d.action != KEEP]

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == KEEP]

    @property
    def plan_id(self) -> str:
        return self.tallied().plan_id()

    @property
    def n_selected(self) -> int:
        return len(self.tallied().selected)

    @property
    def bytes_selected(self) -> int:
        return sum(counts["selected_bytes"] for counts in self.by_type().values())

    def by_type(self) -> dict[str, dict[str, int]]:
        return self.tallied().by_type()

    def summary(self) -> dict[str, object]:
        """What :meth:`as_dict` says after the decisions."""
        return summary_of(self)

    def as_dict(self) -> dict[str, object]:
        return document_of(self)


def plan_id_of(selected: list[tuple[str, str]]) -> str:
    """The id of the selected (file_id, action) pairs: bound to the exact set. Hashed a chunk
    of lines at a time (one ``update`` per pair costs a tenth of a second per million)."""
    ordered = sorted(selected, key=itemgetter(0))
    digest = hashlib.sha256()
    for start in range(0, len(ordered), 65536):
        chunk = ordered[start : start + 65536]
        digest.update("".join([f"{file_id}:{action}\n" for file_id, action in chunk]).encode())
    return "plan_" + digest.hexdigest()[:16]


def read_plan(
    store: Store,
    policy: Policy,
    as_of: _dt.datetime,
    lineage: inputs.Lineage,
    vectors: Plan | None = None,
    max_delete: int | None = None,
    restores: Callable[[], list[Restore]] = list,
) -> StreamedPlan:
    """The plan of the live records (and of the vectors, planned in Python) on the day
    ``as_of``; the records naming a run the metadata does not know are found at once (they
    are the warnings, with the rule versions runs name that are not in the registry), the
    decisions are read when asked for. ``restores``: the soft-deleted records apply makes live
    first, asked for once (their content is held as a protected record's)."""
    r = t.records
    live = r.c.status == "live"
    with store.db.read() as conn:
        types = sorted(conn.execute(sa.select(r.c.type).where(live).distinct()).scalars())
        named = sa.select(r.c.run_id).where(live, r.c.run_id.is_not(None)).distinct()
        rows = lineage_rows(
            policy, conn.execute(named).scalars(), lineage.runs, lineage.inputs, lineage.outputs
        )
        query = Query(policy, conn.dialect.name, rows)
        unknown: dict[str, list[str]] = {}
        if query.knows_unknown_runs():
            query.prepare(conn)
            for run_id, file_id in conn.execute(query.unknown_runs()):
                unknown.setdefault(run_id, []).append(file_id)
    for run_id, file_ids in (vectors.unknown_runs if vectors is not None else {}).items():
        unknown.setdefault(run_id, []).extend(file_ids)
    extra = list(vectors.decisions) if vectors is not None else []
    source = _Source(store, query, policy, as_of, types, extra, restores)
    warnings = [*warning_lines(unknown), *lineage.warnings(policy)]
    cap = source.cap(max_delete)
    return StreamedPlan(as_of.isoformat(), source, cap, warnings, find_restores=restores)


def _capped(decision: Decision, cap: Cap | None) -> Decision:
    """A vector candidate newer than the cap's last waits."""
    if cap is None or decision.action == KEEP:
        return decision
    key = (times.iso(_dt.datetime.fromisoformat(decision.created_at)), decision.file_id)
    if cap.last is not None and key <= cap.last:
        return decision
    return decision._replace(action=KEEP, reason=over_reason(cap.max_delete), protected=False)

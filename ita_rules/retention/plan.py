"""The purge plan: a pure function from records, policy, time and protections to a decision
(with its reason) for every live file. It changes nothing; apply and sweep act on it.

Order of the checks, first match wins: results, protected tags, runs of active rule versions,
runs the metadata does not know (their lineage cannot be checked, so they protect), records a
run of an active rule version declared as its outputs, content such a run read as an input, no
policy for the type, keep_forever, inside retain_days, prune_old's newest ``keep_last``; then a
candidate is kept anyway when its content is shared with a protected record, and ``max_delete``
caps the candidates, oldest first.

The store's records are planned by the database (:mod:`.query`, :mod:`.judge`,
:mod:`.stream`); this plan in Python plans the vectors, which live in Chroma, and is checked
against the same reference (tests/retention/_reference.py). One pass over the rows
(:func:`plan_records`); the checks of each type and the reason texts are prepared once per
type; ``prune_old``'s newest ``keep_last`` per group are kept in small heaps instead of sorting
every group.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from heapq import heappush, heapreplace
from typing import Any, TypedDict, Unpack

from ita_rules.core import collector
from ita_rules.retention.decisions import (
    ARCHIVE,
    DELETE,
    KEEP,
    Decision,
    Item,
    Plan,
    created_moment,
)
from ita_rules.retention.policy import Policy
from ita_rules.retention.protect import Inputs, Outputs, Protections, Runs

_Group = tuple[str, "str | None", "str | None"]


class Options(TypedDict, total=False):
    """What a plan may be told besides the records, the policy, the day and the runs:
    ``inputs`` the content that runs of active rule versions read, ``outputs`` the records they
    declared as outputs, ``max_delete`` the cap on candidates (oldest first)."""

    inputs: Inputs | None
    outputs: Outputs | None
    max_delete: int | None


def make_plan(
    items: Iterable[Item], policy: Policy, as_of: datetime, runs: Runs, **options: Unpack[Options]
) -> Plan:
    """Decide every live item. ``runs`` holds every known run (see :data:`.protect.Runs`): a
    record naming any other run is kept, its lineage cannot be checked."""
    return plan_records(items, {}, policy, as_of, runs, **options)


def plan_records(
    records: Iterable[tuple[Any, ...]],
    tags: Mapping[str, Collection[str]],
    policy: Policy,
    as_of: datetime,
    runs: Runs,
    **options: Unpack[Options],
) -> Plan:
    """:func:`make_plan` over records as the store holds them, read once (a database cursor
    will do): tuples in :class:`Item`'s field order whose ``tags`` is None, the tags being
    looked up by file_id in ``tags``, and whose ``created_at`` is ISO text (the store's
    ``2026-01-15T10:30:00.123456Z``; any ISO form is read, a naive one as UTC)."""
    protections = Protections(policy, runs, options.get("inputs"), options.get("outputs"))
    one = _Pass(policy, as_of, protections)
    with collector.paused():  # a million decisions: collecting while they pile up is waste
        one.read(records, tags)
        one.settle_prune_old()
        one.cap(one.keep_shared_content(), options.get("max_delete"))
    return Plan(as_of.isoformat(), one.out, protections.unknown)


class _TypeChecks:
    """The policy of one type, and its reason texts, prepared once."""

    __slots__ = ("action", "days", "fixed", "keep_last", "name", "old", "strategy", "young")

    def __init__(self, name: str, policy: Policy) -> None:
        rule = policy.types.get(name)
        self.name = name
        self.fixed: str | None = None  # the reason when no file of the type is ever selected
        self.days: Any = None
        self.keep_last = 0
        self.action = DELETE
        self.young: dict[int, str] = {}
        self.old: dict[int, str] = {}
        if rule is None:
            self.fixed = f"no policy for type '{name}'"
        elif rule.strategy == "keep_forever" or rule.retain_days is None:
            self.fixed = "strategy keep_forever"
        else:
            self.days = rule.retain_days
            if rule.strategy == "prune_old" and rule.keep_last is not None and rule.keep_last > 0:
                self.keep_last = rule.keep_last
            self.action = ARCHIVE if rule.strategy == "archive_to_remote" else DELETE
        self.strategy = rule.strategy if rule is not None else ""

    def young_reason(self, days_old: int) -> str:
        reason = self.young[days_old] = f"inside retain_days ({days_old} < {self.days} days old)"
        return reason

    def old_reason(self, days_old: int) -> str:
        reason = self.old[days_old] = (
            f"older than {self.days} days ({days_old} days old), strategy {self.strategy}"
        )
        return reason


class _Pass:
    """The one pass over the records, then what only the whole set decides. A candidate's
    decision is final once every record was seen: whether it is among prune_old's newest
    ``keep_last`` of its group, whether a protected record shares its content, whether it is
    over ``max_delete``. The records' file_ids are unique (a record's primary key): prune_old
    ranks by (created_at, file_id), newest first."""

    def __init__(self, policy: Policy, as_of: datetime, protections: Protections) -> None:
        self.policy = policy
        self.as_of = as_of
        self.protections = protections
        self.checks: dict[str, _TypeChecks] = {}
        self.out: list[Decision] = []
        self.cand_index: list[int] = []  # candidates: their place in ``out`` and their content
        self.cand_hash: list[str] = []
        self.heaps: dict[_Group, list[tuple[datetime, str]]] = {}  # prune_old: each group's newest
        self.waiting: list[tuple[int, _Group, tuple[datetime, str], str]] = []  # prune_old's

    def read(self, rows: Iterable[tuple[Any, ...]], tags_of: Mapping[str, Collection[str]]) -> None:
        """Every record's decision: final when it is kept, pending when it is a candidate."""
        checks, as_of, heaps = self.checks, self.as_of, self.heaps
        protected, holders = self.protections.reason, self.protections.holders
        cand_index, cand_hash, waiting = self.cand_index, self.cand_hash, self.waiting
        out, get_tags = self.out, tags_of.get
        append = out.append
        for fid, type_, size, created, hash_, tags, run_id, symbol, tf in rows:
            if isinstance(created, str):  # as stored
                created = created_moment(created)
            shown = created.isoformat()
            c = checks.get(type_) or self._checks(type_)
            type_ = c.name  # one string per type, not one per record
            if keep_last := c.keep_last:
                group, key = (type_, symbol, tf), (created, fid)
                heap = heaps.get(group)
                if heap is None:
                    heaps[group] = [key]
                elif len(heap) < keep_last:
                    heappush(heap, key)
                elif key > heap[0]:
                    heapreplace(heap, key)
            reason = protected(type_, get_tags(fid) if tags is None else tags, run_id, hash_, fid)
            if reason is not None:
                if hash_ not in holders:
                    holders[hash_] = fid
                append(Decision(fid, type_, size, shown, KEEP, reason, True))
            elif c.fixed is not None:
                append(Decision(fid, type_, size, shown, KEEP, c.fixed, False))
            elif (age := (as_of - created).total_seconds() / 86400) < c.days:
                days_old = int(age)
                reason = c.young.get(days_old) or c.young_reason(days_old)
                append(Decision(fid, type_, size, shown, KEEP, reason, False))
            else:
                days_old = int(age)
                if keep_last:
                    waiting.append((len(out), group, key, hash_))
                else:
                    cand_index.append(len(out))
                    cand_hash.append(hash_)
                reason = c.old.get(days_old) or c.old_reason(days_old)
                append(Decision(fid, type_, size, shown, c.action, reason, False))

    def _checks(self, type_: str) -> _TypeChecks:
        checks = self.checks[type_] = _TypeChecks(type_, self.policy)
        return checks

    def settle_prune_old(self) -> None:
        """prune_old's candidates among the newest ``keep_last`` of their group are kept."""
        newest: dict[_Group, str] = {}
        out = self.out
        for index, group, key, hash_ in self.waiting:
            heap = self.heaps[group]
            keep_last = self.checks[group[0]].keep_last
            if len(heap) < keep_last or key >= heap[0]:  # among the group's newest keep_last
                reason = newest.get(group) or newest.setdefault(
                    group, f"one of the newest {keep_last} of {group[1] or '-'}/{group[2] or '-'}"
                )
                out[index] = out[index]._replace(action=KEEP, reason=reason, protected=False)
            else:
                self.cand_index.append(index)
                self.cand_hash.append(hash_)

    def keep_shared_content(self) -> list[int]:
        """Candidates whose content a protected record holds are kept; the others remain
        candidates (returned, by their place in ``out``)."""
        holders, out = self.protections.holders, self.out
        pairs = zip(self.cand_index, self.cand_hash, strict=True)
        candidates = [i for i, h in pairs if h not in holders]
        if len(candidates) < len(self.cand_index):
            for index, hash_ in zip(self.cand_index, self.cand_hash, strict=True):
                reason = self.protections.shared(hash_)
                if reason is not None:
                    out[index] = out[index]._replace(action=KEEP, reason=reason, protected=True)
        return candidates

    def cap(self, candidates: list[int], max_delete: int | None) -> None:
        """Over ``max_delete`` candidates, the newer ones wait for the next run."""
        if max_delete is None or len(candidates) <= max_delete:
            return
        out = self.out
        candidates.sort(key=lambda i: (out[i].created_at, out[i].file_id, i))  # oldest first
        reason = f"over --max-delete {max_delete} (newer candidates wait for the next run)"
        for index in candidates[max_delete:]:
            out[index] = out[index]._replace(action=KEEP, reason=reason, protected=False)

"""The purge plan: a pure function from records, policy, time and protections to a decision
(with its reason) for every live file. It changes nothing; apply and sweep act on it.

Order of the checks, first match wins: results, protected tags, runs of active rule versions,
runs the metadata does not know (their lineage cannot be checked, so they protect), records a
run of an active rule version declared as its outputs, content such a run read as an input, no
policy for the type, keep_forever, inside retain_days, prune_old's newest ``keep_last``; then a
candidate is kept anyway when its content is shared with a protected record, and ``max_delete``
caps the candidates, oldest first.

Built for a million records in seconds (docs/architecture.md#speed-budgets): one pass over the
records, which may stream from a database cursor (:func:`plan_records`); the checks of each type
and the reason texts are prepared once per type (most reasons are the same string, shared);
decisions are plain named tuples; ``prune_old``'s newest ``keep_last`` per group are kept in
small heaps instead of sorting every group.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from heapq import heappush, heapreplace
from operator import itemgetter
from typing import Any, NamedTuple

from ita_rules.retention.policy import Policy

KEEP, DELETE, ARCHIVE = "keep", "delete", "archive"
RESULT_REASON = "backtest result: never deleted automatically"
RESTORE_HINT = "`ita-rules index --rebuild` restores runs lost with the database"

Runs = Mapping[str, "str | None"]
"""Every run the metadata knows -> the active rule version it used (``IB_raid_v1@1.2``), or None
when its rule version is not active (or it used no rule). A run id absent from it is unknown."""

Inputs = Mapping[str, tuple[str, str]]
"""Stored content (``sha256:...``) a run of an active rule version read -> (run id, rule)."""

Outputs = Mapping[str, tuple[str, str]]
"""Records (file_id) a run of an active rule version declared as its outputs -> (run id, rule)."""


def unknown_run_reason(run_id: str) -> str:
    return f"run {run_id} unknown: lineage cannot be checked"


def input_reason(run_id: str, rule: str) -> str:
    return f"input of run {run_id} of active rule version {rule}"


def output_reason(run_id: str, rule: str) -> str:
    return f"output of run {run_id} of active rule version {rule}"


class Item(NamedTuple):
    """One live store record as retention sees it."""

    file_id: str
    type: str
    size: int
    created_at: datetime
    hash: str
    tags: frozenset[str] = frozenset()
    run_id: str | None = None
    symbol: str | None = None
    timeframe: str | None = None


class Decision(NamedTuple):
    file_id: str
    type: str
    size: int
    created_at: str
    action: str  # keep | delete | archive
    reason: str
    protected: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "file_id": self.file_id,
            "type": self.type,
            "size": self.size,
            "created_at": self.created_at,
            "action": self.action,
            "reason": self.reason,
            "protected": self.protected,
        }


@dataclass
class Plan:
    """Every decision, in record order. ``selected``, ``kept``, ``plan_id`` and the totals are
    computed once and cached (the decisions are not changed after the plan is made; a list that
    is replaced or grows is noticed)."""

    as_of: str
    decisions: list[Decision] = field(default_factory=list)
    unknown_runs: dict[str, list[str]] = field(default_factory=dict)  # run id -> its file_ids
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _memo_of(self, name: str, compute: Callable[[], Any]) -> Any:
        memo = self._memo
        if memo.get("list") is not self.decisions or memo.get("len") != len(self.decisions):
            memo.clear()
            memo["list"], memo["len"] = self.decisions, len(self.decisions)
        if name not in memo:
            memo[name] = compute()
        return memo[name]

    def _selected(self) -> list[Decision]:
        selected: list[Decision] = self._memo_of(
            "selected", lambda: [d for d in self.decisions if d.action != KEEP]
        )
        return selected

    @property
    def selected(self) -> list[Decision]:
        return list(self._selected())  # a copy: the caller may change it

    @property
    def kept(self) -> list[Decision]:
        kept = self._memo_of("kept", lambda: [d for d in self.decisions if d.action == KEEP])
        return list(kept)

    @property
    def plan_id(self) -> str:
        """Bound to the exact set of selected files and actions: a changed set, a new id."""

        def compute() -> str:
            selected = sorted(self._selected(), key=itemgetter(0))  # by file_id, stable
            digest = hashlib.sha256()
            for start in range(0, len(selected), 65536):
                chunk = selected[start : start + 65536]
                digest.update("".join([f"{d[0]}:{d[4]}\n" for d in chunk]).encode())
            return "plan_" + digest.hexdigest()[:16]

        return str(self._memo_of("plan_id", compute))

    @property
    def bytes_selected(self) -> int:
        total: int = self._memo_of("bytes", lambda: sum(d.size for d in self._selected()))
        return total

    @property
    def n_selected(self) -> int:
        return len(self._selected())

    def by_type(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = self._memo_of("by_type", self._by_type)
        return {type_: dict(numbers) for type_, numbers in counts.items()}

    def _by_type(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for d in self.decisions:
            counts = out.get(d.type)
            if counts is None:
                counts = out[d.type] = dict.fromkeys(
                    ("selected", "selected_bytes", "kept", "kept_bytes"), 0
                )
            if d.action != KEEP:
                counts["selected"] += 1
                counts["selected_bytes"] += d.size
            else:
                counts["kept"] += 1
                counts["kept_bytes"] += d.size
        return dict(sorted(out.items()))

    @property
    def warnings(self) -> list[str]:
        """One line per run that records name but the metadata does not know: their files are
        kept, and the user should know why (a lost database, a mistyped ``--run-id``)."""
        out = []
        for run_id, file_ids in sorted(self.unknown_runs.items()):
            more = len(file_ids) - 3
            shown = ", ".join(file_ids[:3]) + (f" and {more} more" if more > 0 else "")
            out.append(
                f"{unknown_run_reason(run_id)}; kept {len(file_ids)} record(s): {shown} "
                f"({RESTORE_HINT})"
            )
        return out

    def summary(self) -> dict[str, object]:
        """``as_dict`` without the decisions (the CLI streams those)."""
        return {
            "as_of": self.as_of,
            "plan_id": self.plan_id,
            "selected": self.n_selected,
            "selected_bytes": self.bytes_selected,
            "by_type": self.by_type(),
            "warnings": self.warnings,
        }

    def as_dict(self) -> dict[str, object]:
        return {**self.summary(), "decisions": [d.as_dict() for d in self.decisions]}


_Group = tuple[str, "str | None", "str | None"]
_UNKNOWN = "\0unknown run"  # runs.get's default: a run the metadata does not know


def make_plan(
    items: Iterable[Item],
    policy: Policy,
    as_of: datetime,
    runs: Runs,
    *,
    inputs: Inputs | None = None,
    outputs: Outputs | None = None,
    max_delete: int | None = None,
) -> Plan:
    """Decide every live item. ``runs`` holds every known run (see :data:`Runs`): a record
    naming any other run is kept, its lineage cannot be checked; ``inputs`` the content that
    runs of active rule versions read, ``outputs`` the records they declared as outputs."""
    with _gc_paused():
        return _decide(items, {}, policy, as_of, runs, inputs or {}, outputs or {}, max_delete)


def plan_records(
    records: Iterable[tuple[Any, ...]],
    tags: Mapping[str, Collection[str]],
    policy: Policy,
    as_of: datetime,
    runs: Runs,
    *,
    inputs: Inputs | None = None,
    outputs: Outputs | None = None,
    max_delete: int | None = None,
) -> Plan:
    """:func:`make_plan` over records as the store holds them, read once (a database cursor
    will do): tuples in :class:`Item`'s field order whose ``tags`` is None, the tags being
    looked up by file_id in ``tags``, and whose ``created_at`` is ISO text (the store's
    ``2026-01-15T10:30:00.123456Z``; any ISO form is read, a naive one as UTC)."""
    with _gc_paused():
        return _decide(records, tags, policy, as_of, runs, inputs or {}, outputs or {}, max_delete)


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


def protection(
    type_: str,
    tags: Collection[str],
    run_id: str | None,
    policy: Policy,
    runs: Runs,
    hash_: str | None = None,
    inputs: Inputs | None = None,
    *,
    file_id: str | None = None,
    outputs: Outputs | None = None,
) -> str | None:
    """Why a record can never be selected (the plan's checks before its policy), or None."""
    if type_ == "result":
        return RESULT_REASON
    hit = sorted(frozenset(tags) & policy.protect_tags)
    if hit:
        return f"protected tag '{hit[0]}'"
    if not policy.protect_active_rules:
        return None
    if run_id is not None:
        if run_id not in runs:
            return unknown_run_reason(run_id)
        rule = runs[run_id]
        if rule is not None:
            return f"run {run_id} of active rule version {rule}"
    if outputs and file_id is not None and file_id in outputs:
        return output_reason(*outputs[file_id])
    if inputs and hash_ is not None and hash_ in inputs:
        return input_reason(*inputs[hash_])
    return None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a plan is made: a million decisions are a
    million new container objects, and collecting while they pile up (finding no garbage:
    nothing here makes a cycle) would cost a quarter of the plan."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _decide(
    rows: Iterable[tuple[Any, ...]],
    tags_of: Mapping[str, Collection[str]],
    policy: Policy,
    as_of: datetime,
    known_runs: Runs,
    input_of: Inputs,
    output_of: Outputs,
    max_delete: int | None,
) -> Plan:
    """The one pass. A candidate's decision is final once every record was seen: whether a
    protected record shares its content, and for prune_old whether it is among the newest.
    The records' file_ids are unique (a record's primary key): prune_old ranks by
    (created_at, file_id), newest first."""
    checks: dict[str, _TypeChecks] = {}
    protect_tags = policy.protect_tags
    lineage = policy.protect_active_rules  # runs protect their outputs and inputs
    runs = known_runs
    if not lineage:
        input_of = output_of = {}
    unknown: dict[str, list[str]] = {}  # run id -> file_ids naming it
    new = tuple.__new__
    out: list[Decision] = []
    append = out.append
    protected_hashes: dict[str, str] = {}  # hash -> the first protected record holding it
    cand_index: list[int] = []
    cand_hash: list[str] = []
    heaps: dict[_Group, list[tuple[datetime, str]]] = {}  # prune_old: each group's newest
    waiting: list[tuple[int, _Group, tuple[datetime, str], str]] = []
    reasons: dict[str, str] = {}  # protected tag / active run -> its reason
    get_tags = tags_of.get
    parse = datetime.fromisoformat  # Python 3.11 reads the trailing "Z" itself
    for fid, type_, size, created, hash_, tags, run_id, symbol, tf in rows:
        if created.__class__ is str:  # as stored
            text = created
            created = parse(text)
            if text[26:] == "Z" and text[4:20:3] == "--T::." and text[20:26] != "000000":
                # the store's YYYY-MM-DDTHH:MM:SS.ffffffZ: its isoformat() by slicing
                # (isoformat itself costs a microsecond, a fifth of the whole plan)
                shown = text[:26] + "+00:00"
            else:
                if created.tzinfo is None:
                    created = created.replace(tzinfo=UTC)
                shown = created.isoformat()
        else:
            shown = created.isoformat()
        if tags is None:
            tags = get_tags(fid)
        c = checks.get(type_)
        if c is None:
            c = checks[type_] = _TypeChecks(type_, policy)
        type_ = c.name  # one string per type, not one per record
        keep_last = c.keep_last
        if keep_last:
            group = (type_, symbol, tf)
            key = (created, fid)
            heap = heaps.get(group)
            if heap is None:
                heaps[group] = [key]
            elif len(heap) < keep_last:
                heappush(heap, key)
            elif key > heap[0]:
                heapreplace(heap, key)
        if type_ == "result":
            reason = RESULT_REASON
        elif tags and (hit := protect_tags.intersection(tags)):
            tag = min(hit)
            reason = reasons.get("t" + tag) or reasons.setdefault(
                "t" + tag, f"protected tag '{tag}'"
            )
        elif lineage and run_id is not None and (rule := runs.get(run_id, _UNKNOWN)) is not None:
            if rule is _UNKNOWN:
                unknown.setdefault(run_id, []).append(fid)
                reason = reasons.get("u" + run_id) or reasons.setdefault(
                    "u" + run_id, unknown_run_reason(run_id)
                )
            else:
                reason = reasons.get("r" + run_id) or reasons.setdefault(
                    "r" + run_id, f"run {run_id} of active rule version {rule}"
                )
        elif output_of and fid in output_of:
            reason = reasons.get("o" + fid) or reasons.setdefault(
                "o" + fid, output_reason(*output_of[fid])
            )
        elif input_of and hash_ in input_of:
            reason = reasons.get("i" + hash_) or reasons.setdefault(
                "i" + hash_, input_reason(*input_of[hash_])
            )
        elif c.fixed is not None:
            append(new(Decision, (fid, type_, size, shown, KEEP, c.fixed, False)))
            continue
        else:
            age = (as_of - created).total_seconds() / 86400
            days_old = int(age)
            if age < c.days:
                reason = c.young.get(days_old) or c.young_reason(days_old)
                append(new(Decision, (fid, type_, size, shown, KEEP, reason, False)))
                continue
            if keep_last:
                waiting.append((len(out), group, key, hash_))
            else:
                cand_index.append(len(out))
                cand_hash.append(hash_)
            reason = c.old.get(days_old) or c.old_reason(days_old)
            append(new(Decision, (fid, type_, size, shown, c.action, reason, False)))
            continue
        if hash_ not in protected_hashes:
            protected_hashes[hash_] = fid
        append(new(Decision, (fid, type_, size, shown, KEEP, reason, True)))

    newest: dict[_Group, str] = {}
    for index, group, key, hash_ in waiting:
        heap = heaps[group]
        keep_last = checks[group[0]].keep_last
        if len(heap) < keep_last or key >= heap[0]:  # among the group's newest keep_last
            reason = newest.get(group) or newest.setdefault(
                group, f"one of the newest {keep_last} of {group[1] or '-'}/{group[2] or '-'}"
            )
            out[index] = new(Decision, (*out[index][:4], KEEP, reason, False))
        else:
            cand_index.append(index)
            cand_hash.append(hash_)

    shared = protected_hashes  # kept anyway: content shared with a protected record
    candidates = [i for i, h in zip(cand_index, cand_hash, strict=True) if h not in shared]
    if len(candidates) < len(cand_index):
        for index, hash_ in zip(cand_index, cand_hash, strict=True):
            if hash_ in shared:
                reason = f"content shared with protected record {protected_hashes[hash_]}"
                out[index] = new(Decision, (*out[index][:4], KEEP, reason, True))
    if max_delete is not None and len(candidates) > max_delete:
        candidates.sort(key=lambda i: (out[i].created_at, out[i].file_id, i))  # oldest first
        reason = f"over --max-delete {max_delete} (newer candidates wait for the next run)"
        for index in candidates[max_delete:]:
            out[index] = new(Decision, (*out[index][:4], KEEP, reason, False))
    return Plan(as_of.isoformat(), out, unknown)

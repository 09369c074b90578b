"""The purge plan: a pure function from records, policy, time and protections to a decision
(with its reason) for every live file. It changes nothing; apply and sweep act on it.

Order of the checks, first match wins: results, protected tags, runs of active rule versions,
no policy for the type, keep_forever, inside retain_days, prune_old's newest ``keep_last``;
then a candidate is kept anyway when its content is shared with a protected record, and
``max_delete`` caps the candidates, oldest first.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ita_rules.retention.policy import Policy

KEEP, DELETE, ARCHIVE = "keep", "delete", "archive"


@dataclass(frozen=True)
class Item:
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


@dataclass(frozen=True)
class Decision:
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
    as_of: str
    decisions: list[Decision] = field(default_factory=list)

    @property
    def selected(self) -> list[Decision]:
        return [d for d in self.decisions if d.action != KEEP]

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == KEEP]

    @property
    def plan_id(self) -> str:
        """Bound to the exact set of selected files and actions: a changed set, a new id."""
        digest = hashlib.sha256()
        for d in sorted(self.selected, key=lambda d: d.file_id):
            digest.update(f"{d.file_id}:{d.action}\n".encode())
        return "plan_" + digest.hexdigest()[:16]

    @property
    def bytes_selected(self) -> int:
        return sum(d.size for d in self.selected)

    def by_type(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(
            lambda: {"selected": 0, "selected_bytes": 0, "kept": 0, "kept_bytes": 0}
        )
        for d in self.decisions:
            key = "selected" if d.action != KEEP else "kept"
            out[d.type][key] += 1
            out[d.type][key + "_bytes"] += d.size
        return dict(sorted(out.items()))

    def as_dict(self) -> dict[str, object]:
        return {
            "as_of": self.as_of,
            "plan_id": self.plan_id,
            "selected": len(self.selected),
            "selected_bytes": self.bytes_selected,
            "by_type": self.by_type(),
            "decisions": [d.as_dict() for d in self.decisions],
        }


def make_plan(
    items: Iterable[Item],
    policy: Policy,
    as_of: datetime,
    active_runs: Mapping[str, str],
    *,
    max_delete: int | None = None,
) -> Plan:
    """Decide every live item. ``active_runs`` maps run ids of active rule versions to the rule
    (``IB_raid_v1@1.2``) for the reason text."""
    items = list(items)
    newest: dict[str, int] = {}
    groups: dict[tuple[str, str | None, str | None], list[Item]] = defaultdict(list)
    for item in items:
        rule = policy.types.get(item.type)
        if rule is not None and rule.strategy == "prune_old":
            groups[(item.type, item.symbol, item.timeframe)].append(item)
    for members in groups.values():
        members.sort(key=lambda i: (i.created_at, i.file_id), reverse=True)
        for rank, item in enumerate(members):
            newest[item.file_id] = rank

    decisions: list[Decision] = []
    protected_hashes: dict[str, str] = {}
    for item in items:
        action, reason, protected = _decide(item, policy, as_of, active_runs, newest)
        if protected:
            protected_hashes.setdefault(item.hash, item.file_id)
        decisions.append(
            Decision(
                item.file_id,
                item.type,
                item.size,
                item.created_at.isoformat(),
                action,
                reason,
                protected,
            )
        )

    out: list[Decision] = []
    candidates: list[int] = []
    for d, item in zip(decisions, items, strict=True):
        if d.action != KEEP and item.hash in protected_hashes:
            d = Decision(
                d.file_id,
                d.type,
                d.size,
                d.created_at,
                KEEP,
                f"content shared with protected record {protected_hashes[item.hash]}",
                True,
            )
        if d.action != KEEP:
            candidates.append(len(out))
        out.append(d)
    if max_delete is not None and len(candidates) > max_delete:
        candidates.sort(key=lambda i: (out[i].created_at, out[i].file_id))
        for index in candidates[max_delete:]:
            d = out[index]
            out[index] = Decision(
                d.file_id,
                d.type,
                d.size,
                d.created_at,
                KEEP,
                f"over --max-delete {max_delete} (newer candidates wait for the next run)",
            )
    return Plan(as_of.isoformat(), out)


def _decide(
    item: Item,
    policy: Policy,
    as_of: datetime,
    active_runs: Mapping[str, str],
    newest: Mapping[str, int],
) -> tuple[str, str, bool]:
    if item.type == "result":
        return KEEP, "backtest result: never deleted automatically", True
    hit = sorted(item.tags & policy.protect_tags)
    if hit:
        return KEEP, f"protected tag '{hit[0]}'", True
    if policy.protect_active_rules and item.run_id is not None and item.run_id in active_runs:
        return KEEP, f"run {item.run_id} of active rule version {active_runs[item.run_id]}", True
    rule = policy.types.get(item.type)
    if rule is None:
        return KEEP, f"no policy for type '{item.type}'", False
    if rule.strategy == "keep_forever" or rule.retain_days is None:
        return KEEP, "strategy keep_forever", False
    age = (as_of - item.created_at).total_seconds() / 86400
    if age < rule.retain_days:
        return KEEP, f"inside retain_days ({int(age)} < {rule.retain_days} days old)", False
    if rule.strategy == "prune_old" and rule.keep_last is not None:
        rank = newest.get(item.file_id, 0)
        if rank < rule.keep_last:
            group = f"{item.symbol or '-'}/{item.timeframe or '-'}"
            return KEEP, f"one of the newest {rule.keep_last} of {group}", False
    action = ARCHIVE if rule.strategy == "archive_to_remote" else DELETE
    return (
        action,
        f"older than {rule.retain_days} days ({int(age)} days old), strategy {rule.strategy}",
        False,
    )

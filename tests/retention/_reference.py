"""The plan as it was first written (simple, slow: sorts every prune_old group, a dataclass and a
reason string per record): the oracle the fast one-pass plan is compared with, decision for
decision. Kept verbatim in its logic; only the output is plain tuples."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime

from ita_rules.retention.decisions import Item
from ita_rules.retention.policy import Policy

KEEP, DELETE, ARCHIVE = "keep", "delete", "archive"

# (file_id, type, size, created_at, action, reason, protected)
Row = tuple[str, str, int, str, str, str, bool]


def reference_plan(
    items: Iterable[Item],
    policy: Policy,
    as_of: datetime,
    runs: Mapping[str, str | None],
    *,
    inputs: Mapping[str, tuple[str, str]] | None = None,
    outputs: Mapping[str, tuple[str, str]] | None = None,
    max_delete: int | None = None,
) -> list[Row]:
    """``runs``: every known run -> its active rule version, or its rule version not in the
    registry (``IB_raid_v1@9.9 (not in the registry)``: it protects as an active one does), or
    None; ``inputs``: content read by runs that protect -> (run id, rule); ``outputs``: records
    such runs declared as outputs (file_id) -> (run id, rule)."""
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

    decisions: list[Row] = []
    protected_hashes: dict[str, str] = {}
    for item in items:
        action, reason, protected = _decide(
            item, policy, as_of, runs, inputs or {}, outputs or {}, newest
        )
        if protected:
            protected_hashes.setdefault(item.hash, item.file_id)
        decisions.append(
            (
                item.file_id,
                item.type,
                item.size,
                item.created_at.isoformat(),
                action,
                reason,
                protected,
            )
        )

    out: list[Row] = []
    candidates: list[int] = []
    for d, item in zip(decisions, items, strict=True):
        if d[4] != KEEP and item.hash in protected_hashes:
            d = (
                *d[:4],
                KEEP,
                f"content shared with protected record {protected_hashes[item.hash]}",
                True,
            )
        if d[4] != KEEP:
            candidates.append(len(out))
        out.append(d)
    if max_delete is not None and len(candidates) > max_delete:
        candidates.sort(key=lambda i: (out[i][3], out[i][0]))
        for index in candidates[max_delete:]:
            out[index] = (
                *out[index][:4],
                KEEP,
                f"over --max-delete {max_delete} (newer candidates wait for the next run)",
                False,
            )
    return out


def reference_plan_id(rows: list[Row]) -> str:
    digest = hashlib.sha256()
    for d in sorted((d for d in rows if d[4] != KEEP), key=lambda d: d[0]):
        digest.update(f"{d[0]}:{d[4]}\n".encode())
    return "plan_" + digest.hexdigest()[:16]


def _decide(
    item: Item,
    policy: Policy,
    as_of: datetime,
    runs: Mapping[str, str | None],
    inputs: Mapping[str, tuple[str, str]],
    outputs: Mapping[str, tuple[str, str]],
    newest: Mapping[str, int],
) -> tuple[str, str, bool]:
    if item.type == "result":
        return KEEP, "backtest result: never deleted automatically", True
    hit = sorted(item.tags & policy.protect_tags)
    if hit:
        return KEEP, f"protected tag '{hit[0]}'", True
    if policy.protect_active_rules and item.run_id is not None:
        if item.run_id not in runs:
            return KEEP, f"run {item.run_id} unknown: lineage cannot be checked", True
        rule_version = runs[item.run_id]
        if rule_version is not None:
            return KEEP, f"run {item.run_id} of {_rule(rule_version)}", True
    if policy.protect_active_rules and item.file_id in outputs:
        run_id, rule_version = outputs[item.file_id]
        return KEEP, f"output of run {run_id} of {_rule(rule_version)}", True
    if policy.protect_active_rules and item.hash in inputs:
        run_id, rule_version = inputs[item.hash]
        return KEEP, f"input of run {run_id} of {_rule(rule_version)}", True
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


def _rule(rule_version: str) -> str:
    if rule_version.endswith(" (not in the registry)"):
        version = rule_version[: -len(" (not in the registry)")]
        return (
            f"rule version {version}, which is not in the registry: "
            "kept until its lifecycle is known"
        )
    return f"active rule version {rule_version}"

"""The administrator's purge: the only way a backtest result leaves the store.

An administrator names the type and a cut-off, reviews the plan (a dry run), and confirms its
id; then the records are purged and their files removed at once, with no safety window. Protected
tags still hold (:meth:`.protect.Protections.tagged`); the runs' lineage does not.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from ita_rules.core import times
from ita_rules.provenance.lineage_emit import announce_purged
from ita_rules.retention import inputs
from ita_rules.retention.audit import Report
from ita_rules.retention.decisions import KEEP, ConfirmationNeeded, Decision, Item, Plan
from ita_rules.retention.protect import Protections

if TYPE_CHECKING:
    from ita_rules.retention.engine import Retention


def admin_purge(
    retention: Retention, type_: str, before: _dt.datetime, confirm: str | None
) -> tuple[Plan, Report | None]:
    """Purge the live records of ``type_`` created before ``before`` (the caller holds the
    retention lock). Without ``confirm`` it is a dry run (no report); an id that is not the
    current plan's raises :class:`~.decisions.ConfirmationNeeded` and nothing is purged."""
    plan = admin_plan(retention, type_, before)
    if confirm is None:
        return plan, None
    if confirm != plan.plan_id:
        raise ConfirmationNeeded(
            f"--confirm {confirm} does not match the current plan {plan.plan_id}: review "
            f"the dry run (`ita-rules retention purge --admin --type {type_} "
            f"--before {before:%Y-%m-%d}`) and confirm again"
        )
    store, now = retention.store, retention.now()
    report = retention.report("purge", plan.plan_id, now)
    paths = inputs.paths(store, (d.file_id for d in plan.selected))
    entry = {"at": times.iso(now), "phase": "purge", "plan_id": plan.plan_id}
    retention.log(
        report,
        now,
        ({**entry, **d.as_dict(), "path": paths[d.file_id]} for d in plan.selected),
    )
    for d in plan.selected:
        if store.remove(d.file_id):
            report.removed.append((paths[d.file_id], d.size))
        else:
            holder = inputs.holder(store, store.get(d.file_id).hash)
            report.content_kept.append((d.file_id, holder or "another record"))
        report.affected.append((d.file_id, d.type, d.size))
    announce_purged(store, [d.file_id for d in plan.selected])
    return plan, retention.finish(report)


def admin_plan(retention: Retention, type_: str, before: _dt.datetime) -> Plan:
    """Every live record of ``type_`` created before ``before``: purged, unless it carries a
    protected tag."""
    tagged = Protections(retention.policy, {}).tagged
    purge = f"admin purge of {type_} created before {before:%Y-%m-%d}"
    decisions = [
        _decision(item, KEEP, reason, True)
        if (reason := tagged(item.tags)) is not None
        else _decision(item, "delete", purge)
        for item, _ in inputs.items(retention.store)
        if item.type == type_ and item.created_at < before
    ]
    return Plan(times.iso(retention.as_of), decisions)


def _decision(item: Item, action: str, reason: str, protected: bool = False) -> Decision:
    return Decision(
        item.file_id, item.type, item.size, item.created_at.isoformat(), action, reason, protected
    )

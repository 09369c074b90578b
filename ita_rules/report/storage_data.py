"""The store as the report shows it (docs/architecture.md#report): files and bytes by type,
growth over time, the current retention plan summed per action and reason, and what waits (soft
deleted until the safety window ends, or for a verified remote copy)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError

if TYPE_CHECKING:
    from ita_rules.store.records import Record
    from ita_rules.workspace import Workspace

# A plan's reasons name the run, the record or the age of each file; summed per reason they
# are put in general words first ("older than 30 days (41 days old), strategy delete" ->
# "older than 30 days, strategy delete").
_GENERAL = (
    (re.compile(r"run_\d{4}_\d{2}_\d{2}_\d+"), "a run"),
    (re.compile(r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b"), "a record"),
    (re.compile(r" \(\d+ days old\)"), ""),
    (re.compile(r"\(\d+ < (\d+) days old\)"), r"(< \1 days old)"),
    (re.compile(r"(rule version) \S+"), r"\1"),
)


def general_reason(reason: str) -> str:
    """A plan reason without the names and ages of one file."""
    for pattern, replacement in _GENERAL:
        reason = pattern.sub(replacement, reason)
    return reason


@dataclass(frozen=True)
class TypeRow:
    type: str
    files: int
    bytes: int


@dataclass(frozen=True)
class PlanRow:
    action: str
    reason: str
    files: int
    bytes: int


@dataclass
class StorageView:
    """Everything the storage page shows; ``plan_problem`` says why there is no plan."""

    by_type: list[TypeRow] = field(default_factory=list)
    growth: list[tuple[str, int]] = field(default_factory=list)  # (day, bytes stored by then)
    records: dict[str, Record] = field(default_factory=dict)  # file_id -> record, any status
    plan: list[PlanRow] = field(default_factory=list)
    plan_as_of: str = ""
    plan_problem: str | None = None
    waiting: list[dict[str, Any]] = field(default_factory=list)
    status_problem: str | None = None


def gather_storage(ws: Workspace) -> StorageView:
    """The store's records, the retention plan and status of ``ws``."""
    from ita_rules.store import open_store

    view = StorageView()
    if not ws.settings.store_root.is_dir():
        return view
    with open_store(ws) as store:
        records = store.find(status=None)
    view.records = {r.file_id: r for r in records}
    live = [r for r in records if r.status == "live"]
    files, sizes = Counter(r.type for r in live), Counter[str]()
    for r in live:
        sizes[r.type] += r.size
    view.by_type = [TypeRow(t, files[t], sizes[t]) for t in sorted(files)]
    view.growth = _growth(records)
    _plan(ws, view)
    _status(ws, view)
    return view


def _growth(records: list[Record]) -> list[tuple[str, int]]:
    """Bytes of distinct content stored by the end of each day a record was put."""
    first_seen: dict[str, tuple[str, int]] = {}
    for r in records:
        day = r.created_at[:10]
        if r.hash not in first_seen or day < first_seen[r.hash][0]:
            first_seen[r.hash] = (day, r.size)
    per_day: defaultdict[str, int] = defaultdict(int)
    for day, size in first_seen.values():
        per_day[day] += size
    total, out = 0, []
    for day in sorted(per_day):
        total += per_day[day]
        out.append((day, total))
    return out


def _plan(ws: Workspace, view: StorageView) -> None:
    from ita_rules.retention import jobs

    try:
        plan = jobs.plan(ws)
    except ItaRulesError as exc:
        view.plan_problem = str(exc)
        return
    sums: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d in plan.decisions:
        row = sums[(d.action, general_reason(d.reason))]
        row[0] += 1
        row[1] += d.size
    view.plan_as_of = plan.as_of
    view.plan = [PlanRow(a, reason, n, size) for (a, reason), (n, size) in sorted(sums.items())]


def _status(ws: Workspace, view: StorageView) -> None:
    from ita_rules.retention.status import retention_status

    try:
        status = retention_status(ws).to_dict()
    except ItaRulesError as exc:
        view.status_problem = str(exc)
        return
    view.waiting = list(status["soft_deleted"])

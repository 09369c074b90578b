"""The runs as the report shows them (docs/architecture.md#report): every run's snapshot, read
in one query, the metrics of its results (:func:`ita_rules.provenance.metrics.metrics_by_run`)
and its last ``runs verify`` outcome; per setup, a metric by rule version."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import fmean
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ita_rules.workspace import Workspace

Metric = float | int | str


@dataclass(frozen=True)
class RunView:
    """One run: its snapshot (as ``runs show`` prints it), metrics and last verification."""

    snapshot: Mapping[str, Any]
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    verification: Mapping[str, Any] | None = None

    @property
    def run_id(self) -> str:
        return str(self.snapshot["run_id"])

    @property
    def rule_ref(self) -> str | None:
        """``setup@version`` (``IB_raid_v1@1.2``), None for a run without a rule."""
        s = self.snapshot
        if not s.get("rule_id"):
            return None
        return f"{s['rule_id']}@{str(s.get('rule_version') or '').removeprefix('v')}"

    @property
    def version(self) -> str:
        return str(self.snapshot.get("rule_version") or "").removeprefix("v")

    @property
    def verify_state(self) -> str:
        """``reproducible``, ``drifted``, ``unverifiable`` or ``not verified yet``."""
        if self.verification is None:
            return "not verified yet"
        return str(self.verification.get("outcome", "not verified yet"))


@dataclass(frozen=True)
class VersionPoint:
    """A metric's runs at one rule version: mean, best, how many runs."""

    version: str
    mean: float
    best: float
    runs: int


def gather_runs(ws: Workspace) -> list[RunView]:
    """Every run, newest first, with its metrics and last verification."""
    snapshots = _snapshots(ws)
    if not snapshots:
        return []
    from ita_rules.provenance.metrics import metrics_by_run
    from ita_rules.provenance.verifications import last_verifications

    # every run's (one query each, not one per 500 ids); those of runs not listed go unused
    metrics = metrics_by_run(ws)
    verified = last_verifications(ws)
    return [RunView(s, metrics.get(s["run_id"], {}), verified.get(s["run_id"])) for s in snapshots]


def _snapshots(ws: Workspace) -> list[dict[str, Any]]:
    """Every run's snapshot in one query, newest first (abandoned runs marked first, as
    ``runs list`` does)."""
    import sqlalchemy as sa

    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.tables import runs

    with RunStore.open(ws.settings) as store:
        store.reap()
        store.list(limit=1)  # raises RunsLost when the database lost its runs
        with store.db.read() as conn:
            rows = conn.execute(
                sa.select(runs.c.snapshot).order_by(runs.c.day.desc(), runs.c.seq.desc())
            ).all()
    return [json.loads(r.snapshot) for r in rows]


def metric_names(runs: Iterable[RunView]) -> list[str]:
    """Every metric name of the runs' results, sorted."""
    return sorted({name for r in runs for name in r.metrics})


def numeric_metrics(runs: Iterable[RunView]) -> list[str]:
    """The metrics that are numbers in some run, most common first (then by name): the first
    is the one the charts show by default."""
    counts: defaultdict[str, int] = defaultdict(int)
    for r in runs:
        for name, value in r.metrics.items():
            if _number(value) is not None:
                counts[name] += 1
    return sorted(counts, key=lambda n: (-counts[n], n))


def by_version(runs: Iterable[RunView], metric: str) -> list[VersionPoint]:
    """One point per rule version (in version order) of ``metric`` over the runs given."""
    values: defaultdict[str, list[float]] = defaultdict(list)
    for r in runs:
        number = _number(r.metrics.get(metric))
        if number is not None and r.version:
            values[r.version].append(number)
    return [
        VersionPoint(v, fmean(values[v]), max(values[v]), len(values[v]))
        for v in sorted(values, key=_version_key)
    ]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _version_key(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return (1 << 30, 0)

"""Run provenance (docs/architecture.md#runs): snapshots of every run and their verification.

    from ita_rules import Workspace
    ws = Workspace.open()
    rule = ws.registry.get("IB_raid_v1", "1.2")
    with ws.start_run("backtest_flow", rule=rule, inputs=["data/GER40_M15.csv"],
                      data_range=("2025-05-01", "2025-10-31")) as run:
        run.save_result({"metrics": {"win_rate": 0.61}})

Modules: :mod:`datahash` (data_hash and the inputs; the canonical candle form in
:mod:`candleform`, read by :mod:`csvhash` and :mod:`arrowhash`), :mod:`capture` (git and
environment), :mod:`snapshot`, :mod:`runstore` (run ids, leases, snapshot files; the rows and
the shared connection in :mod:`rundb`), :mod:`runs` (the :class:`Run` context manager),
:mod:`verify` (the record itself in :mod:`snapcheck`; each outcome kept by
:mod:`verifications`), :mod:`compare` (``runs compare``), :mod:`metrics` (the results' metrics
of runs), :mod:`prefect` (optional), :mod:`desk`
(what the runs need of a workspace), :mod:`lineage` (OpenLineage events; sent, queued and
exported by :mod:`lineage_emit`), :mod:`repkey` (the reproduction key and ``runs dedupe``).

The functions here are what the ``runs`` verbs call: each takes a workspace (any
:class:`~ita_rules.provenance.desk.Desk`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.verify import Verification


@contextmanager
def _runs(workspace: Desk) -> Iterator[RunStore]:
    """The workspace's runs, the abandoned ones marked first."""
    from ita_rules.provenance.runstore import RunStore

    with RunStore.open(workspace.settings) as runs:
        runs.reap()
        yield runs


def show_run(workspace: Desk, run_id: str) -> dict[str, Any]:
    """The snapshot of a run (abandoned runs are marked first)."""
    with _runs(workspace) as runs:
        return runs.get(run_id)


def describe_run(workspace: Desk, run_id: str) -> dict[str, Any]:
    """The snapshot of a run and its last ``runs verify`` (``last_verification``: None when it
    was never verified), as ``runs show`` prints them."""
    from ita_rules.provenance.verifications import last_verification

    snapshot = show_run(workspace, run_id)
    return {**snapshot, "last_verification": last_verification(workspace, run_id)}


def list_runs(workspace: Desk, **filters: Any) -> list[dict[str, Any]]:
    """Run summaries, newest first (abandoned runs are marked first)."""
    with _runs(workspace) as runs:
        return runs.list(**filters)


def verify_run(workspace: Desk, run_id: str) -> Verification:
    """Recompute every part of a run's snapshot and compare; the outcome is kept
    (:mod:`~ita_rules.provenance.verifications`: the last one is what ``runs show`` shows)."""
    from ita_rules.provenance.verifications import record
    from ita_rules.provenance.verify import verify_snapshot

    outcome = verify_snapshot(workspace, show_run(workspace, run_id))
    record(workspace.settings, outcome)
    return outcome


def finish_run(
    workspace: Desk,
    run_id: str,
    status: str,
    error: str | None = None,
    outputs: list[str] | None = None,
) -> dict[str, Any]:
    """End a run started elsewhere (``ita-rules runs start``)."""
    from ita_rules.provenance.runstore import check_run_id

    with _runs(workspace) as runs:
        return runs.finish(check_run_id(run_id), status, error=error, outputs=outputs)


def start_external_run(
    workspace: Desk,
    flow_type: str,
    *,
    inputs: Sequence[str] = (),
    time_column: str | None = None,
    lease: float,
    **options: Any,
) -> dict[str, Any]:
    """Start the run of a flow that is not written in Python (``runs start``) and leave it
    running: its snapshot is written now; no heartbeat beats and no process is watched, so
    only its lease (:func:`renew_lease`) keeps it from being marked abandoned until
    :func:`finish_run` ends it. ``inputs`` share one ``time_column``; ``options`` are those
    of :class:`~ita_rules.provenance.runs.Run`. Return the snapshot."""
    from ita_rules.provenance.runs import Run

    specs = [{"path": path, "time_column": time_column} for path in inputs]
    run = Run(
        workspace, flow_type, inputs=specs, heartbeat=0, lease=lease, track_process=False, **options
    )
    return run.start().detach()


def renew_lease(workspace: Desk, run_id: str, lease_s: float) -> None:
    """Renew the lease of a running run for ``lease_s`` seconds from now (``runs heartbeat``);
    :class:`~ita_rules.core.errors.ItaRulesError` when it is not running."""
    from ita_rules.core.errors import ItaRulesError
    from ita_rules.provenance.runstore import RunStore, check_run_id

    with RunStore.open(workspace.settings) as runs:
        if not runs.heartbeat(check_run_id(run_id), lease_s):
            raise ItaRulesError(f"run {run_id} is not running")


__all__ = [
    "describe_run",
    "finish_run",
    "list_runs",
    "renew_lease",
    "show_run",
    "start_external_run",
    "verify_run",
]

"""Run provenance (docs/architecture.md#runs): snapshots of every run and their verification.

    from ita_rules import Workspace
    ws = Workspace.open()
    rule = ws.registry.get("IB_raid_v1", "1.2")
    with ws.start_run("backtest_flow", rule=rule, inputs=["data/GER40_M15.csv"],
                      data_range=("2025-05-01", "2025-10-31")) as run:
        run.save_result({"metrics": {"win_rate": 0.61}})

Modules: :mod:`datahash` (data_hash, canonical candle ranges), :mod:`capture` (git and
environment), :mod:`snapshot`, :mod:`runstore` (database rows, run ids, leases, snapshot files),
:mod:`runs` (the :class:`Run` context manager), :mod:`verify`, :mod:`prefect` (optional).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.provenance.verify import Verification


def show_run(workspace: Desk, run_id: str) -> dict[str, Any]:
    """The snapshot of a run (abandoned runs are marked first)."""
    from ita_rules.provenance.runstore import RunStore

    runs = RunStore.open(workspace.settings)
    try:
        runs.reap()
        return runs.get(run_id)
    finally:
        runs.close()


def list_runs(workspace: Desk, **filters: Any) -> list[dict[str, Any]]:
    """Run summaries, newest first (abandoned runs are marked first)."""
    from ita_rules.provenance.runstore import RunStore

    runs = RunStore.open(workspace.settings)
    try:
        runs.reap()
        return runs.list(**filters)
    finally:
        runs.close()


def verify_run(workspace: Desk, run_id: str) -> Verification:
    """Recompute every part of a run's snapshot and compare."""
    from ita_rules.provenance.verify import verify_snapshot

    return verify_snapshot(workspace, show_run(workspace, run_id))


def finish_run(
    workspace: Desk,
    run_id: str,
    status: str,
    error: str | None = None,
    outputs: list[str] | None = None,
) -> dict[str, Any]:
    """End a run started elsewhere (``ita-rules runs start``)."""
    from ita_rules.provenance.runstore import RunStore, check_run_id

    runs = RunStore.open(workspace.settings)
    try:
        runs.reap()
        return runs.finish(check_run_id(run_id), status, error=error, outputs=outputs)
    finally:
        runs.close()


__all__ = ["finish_run", "list_runs", "show_run", "verify_run"]

"""The runs take any workspace-like desk (root, settings, registry): the one the Prefect
integration opens itself when a flow names no workspace records the same run as a Workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from ita_rules.core.errors import WorkspaceNotFound
from ita_rules.provenance import list_runs, show_run
from ita_rules.provenance.desk import open_desk
from ita_rules.provenance.runs import Run
from tests.provenance.conftest import RunWs


@pytest.mark.parametrize("db_url", ["sqlite:///.ita/ita.sqlite"])
def test_a_desk_opened_from_a_subfolder_records_the_run_of_its_workspace(run_ws: RunWs) -> None:
    desk = open_desk(run_ws.root / "data")
    assert desk.root == run_ws.root and desk.settings == run_ws.open().settings
    run = Run(
        desk,
        "backtest_flow",
        rule="IB_raid_v1@1.2",
        inputs=["data/GER40_M15.csv"],
        data_range=("2025-05-01", "2025-05-31"),
    )
    with run:
        run.save_result({"metrics": {"trades": 2}})
    ws = run_ws.open()
    assert [r["run_id"] for r in list_runs(ws)] == [run.run_id]
    snap = show_run(ws, run.run_id)
    assert (snap["status"], snap["rule_version"], snap["inputs"][0]["rows"]) == (
        "succeeded",
        "v1.2",
        31 * 96,
    )
    assert len(snap["outputs"]) == 1


def test_no_desk_outside_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound, match="no ita-rules workspace at"):
        open_desk(tmp_path)

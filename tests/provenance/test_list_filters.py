"""``runs list`` filters: status, flow type, setup, symbol and a limit, newest first."""

from __future__ import annotations

import pytest

from ita_rules.provenance import list_runs
from tests.provenance.conftest import RunWs


@pytest.mark.parametrize("db_url", ["sqlite:///.ita/ita.sqlite"])
def test_each_filter_keeps_only_its_runs_newest_first(run_ws: RunWs) -> None:
    ws = run_ws.open()
    with ws.start_run("train_flow", heartbeat=0.5) as trained:
        pass
    with ws.start_run("backtest_flow", rule="IB_raid_v1@1.2", symbol="GER40", heartbeat=0.5) as a:
        pass
    with pytest.raises(RuntimeError), ws.start_run("backtest_flow", symbol="NAS100") as b:
        raise RuntimeError("broker timeout")

    def ids(**filters: object) -> list[str]:
        return [r["run_id"] for r in list_runs(ws, **filters)]

    assert ids() == [b.run_id, a.run_id, trained.run_id]
    assert ids(status="failed") == [b.run_id]
    assert ids(flow_type="backtest_flow") == [b.run_id, a.run_id]
    assert ids(setup_id="IB_raid_v1") == [a.run_id]
    assert ids(symbol="GER40", flow_type="backtest_flow") == [a.run_id]
    assert ids(limit=2) == [b.run_id, a.run_id]
    assert ids(symbol="EURUSD") == []
    summary = list_runs(ws, setup_id="IB_raid_v1")[0]
    assert (summary["rule_version"], summary["status"], summary["error"]) == (
        "v1.2",
        "succeeded",
        None,
    )

"""A real local Prefect 3 flow run (ephemeral API server, PREFECT_HOME in tmp) is recorded as a
run: flow run id and flow name in the snapshot, succeeded/failed with the flow, and the flow
body untouched. The extra is installed by .ci/run, so this never skips there."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ita_rules.provenance import list_runs, show_run
from tests.conftest import REPO
from tests.provenance.conftest import RunWs

FLOWS = """
import json, sys
from prefect import flow, get_client
from ita_rules.provenance.prefect import current_run, track


@track("backtest_flow", rule="IB_raid_v1@1.2")
@flow(name="ger40-backtest")
def backtest(symbol: str, timeframe: str, inputs: list[str], data_range: list[str]) -> dict:
    return {"metrics": {"trades": 3}, "symbol": symbol}


@flow(name="ger40-backtest-saving")
@track("backtest_flow", rule="IB_raid_v1@1.2", symbol="GER40")
def saving(inputs: list[str], data_range: list[str]) -> str:
    return current_run().save_result({"metrics": {"trades": 1}}).file_id


@track("train_flow")
@flow(name="broken-training", retries=0)
def broken() -> None:
    raise RuntimeError("diverged at epoch 3")


out = {}
out["result"] = backtest("GER40", "M15", ["data/GER40_M15.csv"], ["2025-05-01", "2025-05-31"])
out["file_id"] = saving(["data/GER40_M15.csv"], ["2025-05-01", "2025-05-31"])
state = broken(return_state=True)
out["broken_state"] = state.type.value
with get_client(sync_client=True) as client:
    runs = client.read_flow_runs()
    names = {str(f.id): f.name for f in client.read_flows()}
    out["flow_runs"] = {str(r.id): [names[str(r.flow_id)], r.state.type.value] for r in runs}
print("RESULT " + json.dumps(out))
"""


# The database side is covered on both backends elsewhere; one Prefect server start is enough.
@pytest.mark.parametrize("db_url", ["sqlite:///.ita/ita.sqlite"])
def test_every_prefect_flow_run_gets_a_snapshot(run_ws: RunWs, tmp_path: Path) -> None:
    if importlib.util.find_spec("prefect") is None:  # the [prefect] extra; .ci/run installs it
        if os.environ.get("CI") == "true":
            pytest.fail("the [prefect] extra is not installed in CI")
        pytest.skip("pip install -e '.[prefect]' to run the Prefect test")
    script = tmp_path / "flows.py"
    script.write_text(FLOWS)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": "",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_PROFILES_PATH", None)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=run_ws.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, proc.stdout[-3000:] + proc.stderr[-5000:]
    out = json.loads(line.removeprefix("RESULT "))
    assert out["result"] == {"metrics": {"trades": 3}, "symbol": "GER40"}  # body unchanged
    assert out["broken_state"] == "FAILED"

    ws = run_ws.open()
    runs = {r["flow_run_id"]: r for r in list_runs(ws)}
    assert set(runs) == set(out["flow_runs"])  # one run per Prefect flow run, no more
    by_flow = {}
    for flow_run_id, (flow_name, state) in out["flow_runs"].items():
        snap = show_run(ws, runs[flow_run_id]["run_id"])
        assert snap["flow_run_id"] == flow_run_id and snap["flow_name"] == flow_name
        by_flow[flow_name] = (snap, state)

    snap, state = by_flow["ger40-backtest"]
    assert state == "COMPLETED" and snap["status"] == "succeeded"
    assert (snap["symbol"], snap["timeframe"], snap["rule_version"]) == ("GER40", "M15", "v1.2")
    assert snap["data_range"] == ["2025-05-01", "2025-05-31"]
    assert snap["inputs"][0]["rows"] == 31 * 96

    snap, state = by_flow["ger40-backtest-saving"]
    assert state == "COMPLETED" and snap["outputs"] == [out["file_id"]]

    snap, state = by_flow["broken-training"]
    assert state == "FAILED" and snap["status"] == "failed"
    assert snap["error"] == "RuntimeError: diverged at epoch 3"

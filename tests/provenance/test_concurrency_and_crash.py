"""Run ids under concurrency, and runs whose process died (docs/architecture.md#reliability)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from ita_rules.provenance import finish_run, list_runs, show_run
from ita_rules.provenance.runstore import RunStateError
from tests.conftest import REPO
from tests.provenance.conftest import STARTER, RunWs

HANGER = """
import sys, time
from ita_rules.workspace import Workspace
ws = Workspace.open(sys.argv[1])
run = ws.start_run("backtest_flow", rule="IB_raid_v1@1.2", heartbeat=0.2)
run.start()
print(run.run_id, flush=True)
time.sleep(600)  # killed long before
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def test_four_processes_fifty_runs_each_get_distinct_ids(run_ws: RunWs) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, str(run_ws.root), "50"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for _ in range(4)
    ]
    ids: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids += out.split()
    assert len(ids) == 200 and len(set(ids)) == 200
    runs = list_runs(run_ws.open())
    assert sorted(r["run_id"] for r in runs) == sorted(ids)
    assert {r["status"] for r in runs} == {"succeeded"}
    day = ids[0][: len("run_YYYY_MM_DD")]
    if all(i.startswith(day) for i in ids):  # not across midnight: numbers 1..200, no gap
        assert sorted(int(i.rsplit("_", 1)[1]) for i in ids) == list(range(1, 201))


def test_a_killed_run_ends_up_abandoned_never_succeeded(run_ws: RunWs) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HANGER, str(run_ws.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id.startswith("run_"), proc.stderr.read() if proc.stderr else ""
    ws = run_ws.open()
    assert show_run(ws, run_id)["status"] == "running"  # alive: heartbeats, process exists
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    snap = show_run(ws, run_id)  # any reader marks what is dead
    assert snap["status"] == "abandoned"
    assert "is gone" in snap["error"] and snap["finished_at"]
    path = run_ws.store_root / "archive" / "provenance" / f"{run_id}_snapshot.json"
    assert json.loads(path.read_text())["status"] == "abandoned"
    try:
        finish_run(ws, run_id, "succeeded")
    except RunStateError as exc:
        assert "is abandoned" in str(exc)
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("an abandoned run was finished")
    assert show_run(ws, run_id)["status"] == "abandoned"


def test_an_expired_lease_is_abandoned_even_from_another_host(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    """`runs start` records no process: only its lease can tell that it died."""
    r = cli("runs", "start", "train_flow", "--lease", "0.05")
    assert r.code == 0, r.err
    run_id = r.out.strip()
    deadline = time.monotonic() + 30
    while show_run(run_ws.open(), run_id)["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    snap = show_run(run_ws.open(), run_id)
    assert snap["status"] == "abandoned" and "lease ended" in snap["error"]
    r = cli("runs", "finish", run_id, "--status", "succeeded")
    assert r.code == 1 and "is abandoned" in r.err
    assert show_run(run_ws.open(), run_id)["status"] == "abandoned"


def test_heartbeats_renew_the_lease_of_a_long_run(run_ws: RunWs) -> None:
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.tables import runs

    def lease(run_id: str) -> str:
        store = RunStore.open(run_ws.open().settings)
        with store.db.read() as conn:
            return str(conn.execute(runs.select().where(runs.c.run_id == run_id)).one().lease_until)

    ws = run_ws.open()
    with ws.start_run("train_flow", heartbeat=0.05, lease=600, track_process=False) as run:
        first = lease(run.run_id)
        deadline = time.monotonic() + 60
        while lease(run.run_id) == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease(run.run_id) > first  # renewed by the heartbeat thread
        assert show_run(ws, run.run_id)["status"] == "running"
    assert show_run(ws, run.run_id)["status"] == "succeeded"

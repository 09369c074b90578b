"""The live emitter against a receiver on loopback: START then COMPLETE / FAIL / ABORT, and an
unreachable receiver that never fails a run (the queue and ``runs export --resend``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.lineage.conftest import EventValidator, Receiver, backtest, lineage_toml

HANGER = """
import sys, time
from ita_rules.workspace import Workspace
run = Workspace.open(sys.argv[1]).start_run("backtest_flow", rule="IB_raid_v1@1.2", heartbeat=0.2)
run.start()
print(run.run_id, flush=True)
time.sleep(600)  # killed long before
"""


def _of(receiver: Receiver, run_uuid: str) -> list[dict[str, Any]]:
    return [e for e in receiver.events if e["run"]["runId"] == run_uuid]


def _export(cli: Any, run_id: str) -> list[dict[str, Any]]:
    r = cli("runs", "export", "--openlineage", run_id)
    assert r.code == 0, r.err
    return [json.loads(text) for text in r.out.splitlines()]


def test_start_then_complete_or_fail_arrive_in_order(
    lineage_ws: Path, receiver: Receiver, cli: Any, validator: EventValidator
) -> None:
    from ita_rules.workspace import Workspace

    (lineage_ws / "ita.toml").write_text(lineage_toml(receiver.url, "desk-order"))
    snap = backtest(lineage_ws, {"sharpe": 1.5})
    exported = _export(cli, snap["run_id"])
    got = _of(receiver, exported[0]["run"]["runId"])
    assert [e["eventType"] for e in got] == ["START", "COMPLETE"]
    assert got == exported  # what was sent is what an export rebuilds
    assert set(receiver.paths) == {"/api/v1/lineage"}
    for event in got:
        validator.check(event)
    with pytest.raises(ValueError), Workspace.open(lineage_ws).start_run("train_flow") as run:
        raise ValueError("no data")
    got = _of(receiver, _export(cli, run.run_id)[0]["run"]["runId"])
    assert [e["eventType"] for e in got] == ["START", "FAIL"]
    assert got[1]["run"]["facets"]["errorMessage"]["message"] == "ValueError: no data"
    assert not (lineage_ws / ".ita" / "lineage_queue.jsonl").exists()


def test_a_killed_run_is_aborted_when_reaped(
    lineage_ws: Path, receiver: Receiver, cli: Any, validator: EventValidator
) -> None:
    (lineage_ws / "ita.toml").write_text(lineage_toml(receiver.url, "desk-killed"))
    proc = subprocess.Popen(
        [sys.executable, "-c", HANGER, str(lineage_ws)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    r = cli("runs", "list", "--json")  # any reader reaps
    assert r.code == 0, r.err
    (start, abort) = _export(cli, run_id)
    message = abort["run"]["facets"]["errorMessage"]["message"]
    assert abort["eventType"] == "ABORT" and message.startswith("abandoned: "), message
    got = _of(receiver, start["run"]["runId"])
    assert [e["eventType"] for e in got] == ["START", "ABORT"]
    validator.check(got[1])


def test_an_unreachable_receiver_queues_and_resend_delivers(
    lineage_ws: Path, receiver: Receiver, cli: Any
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    (lineage_ws / "ita.toml").write_text(lineage_toml(dead, "desk-queue"))
    snap = backtest(lineage_ws, {"sharpe": 0.5})
    assert snap["status"] == "succeeded"
    queue = lineage_ws / ".ita" / "lineage_queue.jsonl"
    queued = [json.loads(text) for text in queue.read_text().splitlines()]
    assert [e["eventType"] for e in queued] == ["START", "COMPLETE"]
    r = cli("runs", "export", "--openlineage", "--resend")
    assert (r.code, r.out) == (1, "re-sent 0 queued event(s); 2 still queued\n")
    (lineage_ws / "ita.toml").write_text(lineage_toml(receiver.url, "desk-queue"))
    r = cli("runs", "export", "--openlineage", "--resend", "--json")
    assert (r.code, json.loads(r.out)) == (0, {"sent": 2, "queued": 0})
    assert _of(receiver, queued[0]["run"]["runId"]) == queued
    assert queue.read_text() == ""

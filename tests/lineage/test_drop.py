"""Retention's purge of a run's output sends lifecycleStateChange DROP for it, and an export
of the run names the purged output the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.lineage.conftest import EventValidator, Receiver, backtest, lineage_toml

POLICY = "types:\n  result: {retain_days: null, strategy: keep_forever}\n"


def test_an_admin_purge_of_a_run_result_sends_drop(
    lineage_ws: Path, receiver: Receiver, cli: Any, validator: EventValidator
) -> None:
    (lineage_ws / "ita.toml").write_text(lineage_toml(receiver.url, "desk-drop"))
    (lineage_ws / "retention.yaml").write_text(POLICY)
    snap = backtest(lineage_ws, {"sharpe": 1.0})
    (file_id,) = snap["outputs"]
    purge = ["retention", "purge", "--admin", "--type", "result", "--before", "2999-01-01"]
    r = cli(*purge)
    assert r.code == 0 and file_id in r.out, r.err
    r = cli(*purge, "--confirm", r.err.rsplit("--confirm ", 1)[1].strip())
    assert r.code == 0, r.err
    drops = [e for e in receiver.events if e["eventType"] == "OTHER"]
    (drop,) = [e for e in drops if e["job"]["namespace"] == "desk-drop"]
    validator.check(drop)
    (dataset,) = drop["outputs"]
    assert dataset["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "DROP"
    r = cli("runs", "export", "--openlineage", snap["run_id"])
    start, complete, other = (json.loads(text) for text in r.out.splitlines())
    assert other["eventType"] == "OTHER" and other["outputs"] == drop["outputs"]
    assert other["run"]["runId"] == complete["run"]["runId"] == drop["run"]["runId"]
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    validator.check(other)

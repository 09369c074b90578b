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


SWEEP_POLICY = "safety_window_days: 7\ntypes:\n  screenshot: {retain_days: 90, strategy: delete}\n"


def _backdate(root: Path, column: str, days: int) -> None:
    """Move every record's ``column`` (created_at, deleted_at) ``days`` into the past (the
    window runs on the real clock)."""
    import datetime as dt

    import sqlalchemy as sa

    from ita_rules.db import tables as t
    from ita_rules.workspace import Workspace

    store = Workspace.open(root).store
    try:
        with store.db.write() as conn:
            rows = conn.execute(sa.select(t.records.c.file_id, t.records.c[column])).all()
            for file_id, moment in rows:
                if moment is not None:
                    earlier = dt.datetime.fromisoformat(moment) - dt.timedelta(days=days)
                    conn.execute(
                        t.records.update()
                        .where(t.records.c.file_id == file_id)
                        .values({column: earlier.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
                    )
    finally:
        store.close()


def test_a_sweep_of_a_run_output_sends_drop(
    lineage_ws: Path, receiver: Receiver, cli: Any, validator: EventValidator
) -> None:
    from ita_rules.workspace import Workspace

    (lineage_ws / "ita.toml").write_text(lineage_toml(receiver.url, "desk-sweep"))
    (lineage_ws / "retention.yaml").write_text(SWEEP_POLICY)
    (lineage_ws / "chart.png").write_bytes(b"png")
    with Workspace.open(lineage_ws).start_run("train_flow") as run:
        record = run.save_file(lineage_ws / "chart.png", type="screenshot")
    _backdate(lineage_ws, "created_at", 120)
    r = cli("retention", "apply", "--json")
    assert r.code == 0 and json.loads(r.out)["affected_file_ids"] == [record.file_id], r.err
    _backdate(lineage_ws, "deleted_at", 8)
    r = cli("retention", "sweep", "--json")
    assert r.code == 0 and json.loads(r.out)["total_files_purged"] == 1, r.err
    (drop,) = [
        e
        for e in receiver.events
        if e["job"]["namespace"] == "desk-sweep" and e["eventType"] == "OTHER"
    ]
    validator.check(drop)
    (dataset,) = drop["outputs"]
    assert dataset["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "DROP"
    assert dataset["facets"]["version"]["datasetVersion"] == record.hash
    assert dataset["facets"]["datasetType"]["subType"] == "screenshot"

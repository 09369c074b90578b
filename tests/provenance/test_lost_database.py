"""Runs live on disk: a run id is claimed by creating its snapshot file, and the ``runs`` table
is rebuilt from the snapshot files after the database is lost (SQLite and Postgres)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from ita_rules.provenance import list_runs, show_run
from tests.conftest import REPO
from tests.provenance.conftest import STARTER, RunWs


def _folder(ws: RunWs) -> Path:
    return ws.store_root / "archive" / "provenance"


def _today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y_%m_%d")


def _drop_database(ws: RunWs) -> None:
    """Lose every table (the SQLite file, or every table of the Postgres schema)."""
    from ita_rules.db.engine import connect

    if ws.db_url.startswith("sqlite"):
        for path in (ws.root / ".ita").glob("ita.sqlite*"):
            path.unlink()
        return
    db = connect(ws.db_url, ws.root)
    with db.write() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        meta.drop_all(conn)
    db.dispose()


def test_an_id_whose_snapshot_file_exists_is_skipped(run_ws: RunWs) -> None:
    folder = _folder(run_ws)
    folder.mkdir(parents=True)
    day = _today()
    foreign = {
        folder / f"run_{day}_001_snapshot.json": b'{"from": "a database that was lost"}\n',
        folder / f"run_{day}_004_snapshot.json": b"not even JSON",
    }
    for path, data in foreign.items():
        path.write_bytes(data)
    ws = run_ws.open()
    with ws.start_run("train_flow") as run:
        pass
    assert run.run_id == f"run_{day}_005"
    for path, data in foreign.items():
        assert path.read_bytes() == data
    on_disk = json.loads((folder / f"{run.run_id}_snapshot.json").read_text())
    assert on_disk == show_run(ws, run.run_id)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".ita-tmp")]


def test_processes_with_separate_databases_never_share_a_run_id(
    run_ws: RunWs, tmp_path: Path
) -> None:
    """Two databases, one store root (e.g. a desk whose database was lost while a flow still
    ran): the exclusive snapshot file alone keeps the ids apart."""
    procs = []
    for n in range(2):
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "ITA_DATABASE_URL": f"sqlite:///{tmp_path / f'db{n}.sqlite'}",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", STARTER, str(run_ws.root), "15"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    ids: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids += out.split()
    assert len(ids) == 30 and len(set(ids)) == 30
    for run_id in ids:
        snapshot = json.loads((_folder(run_ws) / f"{run_id}_snapshot.json").read_text())
        assert (snapshot["run_id"], snapshot["status"]) == (run_id, "succeeded")


def test_the_runs_table_is_rebuilt_from_the_snapshot_files(run_ws: RunWs) -> None:
    from ita_rules.provenance import finish_run
    from ita_rules.provenance.runs import Run
    from ita_rules.recovery import rebuild_database

    ws = run_ws.open()
    with ws.start_run("backtest_flow", rule="IB_raid_v1@1.2") as first:
        first.save_result({"metrics": {"trades": 3}})
    try:
        with ws.start_run("train_flow"):
            raise RuntimeError("broker timeout")
    except RuntimeError:
        pass
    detached = Run(ws, "live_flow", rule="IB_raid_v1@1.2", heartbeat=0, lease=3600.0)
    running = detached.start().detach()["run_id"]
    before = list_runs(ws)
    shown = [show_run(ws, r["run_id"]) for r in before]
    assert [r["status"] for r in before] == ["running", "failed", "succeeded"]

    _drop_database(run_ws)
    rebuilt = rebuild_database(run_ws.open())
    assert (rebuilt.records, len(rebuilt.runs), rebuilt.unreadable) == (1, 3, ())
    ws = run_ws.open()
    assert list_runs(ws) == before
    assert [show_run(ws, r["run_id"]) for r in before] == shown
    assert rebuild_database(ws).runs == ()  # idempotent

    # the restored running run can still be finished by the process that started it
    finished = finish_run(ws, running, "succeeded")
    assert finished["status"] == "succeeded"
    on_disk = json.loads((_folder(run_ws) / f"{running}_snapshot.json").read_text())
    assert on_disk == finished

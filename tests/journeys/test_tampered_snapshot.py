"""Journey: a run's snapshot file, or its database row, is edited by hand after the run.

The snapshot file is the run's durable record (a lost database is rebuilt from it), so
``runs verify`` checks it: its bytes against the SHA-256 recorded when it was written, its
fields against the database copy, and, after a rebuild, against the hash kept in the store's
journal. Any edit is a difference (exit 1) naming the field and both values.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.journeys.conftest import Desk, candles_csv

FLOW = """\
from ita_rules import Workspace

ws = Workspace.open()
with ws.start_run("backtest_flow", rule="IB_raid_v1@1.2", symbol="GER40", timeframe="D1",
                  inputs=["data/GER40_D1.csv"], data_range=("2025-05-01", "2025-05-10")) as run:
    run.save_result({"metrics": {"win_rate": 0.61}})
print(run.run_id)
"""

SNAPSHOTS = "exchange/archive/provenance"
FORGED_PARAMS = "sha256:" + "a" * 64
FORGED_DATA = "sha256:" + "b" * 64


@pytest.fixture
def ran(desk: Desk) -> tuple[Desk, str]:
    """The desk after one backtest run through the Python API (it verifies as reproducible)."""
    desk.write("data/GER40_D1.csv", candles_csv())
    desk.write("flow.py", FLOW)
    desk.commit("candles and the flow")
    run_id = desk.sh("python", "flow.py", check=True).out.strip()
    assert desk.run("runs", "verify", run_id).out == f"{run_id}: reproducible\n"
    return desk, run_id


def _snapshot(desk: Desk, run_id: str) -> Path:
    return desk.root / SNAPSHOTS / f"{run_id}_snapshot.json"


def _forge(desk: Desk, run_id: str) -> dict[str, str]:
    """Edit params_hash, data_hash and rule_version in the file; return the true values."""
    path = _snapshot(desk, run_id)
    snap = json.loads(path.read_text(encoding="utf-8"))
    true = {k: snap[k] for k in ("data_hash", "params_hash", "rule_version")}
    snap.update(params_hash=FORGED_PARAMS, data_hash=FORGED_DATA, rule_version="v1.0")
    path.write_text(json.dumps(snap, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return true


def test_an_edited_snapshot_file_is_caught(ran: tuple[Desk, str]) -> None:
    desk, run_id = ran
    true = _forge(desk, run_id)
    verified = desk.run("runs", "verify", run_id)
    assert verified.code == 1, verified.out + verified.err
    assert verified.out == (
        f"{run_id}: snapshot: data_hash: snapshot file changed after the run: data_hash "
        f"{FORGED_DATA} in the file, {true['data_hash']} in the database\n"
        f"{run_id}: snapshot: params_hash: snapshot file changed after the run: params_hash "
        f"{FORGED_PARAMS} in the file, {true['params_hash']} in the database\n"
        f"{run_id}: snapshot: rule_version: snapshot file changed after the run: rule_version "
        f"v1.0 in the file, {true['rule_version']} in the database\n"
        f"{run_id}: not reproducible (3 difference(s))\n"
    )
    shown = desk.run("runs", "verify", run_id, "--json").json()
    assert shown["reproducible"] is False
    assert [d["what"] for d in shown["differences"]] == ["data_hash", "params_hash", "rule_version"]
    assert shown["differences"][1]["recorded"] == true["params_hash"]
    assert shown["differences"][1]["now"] == FORGED_PARAMS


def test_an_edited_database_row_is_caught(ran: tuple[Desk, str]) -> None:
    desk, run_id = ran
    path = _snapshot(desk, run_id)
    true = json.loads(path.read_text(encoding="utf-8"))["params_hash"]
    with sqlite3.connect(desk.root / ".ita" / "ita.sqlite") as conn:
        (text,) = conn.execute("SELECT snapshot FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        snap = json.loads(text)
        snap["params_hash"] = FORGED_PARAMS
        conn.execute(
            "UPDATE runs SET snapshot = ?, params_hash = ? WHERE run_id = ?",
            (json.dumps(snap), FORGED_PARAMS, run_id),
        )
    verified = desk.run("runs", "verify", run_id)
    assert verified.code == 1, verified.out + verified.err
    lines = verified.out.splitlines()
    assert (
        f"{run_id}: snapshot: params_hash: database copy changed after the run: params_hash "
        f"{FORGED_PARAMS} in the database, {true} in the snapshot file"
    ) in lines
    assert lines[-1].startswith(f"{run_id}: not reproducible (")


def test_a_missing_snapshot_file_is_a_difference(ran: tuple[Desk, str]) -> None:
    desk, run_id = ran
    _snapshot(desk, run_id).unlink()
    verified = desk.run("runs", "verify", run_id)
    assert (verified.code, verified.out) == (
        1,
        f"{run_id}: snapshot: file: {SNAPSHOTS}/{run_id}_snapshot.json is missing "
        "(`ita-rules store fsck --repair` writes it again from the database)\n"
        f"{run_id}: not reproducible (1 difference(s))\n",
    )
    assert desk.run("store", "fsck", "--repair").code in (0, 1)
    assert desk.run("runs", "verify", run_id).out == f"{run_id}: reproducible\n"


def test_a_file_edited_before_the_database_was_lost_is_still_caught(
    ran: tuple[Desk, str],
) -> None:
    desk, run_id = ran
    path = _snapshot(desk, run_id)
    _forge(desk, run_id)
    forged = path.read_bytes()
    for db_file in (desk.root / ".ita").glob("ita.sqlite*"):
        db_file.unlink()
    rebuilt = desk.run("store", "rebuild")
    assert rebuilt.code == 0, rebuilt.out + rebuilt.err
    assert path.read_bytes() == forged  # the rebuild never rewrites a run's file
    verified = desk.run("runs", "verify", run_id)
    assert verified.code == 1, verified.out + verified.err
    lines = verified.out.splitlines()
    first = lines[0]
    assert first.startswith(
        f"{run_id}: snapshot: sha256: snapshot file changed after the run: its hash sha256:"
    ), verified.out
    assert first.endswith(
        "is not the one the store's journal kept when the run last wrote it (the database "
        "was rebuilt from this file, so the changed fields cannot be named)"
    ), verified.out
    assert lines[-1].startswith(f"{run_id}: not reproducible (")

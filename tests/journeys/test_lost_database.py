"""Journey: the metadata database is lost (``rm .ita/ita.sqlite``) and rebuilt from the disk.

The files under the store root are the source of truth for every table: the store's records
and tags (its journal), the runs (their snapshot files under ``archive/provenance/``) and the
remote copies (the journal). After ``ita-rules index --rebuild`` or ``ita-rules store rebuild``
every command answers as it did before the loss, and a run id is never handed out twice.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.journeys.conftest import Desk, candles_csv
from tests.retention.conftest import POLICY  # README's example policy

FLOW = """\
import sys
from ita_rules import Workspace

ws = Workspace.open()
with ws.start_run("backtest_flow", rule="IB_raid_v1@1.2", symbol="GER40", timeframe="D1",
                  inputs=["data/GER40_D1.csv"], data_range=("2025-05-01", "2025-05-10")) as run:
    run.save_result({"metrics": {"win_rate": 0.61}})
    run.save_file("chart.png", type="screenshot")
print(run.run_id)
"""

SNAPSHOTS = "exchange/archive/provenance"


@pytest.fixture
def lab(desk: Desk, tmp_path: Path) -> Desk:
    """The desk with candles, a retention policy and a local folder as its rclone remote."""
    desk.write("data/GER40_D1.csv", candles_csv())
    desk.write("retention.yaml", POLICY)
    desk.write("flow.py", FLOW)
    desk.write("chart.png", b"\x89PNG a chart")
    desk.write("candles.csv", candles_csv(start_day=2))
    desk.commit("candles, policy, the flow and its chart")
    desk.env["ITA_REMOTE"] = str(tmp_path / "remote-folder")
    desk.env["RCLONE_CONFIG"] = str(tmp_path / "no-rclone.conf")
    return desk


def _lose_the_database(desk: Desk) -> None:
    """``rm .ita/ita.sqlite``; until a rebuild, ``runs list`` says what happened (never an
    empty list that looks like "no runs")."""
    for path in (desk.root / ".ita").glob("ita.sqlite*"):
        path.unlink()
    listed = desk.run("runs", "list", "--json")
    assert (listed.code, listed.out, listed.err) == (
        1,
        "",
        "ita-rules: the metadata database holds no runs, but exchange/archive/provenance has "
        f"{len(list((desk.root / SNAPSHOTS).glob('*_snapshot.json')))} snapshot file(s): the "
        "database was lost or replaced; run `ita-rules store rebuild` (or "
        "`ita-rules index --rebuild`) to restore them\n",
    )


def _answers(desk: Desk, run_ids: list[str]) -> dict[str, Any]:
    """What the desk sees: the --json of each command, exactly as printed."""
    out: dict[str, Any] = {
        "runs list": desk.run("runs", "list", "--json", check=True).out,
        "retention plan": desk.run(
            "retention", "plan", "--as-of", "2026-01-01", "--json", check=True
        ).out,
        "store find": desk.run("store", "find", "--status", "all", "--json", check=True).out,
        # every copy already verified: each with the time recorded when it was verified
        "remote push": desk.run("remote", "push", "--json", check=True).out,
    }
    for run_id in run_ids:
        out[f"runs verify {run_id}"] = desk.run("runs", "verify", run_id, "--json").out
        # runs show ends with the verify just made; its time is this call's, so it is compared
        # as "set" and the outcome and drifts by value
        shown = desk.run("runs", "show", run_id, "--json", check=True).json()
        shown["last_verification"]["verified_at"] = bool(shown["last_verification"]["verified_at"])
        out[f"runs show {run_id}"] = json.dumps(shown, indent=2)
    return out


def _remote_check(desk: Desk) -> tuple[int, dict[str, Any]]:
    """``remote check --json``; each copy's remote_verified_at is the time of this check (it is
    re-verified now), so that one field is compared as "set" rather than by value."""
    ran = desk.run("remote", "check", "--json")
    report = ran.json()
    for entry in report["files"]:
        entry["remote_verified_at"] = entry["remote_verified_at"] is not None
    return ran.code, report


def _runs_and_copies(desk: Desk) -> tuple[list[str], str]:
    """Two runs (a Python flow with outputs, a CLI run finished as failed), a tag added after
    the put, everything pushed to the remote. Returns the run ids and a tagged file id."""
    flow = desk.sh(sys.executable, "flow.py", check=True)
    first = flow.out.strip()
    second = desk.run(
        "runs", "start", "train_flow", "--symbol", "GER40", "--input", "data/GER40_D1.csv",
        check=True,
    ).out.strip()  # fmt: skip
    chart = desk.run("store", "find", "--type", "screenshot", "--json", check=True).json()[0]
    desk.run("store", "tag", chart["file_id"], "important", check=True)
    # a record stored without --run-id can be claimed as a run's output (the flow's chart
    # cannot: it is the first run's)
    candles = desk.run(
        "store", "put", "candles.csv", "--type", "candles", "--symbol", "GER40", "--json",
        check=True,
    ).json()[0]  # fmt: skip
    desk.run(
        "runs", "finish", second, "--status", "failed", "--error", "broker timeout",
        "--output", candles["file_id"], check=True,
    )  # fmt: skip
    assert desk.run("remote", "push").code == 0
    return [first, second], chart["file_id"]


def test_index_rebuild_restores_runs_tags_and_remote_copies(lab: Desk) -> None:
    run_ids, tagged = _runs_and_copies(lab)
    assert run_ids[0].endswith("_001") and run_ids[1].endswith("_002")
    remote_before = _remote_check(lab)
    before = _answers(lab, run_ids)
    assert remote_before[0] == 0 and remote_before[1]["counts"] == {"ok": 3}
    verified = json.loads(before["runs verify " + run_ids[0]])
    assert verified["reproducible"] is True, verified

    _lose_the_database(lab)
    rebuilt = lab.run("index", "--rebuild")
    assert rebuilt.code == 0, rebuilt.err
    assert rebuilt.out.splitlines()[1:] == [
        "store: 3 record(s), 2 run(s), 3 remote copy(ies) restored from the disk",
    ]

    assert _answers(lab, run_ids) == before
    assert _remote_check(lab) == remote_before
    chart = lab.run("store", "find", "--tag", "important", "--json", check=True).json()
    assert [r["file_id"] for r in chart] == [tagged]
    # nothing is left to restore: a second rebuild changes nothing
    again = lab.run("store", "rebuild", "--json")
    assert (again.code, again.json()) == (
        0,
        {
            "restored": 0,
            "records": 0,
            "runs": 0,
            "remote_copies": 0,
            "unreadable": [],
            "set_aside": None,
            "skipped": [],
            "verifications": 0,
        },
    )


def test_store_rebuild_restores_runs_and_their_outputs(lab: Desk) -> None:
    run_ids, _tagged = _runs_and_copies(lab)
    before = _answers(lab, run_ids)
    _lose_the_database(lab)
    rebuilt = lab.run("store", "rebuild")
    assert (rebuilt.code, rebuilt.out) == (
        0,
        "restored 3 record(s), 2 run(s), 3 remote copy(ies) from the disk\n",
    )
    assert _answers(lab, run_ids) == before
    outputs = json.loads(before[f"runs show {run_ids[0]}"])["outputs"]
    assert len(outputs) == 2
    for file_id in outputs:  # each output of the run resolves to its record again
        record = lab.run("store", "get", file_id, "-o", str(lab.root / "out.bin"), check=True)
        assert record.code == 0


def test_a_run_id_is_never_allocated_twice(lab: Desk) -> None:
    run_ids, _tagged = _runs_and_copies(lab)
    folder = lab.root / SNAPSHOTS
    first_snapshot = (folder / f"{run_ids[0]}_snapshot.json").read_bytes()
    second_snapshot = (folder / f"{run_ids[1]}_snapshot.json").read_bytes()

    # the database is lost and *not* rebuilt: the next run still gets a new id
    _lose_the_database(lab)
    shown = lab.run("runs", "show", run_ids[0])
    assert (shown.code, shown.err) == (
        1,
        f"ita-rules: the metadata database holds no run {run_ids[0]}, but its snapshot file "
        "exists: the database was lost or replaced; run `ita-rules store rebuild` (or "
        "`ita-rules index --rebuild`) to restore them\n",
    )
    third = lab.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", check=True)
    day = run_ids[0][: -len("001")]
    assert third.out == f"{day}003\n"
    assert (folder / f"{run_ids[0]}_snapshot.json").read_bytes() == first_snapshot
    assert (folder / f"{run_ids[1]}_snapshot.json").read_bytes() == second_snapshot

    # a rebuild now restores the two older runs beside the new one
    rebuilt = lab.run("store", "rebuild", "--json", check=True).json()
    assert rebuilt["runs"] == 2
    listed = lab.run("runs", "list", "--json", check=True).json()["runs"]
    assert [r["run_id"] for r in listed] == [f"{day}003", run_ids[1], run_ids[0]]
    assert [r["status"] for r in listed] == ["running", "failed", "succeeded"]


def test_fsck_accounts_for_snapshots_and_stored_diffs(lab: Desk) -> None:
    run_ids, _tagged = _runs_and_copies(lab)
    lab.write("flow.py", FLOW + "# a change not committed: the run stores its diff\n")
    lab.sh(sys.executable, "flow.py", check=True)
    fsck = lab.run("store", "fsck")
    assert (fsck.code, fsck.out) == (0, "")
    assert fsck.err.endswith(" record(s), 0 problem(s)\n"), fsck.err
    repaired = lab.run("store", "fsck", "--repair", "--json")
    assert (repaired.code, repaired.json()["problems"]) == (0, [])
    for run_id in run_ids:
        assert (lab.root / SNAPSHOTS / f"{run_id}_snapshot.json").is_file()
    assert not (lab.root / "exchange" / ".ita-store" / "lost+found").exists()

    # a snapshot file deleted by hand: fsck names it, --repair writes it again from the database
    snapshot = lab.root / SNAPSHOTS / f"{run_ids[1]}_snapshot.json"
    original = snapshot.read_bytes()
    snapshot.unlink()
    fsck = lab.run("store", "fsck")
    assert (fsck.code, fsck.out) == (
        1,
        f"archive/provenance/{run_ids[1]}_snapshot.json: run {run_ids[1]} is in the database "
        "but its snapshot file is missing\n",
    )
    assert lab.run("store", "fsck", "--repair").code == 0
    assert snapshot.read_bytes() == original
    assert lab.run("store", "fsck").code == 0


def test_fsck_repair_restores_the_runs_a_lost_database_forgot(lab: Desk) -> None:
    run_ids, _tagged = _runs_and_copies(lab)
    before = lab.run("runs", "list", "--json", check=True).out
    _lose_the_database(lab)
    fsck = lab.run("store", "fsck", "--json")
    assert fsck.code == 1
    runs = [p for p in fsck.json()["problems"] if p["kind"] == "run"]
    assert [(p["path"], p["message"]) for p in runs] == [
        (f"archive/provenance/{run_id}_snapshot.json",
         f"run {run_id} has a snapshot file but is not in the database")
        for run_id in sorted(run_ids)
    ]  # fmt: skip
    assert lab.run("store", "fsck", "--repair").code == 0
    assert lab.run("runs", "list", "--json", check=True).out == before
    assert lab.run("store", "fsck").code == 0
    assert not (lab.root / "exchange" / ".ita-store" / "lost+found").exists()


def test_an_unreadable_snapshot_is_named_and_its_id_stays_taken(lab: Desk) -> None:
    run_ids, _tagged = _runs_and_copies(lab)
    damaged = lab.root / SNAPSHOTS / f"{run_ids[1]}_snapshot.json"
    damaged.write_text('{"run_id": "')  # e.g. a disk that lost the end of the file
    _lose_the_database(lab)
    rebuilt = lab.run("store", "rebuild")
    assert (rebuilt.code, rebuilt.out, rebuilt.err) == (
        1,
        "restored 3 record(s), 1 run(s), 3 remote copy(ies) from the disk\n",
        f"archive/provenance/{run_ids[1]}_snapshot.json: "
        "not a run's snapshot file; its run was not restored\n",
    )
    third = lab.run("runs", "start", "train_flow", check=True).out.strip()
    assert third == run_ids[0][: -len("001")] + "003"
    assert damaged.read_text() == '{"run_id": "'
    fsck = lab.run("store", "fsck", "--repair")
    assert (fsck.code, fsck.out) == (
        1,
        f"archive/provenance/{run_ids[1]}_snapshot.json: "
        "not a run's snapshot file (left in place)\n",
    )
    assert damaged.read_text() == '{"run_id": "'

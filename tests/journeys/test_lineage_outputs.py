"""Journeys: a run's declared outputs are part of its lineage, and the admin purge refuses a
stale confirmation.

A desk finishes a backtest of an active rule version with ``runs finish --output FILE_ID``
naming a screenshot it stored on its own (no ``--run-id``): retention keeps that file through
plan, apply and sweep, as it keeps the run's inputs. An id that names no record is refused
when the run is finished (nothing recorded). ``retention purge --admin --confirm`` with an id
that is not the current plan's is an error naming the expected id, and nothing is purged.
"""

from __future__ import annotations

import json
from typing import Any

from tests.journeys.conftest import Desk

ACTIVE = "IB_raid_v1@1.2"
POLICY = """\
safety_window_days: 0
large_purge_gb: 10
types:
  screenshot: {retain_days: 1, strategy: delete}
  result: {strategy: keep_forever}
protect:
  tags: [important]
  active_rules: true
"""


def _setup(desk: Desk) -> None:
    desk.write("retention.yaml", POLICY)
    desk.commit("retention policy", "retention.yaml")


def _put(desk: Desk, path: str, type_: str) -> dict[str, Any]:
    r = desk.run("store", "put", path, "--type", type_, "--json")
    assert r.code == 0, r.err
    record: dict[str, Any] = r.json()[0]
    return record


def _start(desk: Desk) -> str:
    r = desk.run("runs", "start", "backtest_flow", "--rule", ACTIVE, "--symbol", "X")
    assert r.code == 0, r.err
    return r.out.strip()


def _status(desk: Desk, file_id: str) -> str:
    r = desk.run("store", "find", "--status", "all", "--json")
    assert r.code == 0, r.err
    return next(str(rec["status"]) for rec in r.json() if rec["file_id"] == file_id)


def test_a_declared_output_of_an_active_rule_run_is_kept_through_plan_apply_and_sweep(
    desk: Desk,
) -> None:
    _setup(desk)
    run_id = _start(desk)
    desk.write("shots/chart2.png", b"\x89PNG a chart the flow stored itself")
    shot = _put(desk, "shots/chart2.png", "screenshot")
    fid = shot["file_id"]
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", fid[:12])
    assert (r.code, r.out, r.err) == (0, f"{run_id} succeeded\n", "")
    shown = desk.run("runs", "show", run_id, "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["outputs"] == [fid]  # the prefix is recorded as the whole id

    reason = f"output of run {run_id} of active rule version {ACTIVE}"
    r = desk.run("retention", "plan", "--as-of", "2027-01-01", "--json")
    assert r.code == 0, r.err
    decision = next(d for d in r.json()["decisions"] if d["file_id"] == fid)
    assert (decision["action"], decision["reason"], decision["protected"]) == (
        "keep",
        reason,
        True,
    )
    r = desk.run("retention", "plan", "--as-of", "2027-01-01")
    assert r.out.splitlines()[0] == f"keep    {fid}  screenshot            35  {reason}"

    r = desk.run("retention", "apply", "--as-of", "2027-01-01")
    assert (r.code, r.out.splitlines()[0]) == (0, "apply: nothing to soft-delete")
    r = desk.run("retention", "sweep")
    assert r.code == 0, r.err
    assert _status(desk, fid) == "live"
    assert (desk.root / "exchange" / shot["path"]).is_file()


def test_a_soft_deleted_file_declared_as_an_output_later_is_not_swept(desk: Desk) -> None:
    """Declared after apply soft-deleted it: sweep checks the protections again."""
    _setup(desk)
    desk.write("shots/c.png", b"\x89PNG soft-deleted, then declared")
    shot = _put(desk, "shots/c.png", "screenshot")
    r = desk.run("retention", "apply", "--as-of", "2027-01-01")
    assert r.code == 0 and r.out.startswith("apply: 1 record(s) soft-deleted"), r.out + r.err
    run_id = _start(desk)
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", shot["file_id"])
    assert r.code == 0, r.err

    r = desk.run("retention", "sweep", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert (doc["total_files_purged"], doc["records_purged"]) == (0, 0)
    assert doc["kept"] == [
        {
            "file_id": shot["file_id"],
            "reason": f"now protected: output of run {run_id} of active rule version {ACTIVE}",
        }
    ]
    assert _status(desk, shot["file_id"]) == "deleted"
    assert (desk.root / "exchange" / shot["path"]).is_file()


def test_files_stored_with_run_id_are_the_runs_outputs_when_it_finishes(desk: Desk) -> None:
    """The README's flow for a desk not written in Python: ``store put --run-id RUN`` while the
    run is running, then ``runs finish``: ``runs show`` names what it stored, in order, with an
    output declared by id once (not twice), nothing of another run, and not the dirty tree's
    diff (stored for the run too, named by the snapshot's git_diff_file_id)."""
    desk.write("notes.txt", "plan\n")
    desk.commit("notes", "notes.txt")
    desk.write("notes.txt", "plan, edited: the tree is dirty\n")  # its diff is stored too
    run_id = _start(desk)
    other = _start(desk)
    diff_id = desk.run("runs", "show", run_id, "--json").json()["git_diff_file_id"]
    assert diff_id, "a dirty tree's diff is stored for the run"
    desk.write(
        "out/result.json",
        '{"setup_id": "IB_raid_v1", "rule_version": "1.2", "metrics": {"pf": 1.4}}',
    )
    desk.write("out/chart.png", b"\x89PNG the run's chart")
    desk.write("out/theirs.png", b"\x89PNG another run's chart")
    stored = []
    for path, type_, owner in (
        ("out/result.json", "result", run_id),
        ("out/chart.png", "screenshot", run_id),
        ("out/theirs.png", "screenshot", other),
    ):
        r = desk.run("store", "put", path, "--type", type_, "--run-id", owner, "--json")
        assert r.code == 0, r.err
        stored.append(r.json()[0]["file_id"])
    result, chart, theirs = stored
    # another run's chart states that run: claiming it is refused, and nothing is recorded
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", theirs[:12])
    assert (r.code, r.out) == (2, "")
    assert r.err == (
        f"ita-rules: --output: record {theirs} was stored by run {other}, not by {run_id}; "
        "a run's outputs are its own records or records stored without --run-id\n"
    )
    assert desk.run("runs", "show", run_id, "--json").json()["status"] == "running"
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", chart[:12])
    assert (r.code, r.err) == (0, "")
    shown = desk.run("runs", "show", run_id, "--json")
    assert shown.code == 0, shown.err
    assert shown.json()["outputs"] == [result, chart]
    snapshot = desk.root / "exchange" / "archive" / "provenance" / f"{run_id}_snapshot.json"
    assert json.loads(snapshot.read_text())["outputs"] == [result, chart]
    text = desk.run("runs", "show", run_id).out
    assert f"outputs:     {result}" in text, text
    r = desk.run("runs", "finish", other, "--status", "failed", "--error", "broker timeout")
    assert r.code == 0, r.err
    assert desk.run("runs", "show", other, "--json").json()["outputs"] == [theirs]


def test_runs_finish_refuses_an_output_id_that_names_no_record(desk: Desk) -> None:
    run_id = _start(desk)
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", "not-a-file-id")
    assert r.code == 2
    assert r.out == ""
    assert r.err == (
        "ita-rules: --output: no record 'not-a-file-id' in the store "
        "(give a file_id that `ita-rules store find` lists)\n"
    )
    whole = "0" * 8 + "-0000-4000-8000-" + "0" * 12  # a whole id: still checked
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", whole)
    assert r.code == 2 and f"no record '{whole}' in the store" in r.err
    shown = desk.run("runs", "show", run_id, "--json")
    assert shown.code == 0, shown.err
    assert (shown.json()["status"], shown.json()["outputs"]) == ("running", [])
    snapshot = desk.root / "exchange" / "archive" / "provenance" / f"{run_id}_snapshot.json"
    assert json.loads(snapshot.read_text())["status"] == "running"


def test_admin_purge_with_a_stale_confirmation_is_an_error_and_purges_nothing(
    desk: Desk,
) -> None:
    _setup(desk)
    desk.write("shots/old.png", b"\x89PNG old")
    shot = _put(desk, "shots/old.png", "screenshot")
    args = ("retention", "purge", "--admin", "--type", "screenshot", "--before", "2099-01-01")
    dry = desk.run(*args)
    assert dry.code == 0, dry.err
    expected = dry.err.rsplit("--confirm ", 1)[1].strip()
    assert expected.startswith("plan_")

    r = desk.run(*args, "--confirm", "plan_0000000000000000")
    assert r.code == 1
    assert r.out == ""
    assert r.err == (
        f"ita-rules: --confirm plan_0000000000000000 does not match the current plan {expected}: "
        "review the dry run (`ita-rules retention purge --admin --type screenshot "
        "--before 2099-01-01`) and confirm again\n"
    )
    assert _status(desk, shot["file_id"]) == "live"
    assert (desk.root / "exchange" / shot["path"]).is_file()
    assert not list(desk.root.glob("logs/purge_*"))

    r = desk.run(*args, "--confirm", expected)
    assert r.code == 0, r.err
    assert _status(desk, shot["file_id"]) == "purged"


def test_files_stored_for_a_run_take_its_symbol_and_timeframe(desk: Desk) -> None:
    """As ``save_file`` records them: the run's symbol and timeframe, unless given; a run id
    this desk does not know (an orchestrator's) leaves them empty (nothing to take them from)."""
    r = desk.run(
        "runs", "start", "backtest_flow", "--rule", ACTIVE, "--symbol", "GER40",
        "--timeframe", "M15",
    )  # fmt: skip
    assert r.code == 0, r.err
    run_id = r.out.strip()
    for name in ("a", "b", "c"):
        desk.write(f"shots/{name}.png", f"\x89PNG chart {name}".encode())
    shown = {}
    for name, extra in (
        ("a", ("--run-id", run_id)),
        ("b", ("--run-id", run_id, "--symbol", "DAX")),
        ("c", ("--run-id", "prefect-7f3a9c")),
    ):
        r = desk.run("store", "put", f"shots/{name}.png", "--type", "screenshot", *extra, "--json")
        assert r.code == 0, r.err
        record = r.json()[0]
        shown[name] = (record["symbol"], record["timeframe"], record["run_id"])
    assert shown == {
        "a": ("GER40", "M15", run_id),
        "b": ("DAX", "M15", run_id),
        "c": (None, None, "prefect-7f3a9c"),
    }

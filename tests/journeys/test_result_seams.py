"""Journey: a flow that is not written in Python stores its result with ``store put RESULT
--run-id RUN`` (README, "For flows that are not written in Python"). The result must be the
run's, as ``Run.save_result`` makes it: a result naming another rule version, another run, or
stored after the run ended is refused with its place, and nothing is stored. A database that
was lost makes ``store verify`` say so instead of "0 file(s) verified".
"""

from __future__ import annotations

import json

from tests.journeys.conftest import Desk, candles_csv, rewrite

RULE = "IB_raid_v1@1.2"
HASH_1_2 = "sha256:8ee214b277a7a6a539414cfa8467ccff8510428470aaea8d755167bcd162827d"


def _start(desk: Desk) -> str:
    r = desk.run(
        "runs", "start", "backtest_flow", "--rule", RULE, "--symbol", "GER40",
        "--timeframe", "D1", "--input", "data/GER40_D1.csv",
        "--from", "2025-05-01", "--to", "2025-05-10",
    )  # fmt: skip
    assert r.code == 0, r.err
    return r.out.strip()


def _put(desk: Desk, path: str, text: str, run_id: str) -> tuple[int, str, str]:
    desk.write(path, text)
    r = desk.run("store", "put", path, "--type", "result", "--symbol", "GER40", "--run-id", run_id)
    return r.code, r.out, r.err


def _at(text: str, value: str) -> str:
    """``1:COL`` of ``value`` (with its quotes) in a one-line JSON text."""
    return f"1:{text.index(json.dumps(value)) + 1}"


def _stored_for(desk: Desk, run_id: str) -> list[str]:
    r = desk.run("store", "find", "--run-id", run_id, "--json")
    assert r.code == 0, r.err
    return [rec["file_id"] for rec in r.json()]


def test_a_result_stored_for_a_run_is_that_runs(desk: Desk) -> None:
    desk.write("data/GER40_D1.csv", candles_csv())
    run_id = _start(desk)
    other = _start(desk)

    # the result of the previous version, stored for a run of 1.2: refused, nothing stored
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.1", "metrics": {"pf": 1.2}})
    assert _put(desk, "out/old.json", text, run_id) == (
        1,
        "",
        f"ita-rules: out/old.json:{_at(text, '1.1')}: rule_version: the result says '1.1' but "
        f"run {run_id} ran IB_raid_v1@v1.2; nothing was stored\n",
    )
    # a result that names another run
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2", "run_id": other})
    assert _put(desk, "out/other.json", text, run_id) == (
        1,
        "",
        f"ita-rules: out/other.json:{_at(text, other)}: run_id: the result says '{other}' but "
        f"it is stored with --run-id {run_id}; nothing was stored\n",
    )
    assert _stored_for(desk, run_id) == []

    # the run's own result ("v1.2" or "1.2", its params_hash): stored, and the run's output
    text = json.dumps(
        {"setup_id": "IB_raid_v1", "rule_version": "v1.2", "run_id": run_id,
         "params_hash": HASH_1_2, "metrics": {"pf": 1.4}}
    )  # fmt: skip
    code, out, err = _put(desk, "out/result.json", text, run_id)
    assert (code, err) == (0, ""), err
    file_id = out.split()[0]
    assert _stored_for(desk, run_id) == [file_id]
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    shown = desk.run("runs", "show", run_id, "--json", check=True).json()
    assert shown["outputs"] == [file_id]

    # after the run ended, a late result would change its metrics, not its outputs: refused
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2", "metrics": {"pf": 9.9}})
    assert _put(desk, "out/late.json", text, run_id) == (
        1,
        "",
        f"ita-rules: --run-id: run {run_id} is succeeded; a run's result is stored while it "
        "runs (before `ita-rules runs finish`): nothing was stored\n",
    )
    assert _stored_for(desk, run_id) == [file_id]
    metrics = desk.run("runs", "list", "--metrics", "--json", check=True).json()["runs"]
    assert [r["metrics"] for r in metrics if r["run_id"] == run_id] == [{"pf": 1.4}]

    # a --run-id this desk does not know is stored as before (retention keeps such records)
    code, _out, err = _put(desk, "out/late.json", text, "run_x")
    assert (code, err) == (0, "")


def test_store_verify_says_the_database_was_lost(desk: Desk) -> None:
    desk.write("data/GER40_D1.csv", candles_csv())
    put = desk.run("store", "put", "data/GER40_D1.csv", "--type", "candles", "--symbol", "GER40")
    assert put.code == 0, put.err
    assert desk.run("store", "verify", "--all").err == (
        "1 file(s) verified for 1 record(s), 0 corrupt, 0 missing\n"
    )
    (desk.root / ".ita" / "ita.sqlite").unlink()
    lost = desk.run("store", "verify", "--all")
    assert (lost.code, lost.out, lost.err) == (
        1,
        "",
        "ita-rules: the metadata database holds no records, but the store's journal "
        "(exchange/.ita-store/journal.jsonl) has 1: the database was lost or replaced; run "
        "`ita-rules store rebuild` (or `ita-rules index --rebuild`) to restore them\n",
    )
    assert desk.run("store", "rebuild").code == 0
    assert desk.run("store", "verify", "--all").code == 0


def test_a_run_id_not_given_yet_is_refused_not_inherited(desk: Desk) -> None:
    """A --run-id of the desk's own form that names no run (a typo, an id computed ahead):
    refused, any type, nothing stored. Stored, it would become the output of the run that
    ``runs start`` later gives that id to (another setup's metrics under its version)."""
    desk.write("data/GER40_D1.csv", candles_csv())
    first = _start(desk)
    day, _, seq = first.rpartition("_")
    ahead = f"{day}_{int(seq) + 1:03d}"
    text = json.dumps({"setup_id": "London_FVG_v1", "rule_version": "1.0", "metrics": {"pf": 9}})
    refused = (
        f"ita-rules: --run-id: this desk has no run {ahead} (ids of this form are given by "
        "`ita-rules runs start`, which would give this one to another run later): nothing was "
        "stored\n"
    )
    assert _put(desk, "out/other.json", text, ahead) == (1, "", refused)
    desk.write("shots/a.png", "png")
    shot = desk.run("store", "put", "shots/a.png", "--type", "screenshot", "--run-id", ahead)
    assert (shot.code, shot.out, shot.err) == (1, "", refused)
    assert desk.run("store", "find", "--json", check=True).json() == []

    later = _start(desk)  # the id is given now, and nothing was left waiting for it
    assert later == ahead
    assert desk.run("runs", "finish", later, "--status", "succeeded").code == 0
    assert desk.run("runs", "show", later, "--json", check=True).json()["outputs"] == []


def test_an_output_that_is_another_rules_result_is_refused(desk: Desk) -> None:
    """``runs finish --output FILE_ID`` of a result stored without ``--run-id``: a result of
    another setup (or version, or naming another run) would list its metrics under this run's
    version; refused as ``--run-id`` refuses it, nothing recorded. The run's own result is
    taken."""
    desk.write("data/GER40_D1.csv", candles_csv())
    run_id = _start(desk)
    other = json.dumps({"setup_id": "London_FVG_v1", "rule_version": "1.0", "metrics": {"pf": 9}})
    desk.write("out/london.json", other)
    stored = desk.run("store", "put", "out/london.json", "--type", "result", check=True)
    london = stored.out.split()[0]
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", london[:8])
    assert (r.code, r.out, r.err) == (
        2,
        "",
        f"ita-rules: --output: record {london} is a result whose setup_id is 'London_FVG_v1', "
        f"not run {run_id}'s 'IB_raid_v1'; a run's outputs are its own results\n",
    )
    shown = desk.run("runs", "show", run_id, "--json", check=True).json()
    assert (shown["status"], shown["outputs"]) == ("running", [])

    own = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "v1.2", "metrics": {"pf": 1.1}})
    desk.write("out/own.json", own)
    mine = desk.run("store", "put", "out/own.json", "--type", "result", check=True).out.split()[0]
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", mine)
    assert r.code == 0, r.err
    assert desk.run("runs", "show", run_id, "--json", check=True).json()["outputs"] == [mine]


def test_a_result_stored_without_run_id_is_still_checked_against_the_desk(desk: Desk) -> None:
    """``store put RESULT`` without ``--run-id``: a result of a released version whose file was
    changed (on disk, the hash rewritten to match) states another version's params_hash, and is
    refused with the release's diff; a result whose own run_id names a run of this desk must
    agree with that run, and one naming a run the desk does not have is refused. Nothing is
    stored on a refusal."""
    desk.write("data/GER40_D1.csv", candles_csv())
    run_id = _start(desk)  # IB_raid_v1@1.2
    v10 = "rules/IB_raid_v1/v1.0.yaml"
    original = desk.read(v10)
    rewrite(desk, v10, "max_trades_per_day: 1", "max_trades_per_day: 3")
    forged = desk.run("show", "IB_raid_v1@1.0", "--json", check=True).json()["params_hash"]
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.0", "params_hash": forged})
    desk.write("out/forged.json", text)
    r = desk.run("store", "put", "out/forged.json", "--type", "result")
    assert r.code == 1 and r.out == "", r.out
    assert r.err.startswith(
        f"ita-rules: {v10}:20:23: params.max_trades_per_day: IB_raid_v1@v1.0 is released (in "
        "HEAD) and this file differs from it: a result would claim v1.0 without being it;"
    ), r.err
    desk.write(v10, original)

    other = json.dumps({"setup_id": "London_FVG_v1", "rule_version": "1.0", "run_id": run_id})
    desk.write("out/claims.json", other)
    r = desk.run("store", "put", "out/claims.json", "--type", "result")
    assert (r.code, r.out, r.err) == (
        1,
        "",
        f"ita-rules: out/claims.json:{_at(other, 'London_FVG_v1')}: setup_id: the result says "
        f"'London_FVG_v1' but run {run_id} ran IB_raid_v1@v1.2; nothing was stored\n",
    )
    day, _, seq = run_id.rpartition("_")
    ahead = f"{day}_{int(seq) + 1:03d}"
    missing = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2", "run_id": ahead})
    desk.write("out/ahead.json", missing)
    r = desk.run("store", "put", "out/ahead.json", "--type", "result")
    assert (r.code, r.out, r.err) == (
        1,
        "",
        f"ita-rules: out/ahead.json: run_id: the result names run {ahead}, which this desk does "
        "not have: nothing was stored\n",
    )
    assert desk.run("store", "find", "--type", "result", "--json", check=True).json() == []

    own = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "v1.2", "run_id": run_id})
    desk.write("out/own.json", own)
    assert desk.run("store", "put", "out/own.json", "--type", "result").code == 0


def test_a_run_without_a_rule_version_has_no_backtest_result(desk: Desk) -> None:
    """A run started without ``--rule`` (a training, a screenshot job) used no rule version: a
    backtest result, which names one, is not its own. Refused with ``--run-id``, when the
    result's own run_id names it, and as its ``--output``; nothing is stored or recorded. Its
    model is stored as before."""
    desk.write("data/GER40_D1.csv", candles_csv())
    r = desk.run("runs", "start", "train_flow", "--symbol", "GER40", "--timeframe", "D1")
    assert r.code == 0, r.err
    run_id = r.out.strip()
    advice = (
        "start a backtest with `ita-rules runs start FLOW_TYPE --rule SETUP_ID@VERSION` "
        "(in Python: rule=...)"
    )
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2", "metrics": {"pf": 1.4}})
    assert _put(desk, "out/result.json", text, run_id) == (
        1,
        "",
        f"ita-rules: --run-id: run {run_id} used no rule version, so it has no backtest result; "
        f"{advice}: nothing was stored\n",
    )
    named = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2", "run_id": run_id})
    desk.write("out/named.json", named)
    r = desk.run("store", "put", "out/named.json", "--type", "result")
    assert (r.code, r.out, r.err) == (
        1,
        "",
        f"ita-rules: out/named.json:{_at(named, run_id)}: run_id: the result names run {run_id}, "
        f"which used no rule version, so it has no backtest result; {advice}; nothing was "
        "stored\n",
    )
    assert desk.run("store", "find", "--json", check=True).json() == []

    desk.write("out/loose.json", text)  # stored without a run: a result of no run is kept
    loose = desk.run("store", "put", "out/loose.json", "--type", "result", check=True)
    file_id = loose.out.split()[0]
    r = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", file_id)
    assert (r.code, r.out, r.err) == (
        2,
        "",
        f"ita-rules: --output: record {file_id} is a result, and run {run_id} used no rule "
        f"version: a run's outputs are its own results; {advice}\n",
    )
    shown = desk.run("runs", "show", run_id, "--json", check=True).json()
    assert (shown["status"], shown["outputs"]) == ("running", [])

    desk.write("out/model.bin", b"weights")
    model = desk.run("store", "put", "out/model.bin", "--type", "model", "--run-id", run_id)
    assert model.code == 0, model.err
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    shown = desk.run("runs", "show", run_id, "--json", check=True).json()
    assert shown["outputs"] == [model.out.split()[0]]

"""Journey: a flow written in Python stores a result through the Python API (``ws.store.put``,
``run.save_file(..., type="result")``) instead of ``run.save_result``. The result is checked
against the desk as ``store put`` checks it: a released version changed on disk, a run_id that
names no run of the desk, a result that is not the run's, a result of a run that used no rule
version are refused with the same one line, and nothing is stored.
"""

from __future__ import annotations

import json
import sys

from tests.journeys.conftest import Desk, Ran, candles_csv, rewrite

# what a desk's script does: ws.store.put(PATH, **OPTIONS), or inside a run of RULE (None: a
# run without a rule) run.save_file(PATH, **OPTIONS); the record's file_id, or the error
PUT = """
import json, sys
from ita_rules import ItaRulesError, Workspace

how = json.loads(sys.argv[1])
ws = Workspace.open()
try:
    if "flow" in how:
        with ws.start_run(how["flow"], rule=how.get("rule"), symbol="GER40") as run:
            record = run.save_file(how["path"], **how["options"])
    else:
        record = ws.store.put(how["path"], **how["options"])
except ItaRulesError as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
print(record.file_id)
"""


def _start(desk: Desk, *rule: str) -> str:
    r = desk.run(
        "runs", "start", "backtest_flow", *rule, "--symbol", "GER40",
        "--timeframe", "D1", "--input", "data/GER40_D1.csv",
        "--from", "2025-05-01", "--to", "2025-05-10",
    )  # fmt: skip
    assert r.code == 0, r.err
    return r.out.strip()


def _py(desk: Desk, path: str, **how: object) -> Ran:
    return desk.sh(sys.executable, "-c", PUT, json.dumps({"path": path, **how}))


def _at(text: str, value: str) -> str:
    """``1:COL`` of ``value`` (with its quotes) in a one-line JSON text."""
    return f"1:{text.index(json.dumps(value)) + 1}"


def _stored(desk: Desk) -> list[str]:
    return [r["path"] for r in desk.run("store", "find", "--json", check=True).json()]


def test_ws_store_put_of_a_result_is_checked_as_store_put_checks_it(desk: Desk) -> None:
    desk.write("data/GER40_D1.csv", candles_csv())
    run_id = _start(desk, "--rule", "IB_raid_v1@1.2")
    result = {"type": "result"}
    for_run = {"type": "result", "run_id": run_id}

    # another setup's result, stored for a run of IB_raid_v1@1.2
    other = json.dumps({"setup_id": "London_FVG_v1", "rule_version": "1.0", "metrics": {"pf": 9}})
    desk.write("out/london.json", other)
    refused = _py(desk, "out/london.json", options=for_run)
    assert (refused.code, refused.out, refused.err) == (
        1,
        "",
        f"ResultRejected: out/london.json:{_at(other, 'London_FVG_v1')}: setup_id: the result "
        f"says 'London_FVG_v1' but run {run_id} ran IB_raid_v1@v1.2; nothing was stored\n",
    )
    # a result whose own run_id names a run the desk does not have (one it will give later)
    day, _, seq = run_id.rpartition("_")
    ahead = f"{day}_{int(seq) + 1:03d}"
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2", "run_id": ahead})
    desk.write("out/ahead.json", text)
    refused = _py(desk, "out/ahead.json", options=result)
    assert (refused.code, refused.out, refused.err) == (
        1,
        "",
        f"NotFound: out/ahead.json: run_id: the result names run {ahead}, which this desk does "
        "not have: nothing was stored\n",
    )
    # any file stored with a run id of the desk's form that names no run
    desk.write("shots/a.png", "png")
    refused = _py(desk, "shots/a.png", options={"type": "screenshot", "run_id": ahead})
    assert (refused.code, refused.out, refused.err) == (
        1,
        "",
        f"NotFound: --run-id: this desk has no run {ahead} (ids of this form are given by "
        "`ita-rules runs start`, which would give this one to another run later): nothing was "
        "stored\n",
    )
    # a released version changed on disk, its params_hash rewritten to match
    v10 = "rules/IB_raid_v1/v1.0.yaml"
    original = desk.read(v10)
    rewrite(desk, v10, "max_trades_per_day: 1", "max_trades_per_day: 3")
    forged = desk.run("show", "IB_raid_v1@1.0", "--json", check=True).json()["params_hash"]
    text = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.0", "params_hash": forged})
    desk.write("out/forged.json", text)
    refused = _py(desk, "out/forged.json", options=result)
    assert refused.code == 1 and refused.out == "", refused.out
    assert refused.err.startswith(
        f"ReleasedRuleModified: {v10}:20:23: params.max_trades_per_day: IB_raid_v1@v1.0 is "
        "released (in HEAD) and this file differs from it: a result would claim v1.0 without "
        "being it;"
    ), refused.err
    desk.write(v10, original)
    assert _stored(desk) == []

    # the run's own result is stored, with the run's symbol and timeframe
    own = json.dumps({"setup_id": "IB_raid_v1", "rule_version": "v1.2", "run_id": run_id})
    desk.write("out/own.json", own)
    stored = _py(desk, "out/own.json", options=for_run)
    assert (stored.code, stored.err) == (0, "")
    record = desk.run("store", "find", "--json", check=True).json()
    assert [(r["file_id"], r["symbol"], r["timeframe"]) for r in record] == [
        (stored.out.strip(), "GER40", "D1")
    ]


def test_run_save_file_of_a_result_is_checked_against_the_run(desk: Desk) -> None:
    """``run.save_file(PATH, type="result")`` in a run of IB_raid_v1@1.2: another setup's
    result is refused as ``store put --run-id`` refuses it; in a run that used no rule version,
    any result is refused; a model of that run is stored."""
    other = json.dumps({"setup_id": "London_FVG_v1", "rule_version": "1.0", "metrics": {"pf": 9}})
    desk.write("out/london.json", other)
    refused = _py(desk, "out/london.json", flow="backtest_flow", rule="IB_raid_v1@1.2",
                  options={"type": "result"})  # fmt: skip
    run_id = desk.run("runs", "list", "--json", check=True).json()["runs"][0]["run_id"]
    assert (refused.code, refused.out, refused.err) == (
        1,
        "",
        f"ResultRejected: out/london.json:{_at(other, 'London_FVG_v1')}: setup_id: the result "
        f"says 'London_FVG_v1' but run {run_id} ran IB_raid_v1@v1.2; nothing was stored\n",
    )
    refused = _py(desk, "out/london.json", flow="train_flow", options={"type": "result"})
    rule_less = desk.run("runs", "list", "--json", check=True).json()["runs"][0]["run_id"]
    assert (refused.code, refused.out, refused.err) == (
        1,
        "",
        f"RunStateError: --run-id: run {rule_less} used no rule version, so it has no backtest "
        "result; start a backtest with `ita-rules runs start FLOW_TYPE --rule SETUP_ID@VERSION` "
        "(in Python: rule=...): nothing was stored\n",
    )
    assert _stored(desk) == []
    desk.write("out/model.bin", b"weights")
    model = _py(desk, "out/model.bin", flow="train_flow", options={"type": "model"})
    assert (model.code, model.err) == (0, "")
    assert len(_stored(desk)) == 1

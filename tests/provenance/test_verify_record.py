"""Every `runs verify` is kept (run, time, outcome, differences): `runs show` and the report
show the last one, and `store rebuild` brings them back from the store's journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ita_rules.provenance.verifications import last_verification, last_verifications
from tests.conftest import snapshot
from tests.provenance.conftest import RunWs

RANGE = ("2025-05-01", "2025-05-31")


def _run(ws: Any) -> str:
    with ws.start_run(
        "backtest_flow",
        rule="IB_raid_v1@1.2",
        symbol="GER40",
        timeframe="M15",
        inputs=["data/GER40_M15.csv"],
        data_range=RANGE,
    ) as run:
        run.save_result({"metrics": {"win_rate": 0.61, "trades": 12}})
    return str(run.run_id)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_verify_is_kept_and_the_last_one_is_shown(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    run_id = _run(ws)
    assert last_verification(ws, run_id) is None
    r = cli("runs", "show", run_id)
    assert r.code == 0 and "  verified:    never (ita-rules runs verify " + run_id + ")\n" in r.out
    assert json.loads(cli("runs", "show", run_id, "--json").out)["last_verification"] is None

    assert cli("runs", "verify", run_id).out == f"{run_id}: reproducible\n"
    first = last_verification(ws, run_id)
    assert first is not None
    assert (first["outcome"], first["differences"], first["notes"]) == ("reproducible", [], [])

    # the candles inside the range change: the next verify drifts, and it is the last one
    text = run_ws.candles.read_text().replace("2025-05-02 00:00:00,", "2025-05-02 00:00:00,1", 1)
    run_ws.candles.write_text(text)
    r = cli("runs", "verify", run_id)
    assert r.code == 1
    last = last_verification(ws, run_id)
    assert last is not None and last["outcome"] == "drifted"
    assert last["verified_at"] > first["verified_at"]
    assert [d["what"] for d in last["differences"]] == [
        "inputs[data/GER40_M15.csv].range_hash",
        "data_hash",
    ]
    assert last_verifications(ws) == {run_id: last}
    shown = cli("runs", "show", run_id)
    assert f"  verified:    {last['verified_at']} drifted (2 difference(s))\n" in shown.out
    assert json.loads(cli("runs", "show", run_id, "--json").out)["last_verification"] == last

    # both verifies are in the store's journal, written before the rows
    journal = run_ws.store_root / ".ita-store" / "journal.jsonl"
    kept = [e["row"] for e in _lines(journal) if e["op"] == "run_verify"]
    assert [(k["run_id"], k["outcome"]) for k in kept] == [
        (run_id, "reproducible"),
        (run_id, "drifted"),
    ]


def test_an_input_that_cannot_be_read_makes_the_run_unverifiable(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    run_id = _run(ws)
    run_ws.candles.unlink()
    r = cli("runs", "verify", run_id, "--json")
    assert r.code == 1
    last = last_verification(ws, run_id)
    assert last is not None and last["outcome"] == "unverifiable"
    printed = json.loads(r.out)
    assert (printed["outcome"], printed["differences"]) == ("unverifiable", last["differences"])


def test_a_verify_of_an_unknown_or_malformed_run_keeps_nothing(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    _run(ws)
    before = snapshot(run_ws.root)
    r = cli("runs", "verify", "run_2020_01_01_001")
    assert (r.code, r.out, r.err) == (1, "", "ita-rules: no run run_2020_01_01_001\n")
    r = cli("runs", "verify", "nope")
    assert (r.code, r.out) == (2, "")
    assert r.err == "ita-rules: not a run id: 'nope' (expected run_YYYY_MM_DD_NNN)\n"
    assert last_verifications(ws) == {}
    after = snapshot(run_ws.root)
    assert {k: v for k, v in after.items() if not k.startswith(".ita/")} == {
        k: v for k, v in before.items() if not k.startswith(".ita/")
    }


def test_store_rebuild_brings_the_verifies_back(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    run_id = _run(ws)
    assert cli("runs", "verify", run_id).code == 0
    kept = last_verifications(ws)
    _lose_the_verifies(ws)
    assert last_verifications(ws) == {}

    r = cli("store", "rebuild", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["verifications"] == 1
    assert last_verifications(ws) == kept
    again = cli("store", "rebuild", "--json")  # nothing left to restore
    assert json.loads(again.out)["verifications"] == 0


def _lose_the_verifies(ws: Any) -> None:
    from ita_rules.provenance.rundb import database
    from ita_rules.provenance.verifications import verifications

    with database(ws.settings).write() as conn:
        conn.execute(sa.delete(verifications))

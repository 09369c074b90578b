"""Journey: a desk compares its runs. Two backtests of IB_raid_v1 (versions 1.2 and 1.1, a
commit apart) store their results; the trader verifies one, compares the two, lists the runs of
1.2 with their metrics, loses the database and rebuilds it: the last verify is still shown.
Every command is a real ``ita-rules`` process in a workspace made by ``ita-rules init``."""

from __future__ import annotations

import json
from typing import Any

from tests.journeys.conftest import Desk, candles_csv
from tests.retention.conftest import POLICY  # README's example policy


def _backtest(desk: Desk, version: str, win_rate: float) -> str:
    r = desk.run(
        "runs", "start", "backtest_flow", "--rule", f"IB_raid_v1@{version}", "--symbol", "GER40",
        "--timeframe", "D1", "--input", "data/GER40_D1.csv", "--from", "2025-05-01",
        "--to", "2025-05-20",
    )  # fmt: skip
    assert r.code == 0, r.err
    run_id = r.out.strip()
    result = {
        "setup_id": "IB_raid_v1",
        "rule_version": version,
        "run_id": run_id,
        "metrics": {"win_rate": win_rate, "trades": 20},
    }
    desk.write(f"out/{run_id}.json", json.dumps(result))
    put = desk.run("store", "put", f"out/{run_id}.json", "--type", "result", "--run-id", run_id)
    assert put.code == 0, put.err
    file_id = put.out.split()[0]
    done = desk.run("runs", "finish", run_id, "--status", "succeeded", "--output", file_id)
    assert done.code == 0, done.err
    return run_id


def _show(desk: Desk, run_id: str) -> tuple[str, Any]:
    text = desk.run("runs", "show", run_id, check=True).out
    return text, desk.run("runs", "show", run_id, "--json", check=True).json()


def test_verify_compare_list_by_version_and_keep_the_verify_through_a_rebuild(
    desk: Desk,
) -> None:
    desk.write("data/GER40_D1.csv", candles_csv())
    desk.write(".gitignore", desk.read(".gitignore") + "/out/\n")
    desk.commit("candles")
    old = _backtest(desk, "1.2", 0.61)

    _text, shown = _show(desk, old)
    assert shown["last_verification"] is None
    verified = desk.run("runs", "verify", old)
    assert (verified.code, verified.out) == (0, f"{old}: reproducible\n")
    text, shown = _show(desk, old)
    last = shown["last_verification"]
    assert (last["outcome"], last["differences"]) == ("reproducible", [])
    assert f"  verified:    {last['verified_at']} reproducible\n" in text

    desk.write("notes.md", "why 1.1 again\n")
    desk.commit("notes")
    new = _backtest(desk, "1.1", 0.55)
    compared = desk.run("runs", "compare", old, new, "--json")
    assert compared.code == 0, compared.err
    drift = compared.json()["drift"]
    assert compared.json()["same"] is False
    assert [d["field"] for d in drift["params"]] == [
        "rule_version",
        "params_hash",
        "rule_path",
        "rule_blob",
    ]
    assert [d["field"] for d in drift["code"]] == ["git_commit"]
    assert (drift["data"], drift["environment"]) == ([], [])
    printed = desk.run("runs", "compare", old, new)
    assert printed.code == 0 and printed.out.splitlines()[:3] == [
        f"{old} vs {new}: drift",
        "params:",
        "  rule_version  v1.2 -> v1.1",
    ]
    same = desk.run("runs", "compare", old, old)
    assert (same.code, same.out) == (0, f"{old} vs {old}: no drift\n")

    listed = desk.run("runs", "list", "--version", "IB_raid_v1@1.2", "--metrics", "--json")
    assert listed.code == 0, listed.err
    assert [(r["run_id"], r["metrics"]) for r in listed.json()["runs"]] == [
        (old, {"win_rate": 0.61, "trades": 20})
    ]
    assert listed.json()["metric_names"] == ["trades", "win_rate"]

    # the database is lost: the runs come back from their snapshots, the verify from the journal
    (desk.root / ".ita" / "ita.sqlite").unlink()
    for leftover in (desk.root / ".ita").glob("ita.sqlite-*"):
        leftover.unlink()
    rebuilt = desk.run("store", "rebuild", "--json")
    assert rebuilt.code == 0, rebuilt.err
    assert (rebuilt.json()["runs"], rebuilt.json()["verifications"]) == (2, 1)
    assert _show(desk, old)[1]["last_verification"] == last
    assert _show(desk, new)[1]["last_verification"] is None

    # retention: without a policy, status says so (as plan does); with one, nothing is
    # soft-deleted yet
    status = desk.run("retention", "status")
    assert (status.code, status.out, status.err) == (
        1,
        "",
        "ita-rules: retention.yaml: no retention policy; write one (see `ita-rules retention "
        "--help`)\n",
    )
    desk.write("retention.yaml", POLICY)
    desk.commit("retention policy", "retention.yaml")
    status = desk.run("retention", "status")
    assert (status.code, status.out) == (
        0,
        "nothing is soft-deleted: `ita-rules retention plan` shows what apply would soft-delete\n",
    )

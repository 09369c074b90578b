"""The metrics of runs' results, and `runs list --version SETUP@VERSION --metrics`: only the
runs of that rule version, one column per metric name (sorted), "-" where a run has none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ita_rules.provenance.metrics import metrics_by_run, result_metrics
from tests.conftest import snapshot
from tests.provenance.conftest import RunWs


def _run(ws: Any, version: str, *results: dict[str, Any]) -> str:
    with ws.start_run("backtest_flow", rule=f"IB_raid_v1@{version}", symbol="GER40") as run:
        for result in results:
            run.save_result(result)
    return str(run.run_id)


def test_a_results_metrics_object_else_its_top_level_numbers() -> None:
    assert result_metrics(
        {"setup_id": "X", "metrics": {"win_rate": 0.6, "note": "ok", "curve": [1, 2], "n": 3}}
    ) == {"win_rate": 0.6, "note": "ok", "n": 3}
    assert result_metrics(
        {"setup_id": "X", "rule_version": "v1.2", "# Trades": 3, "Return [%]": 1.5, "ok": True}
    ) == {"# Trades": 3, "Return [%]": 1.5}


def test_metrics_by_run_reads_every_result_a_run_stored(run_ws: RunWs) -> None:
    ws = run_ws.open()
    one = _run(ws, "1.2", {"metrics": {"win_rate": 0.61, "trades": 12}}, {"metrics": {"dd": 0.1}})
    none = _run(ws, "1.2")
    top = _run(ws, "1.1", {"# Trades": 3, "Return [%]": 1.5})
    assert metrics_by_run(ws, [one, none, top]) == {
        one: {"win_rate": 0.61, "trades": 12, "dd": 0.1},
        none: {},
        top: {"# Trades": 3, "Return [%]": 1.5},
    }
    assert metrics_by_run(ws) == {
        one: {"win_rate": 0.61, "trades": 12, "dd": 0.1},
        top: {"# Trades": 3, "Return [%]": 1.5},
    }


def test_runs_list_of_one_version_with_metrics(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    first = _run(ws, "1.2", {"metrics": {"win_rate": 0.61, "trades": 12}})
    _run(ws, "1.1", {"metrics": {"win_rate": 0.4}})
    bare = _run(ws, "1.2")
    third = _run(ws, "1.2", {"metrics": {"profit_factor": 1.912345678}})

    r = cli("runs", "list", "--version", "IB_raid_v1@1.2", "--metrics", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["metric_names"] == ["profit_factor", "trades", "win_rate"]
    assert [(x["run_id"], x["metrics"]) for x in doc["runs"]] == [
        (third, {"profit_factor": 1.912345678}),
        (bare, {}),
        (first, {"win_rate": 0.61, "trades": 12}),
    ]
    r = cli("runs", "list", "--version", "IB_raid_v1@v1.2", "--metrics")
    assert r.code == 0, r.err
    header, *rows = r.out.splitlines()
    assert header.split() == [
        "RUN_ID", "FLOW", "STATUS", "RULE", "SYMBOL", "TF", "COMMIT", "STARTED",
        "profit_factor", "trades", "win_rate",
    ]  # fmt: skip
    assert [row.split()[0] for row in rows] == [third, bare, first]
    assert [row.split()[-3:] for row in rows] == [
        ["1.91235", "-", "-"],
        ["-", "-", "-"],
        ["-", "12", "0.61"],
    ]
    # without --metrics: the same runs, the same columns as runs list
    plain = cli("runs", "list", "--version", "IB_raid_v1@1.2")
    assert plain.out.splitlines()[0].split()[-1] == "STARTED"
    assert "metric_names" not in json.loads(
        cli("runs", "list", "--version", "IB_raid_v1@1.2", "--json").out
    )
    none = cli("runs", "list", "--version", "IB_raid_v1@9.9", "--json")
    assert (none.code, json.loads(none.out)) == (0, {"runs": []})


def test_a_bad_version_is_one_line_exit_2_and_writes_nothing(
    run_ws: RunWs, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(run_ws.open(), "1.2", {"metrics": {"win_rate": 0.61}})
    before = _files(run_ws.root)
    for given, message in [
        ("IB_raid_v1", "--version: name the version: IB_raid_v1@VERSION (e.g. IB_raid_v1@1.2)"),
        ("IB_raid_v1@1.x", "--version: not a version: '1.x' (expected MAJOR.MINOR such as 1.2)"),
        (
            "../x@1.2",
            "--version: not a setup id: '../x' (a letter, then up to 63 letters, digits, "
            "'_' or '-')",
        ),
    ]:
        r = cli("runs", "list", "--version", given, "--metrics")
        assert (r.code, r.out, r.err) == (2, "", f"ita-rules: {message}\n"), given
    r = cli("runs", "list", "--version", "IB_raid_v1@1.2", "--setup", "IB_raid_v1")
    assert (r.code, r.err) == (
        2,
        "ita-rules: --version names the setup: give --version or --setup, not both\n",
    )
    assert _files(run_ws.root) == before
    monkeypatch.chdir(tmp_path)
    r = cli("runs", "list", "--version", "IB_raid_v1@1.2", "--metrics")
    assert (r.code, r.out) == (2, "")
    assert r.err.startswith(f"ita-rules: no ita-rules workspace at {tmp_path} or above")


def _files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if not k.endswith(("-shm", "-wal"))}

"""The Python API end to end: a backtest over synthetic candles with a registry rule, its
stamped result, its snapshot, and `runs verify` before and after each kind of change."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ita_rules.core.errors import ItaRulesError, RuleError, UsageError
from ita_rules.provenance import list_runs, show_run, verify_run
from ita_rules.provenance.runs import DirtyTree
from tests.conftest import REPO, git
from tests.provenance.conftest import RunWs, candle_lines

RANGE = ("2025-05-01", "2025-06-30")
CSV = "data/GER40_M15.csv"


def backtest(path: Path, params: dict[str, Any], start: str, end: str) -> dict[str, Any]:
    """A toy strategy: go long when a candle closes above its open by more than a threshold."""
    threshold = float(params.get("min_range_points", 0) or 0) / 1000
    trades = []
    with path.open() as fh:
        for row in csv.DictReader(fh):
            if not (start <= row["time"][:10] <= end):
                continue
            move = float(row["close"]) - float(row["open"])
            if move > threshold:
                trades.append({"time": row["time"], "pnl": round(move, 2)})
    wins = sum(1 for t in trades if t["pnl"] > 0)
    return {
        "metrics": {"trades": len(trades), "win_rate": wins / len(trades) if trades else None},
        "trades": trades[:5],
        "data_range": list(RANGE),
    }


def run_backtest(ws: Any, **options: Any) -> tuple[Any, Any]:
    rule = ws.registry.get("IB_raid_v1", "1.2")
    with ws.start_run(
        "backtest_flow",
        rule=rule,
        symbol="GER40",
        timeframe="M15",
        inputs=[CSV],
        data_range=RANGE,
        **options,
    ) as run:
        record = run.save_result(backtest(ws.root / CSV, rule.params, *RANGE))
    return run, record


def whats(ws: Any, run_id: str) -> set[str]:
    return {d.what for d in verify_run(ws, run_id).differences}


def schema_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((REPO / "schemas" / "provenance.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def test_backtest_end_to_end(
    run_ws: RunWs, cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # a distribution we can "upgrade" later: importlib.metadata sees it like any other
    site = tmp_path / "site"
    (site / "itafake-1.0.dist-info").mkdir(parents=True)
    (site / "itafake-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: itafake\nVersion: 1.0\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()

    ws = run_ws.open()
    run, record = run_backtest(ws)
    run_id = run.run_id

    # the stored result carries the stamps and resolves to the registry
    stored = json.loads((run_ws.store_root / record.path).read_bytes())
    rule = ws.registry.get("IB_raid_v1", "1.2")
    assert {k: stored[k] for k in ("run_id", "setup_id", "rule_version", "params_hash")} == {
        "run_id": run_id,
        "setup_id": "IB_raid_v1",
        "rule_version": "v1.2",
        "params_hash": rule.params_hash,
    }
    assert record.type == "result" and record.run_id == run_id
    assert stored["metrics"]["trades"] > 0

    # the snapshot: file and database agree, valid against the schema, every field filled
    snap = show_run(ws, run_id)
    on_disk = json.loads(
        (run_ws.store_root / "archive" / "provenance" / f"{run_id}_snapshot.json").read_text()
    )
    assert on_disk == snap
    schema_validator().validate(snap)
    assert snap["status"] == "succeeded" and snap["finished_at"] and snap["error"] is None
    assert snap["git_commit"] == git(run_ws.root, "rev-parse", "HEAD")
    assert snap["git_dirty"] is False and snap["git_branch"] == "main"
    assert snap["rule_blob"] == git(run_ws.root, "rev-parse", "HEAD:rules/IB_raid_v1/v1.2.yaml")
    assert snap["env"]["packages"]["itafake"] == "1.0"
    assert snap["env"]["packages"]["pytest"] == importlib.metadata.version("pytest")
    assert snap["outputs"] == [record.file_id]
    (entry,) = snap["inputs"]
    assert entry["path"] == CSV and entry["rows"] == 61 * 96
    assert (entry["first"], entry["last"]) == ("2025-05-01T00:00:00Z", "2025-06-30T23:45:00Z")
    assert entry["hash"] == "sha256:" + hashlib.sha256((run_ws.root / CSV).read_bytes()).hexdigest()

    r = cli("runs", "verify", run_id)
    assert (r.code, r.out) == (0, f"{run_id}: reproducible\n")

    original = (run_ws.root / CSV).read_text()
    lines = original.splitlines(keepends=True)

    # (b) candles appended after the range: nothing to report
    with (run_ws.root / CSV).open("a") as fh:
        fh.writelines(candle_lines(dt.datetime(2025, 8, 6), 200, dt.timedelta(minutes=15), seed=3))
    assert whats(ws, run_id) == set()
    assert cli("runs", "verify", run_id).code == 0

    # (a) one candle inside the range corrected
    i = next(n for n, line in enumerate(lines) if line.startswith("2025-06-02 10:15"))
    cells = lines[i].split(",")
    cells[2] = f"{float(cells[2]) + 1:.2f}"
    (run_ws.root / CSV).write_text("".join([*lines[:i], ",".join(cells), *lines[i + 1 :]]))
    assert whats(ws, run_id) == {f"inputs[{CSV}].range_hash", "data_hash"}
    r = cli("runs", "verify", run_id)
    assert r.code == 1 and "candles inside the range differ" in r.out
    assert r.out.strip().endswith("not reproducible (2 difference(s))")
    (run_ws.root / CSV).write_text(original)
    assert whats(ws, run_id) == set()

    # (c) a package version changed
    (site / "itafake-1.0.dist-info").rename(site / "itafake-2.0.dist-info")
    (site / "itafake-2.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: itafake\nVersion: 2.0\n"
    )
    importlib.invalidate_caches()
    result = verify_run(ws, run_id)
    assert [(d.what, d.message) for d in result.differences] == [
        ("packages.itafake", "itafake 1.0 -> 2.0")
    ]
    r = cli("runs", "verify", run_id, "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and doc["reproducible"] is False
    assert doc["differences"][0]["recorded"] == "1.0" and doc["differences"][0]["now"] == "2.0"

    # (d) a dirty tree: strict refuses; otherwise the run records it and verify reports it
    (run_ws.root / "flows").mkdir()
    (run_ws.root / "flows" / "bt.py").write_text("print('new strategy code')\n")
    (run_ws.root / ".gitignore").write_text(".ita/\n/exchange/\n*.tmp\n")
    before = list_runs(ws)
    with pytest.raises(DirtyTree, match=r"\.gitignore, flows/bt\.py"):
        run_backtest(ws, strict=True)
    assert list_runs(ws) == before  # nothing allocated, nothing written
    dirty_run, _ = run_backtest(ws)
    snap = show_run(ws, dirty_run.run_id)
    assert snap["git_dirty"] is True and snap["git_changed"] == [".gitignore"]
    assert list(snap["git_untracked"]) == ["flows/bt.py"]
    diff_record = ws_store_get(ws, snap["git_diff_file_id"])
    diff_bytes = (run_ws.store_root / diff_record.path).read_bytes()
    assert "sha256:" + hashlib.sha256(diff_bytes).hexdigest() == snap["git_diff_hash"]
    assert b"+*.tmp" in diff_bytes
    assert whats(ws, dirty_run.run_id) == {"git_dirty"}  # itafake is 2.0 at both
    assert whats(ws, run_id) == {"packages.itafake"}  # the clean run is unaffected


def ws_store_get(ws: Any, file_id: str) -> Any:
    from ita_rules.store import open_store

    store = open_store(ws)
    try:
        return store.get(file_id)
    finally:
        store.db.dispose()


def test_a_failing_flow_is_recorded_failed(run_ws: RunWs) -> None:
    ws = run_ws.open()
    with pytest.raises(ValueError, match="broker timeout"), ws.start_run("train_flow") as run:
        raise ValueError("broker timeout")
    snap = show_run(ws, run.run_id)
    assert snap["status"] == "failed" and snap["error"] == "ValueError: broker timeout"
    assert snap["rule_id"] is None and snap["inputs"] == []
    schema_validator().validate(snap)


def test_live_flow_refuses_an_inactive_rule_version(run_ws: RunWs) -> None:
    ws = run_ws.open()
    old = ws.registry.get("Frank_raid_v1", "1.0")
    assert old.active is False
    with pytest.raises(RuleError, match="live flow may only use an active rule version"):
        ws.start_run("live_flow", rule=old).start()
    assert list_runs(ws) == []
    with ws.start_run("backtest_flow", rule=old) as run:  # backtests of old versions are fine
        pass
    assert show_run(ws, run.run_id)["rule_active"] is False
    with ws.start_run("live_flow", rule="Frank_raid_v1") as live:  # latest active
        pass
    assert show_run(ws, live.run_id)["rule_version"] == "v2.0"


def test_refusals_leave_nothing_behind(run_ws: RunWs) -> None:
    ws = run_ws.open()
    with pytest.raises(UsageError, match="flow type 'nightly' is not configured"):
        ws.start_run("nightly").start()
    with pytest.raises(ItaRulesError, match="input not found"):
        ws.start_run("backtest_flow", inputs=["data/missing.csv"], data_range=RANGE).start()
    with pytest.raises(UsageError, match="symbol"):
        ws.start_run("backtest_flow", symbol="../etc").start()
    assert list_runs(ws) == []
    assert not (run_ws.store_root / "archive" / "provenance").exists()


def test_save_result_refuses_a_result_claiming_another_rule(run_ws: RunWs) -> None:
    ws = run_ws.open()
    with ws.start_run("backtest_flow", rule="IB_raid_v1@1.2") as run:
        with pytest.raises(ItaRulesError, match=r"rule_version='v1\.1' but this run is"):
            run.save_result({"rule_version": "v1.1"})
        record = run.save_result({"metrics": {"pf": 1.4}, "rule_version": "v1.2"})
        chart = run_ws.root / "chart.png"
        chart.write_bytes(b"\x89PNG fake")
        shot = run.save_file(chart, type="screenshot")
    assert shot.run_id == run.run_id and shot.path.startswith("to_vision/")
    assert show_run(ws, run.run_id)["outputs"] == [record.file_id, shot.file_id]
    with ws.start_run("train_flow") as norule, pytest.raises(UsageError, match="has no rule"):
        norule.save_result({"metrics": {}})
    with pytest.raises(UsageError, match="is not running"):
        run.save_result({"metrics": {}})


def test_environment_allow_list_never_records_secrets(
    run_ws: RunWs, monkeypatch: pytest.MonkeyPatch
) -> None:
    (run_ws.root / "ita.toml").write_text(
        '[runs]\nenv_allowlist = ["ITA_*", "PROFILE", "MY_API_TOKEN", "DB_URL"]\n'
    )
    git(run_ws.root, "add", "ita.toml")
    git(run_ws.root, "commit", "-q", "-m", "allow-list")
    monkeypatch.setenv("PROFILE", "research")
    monkeypatch.setenv("MY_API_TOKEN", "s3cr3t")
    monkeypatch.setenv("ITA_TELEGRAM_TOKEN", "bot:s3cr3t")
    monkeypatch.setenv("DB_URL", "postgresql://me:pw@db/x")
    monkeypatch.setenv("UNLISTED", "x")
    ws = run_ws.open()
    with ws.start_run("train_flow") as run:
        pass
    variables = show_run(ws, run.run_id)["env"]["variables"]
    assert variables["PROFILE"] == "research"
    assert variables["DB_URL"] == "postgresql://me:<redacted>@db/x"
    # a secret-looking name is kept with its value redacted; the notifier's token is not named
    assert variables["MY_API_TOKEN"] == "<redacted>" and "ITA_TELEGRAM_TOKEN" not in variables
    assert "UNLISTED" not in variables
    text = (
        run_ws.store_root / "archive" / "provenance" / f"{run.run_id}_snapshot.json"
    ).read_text()
    assert "s3cr3t" not in text and ":pw@" not in text


def test_snapshot_is_written_at_start_with_status_running(run_ws: RunWs) -> None:
    ws = run_ws.open()
    with ws.start_run(
        "backtest_flow", rule="IB_raid_v1@1.2", inputs=[CSV], data_range=RANGE, symbol="GER40"
    ) as run:
        path = run_ws.store_root / "archive" / "provenance" / f"{run.run_id}_snapshot.json"
        during = json.loads(path.read_text())
        assert during["status"] == "running" and during["finished_at"] is None
        assert show_run(ws, run.run_id)["status"] == "running"  # its own process is alive
        schema_validator().validate(during)
    assert json.loads(path.read_text())["status"] == "succeeded"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left

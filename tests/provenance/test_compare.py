"""`runs compare`: the drift between two runs' snapshots sorted into params, code, data and
environment; exit 0 whether they differ or not (a report, as `ita-rules diff`); bad ids are
one line, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ita_rules.provenance.compare import compare_runs, compare_snapshots
from tests.conftest import git, snapshot
from tests.provenance.conftest import RunWs


def _run(ws: Any, version: str, data_range: tuple[str, str]) -> str:
    with ws.start_run(
        "backtest_flow",
        rule=f"IB_raid_v1@{version}",
        symbol="GER40",
        timeframe="M15",
        inputs=["data/GER40_M15.csv"],
        data_range=data_range,
    ) as run:
        pass
    return str(run.run_id)


def test_two_runs_alike_have_no_drift(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    a = _run(ws, "1.2", ("2025-05-01", "2025-05-31"))
    b = _run(ws, "1.2", ("2025-05-01", "2025-05-31"))
    assert compare_runs(ws, a, b).to_dict() == {
        "a": a,
        "b": b,
        "drift": {"params": [], "code": [], "data": [], "environment": []},
        "same": True,
    }
    r = cli("runs", "compare", a, b)
    assert (r.code, r.out, r.err) == (0, f"{a} vs {b}: no drift\n", "")


def test_rule_code_and_data_drift_are_sorted_into_their_groups(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    ws = run_ws.open()
    a = _run(ws, "1.1", ("2025-05-01", "2025-05-31"))
    (run_ws.root / "notes.txt").write_text("a new commit\n")
    git(run_ws.root, "add", "notes.txt")
    git(run_ws.root, "commit", "-q", "-m", "notes")
    b = _run(run_ws.open(), "1.2", ("2025-05-01", "2025-06-15"))
    snap_a, snap_b = _snapshot(run_ws, a), _snapshot(run_ws, b)
    found = compare_runs(ws, a, b).to_dict()
    assert found["same"] is False
    assert [d["field"] for d in found["drift"]["params"]] == [
        "rule_version",
        "params_hash",
        "rule_path",
        "rule_blob",
    ]
    assert found["drift"]["params"][0] == {"field": "rule_version", "a": "v1.1", "b": "v1.2"}
    assert found["drift"]["code"] == [
        {"field": "git_commit", "a": snap_a["git_commit"], "b": snap_b["git_commit"]}
    ]
    entry_a, entry_b = snap_a["inputs"][0], snap_b["inputs"][0]
    path = "inputs[data/GER40_M15.csv]"
    assert found["drift"]["data"] == [
        {"field": "data_hash", "a": snap_a["data_hash"], "b": snap_b["data_hash"]},
        {
            "field": "data_range",
            "a": ["2025-05-01", "2025-05-31"],
            "b": ["2025-05-01", "2025-06-15"],
        },
        {"field": f"{path}.last", "a": entry_a["last"], "b": entry_b["last"]},
        {"field": f"{path}.range_hash", "a": entry_a["range_hash"], "b": entry_b["range_hash"]},
        {"field": f"{path}.rows", "a": entry_a["rows"], "b": entry_b["rows"]},
    ]
    assert found["drift"]["environment"] == []

    r = cli("runs", "compare", a, b, "--json")
    assert (r.code, json.loads(r.out)) == (0, found)
    text = cli("runs", "compare", a, b)
    assert text.code == 0
    lines = text.out.splitlines()
    assert lines[:3] == [f"{a} vs {b}: drift", "params:", "  rule_version  v1.1 -> v1.2"]
    assert "code:" in lines and "data:" in lines and "environment:" not in lines
    assert f"  {path}.rows        {entry_a['rows']} -> {entry_b['rows']}" in lines  # aligned
    assert "  data_range" + " " * 29 + _range_text in lines


def test_environment_drift_names_each_package_and_the_python(tmp_path: Path) -> None:
    packages = {"numpy": "2.1.0", "gone": "1.0"}
    a = {
        "run_id": "run_2026_01_15_001",
        "env": {"python": "3.12.1", "platform": "Linux", "packages": packages},
    }
    b = {
        "run_id": "run_2026_01_15_002",
        "host": "desk-2",
        "env": {"python": "3.12.3", "platform": "Linux", "packages": {"numpy": "2.2.1"}},
    }
    found = compare_snapshots(a, b).to_dict()["drift"]["environment"]
    assert found == [
        {"field": "packages.gone", "a": "1.0", "b": None},
        {"field": "packages.numpy", "a": "2.1.0", "b": "2.2.1"},
        {"field": "python", "a": "3.12.1", "b": "3.12.3"},
        {"field": "host", "a": None, "b": "desk-2"},
    ]


def test_an_input_only_one_run_read_is_named_with_its_hash() -> None:
    a = {"run_id": "run_2026_01_15_001", "inputs": [{"path": "a.csv", "hash": "sha256:aa"}]}
    b = {"run_id": "run_2026_01_15_002", "inputs": [{"path": "b.csv", "hash": "sha256:bb"}]}
    assert compare_snapshots(a, b).to_dict()["drift"]["data"] == [
        {"field": "inputs[a.csv]", "a": "sha256:aa", "b": None},
        {"field": "inputs[b.csv]", "a": None, "b": "sha256:bb"},
    ]


def test_bad_run_ids_are_one_line_and_write_nothing(
    run_ws: RunWs, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = run_ws.open()
    a = _run(ws, "1.2", ("2025-05-01", "2025-05-31"))
    before = _files(run_ws.root)
    r = cli("runs", "compare", a, "run_2020_01_01_001")
    assert (r.code, r.out, r.err) == (1, "", "ita-rules: no run run_2020_01_01_001\n")
    r = cli("runs", "compare", "run-1", a, "--json")
    assert (r.code, r.out) == (2, "")
    assert r.err == "ita-rules: not a run id: 'run-1' (expected run_YYYY_MM_DD_NNN)\n"
    assert _files(run_ws.root) == before
    monkeypatch.chdir(tmp_path)
    r = cli("runs", "compare", a, a)
    assert (r.code, r.out) == (2, "")
    assert r.err == (
        f"ita-rules: no ita-rules workspace at {tmp_path} or above (no ita.toml); "
        "run `ita-rules init` or pass --workspace DIR\n"
    )


_range_text = '["2025-05-01", "2025-05-31"] -> ["2025-05-01", "2025-06-15"]'


def _snapshot(run_ws: RunWs, run_id: str) -> dict[str, Any]:
    path = run_ws.store_root / "archive" / "provenance" / f"{run_id}_snapshot.json"
    value: dict[str, Any] = json.loads(path.read_text())
    return value


def _files(root: Path) -> dict[str, bytes]:
    """The workspace's files but SQLite's shared-memory index and write-ahead log (a reader
    touches them)."""
    return {k: v for k, v in snapshot(root).items() if not k.endswith(("-shm", "-wal"))}

"""The reproduction key and ``runs dedupe``: same inputs and different metrics are flagged; a
changed candle gives another key."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from tests.conftest import snapshot
from tests.lineage.conftest import backtest


def test_dedupe_flags_same_key_different_metrics_and_a_candle_changes_the_key(
    lineage_ws: Path, cli: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ITA_DATABASE_URL", db_url)  # SQLite and the real Postgres
    feed = lineage_ws / "feed"  # ignored by git: a changed candle leaves the tree clean
    feed.mkdir()
    (lineage_ws / ".gitignore").write_text(".ita/\n/exchange/\n/feed/\n")
    candles = (lineage_ws / "data" / "GER40_M15.csv").read_text()
    (feed / "GER40.csv").write_text(candles)
    subprocess.run(["git", "commit", "-qam", "ignore feed"], cwd=lineage_ws, check=True)
    a = backtest(lineage_ws, {"sharpe": 1.0}, inputs="feed/GER40.csv")
    b = backtest(lineage_ws, {"sharpe": 1.0}, inputs="feed/GER40.csv")
    r = cli("runs", "dedupe", "--json")
    assert r.code == 0, r.err
    (group,) = json.loads(r.out)["groups"]
    assert group["runs"] == [a["run_id"], b["run_id"]] and group["reproducible"] is True
    c = backtest(lineage_ws, {"sharpe": 1.7}, inputs="feed/GER40.csv")
    r = cli("runs", "dedupe")
    assert r.code == 1
    key = group["key"]
    assert f"{key}  3 runs  NOT REPRODUCIBLE: results differ" in r.out
    assert r.out.endswith("1 key(s) shared by several runs, 1 not reproducible\n")
    # one candle inside the range changes: same everything else, another key
    lines = candles.splitlines(keepends=True)
    lines[5] = lines[5].replace(",1", ",9", 1)
    (feed / "GER40.csv").write_text("".join(lines))
    d = backtest(lineage_ws, {"sharpe": 1.0}, inputs="feed/GER40.csv")
    assert d["git_dirty"] is False and d["inputs"][0]["range_hash"] != a["inputs"][0]["range_hash"]
    r = cli("runs", "list", "--key", "--json")
    keys = {row["run_id"]: row["key"] for row in json.loads(r.out)["runs"]}
    assert keys[a["run_id"]] == keys[b["run_id"]] == keys[c["run_id"]] == key
    assert keys[d["run_id"]] != key and keys[d["run_id"]].startswith("sha256:")
    document = {
        "params_hash": a["params_hash"],
        "commit": a["git_commit"],
        "diff_hash": None,
        "inputs": [
            {"data_hash": a["inputs"][0]["range_hash"], "range": ["2025-05-01", "2025-05-02"]}
        ],
        "packages": a["env"]["packages"],
        "ita_rules_version": a["ita_rules_version"],
    }
    assert key == "sha256:" + hashlib.sha256(rfc8785.dumps(document)).hexdigest()
    r = cli("runs", "list", "--key")
    assert r.out.splitlines()[0].split()[-1] == "KEY" and key[:23] in r.out


def test_dedupe_help_and_bad_usage_write_nothing(lineage_ws: Path, cli: Any) -> None:
    before = snapshot(lineage_ws)
    r = cli("runs", "dedupe", "--bogus")
    assert r.code == 2 and "No such option: --bogus" in r.err
    assert snapshot(lineage_ws) == before
    r = cli("runs", "dedupe", "--help")
    assert r.code == 0 and "ita-rules runs dedupe --all --json" in r.out

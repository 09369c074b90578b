"""Provenance fixtures: a workspace with the sample rules and synthetic candles, committed,
whose metadata database is SQLite or a fresh schema of the real Postgres.

Postgres: ``ITA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``);
skipped when unreachable, except under ``CI=true`` where that fails.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, git

HEADER = "time,open,high,low,close,volume\n"

# for ``python -c``: starts (and ends) argv[2] runs in the workspace argv[1], prints their ids
STARTER = """
import sys
from ita_rules.workspace import Workspace
ws = Workspace.open(sys.argv[1])
ids = []
for _ in range(int(sys.argv[2])):
    with ws.start_run("train_flow") as run:
        ids.append(run.run_id)
print("\\n".join(ids))
"""


def candle_lines(start: dt.datetime, count: int, step: dt.timedelta, *, seed: int = 0) -> list[str]:
    """Deterministic M15-like candles as CSV lines (no header)."""
    out = []
    price = 18000.0 + seed
    for i in range(count):
        o = price
        h = o + (i % 7) * 0.25 + 0.5
        low = o - (i % 5) * 0.25 - 0.5
        c = o + ((i % 3) - 1) * 0.75
        out.append(
            f"{start + i * step:%Y-%m-%d %H:%M:%S},{o:.2f},{h:.2f},{low:.2f},{c:.2f},"
            f"{100 + i % 50}\n"
        )
        price = c
    return out


@dataclass
class RunWs:
    root: Path
    db_url: str
    candles: Path

    def open(self) -> Any:
        from ita_rules.workspace import Workspace

        return Workspace.open(self.root)

    @property
    def store_root(self) -> Path:
        return self.root / "exchange"


@pytest.fixture
def run_ws(in_git_repo: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> RunWs:
    """Sample rules + ``data/GER40_M15.csv`` (May to July 2025, M15), all committed."""
    shutil.copytree(REPO / "rules", in_git_repo / "rules", dirs_exist_ok=True)
    (in_git_repo / ".gitignore").write_text(".ita/\n/exchange/\n")
    candles = in_git_repo / "data" / "GER40_M15.csv"
    candles.parent.mkdir()
    start = dt.datetime(2025, 4, 28)
    lines = candle_lines(start, 96 * 100, dt.timedelta(minutes=15))  # 100 days
    candles.write_text(HEADER + "".join(lines))
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "rules and candles")
    monkeypatch.setenv("ITA_DATABASE_URL", db_url)
    return RunWs(in_git_repo, db_url, candles)

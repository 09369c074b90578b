"""A desk for the report tests, built through the real library: rules with a git history
(versions added over several commits, one deprecated with a reason), a setup whose description,
tag and a result's metric name hold ``<script>``, runs with stamped results in the store (and one
without a result), a candle input with a data range, a screenshot, back-dated candles and a
retention policy.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ita_rules.core import canonical
from tests.conftest import REPO, git

SCRIPT = "<script>alert(1)</script>"
POLICY = """\
safety_window_days: 7
large_purge_gb: 10
types:
  candles:    {retain_days: 30, strategy: delete}
  screenshot: {retain_days: 90, strategy: delete}
  result:     {retain_days: null, strategy: keep_forever}
protect:
  tags: [important]
  active_rules: false
"""
XSS_RULE = """\
setup_id: Xss_v1
version: "1.0"
author: "trader_3"
created: "2026-01-15"
description: "DESC"
components: [Detect_Sessions]
rules: {market: GER40}
params: {k: 1}
targets: {tp: 2.0}
active: true
tags: ["TAG"]
params_hash: "HASH"
"""


@dataclass
class SiteDesk:
    """What was built: the workspace root and the ids the tests look for."""

    root: Path
    runs: list[str] = field(default_factory=list)
    no_result_run: str = ""
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def open(self) -> Any:
        from ita_rules.workspace import Workspace

        return Workspace.open(self.root)


def candles(days: int = 20) -> str:
    lines = ["time,open,high,low,close,volume"]
    for i in range(days):
        p = 100.0 + i
        lines.append(f"2025-05-{i + 1:02d}T00:00:00Z,{p},{p + 2},{p - 1},{p + 1},{1000 + i}")
    return "\n".join(lines) + "\n"


def empty_desk(root: Path) -> Path:
    """``init``: a workspace without rules."""
    from ita_rules.workspace import init_workspace

    init_workspace(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def rules_desk(root: Path) -> Path:
    """The sample rules, added over three commits (1.0s, then 1.1s, then the rest); London
    1.0 deprecated with a reason; the ``<script>`` setup. No runs."""
    empty_desk(root)
    for step, names in enumerate((("v1.0.yaml",), ("v1.1.yaml",), ("v1.2.yaml", "v2.0.yaml"))):
        for src in sorted((REPO / "rules").glob("*/*.yaml")):
            if src.name in names:
                dest = root / "rules" / src.parent.name / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"rules step {step}")
    _xss_rule(root)
    from ita_rules.rules.authoring import set_lifecycle
    from ita_rules.rules.model import Version
    from ita_rules.workspace import Workspace

    set_lifecycle(
        Workspace.open(root).registry, "London_FVG_v1", Version.parse("1.0"), active=False,
        reason="superseded by 1.1",
    )  # fmt: skip
    git(root, "commit", "-q", "-am", "deprecate London 1.0")
    return root


def _xss_rule(root: Path) -> None:
    from ita_rules.core import yamlio

    text = XSS_RULE.replace("DESC", SCRIPT).replace("TAG", SCRIPT)
    doc, _ = yamlio.loads(text, "x.yaml")
    assert doc is not None
    path = root / "rules" / "Xss_v1" / "v1.0.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace("HASH", canonical.params_hash(doc.data)), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "xss setup")


RESULTS: list[tuple[str, str, dict[str, Any]]] = [
    ("IB_raid_v1", "1.1", {"sharpe": 0.9, "win_rate": 0.52, SCRIPT: 1}),
    ("IB_raid_v1", "1.2", {"sharpe": 1.4, "win_rate": 0.61, SCRIPT: 2}),
    ("IB_raid_v1", "1.2", {"sharpe": 1.6, "win_rate": 0.64}),
    ("Frank_raid_v1", "2.0", {"sharpe": 0.3, "win_rate": 0.45}),
]


def full_desk(root: Path) -> SiteDesk:
    """:func:`rules_desk` plus runs with results (and one without), stored files, a retention
    policy, the first run verified reproducible, the second drifted (its candles changed), and
    the 40-day-old candles soft-deleted by ``retention apply``."""
    from ita_rules.provenance import verify_run
    from ita_rules.retention import jobs

    rules_desk(root)
    (root / "retention.yaml").write_text(POLICY, encoding="utf-8")
    (root / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    with (root / ".gitignore").open("a", encoding="utf-8") as f:
        f.write("/incoming/\n/report/\n/site/\n")
    git(root, "add", "retention.yaml", "chart.png", ".gitignore")
    git(root, "commit", "-q", "-m", "policy")
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "GER40_D1.csv").write_text(candles(), encoding="utf-8")
    built = SiteDesk(root)
    ws = built.open()
    for setup_id, version, metrics in RESULTS:
        with ws.start_run(
            "backtest_flow",
            rule=ws.registry.get(setup_id, version),
            symbol="GER40",
            timeframe="D1",
            inputs=["data/GER40_D1.csv"],
            data_range=("2025-05-01", "2025-05-10"),
        ) as run:
            run.save_result({"metrics": metrics})
            if not built.runs:
                run.save_file(root / "chart.png", type="screenshot")
        built.runs.append(run.run_id)
        built.metrics[run.run_id] = metrics
    with ws.start_run("train_flow", rule=ws.registry.get("IB_raid_v1", "1.2")) as run:
        pass
    built.no_result_run = run.run_id
    _old_candles(ws)
    assert verify_run(ws, built.runs[0]).reproducible
    (root / "data" / "GER40_D1.csv").write_text(candles().replace("105.0,", "105.5,"), "utf-8")
    assert not verify_run(ws, built.runs[1]).reproducible
    jobs.apply(ws)
    return built


def _old_candles(ws: Any) -> None:
    """Two candle files put 40 and 10 days ago: the plan deletes one and keeps the other."""
    from ita_rules.db import tables as t
    from ita_rules.store import open_store

    now = dt.datetime.now(dt.UTC)
    with open_store(ws) as store:
        for days in (40, 10):
            src = ws.root / "incoming" / f"old_{days}.csv"
            src.parent.mkdir(exist_ok=True)
            src.write_text(candles(days // 2), encoding="utf-8")
            record = store.put(src, type="candles", symbol="GER40", timeframe="D1")
            when = (now - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            with store.db.write() as conn:
                conn.execute(
                    t.records.update()
                    .where(t.records.c.file_id == record.file_id)
                    .values(created_at=when)
                )

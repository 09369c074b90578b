#!/usr/bin/env python3
"""What the live OpenLineage emitter costs a run (docs/architecture.md#lineage): the same
backtest run (one candle input with a range, one stored result) with and without
``lineage.url`` pointing at a receiver on loopback, interleaved so both share the machine's
load. Prints the median wall time per run of each.

    python bench/lineage_emit.py [--runs 20]

Runs in a fresh workspace under a temporary folder (the sample rules, 3 days of candles).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _workspace(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    shutil.copytree(REPO / "rules", root / "rules")
    (root / "data").mkdir()
    start = dt.datetime(2025, 5, 1)
    rows = [
        f"{start + i * dt.timedelta(minutes=15):%Y-%m-%d %H:%M:%S},1.0,2.0,0.5,1.5,10\n"
        for i in range(96 * 3)
    ]
    (root / "data" / "GER40_M15.csv").write_text(
        "time,open,high,low,close,volume\n" + "".join(rows)
    )
    (root / ".gitignore").write_text(".ita/\n/exchange/\n")
    (root / "ita.toml").write_text("")
    who = {"NAME": "bench", "EMAIL": "bench@example.test"}
    env = {
        **os.environ,
        **{f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER") for k, v in who.items()},
    }
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=root, check=True, env=env)


def _one_run(root: Path) -> float:
    from ita_rules.workspace import Workspace

    ws = Workspace.open(root)
    began = time.perf_counter()
    with ws.start_run(
        "backtest_flow",
        rule="IB_raid_v1@1.2",
        inputs=["data/GER40_M15.csv"],
        data_range=("2025-05-01", "2025-05-02"),
    ) as run:
        run.save_result({"setup_id": "IB_raid_v1", "rule_version": "1.2", "metrics": {"x": 1}})
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        _workspace(root)
        times: dict[str, list[float]] = {"without lineage.url": [], "with lineage.url": []}
        for i in range(args.runs * 2):
            live = i % 2 == 1
            (root / "ita.toml").write_text(f'[lineage]\nurl = "{url}"\n' if live else "")
            times["with lineage.url" if live else "without lineage.url"].append(_one_run(root))
    server.shutdown()
    for name, values in times.items():
        print(
            f"{name:20}  median {statistics.median(values) * 1000:7.1f} ms per run "
            f"({len(values)} runs)"
        )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark `store put` against the reference tools, in one run
(docs/architecture.md#speed-budgets).

1. A 1 GiB file: `openssl dgst -sha256` + `cp` (their times added) vs our put (hash while
   copying, fsync, os.replace, DB transaction, journal). Throughput ratio (target >= 0.8) and
   peak RSS of the put process (target < 100 MB). `cp` does not fsync; `cp + sync` is shown
   too so the cost of durability is visible.
2. 10,000 small files: our bulk put (`ita-rules store put DIR`, a whole CLI process) vs
   `git add` and `dvc add` (when a `dvc` executable is found), rounds alternating the order,
   medians and ratios tool/ours (target: faster than both, i.e. both ratios > 1).

Every timed run starts from an empty store / repository, with the page cache warm and dirty
pages flushed (`sync`) before timing. For the small files, each round's stores and
repositories are fresh folders made before the round and all removed at the end: nothing is
deleted between timed runs, because on ext4 without a journal (this machine) creating files
soon after deleting many costs extra kernel time (recently freed inodes are skipped for 60-360
s), which would charge one tool for the previous one's clean-up. The load average is printed
(another process on the machine makes every figure noisier; compare ratios, not seconds).

dvc is not a dependency of ita-rules; install it in a separate venv and point DVC at it:

    python -m venv /tmp/dvcvenv && /tmp/dvcvenv/bin/pip install dvc
    DVC=/tmp/dvcvenv/bin/dvc python bench/store_put.py

Usage:

    python bench/store_put.py [--size-mib 1024] [--files 10000] [--rounds 3] [--dir DIR]
        [--skip-big]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PUT_ONE = """
import json, resource, sys, time
from ita_rules.store import open_store
from ita_rules.workspace import Workspace
store = open_store(Workspace.open(sys.argv[1]))
t = time.perf_counter()
store.put(sys.argv[2], type="candles", symbol="GER40")
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "maxrss_kib": rss}))
"""


def timed(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, proc.stdout


def settle() -> None:
    subprocess.run(["sync"], check=True)


def workspace(base: Path, name: str) -> Path:
    ws = base / name
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    (ws / "ita.toml").write_text("")
    (ws / "rules").mkdir()
    return ws


def make_big(path: Path, size: int) -> None:
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for i in range(size >> 20):
            fh.write(chunk[i % 7 :] + chunk[: i % 7])  # distinct blocks, cheap to make
    settle()


def bench_big(base: Path, size_mib: int, rounds: int) -> dict[str, float]:
    big = base / "big.bin"
    if not big.exists() or big.stat().st_size != size_mib << 20:
        make_big(big, size_mib << 20)
    subprocess.run(
        ["openssl", "dgst", "-sha256", str(big)], check=True, stdout=subprocess.DEVNULL
    )  # warm cache
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITA_")}
    ref, ref_sync, ours, ours_proc, rss = [], [], [], [], []
    for r in range(rounds):
        for which in ("ref", "ours") if r % 2 == 0 else ("ours", "ref"):
            dest = base / "copy.bin"
            dest.unlink(missing_ok=True)
            settle()
            if which == "ref":
                t_hash, _ = timed(["openssl", "dgst", "-sha256", str(big)])
                t_cp, _ = timed(["cp", str(big), str(dest)])
                t_sync, _ = timed(["sync"])
                ref.append(t_hash + t_cp)
                ref_sync.append(t_hash + t_cp + t_sync)
            else:
                ws = workspace(base, "ws-big")
                t_proc, out = timed([sys.executable, "-c", PUT_ONE, str(ws), str(big)], env=env)
                report = json.loads(out)
                ours.append(report["seconds"])
                ours_proc.append(t_proc)
                rss.append(report["maxrss_kib"] / 1024)
            dest.unlink(missing_ok=True)
    shutil.rmtree(base / "ws-big", ignore_errors=True)
    return {
        "size_mib": size_mib,
        "openssl_plus_cp_s": statistics.median(ref),
        "openssl_plus_cp_plus_sync_s": statistics.median(ref_sync),
        "put_s": statistics.median(ours),
        "put_process_s": statistics.median(ours_proc),
        "peak_rss_mb": max(rss),
    }


def make_small(folder: Path, count: int) -> None:
    rnd = random.Random(7)
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"chart_{i:05d}.png").write_bytes(os.urandom(rnd.randrange(1024, 8192)))
    settle()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def bench_small(base: Path, count: int, rounds: int) -> dict[str, object]:
    files = base / "repo" / "charts"
    if not files.exists() or len(list(files.iterdir())) != count:
        shutil.rmtree(files.parent, ignore_errors=True)
        make_small(files, count)
    dvc = os.environ.get("DVC") or shutil.which("dvc")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITA_")}
    dvc_env = {**env, "DVC_NO_ANALYTICS": "1"}
    ita = [sys.executable, "-m", "ita_rules"]
    tools = ["git", "ours"] + (["dvc"] if dvc else [])
    times: dict[str, list[float]] = {t: [] for t in tools}
    loads = [load()]
    runs = base / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir()
    try:
        for r in range(rounds):
            # this round's fresh targets, made before any timing (see the module docstring)
            git_dir = runs / f"git-{r}"
            git = ["git", f"--git-dir={git_dir}", f"--work-tree={files.parent}"]
            subprocess.run([*git, "init", "-q"], check=True)
            ws = workspace(runs, f"ws-{r}")
            dvc_repo = runs / f"dvc-{r}"
            if dvc:
                shutil.copytree(files, dvc_repo / "charts")
                init = [dvc, "init", "--no-scm", "-q"]
                subprocess.run(init, cwd=dvc_repo, env=dvc_env, check=True)
            order = tools[r % len(tools) :] + tools[: r % len(tools)]
            for tool in order:
                settle()
                if tool == "git":
                    times["git"].append(timed([*git, "add", "charts"], cwd=files.parent)[0])
                elif tool == "dvc":
                    assert dvc
                    times["dvc"].append(
                        timed([dvc, "add", "-q", "charts"], cwd=dvc_repo, env=dvc_env)[0]
                    )
                else:
                    cmd = [*ita, "-w", str(ws), "store", "put", str(files), "--type", "screenshot"]
                    times["ours"].append(timed(cmd, env=env)[0])
            loads.append(load())
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    return {
        "files": count,
        "rounds": rounds,
        "dvc": dvc or None,
        "times": times,
        "median": {t: statistics.median(v) for t, v in times.items()},
        "load_avg": loads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--dir", type=Path, default=None, help="Work folder (default: a temp folder, removed)."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON too.")
    parser.add_argument("--skip-big", action="store_true", help="Only the small files.")
    args = parser.parse_args(argv)
    base = args.dir or Path(tempfile.mkdtemp(prefix="ita-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    big: dict[str, float] = {}
    try:
        print(f"load average (1, 5, 15 min) at the start: {load()}  ({os.cpu_count()} cores)")
        if not args.skip_big:
            big = bench_big(base, args.size_mib, args.rounds)
            report_big(big, args.rounds)
        small = bench_small(base, args.files, args.rounds)
        report_small(small)
        print(f"load average at the end: {load()}")
        if args.json:
            print(json.dumps({"big": big, "small": small}, indent=2))
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def report_big(big: dict[str, float], rounds: int) -> None:
    mib = big["size_mib"]
    ref, ref_sync, put = big["openssl_plus_cp_s"], big["openssl_plus_cp_plus_sync_s"], big["put_s"]
    print(f"1. put of a {mib:.0f} MiB file (medians of {rounds} alternating rounds)")
    print(f"   openssl dgst -sha256 + cp : {ref:.3f} s  ({mib / ref:.0f} MiB/s)")
    print(f"   ... + sync (durable)      : {ref_sync:.3f} s")
    print(f"   store.put (in process)    : {put:.3f} s  ({mib / put:.0f} MiB/s)")
    print(f"   ita put (whole process)   : {big['put_process_s']:.3f} s")
    print(f"   ratio put / (openssl + cp)        : {ref / put:.2f}  (target >= 0.80)")
    print(f"   ratio put / (openssl + cp + sync) : {ref_sync / put:.2f}")
    print(f"   peak RSS of the put process       : {big['peak_rss_mb']:.1f} MB  (target < 100)")


def report_small(small: dict[str, Any]) -> None:
    med, times = small["median"], small["times"]
    ours = med["ours"]

    def rounds(tool: str) -> str:
        return " ".join(f"{t:.2f}" for t in times[tool])

    print(f"2. {small['files']} small files (medians of {small['rounds']} alternating rounds)")
    print(f"   ita-rules store put DIR   : {ours:.2f} s   (rounds: {rounds('ours')})")
    for tool in ("git", "dvc"):
        if tool in med:
            print(
                f"   {tool} add                   : {med[tool]:.2f} s   "
                f"{tool}/ours {med[tool] / ours:.2f}   (rounds: {rounds(tool)})"
            )
    if "dvc" not in med:
        print("   dvc add                   : not measured (no dvc; set DVC=/path/to/dvc)")
    others = [tool for tool in ("git", "dvc") if tool in times]
    per_round = [
        "/".join(f"{times[tool][r] / times['ours'][r]:.2f}" for tool in others)
        for r in range(small["rounds"])
    ]
    print(f"   per round {'/'.join(t + '/ours' for t in others)}: {' '.join(per_round)}")
    print(f"   load average after each round: {' | '.join(small['load_avg'])}")
    print("   (a ratio tool/ours > 1 means our bulk put is faster)")


if __name__ == "__main__":
    sys.exit(main())

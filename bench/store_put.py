#!/usr/bin/env python3
"""Benchmark `store put` against the reference tools, in one run
(docs/architecture.md#speed-budgets).

1. A 1 GiB file: the whole `ita-rules store put FILE` process (hash and copy, fsync,
   os.replace, DB transaction, journal) vs `openssl dgst -sha256` + `cp` + `sync` of the same
   file (issue #16, goal 4: at least 0.9x their speed, i.e. ours <= theirs / 0.9; peak RSS of
   the put < 100 MB); `openssl + cp` without the sync is shown too, and with `--baseline DIR`
   (a tree holding another `ita_rules` package, e.g. `git archive 4524eae ita_rules | tar -x
   -C DIR`) that code's put, run the same way. Wall and CPU time (user + sys of each child,
   from wait4) are medians of alternating rounds; on a loaded machine the CPU time is the
   steadier figure (the wall time mostly measures the other processes).
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
        [--skip-big | --skip-small] [--baseline DIR]
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


Child = tuple[float, float, float]  # wall s, CPU s (user + sys), peak RSS MiB


def child(cmds: list[list[str]], env: dict[str, str] | None = None) -> Child:
    """Run ``cmds`` one after the other: summed wall and CPU time, and the largest peak RSS
    of any of them (each child's own, from wait4)."""
    wall = cpu = rss = 0.0
    for cmd in cmds:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall += time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:4])}... failed with {proc.returncode}")
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss / 1024)
    return wall, cpu, rss


def bench_big(base: Path, size_mib: int, rounds: int, baseline: Path | None) -> dict[str, Any]:
    big = base / "big.bin"
    if not big.exists() or big.stat().st_size != size_mib << 20:
        make_big(big, size_mib << 20)
    dest = base / "copy.bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITA_")}
    ours = [sys.executable, "-m", "ita_rules", "-w", str(base / "ws-big"), "store", "put"]
    ours += [str(big), "--type", "model"]
    peers = [["openssl", "dgst", "-sha256", str(big)], ["cp", str(big), str(dest)]]
    tools: dict[str, tuple[list[list[str]], dict[str, str]]] = {
        "openssl + cp + sync": ([*peers, ["sync"]], env),
        "openssl + cp": (peers, env),
        "ours": ([ours], env),
    }
    if baseline:
        tools["baseline"] = ([ours], {**env, "PYTHONPATH": str(baseline.absolute())})
    child([peers[0]])  # warm the page cache
    times: dict[str, list[Child]] = {name: [] for name in tools}
    loads = []
    for r in range(rounds):
        names = list(tools)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            dest.unlink(missing_ok=True)
            workspace(base, "ws-big")  # a fresh, empty store
            settle()
            cmds, tool_env = tools[name]
            times[name].append(child(cmds, tool_env))
        loads.append(load())
    dest.unlink(missing_ok=True)
    shutil.rmtree(base / "ws-big", ignore_errors=True)
    return {"size_mib": size_mib, "rounds": rounds, "times": times, "load_avg": loads}


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
    parser.add_argument("--skip-small", action="store_true", help="Only the 1 GiB file.")
    parser.add_argument("--baseline", type=Path, default=None, help="Another ita_rules tree.")
    args = parser.parse_args(argv)
    base = args.dir or Path(tempfile.mkdtemp(prefix="ita-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    big: dict[str, Any] = {}
    try:
        print(f"load average (1, 5, 15 min) at the start: {load()}  ({os.cpu_count()} cores)")
        if not args.skip_big:
            big = bench_big(base, args.size_mib, args.rounds, args.baseline)
            report_big(big)
        small: dict[str, Any] = {}
        if not args.skip_small:
            small = bench_small(base, args.files, args.rounds)
            report_small(small)
        print(f"load average at the end: {load()}")
        if args.json:
            print(json.dumps({"big": big, "small": small}, indent=2))
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


def report_big(big: dict[str, Any]) -> None:
    times: dict[str, list[Child]] = big["times"]

    def med(name: str, i: int) -> float:
        return statistics.median(t[i] for t in times[name])

    mib, ref = big["size_mib"], "openssl + cp + sync"
    print(f"1. put of a {mib} MiB file (medians of {big['rounds']} alternating rounds)")
    for name, runs in times.items():
        walls = " ".join(f"{t[0]:.2f}" for t in runs)
        print(
            f"   {name:19s}: wall {med(name, 0):6.2f} s ({mib / med(name, 0):4.0f} MiB/s)  "
            f"CPU {med(name, 1):5.2f} s   (rounds: {walls})"
        )
    for name in [n for n in times if n in ("ours", "baseline")]:
        print(
            f"   {name} speed / ({ref}): wall {med(ref, 0) / med(name, 0):.2f}, "
            f"CPU {med(ref, 1) / med(name, 1):.2f}  (target >= 0.90); "
            f"peak RSS {max(t[2] for t in times[name]):.0f} MiB (target < 100)"
        )
    print(f"   load average after each round: {' | '.join(big['load_avg'])}")


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

#!/usr/bin/env python3
"""Benchmark `ita-rules store verify --all` against `openssl dgst -sha256` over the same
stored files, in one run (docs/architecture.md#speed-budgets; issue #16, goal 5: at most
1.1x openssl).

N files of M MiB (default 1,000 x 1 MiB) are stored once with a bulk put; the page cache is
warmed by a first openssl pass. Then rounds alternate, each timing:

- ours: the whole `ita-rules store verify --all` process (start-up, one query for the
  records, the files hashed by a pool of threads, last_verified_at written and journaled);
- openssl: `openssl dgst -sha256 FILE...`, one process hashing the files one after the other
  (the issue's reference), and for comparison the same split in two processes running at
  once (what two cores give openssl);
- with `--baseline DIR` (a tree holding another `ita_rules` package, e.g. from
  `git archive 4524eae ita_rules | tar -x -C DIR`), that code's verify too.

Medians of wall time and of CPU time (user + sys of the child, RUSAGE_CHILDREN) are printed
with the load average: on a loaded machine wall times mostly measure the other processes.

Usage:

    python bench/store_verify.py [--files 1000] [--size-mib 1] [--rounds 5] [--dir DIR]
        [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from store_put import load, settle, workspace

Timing = tuple[float, float]  # wall seconds, CPU seconds of the children


def timed(cmds: list[list[str]], env: dict[str, str] | None = None) -> Timing:
    """Run ``cmds`` at the same time; the wall time until all ended and their CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for cmd in cmds
    ]
    for proc in procs:
        if proc.wait() not in (0, 1):  # verify exits 1 when a file is corrupt: not here
            raise SystemExit(f"{cmds[0][0]} failed with {proc.returncode}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def make_store(base: Path, name: str, files: int, size: int, env: dict[str, str]) -> list[str]:
    """A workspace ``name`` whose store holds ``files`` distinct files (put by the code
    ``env`` runs: an older one cannot open a database a newer one migrated); their paths."""
    src = base / "src"
    src.mkdir()
    block = os.urandom(size + files)
    for i in range(files):
        (src / f"part_{i:05d}.bin").write_bytes(block[i : i + size])
    ws = workspace(base, name)
    put = [sys.executable, "-m", "ita_rules", "-w", str(ws), "store", "put", str(src)]
    subprocess.run([*put, "--type", "model"], env=env, check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(src)
    stored = sorted(str(p) for p in (ws / "exchange").rglob("*.bin"))
    assert len(stored) == files, f"expected {files} stored files, found {len(stored)}"
    settle()
    return stored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size-mib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="Work folder (default: temp).")
    parser.add_argument("--baseline", type=Path, default=None, help="Another ita_rules tree.")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="ita-bench-verify-", dir=args.dir))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITA_")}
    try:
        print(f"load average (1, 5, 15 min) at the start: {load()}  ({os.cpu_count()} cores)")
        size = int(args.size_mib * (1 << 20))
        stored = make_store(base, "ws", args.files, size, env)
        verify = [sys.executable, "-m", "ita_rules", "-w", str(base / "ws"), "store", "verify"]
        half = len(stored) // 2
        tools: dict[str, tuple[list[list[str]], dict[str, str]]] = {
            "ours": ([verify], env),
            "openssl": ([["openssl", "dgst", "-sha256", *stored]], env),
            "openssl x2": (
                [["openssl", "dgst", "-sha256", *part] for part in (stored[:half], stored[half:])],
                env,
            ),
        }
        if args.baseline:
            old = {**env, "PYTHONPATH": str(args.baseline.absolute())}
            make_store(base, "ws-baseline", args.files, size, old)
            verify_old = [*verify[:4], str(base / "ws-baseline"), *verify[5:]]
            tools["baseline"] = ([verify_old], old)
        timed(tools["openssl"][0])  # warm the page cache
        times: dict[str, list[Timing]] = {name: [] for name in tools}
        loads = []
        for r in range(args.rounds):
            names = list(tools)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                cmds, tool_env = tools[name]
                times[name].append(timed(cmds, tool_env))
            loads.append(load())
        report(args, times, loads)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def report(args: argparse.Namespace, times: dict[str, list[Timing]], loads: list[str]) -> None:
    def med(name: str, i: int) -> float:
        return statistics.median(t[i] for t in times[name])

    print(
        f"store verify --all over {args.files} x {args.size_mib:g} MiB "
        f"(medians of {args.rounds} alternating rounds; wall s, CPU s = user + sys)"
    )
    for name in times:
        rounds = " ".join(f"{w:.2f}" for w, _ in times[name])
        print(f"   {name:11s}: wall {med(name, 0):6.3f}  CPU {med(name, 1):6.3f}   ({rounds})")
    for name in [n for n in times if n != "openssl"]:
        print(
            f"   {name} / openssl: wall {med(name, 0) / med('openssl', 0):.2f}x, "
            f"CPU {med(name, 1) / med('openssl', 1):.2f}x  (target for ours: <= 1.1x)"
        )
    print(f"   load average after each round: {' | '.join(loads)}")


if __name__ == "__main__":
    sys.exit(main())

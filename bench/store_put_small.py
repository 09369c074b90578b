#!/usr/bin/env python3
"""Benchmark `ita-rules store put DIR` of N small files against `git add` of the same folder,
in one run (issue #16 goal 2; docs/architecture.md#speed-budgets).

For each N (default 1,000, 10,000, 50,000 and 100,000 files of 1-8 KiB random bytes): rounds
in rotating order of the tools, each timed run a whole process (`ita-rules -w WS store put DIR
--type screenshot`, `git --git-dir=G --work-tree=... add charts`). Printed per tool: medians of
wall time and of the child's own user and system CPU time (from `wait4`, so other processes on
a loaded machine do not count), and the ratios git/ours.

**What a user runs, not this checkout's venv.** "ours" is the `ita-rules` console script of a
venv holding a wheel of this checkout (bench/_venv.py `user_venv`, built once at the start):
the development venv's editable install runs a `.pth` finder at every Python start (~12 ms
CPU) that no user pays. With `--before COMMIT` the code of that commit (`git archive` into a
temp folder) is a third tool, run by the same console script with PYTHONPATH naming that
folder (it comes first on sys.path), so before and after are measured side by side; `--ours
COMMIT` freezes "ours" the same way (e.g. while the checkout changes). The package each tool
imports is printed, and each tool puts a few files once, untimed, before the first round
(bytecode compiled, page cache warm). Each put runs in its workspace folder.

Every run starts from a fresh folder: this round's stores, workspaces and git directories are
made before the round and nothing is removed until all sizes are done, because on ext4 creating
files soon after deleting many costs extra kernel time (recently freed inodes are skipped for
a while), which would charge one tool for the other's clean-up. Other processes' deletions on
the same file system cannot be avoided this way. This machine's ext4 runs without a journal
(/sys/fs/ext4/vda/journal_task: <none>), and then ext4 does not reuse an inode freed in the
last minute (six while its inode table block is dirty: `recently_deleted()` in fs/ext4/ialloc.c)
and checks every such inode of a block group again for each file it creates there, so whichever
tool allocates in those groups pays (perf at 100,000 files: 2.0 s of git's 7.1 s system time in
one run, 2.9 s of ours right after a large `rm -rf`, 0.12 s of ours in a quieter one; a run
started within minutes of another's clean-up pays for it too). A `sync` settles dirty pages
before each timed run. Our put ends with one `syncfs` of the file system
(durability); `git add` does not sync at all, so our wall time also pays for writing the data to
the disk (and for any other writer's dirty data on the same file system), the CPU times do not.
The load average is printed with the figures: on a loaded machine compare the CPU columns.

Kernel time per file also grows with the size of a run on this machine (a VM) for a reason
neither tool controls: the first touch of guest memory that the host has not backed yet
costs a host-side fault, and a 100,000-file run touches more new memory (page cache of the
written files, both tools'; our ~4.6 KiB of RSS a file) than a 10,000-file one. Measured on
a private ext4 (no journal, on /dev/shm, nothing else deleting there), perf per file: cold,
10k -> 100k ran 74 -> 101 us of CPU a file (writes' page zeroing and copies, page faults and
SQLite's writes grew, directory lookups +1.4 us); after a process had touched and freed
4 GiB, 86 -> 82 us a file (the lookups in the 100k-name type folder +2.9 us, the rest equal)
and system time 45 -> 44 us a file: linear. The same run right after deleting ~100,000
files there spent 215 s of CPU in `recently_deleted` (see above).

Usage:

    python bench/store_put_small.py [--files 1000 10000 50000 100000] [--rounds 3]
        [--before COMMIT] [--ours COMMIT] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _venv import clean_environ, user_venv  # bench/ is sys.path[0]

REPO = Path(__file__).resolve().parent.parent
Sample = tuple[float, float, float]  # wall, user, sys (seconds)


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Sample:
    """Run ``cmd`` to its end: wall time and the child's own CPU times (``wait4``)."""
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:6])}... failed ({proc.returncode}): {err.decode()}")
    return wall, usage.ru_utime, usage.ru_stime


def make_files(folder: Path, count: int) -> None:
    rnd = random.Random(7)
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"chart_{i:06d}.png").write_bytes(rnd.randbytes(rnd.randrange(1024, 8192)))


def workspace(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "ita.toml").write_text("")
    (path / "rules").mkdir()
    return path


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def code_tree(commit: str, base: Path) -> Path:
    """The package as of ``commit`` (git archive), to run through PYTHONPATH."""
    tree = base / f"tree-{commit}"
    if not tree.exists():
        tree.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", commit, "ita_rules"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def tool_env(base_env: dict[str, str], tree: Path | None) -> dict[str, str]:
    """The environment of a tool: ``tree`` (a commit's package) first on sys.path, if any."""
    return {**base_env, "PYTHONPATH": str(tree)} if tree else base_env


def warm_up(base: Path, bindir: Path, trees: dict[str, Path | None], env: dict[str, str]) -> None:
    """Print the package each tool imports; put a few files with each, untimed (bytecode)."""
    src = base / "src-warm-up"
    make_files(src, 3)
    for name, tree in trees.items():
        tenv = tool_env(env, tree)
        where = subprocess.run(
            [str(bindir / "python"), "-c", "import ita_rules; print(ita_rules.__file__)"],
            env=tenv,
            cwd=base,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"  {name}: {where}")
        ws = workspace(base / f"warm-up-{name}")
        put = [str(bindir / "ita-rules"), "-w", str(ws), "store", "put", str(src)]
        run([*put, "--type", "screenshot"], tenv, cwd=ws)


def bench_size(
    base: Path,
    count: int,
    rounds: int,
    bindir: Path,
    trees: dict[str, Path | None],
    env: dict[str, str],
) -> dict[str, list[Sample]]:
    src = base / f"src-{count}"
    if not (src / "charts").exists():
        make_files(src / "charts", count)
    tools = ["git", *trees]
    samples: dict[str, list[Sample]] = {tool: [] for tool in tools}
    for r in range(rounds):
        # this round's fresh targets, made before any timing (see the module docstring)
        runs = base / f"runs-{count}-{r}"
        git = ["git", f"--git-dir={runs / 'git'}", f"--work-tree={src}"]
        subprocess.run(["git", "init", "-q", "--bare", str(runs / "git")], check=True, env=env)
        spaces = {name: workspace(runs / f"ws-{name}") for name in trees}
        for tool in tools[r % len(tools) :] + tools[: r % len(tools)]:
            if tool == "git":
                samples[tool].append(run([*git, "add", "charts"], env, cwd=src))
                continue
            put = [str(bindir / "ita-rules"), "-w", str(spaces[tool]), "store", "put"]
            cmd = [*put, str(src / "charts"), "--type", "screenshot"]
            samples[tool].append(run(cmd, tool_env(env, trees[tool]), cwd=spaces[tool]))
    return samples


def report(count: int, samples: dict[str, list[Sample]], loads: tuple[str, str]) -> None:
    med = {
        tool: [statistics.median(s[i] for s in runs) for i in range(3)]
        for tool, runs in samples.items()
    }
    git_wall, git_user, git_sys = med["git"]
    print(
        f"N = {count:,} files, {len(samples['git'])} rounds; load average {loads[0]} -> {loads[1]}"
    )
    print(
        f"  {'tool':8} {'wall s':>8} {'user s':>8} {'sys s':>8}"
        f" {'git/ours wall':>14} {'git/ours cpu':>13}"
    )
    for tool, (wall, user, sys_) in med.items():
        ratios = (
            ""
            if tool == "git"
            else f"{git_wall / wall:14.2f} {(git_user + git_sys) / (user + sys_):13.2f}"
        )
        print(f"  {tool:8} {wall:8.3f} {user:8.3f} {sys_:8.3f} {ratios}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10_000, 50_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="Also time the code of this commit (e.g. 16893be).")
    parser.add_argument("--ours", help="Time this commit's code as ours (default: the checkout).")
    parser.add_argument("--dir", type=Path, help="Work folder (default: a temp folder, removed).")
    args = parser.parse_args(argv)
    base = args.dir or Path(tempfile.mkdtemp(prefix="ita-bench-small-"))
    base.mkdir(parents=True, exist_ok=True)
    env = clean_environ()
    try:
        bindir = user_venv(Path(tempfile.mkdtemp(prefix="user-", dir=base)), env)
        trees: dict[str, Path | None] = {"ours": code_tree(args.ours, base) if args.ours else None}
        if args.before:
            trees = {"before": code_tree(args.before, base), **trees}
        print(f"{os.cpu_count()} cores; median of each tool's rounds; CPU = the child's user + sys")
        print(f"ours: {bindir / 'ita-rules'} (a wheel of this checkout); the package imported:")
        warm_up(base, bindir, trees, env)
        for count in args.files:
            start = load()
            samples = bench_size(base, count, args.rounds, bindir, trees, env)
            report(count, samples, (start, load()))
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

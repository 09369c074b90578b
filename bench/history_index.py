"""Benchmark: the registry index over a 5,000-commit history (docs/architecture.md#speed-budgets).

Generates (with ``git fast-import``) a history of 5,000 commits over ~2,000 version files:
2,000 commits each add a version (200 setups x 10 versions), 1,000 deprecate or re-activate a
released version, 2,000 touch other files. Then prints, side by side:

* ``git log --raw`` over the whole history (the reference),
* ``ita-rules index --rebuild`` (a whole process, piped: no progress bar),
* an incremental ``ita-rules index`` after one new commit, next to ``git log --raw -1``.

Each figure is the median of a few runs, wall and CPU (user + sys of every process), with the
load average; one untimed round first (bytecode compiled, files cached). Targets: rebuild <= 2x
``git log --raw`` (issue #16 goal 7); the incremental refresh about the cost of reading one
commit (plus the process start). ``--baseline DIR`` (a folder holding another version's
``ita_rules/``, e.g. ``git archive 4524eae ita_rules | tar -x -C DIR``) runs that version's
rebuild too, in the same rounds, through PYTHONPATH from the same venv.

**What a user gets, not this checkout's venv.** The development venv holds ita-rules as an
editable install, whose ``.pth`` finder runs at every Python start in it (~12 ms CPU for
``python -c pass``), a cost no user pays. ``ita-rules`` and every ``python`` line therefore run
from a venv holding a wheel of this checkout (``bench/_venv.py``, as ``bench/commit.py`` does),
the bytecode going to one folder of the run; one more line times the rebuild from the
development venv, for comparison.

Run:  python bench/history_index.py [--commits 5000] [--runs 5] [--keep DIR] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _venv import bench_env, user_venv  # bench/ is sys.path[0]

from ita_rules.core import canonical

BIN = Path(sys.executable).parent  # the development venv
LIBRARY_REFRESH = (
    "from pathlib import Path; from ita_rules.rules.index import refresh, source; "
    "refresh(source(Path('.'), Path('rules')))"
)
LIBRARY_REBUILD = (
    "from pathlib import Path; from ita_rules.rules.index import refresh, source; "
    "refresh(source(Path('.'), Path('rules')), rebuild=True)"
)


def rule_text(
    setup: str, major: int, minor: int, mult: float, active: bool = True, reason: str | None = None
) -> str:
    data: dict[str, object] = {
        "setup_id": setup,
        "version": f"{major}.{minor}",
        "author": "bench",
        "created": "2025-01-01",
        "description": f"benchmark setup {setup}",
        "components": ["Detect_Sessions", "Detect_FVG"],
        "rules": {"market": "GER40", "session": {"start": "08:00", "minutes": 60}},
        "params": {"atr_mult": mult, "max_trades_per_day": 2},
        "targets": {"tp": 2.0, "sl": 1.0},
        "active": active,
    }
    if reason:
        data["deprecation_reason"] = reason
    data["params_hash"] = canonical.params_hash(data)
    return yaml.safe_dump(data, sort_keys=False)


def generate(root: Path, commits: int, seed: int = 7) -> int:
    """Write the history with one ``git fast-import``; return the number of version files."""
    rng = random.Random(seed)
    n_versions = commits * 2 // 5
    n_lifecycle = commits // 5
    kinds = ["version"] * n_versions + ["lifecycle"] * n_lifecycle
    kinds += ["other"] * (commits - len(kinds))
    rng.shuffle(kinds)
    released: list[tuple[str, str, float, bool]] = []  # path, setup, mult, active
    next_version: dict[str, tuple[int, int]] = {}
    out: list[bytes] = []
    t = 1_700_000_000
    for n, kind in enumerate(kinds):
        if kind == "lifecycle" and not released:
            kind = "version"
        t += 60
        if kind == "version":
            s = rng.randrange(max(1, n_versions // 10))
            setup = f"Setup_{s:04d}"
            major, minor = next_version.get(setup, (1, 0))
            mult = 1.0 + len(released) / 1000
            path = f"rules/{setup}/v{major}.{minor}.yaml"
            body = rule_text(setup, major, minor, mult)
            next_version[setup] = (major, minor + 1)
            released.append((path, setup, mult, True))
        elif kind == "lifecycle":
            i = rng.randrange(len(released))
            path, setup, mult, active = released[i]
            v = path.rsplit("/v", 1)[1][: -len(".yaml")]
            major_s, minor_s = v.split(".")
            body = rule_text(
                setup,
                int(major_s),
                int(minor_s),
                mult,
                active=not active,
                reason=None if active is False else "benchmark deprecation",
            )
            released[i] = (path, setup, mult, not active)
        else:
            path = f"notes/note_{n % 500:03d}.md"
            body = f"note {n}\n"
        data = body.encode()
        msg = f"{kind} {n}".encode()
        out.append(
            b"commit refs/heads/main\n"
            + f"author Bench <bench@example.test> {t} +0000\n".encode()
            + f"committer Bench <bench@example.test> {t} +0000\n".encode()
            + f"data {len(msg)}\n".encode()
            + msg
            + b"\n"
            + f"M 100644 inline {path}\ndata {len(data)}\n".encode()
            + data
            + b"\n"
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(out), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=root, check=True)
    return len(released)


ENV: dict[str, str] = {}  # set by main(): bench_env() of the wheel's venv


CPU: dict[str, list[float]] = {}  # command -> CPU seconds (user + sys) of each run


def once(cmd: list[str], cwd: Path) -> float:
    """Wall-clock seconds of one run; its CPU seconds (all child processes) go to :data:`CPU`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU.setdefault(" ".join(cmd), []).append(cpu)
    return wall


def cpu_of(cmd: list[str]) -> float:
    return statistics.median(CPU[" ".join(cmd)])


def interleaved(cmds: dict[str, list[str]], cwd: Path, runs: int) -> dict[str, float]:
    """Median time of each command, the commands taking turns in every round so that a busy
    machine slows them all alike."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for cmd in cmds.values():  # untimed: bytecode compiled, files cached
        once(cmd, cwd)
    CPU.clear()
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(once(cmd, cwd))
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the repository here and keep it")
    parser.add_argument("--baseline", type=Path, help="a folder holding ita_rules/ to compare")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="ita-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ita-bench-venv-"))
    try:
        userbin = user_venv(tmp, bench_env(tmp, BIN))
        ENV.update(bench_env(tmp, userbin))
        python = str(userbin / "python")
        print(f"ita-rules and python from {userbin} (a wheel of this checkout)")
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        for k, v in (
            ("user.name", "Bench"),
            ("user.email", "bench@example.test"),
            ("commit.gpgsign", "false"),
        ):
            subprocess.run(["git", "config", k, v], cwd=root, check=True)
        (root / "ita.toml").write_text("")
        start = time.perf_counter()
        files = generate(root, args.commits)
        gen = time.perf_counter() - start
        n = int(
            subprocess.run(
                ["git", "rev-list", "--count", "HEAD"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        print(f"history: {n} commits, {files} version files, generated in {gen:.2f} s ({root})")

        commands = {
            "log_all": ["git", "log", "--raw", "-z", "--no-abbrev"],
            "rebuild": ["ita-rules", "index", "--rebuild"],
            "dev_venv": [str(BIN / "ita-rules"), "index", "--rebuild"],
            "library": [python, "-c", LIBRARY_REBUILD],
            "py_start": [python, "-c", "pass"],
            "cli_start": ["ita-rules", "--help"],
        }
        if args.baseline is not None:
            where = f"PYTHONPATH={args.baseline.resolve()}"
            commands["baseline"] = ["env", where, python, "-m", "ita_rules", "index"]
            commands["baseline"].append("--rebuild")
        t = interleaved(commands, root, args.runs)
        log_all, rebuild, library = t["log_all"], t["rebuild"], t["library"]
        py_start, cli_start = t["py_start"], t["cli_start"]

        counter = [0]

        def one_commit() -> None:
            counter[0] += 1
            setup = f"Extra_{counter[0]:03d}"
            p = root / "rules" / setup / "v1.0.yaml"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(rule_text(setup, 1, 0, 9.0))
            subprocess.run(["git", "add", "-A"], cwd=root, check=True)
            subprocess.run(["git", "commit", "-q", "-m", "one more"], cwd=root, check=True)

        inc, lib_inc, log1, fresh = [], [], [], []
        for _ in range(args.runs):
            one_commit()
            inc.append(once(["ita-rules", "index"], root))
            one_commit()
            lib_inc.append(once([python, "-c", LIBRARY_REFRESH], root))
            log1.append(once(["git", "log", "--raw", "-1", "-z", "--no-abbrev"], root))
            fresh.append(once(["ita-rules", "index"], root))
        incremental, library_inc = statistics.median(inc), statistics.median(lib_inc)
        log_one, up_to_date = statistics.median(log1), statistics.median(fresh)

        git_log = ["git", "log", "--raw", "-z", "--no-abbrev"]
        cpu_log = cpu_of(git_log)
        rows = [
            ("git log --raw (whole history)", log_all, git_log),
            ("ita-rules index --rebuild", rebuild, ["ita-rules", "index", "--rebuild"]),
            (
                "same, from the development venv",
                t["dev_venv"],
                commands["dev_venv"],
            ),
            (
                "same, library call in a bare python",
                library,
                [python, "-c", LIBRARY_REBUILD],
            ),
            (
                "git log --raw -1 (one commit)",
                log_one,
                ["git", "log", "--raw", "-1", "-z", "--no-abbrev"],
            ),
            ("ita-rules index (after 1 new commit)", incremental, None),
            (
                "same, library call in a bare python",
                library_inc,
                [python, "-c", LIBRARY_REFRESH],
            ),
            ("ita-rules index (up to date)", up_to_date, None),
            ("python -c pass", py_start, [python, "-c", "pass"]),
            *(
                [("index --rebuild, --baseline version", t["baseline"], commands["baseline"])]
                if "baseline" in t
                else []
            ),
            ("ita-rules --help (CLI start)", cli_start, ["ita-rules", "--help"]),
        ]
        print(f"\n{'what':40} {'wall s':>7} {'ratio':>6}  {'cpu s':>6} {'ratio':>6}")
        for what, secs, cmd in rows:
            wall_ratio = f"{secs / log_all:5.2f}x" if cmd is not None and secs > 0.05 else ""
            cpu = cpu_of(cmd) if cmd is not None else None
            cpu_s = f"{cpu:6.3f}" if cpu is not None else ""
            cpu_ratio = f"{cpu / cpu_log:5.2f}x" if cpu is not None and cpu > 0.05 else ""
            print(f"{what:40} {secs:7.3f} {wall_ratio:>6}  {cpu_s:>6} {cpu_ratio:>6}")
        print("(ratios: to git log --raw over the whole history; cpu: user + sys, all processes)")
        from ita_rules.rules.index import refresh, source

        src = source(root, root / "rules")
        refresh(src)
        in_process = []
        for _ in range(args.runs):
            one_commit()
            start = time.perf_counter()
            refresh(src)
            in_process.append(time.perf_counter() - start)
        print(
            f"incremental refresh inside one python process (imports paid): "
            f"{statistics.median(in_process):.3f} s"
        )
        rebuild_cpu = cpu_of(commands["rebuild"]) / cpu_log
        print(
            f"\nrebuild / git log --raw          = {rebuild / log_all:.2f} wall, "
            f"{rebuild_cpu:.2f} cpu  (target <= 2)"
        )
        print(f"library rebuild / git log --raw  = {library / log_all:.2f}")
        print(
            f"incremental - CLI start          = {incremental - cli_start:.3f} s "
            f"(git log -1 = {log_one:.3f} s)"
        )
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

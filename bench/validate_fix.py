#!/usr/bin/env python3
"""``validate --fix`` at scale (issue #16, goal 3): a registry of 10,000 version files of which
some need their params_hash written, ``ita-rules validate --fix`` side by side with a plain
``ita-rules validate`` of the same files. Target: --fix takes at most 3x validate.

    python bench/validate_fix.py [--files 10000] [--share 1] [--runs 5] [--baseline DIR]

``--share`` is the percentage of files that need a fix (a parameter changed, the hash not): with
less than 100 the others are committed (released: git is asked which files are), with 100 none
is (a registry imported in one go). Before every --fix the broken files get their broken bytes
back, so each run fixes the same files. Runs alternate; medians of wall time and of CPU time
(user + sys of the child, which a loaded machine changes less). ``--baseline DIR`` (a folder
holding another version's ``ita_rules/``, e.g. ``git archive 4524eae ita_rules | tar -x -C
DIR``) runs that version's --fix too, interleaved, and says whether it wrote the same bytes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from hook_latency import make_registry  # noqa: E402

OLD, NEW = "ib_range_atr_mult: 1.2", "ib_range_atr_mult: 1.3"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def prepare(root: Path, n_files: int, share: float) -> dict[Path, bytes]:
    """The registry under ``root`` and the broken bytes of the files that need a fix."""
    make_registry(root, n_files)
    (root / "ita.toml").write_text("")
    git(root, "init", "-q", "-b", "main")
    files = sorted((root / "rules").rglob("*.yaml"))
    step = max(1, round(100 / share))
    broken = files[step - 1 :: step]
    if share < 100:
        for k, v in (("user.name", "Bench"), ("user.email", "bench@example.test")):
            git(root, "config", k, v)
        chosen = set(broken)
        git(root, "add", "ita.toml", *(str(p.relative_to(root)) for p in files if p not in chosen))
        git(root, "commit", "-q", "-m", "released versions")
    out = {}
    for path in broken:
        out[path] = path.read_bytes().replace(OLD.encode(), NEW.encode())
        path.write_bytes(out[path])
    return out


def timed(cmd: list[str], root: Path, env: dict[str, str], code: int) -> tuple[float, float]:
    """Wall and CPU (user + sys of the child) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != code:
        sys.exit(
            f"{' '.join(cmd)}: exit {proc.returncode}, expected {code}\n{proc.stderr[-2000:]!r}"
        )
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--share", type=float, default=1.0, help="percent of files to fix")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="a folder holding ita_rules/ to compare")
    parser.add_argument("--baseline-runs", type=int, help="runs of the baseline (default --runs)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base_env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())} if args.baseline else {}
    cmd = [sys.executable, "-m", "ita_rules", "validate"]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        broken = prepare(root, args.files, args.share)
        print(f"registry: {args.files} version files, {len(broken)} need a fix ({args.share:g} %)")
        times: dict[str, list[tuple[float, float]]] = {"validate": [], "fix": [], "base": []}
        ours: dict[Path, bytes] = {}
        same = True
        timed(cmd, root, env, 1)  # warm the page cache
        for i in range(args.runs):
            times["validate"].append(timed(cmd, root, env, 1))
            times["fix"].append(timed([*cmd, "--fix"], root, env, 0))
            ours = {p: p.read_bytes() for p in broken}
            for path, data in broken.items():
                path.write_bytes(data)
            if base_env and i < (args.baseline_runs or args.runs):
                times["base"].append(timed([*cmd, "--fix"], root, base_env, 0))
                same = same and all(p.read_bytes() == data for p, data in ours.items())
                for path, data in broken.items():
                    path.write_bytes(data)
    print(f"\n{'command (medians)':<46} {'wall s':>8} {'cpu s':>8}")
    med = {
        k: tuple(statistics.median(x[j] for x in v) for j in (0, 1)) for k, v in times.items() if v
    }
    rows = [("ita-rules validate", "validate"), ("ita-rules validate --fix", "fix")]
    if "base" in med:
        rows.append((f"the same --fix, baseline ({len(times['base'])} runs)", "base"))
    for label, key in rows:
        print(f"{label:<46} {med[key][0]:>8.3f} {med[key][1]:>8.3f}")
    wall, cpu = (med["fix"][j] / med["validate"][j] for j in (0, 1))
    verdict = "meets" if max(wall, cpu) <= 3 else "MISSES"
    print(f"--fix / validate: wall {wall:.2f}x, cpu {cpu:.2f}x  ({verdict} the target <= 3)")
    if "base" in med:
        print(
            f"baseline --fix / validate: wall {med['base'][0] / med['validate'][0]:.2f}x, "
            f"cpu {med['base'][1] / med['validate'][1]:.2f}x; same bytes written: "
            f"{'yes' if same else 'NO'}"
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

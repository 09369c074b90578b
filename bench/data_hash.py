#!/usr/bin/env python3
"""data_hash throughput and memory (docs/architecture.md#speed-budgets): on a generated
~1 GiB candle CSV, in one run,

1. ``openssl dgst -sha256 FILE`` (the reference),
2. our plain file hash (``datahash.file_hash``; target >= 90% of openssl's throughput),
3. our canonical range hash over the whole file (``datahash.csv_range_hash``; target <= 5x
   openssl's time), parsed by pyarrow in worker threads when installed,
4. optionally (``--python``) the same range hash with the pure-Python reader,

each in its own process, with its peak RSS (``wait4`` rusage). Median of ``--runs`` each.

    python bench/data_hash.py [--size-mib 1024] [--runs 3] [--python] [--keep PATH]
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# A Python case prints its own peak RSS (VmHWM: this process image only, unlike rusage, which
# also counts what the child inherited from the forking bench process).
HWM = "; print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
PLAIN = (
    "from pathlib import Path; from ita_rules.provenance.datahash import file_hash; "
    "print(file_hash(Path({path!r}))[0])" + HWM
)
RANGE = (
    "from pathlib import Path; "
    "from ita_rules.provenance.datahash import DataRange, csv_range_hash; "
    "r = csv_range_hash(Path({path!r}), DataRange.parse(('1970-01-01', '2100-12-31')), "
    "engine={engine!r}); print(r.hash, r.rows)" + HWM
)


def generate(path: Path, size: int) -> int:
    """Write M1 candles from 1990-01-01 until the file reaches ``size`` bytes; return rows."""
    start = dt.datetime(1990, 1, 1)
    minute = dt.timedelta(minutes=1)
    rows = 0
    written = 0
    price = 12000.0
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        fh.write("time,open,high,low,close,volume\n")
        moment = start
        while written < size:
            lines = []
            for _ in range(10_000):
                o = price
                h = o + (rows % 7) * 0.25
                low = o - (rows % 5) * 0.25
                c = o + ((rows % 3) - 1) * 0.5
                lines.append(
                    f"{moment:%Y-%m-%d %H:%M:%S},{o:.2f},{h:.2f},{low:.2f},{c:.2f},"
                    f"{100 + rows % 900}\n"
                )
                price = c if 5000 < c < 20000 else 12000.0
                moment += minute
                rows += 1
            block = "".join(lines)
            fh.write(block)
            written += len(block)
    return rows


def measure(cmd: list[str]) -> tuple[float, int, str, float]:
    """(seconds, peak RSS in bytes, stdout, CPU seconds) of one child process. The peak is
    the VmHWM the child prints last when it does (Python cases), else wait4's (an upper bound:
    it includes the ~12 MB the child had right after fork, before exec)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env={**os.environ})
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:3])}... failed ({proc.returncode}): {err}")
        out.seek(0)
        text = out.read().decode().strip()
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    lines = text.splitlines()
    if len(lines) > 1 and lines[-1].isdigit():  # VmHWM in kB
        rss, text = int(lines[-1]) * 1024, "\n".join(lines[:-1])
    return elapsed, rss, text, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", action="store_true", help="also the pure-Python reader")
    parser.add_argument("--keep", type=Path, help="generate (or reuse) the CSV at this path")
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        raise SystemExit("openssl is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="ita-bench-"))
    path = args.keep or workdir / "candles.csv"
    try:
        if not path.exists():
            t0 = time.perf_counter()
            rows = generate(path, args.size_mib << 20)
            print(f"generated {path} ({rows:,} rows) in {time.perf_counter() - t0:.1f} s")
        size = path.stat().st_size
        py = sys.executable
        cases = [
            ("openssl dgst -sha256", ["openssl", "dgst", "-sha256", str(path)]),
            ("plain file hash", [py, "-c", PLAIN.format(path=str(path))]),
            ("range hash (auto)", [py, "-c", RANGE.format(path=str(path), engine="auto")]),
        ]
        if args.python:
            cases.append(
                (
                    "range hash (pure Python)",
                    [py, "-c", RANGE.format(path=str(path), engine="python")],
                )
            )
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # page cache
        results: dict[str, tuple[float, int, str, float]] = {}
        samples: dict[str, list[tuple[float, int, str, float]]] = {name: [] for name, _ in cases}
        for _ in range(args.runs):
            for name, cmd in cases:
                samples[name].append(measure(cmd))
        for name, runs in samples.items():
            secs = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[3] for r in runs)
            results[name] = (secs, max(r[1] for r in runs), runs[-1][2], cpu)
        base = results["openssl dgst -sha256"][0]
        print(f"file: {size / (1 << 30):.2f} GiB ({size:,} bytes), median of {args.runs} runs")
        print(
            f"{'case':28} {'seconds':>8} {'GB/s':>7} {'vs openssl':>11} {'CPU s':>7} "
            f"{'peak RSS':>9}"
        )
        for name, (secs, rss, _out, cpu) in results.items():
            print(
                f"{name:28} {secs:8.2f} {size / secs / 1e9:7.2f} "
                f"{secs / base:10.2f}x {cpu:7.2f} {rss / (1 << 20):7.0f} MB"
            )
        print(f"load average during the run: {os.getloadavg()[0]:.2f} (2 cores)")
        plain = results["plain file hash"]
        ranged = results["range hash (auto)"]
        print(f"plain hash throughput = {base / plain[0] * 100:.0f}% of openssl (target >= 90%)")
        print(f"range hash time = {ranged[0] / base:.2f}x openssl (target <= 5x)")
        assert results["openssl dgst -sha256"][2].split()[-1] == plain[2].removeprefix("sha256:")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()

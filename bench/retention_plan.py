#!/usr/bin/env python3
"""Benchmark `Retention.plan()` over 100k and 1M store records on SQLite (target: linear,
1M records in seconds).

For each size a fresh workspace is made (the sample rules, the retention policy of the tests);
the real code creates the store and runs schemas (``open_store``, ``RunStore``), then the rows
are inserted directly with the stdlib ``sqlite3`` module (files need not exist for a plan):
one blob per record, types mixed (screenshot 50 %, embedding 25 %, candles 15 %, result 10 %)
over 20 symbols and 4 timeframes, created over the last two years, 2 % tagged ``important``,
a third of the records from 1,000 runs (half of them of active rule versions).

Timed, each in a fresh process (so the page cache is warm but no Python cache is): the
in-process ``Retention.open`` + ``Retention.plan()``, then its ``plan_id`` and the streamed JSON
of its decisions (to /dev/null), and the peak RSS up to there; then, warm, its parts: reading
the records (through the DB-API cursor into a list) and tags, the active runs, the pure plan
(``plan_records`` over the list). Then a whole ``ita-rules retention plan --json > /dev/null``
process and its own peak RSS (skipped with ``--no-cli``). Medians of ``--rounds`` runs, and the
1M/100k ratios (linear: ~10). Usage:

    python bench/retention_plan.py [--sizes 100000,1000000] [--rounds 3] [--no-cli]
                                   [--dir DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AS_OF = "2026-01-15T12:00:00+00:00"
POLICY = """\
safety_window_days: 7
large_purge_gb: 10
types:
  candles:    {retain_days: 365, strategy: archive_to_remote}
  screenshot: {retain_days: 90,  strategy: delete}
  result:     {retain_days: null, strategy: keep_forever}
  embedding:  {retain_days: 180, strategy: prune_old, keep_last: 3}
protect:
  tags: [important]
  active_rules: true
"""
TYPES = [("screenshot", "to_vision", "png")] * 10 + [("embedding", "archive/embeddings", "npy")] * 5
TYPES += [("candles", "raw_data", "csv")] * 3 + [("result", "results", "json")] * 2
RUN_RULES = [  # (setup_id, rule_version, active in the sample registry)
    ("IB_raid_v1", "v1.2", True),
    ("Frank_raid_v1", "v2.0", True),
    ("London_FVG_v1", "v1.1", False),
    ("Frank_raid_v1", "v1.0", False),
]
N_RUNS = 1000

PLAN_ONE = """
import datetime as dt, io, json, resource, sys, time
t0 = time.perf_counter()
from ita_rules.retention.render import write_plan_json
from ita_rules.retention import engine, inputs
from ita_rules.retention.engine import Retention
from ita_rules.retention.plan import plan_records
from ita_rules.store import open_store
from ita_rules.workspace import Workspace
t1 = time.perf_counter()
ws = Workspace.open(sys.argv[1])
store = open_store(ws)
as_of = dt.datetime.fromisoformat(sys.argv[2])
t2 = time.perf_counter()
retention = Retention.open(ws, store, as_of)
plan = retention.plan()
t3 = time.perf_counter()
plan_id, selected = plan.plan_id, plan.n_selected
t4 = time.perf_counter()
with open("/dev/null", "w") as sink:
    write_plan_json(plan, sink)
t5 = time.perf_counter()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
n = len(plan.decisions)
del plan
# the parts, once more (warm): the records read from the cursor, active runs, the pure plan
r = engine.t.records
query = engine.sa.select(
    r.c.file_id, r.c.type, r.c.size, r.c.created_at, r.c.hash, engine.sa.null(),
    r.c.run_id, r.c.symbol, r.c.timeframe,
).where(r.c.status.in_(["live"]))
a = time.perf_counter()
with store.db.read() as conn:
    tags = inputs.tags_by_file(conn)
    with inputs.cursor(store, conn, query) as cursor:
        rows = list(cursor)
b = time.perf_counter()
lineage = inputs.lineage(ws, store)
c = time.perf_counter()
plan_records(rows, tags, retention.policy, as_of, lineage.runs, inputs=lineage.inputs)
d = time.perf_counter()
print(json.dumps({
    "import": t1 - t0, "open_store": t2 - t1, "plan": t3 - t2, "plan_id": t4 - t3,
    "json": t5 - t4, "decisions": n, "selected": selected, "items": b - a,
    "active_runs": c - b, "make_plan": d - c, "maxrss_mib": rss,
}))
"""


def iso(seconds: float) -> str:
    micro = int(seconds % 1 * 1e6)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micro:06d}Z"


def make_workspace(base: Path, n: int, seed: int) -> Path:
    ws = base / f"ws_{n}"
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    (ws / "ita.toml").write_text("")
    shutil.copytree(REPO / "rules", ws / "rules")
    (ws / "retention.yaml").write_text(POLICY)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.test"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.test"}
    subprocess.run(["git", "add", "-A"], cwd=ws, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "rules"], cwd=ws, check=True, env=env)

    # the schemas, created by the real code
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.store import open_store
    from ita_rules.workspace import Workspace

    workspace = Workspace.open(ws)
    open_store(workspace).db.dispose()
    RunStore.open(workspace.settings).close()

    rnd = random.Random(seed)
    db = sqlite3.connect(ws / ".ita" / "ita.sqlite")
    db.execute("PRAGMA synchronous=OFF")
    runs = []
    for i in range(N_RUNS):
        setup, version, _active = RUN_RULES[i % len(RUN_RULES)]
        day = f"2025_{1 + i // 300:02d}_01"
        runs.append(
            (
                f"run_{day}_{i % 300 + 1:03d}",
                day,
                i % 300 + 1,
                "backtest_flow",
                "succeeded",
                setup,
                version,
                0,
                "2025-01-01T00:00:00.000000Z",
                "{}",
            )
        )
    db.executemany(
        "INSERT INTO runs (run_id, day, seq, flow_type, status, setup_id, rule_version, "
        "git_dirty, started_at, snapshot) VALUES (?,?,?,?,?,?,?,?,?,?)",
        runs,
    )
    run_ids = [r[0] for r in runs]
    symbols = [f"SYM{i:02d}" for i in range(20)]
    timeframes = ["M5", "M15", "H1", "D1"]
    now = time.mktime(time.strptime("2026-01-15", "%Y-%m-%d"))
    blobs, records, tags = [], [], []
    for i in range(n):
        type_, folder, ext = rnd.choice(TYPES)
        digest = f"sha256:{i:064x}"
        path = f"{folder}/f{i:08d}.{ext}"
        size = rnd.randint(1_000, 5_000_000)
        created = iso(now - rnd.uniform(0, 730 * 86400))
        file_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        run_id = rnd.choice(run_ids) if rnd.random() < 0.33 else None
        blobs.append((digest, path, size, created))
        records.append(
            (
                file_id,
                digest,
                path,
                size,
                type_,
                rnd.choice(symbols),
                rnd.choice(timeframes),
                run_id,
                "{}",
                created,
                "live",
            )
        )
        if rnd.random() < 0.02:
            tags.append((file_id, "important"))
    with db:
        db.executemany("INSERT INTO store_blobs VALUES (?,?,?,?)", blobs)
        db.executemany(
            "INSERT INTO store_records (file_id, hash, path, size, type, symbol, timeframe, "
            "run_id, metadata, created_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            records,
        )
        db.executemany("INSERT INTO store_tags VALUES (?,?)", tags)
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return ws


def median(values: list[float]) -> float:
    return statistics.median(values)


def bench(ws: Path, rounds: int, cli: bool) -> dict[str, float]:
    runs = []
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", PLAN_ONE, str(ws), AS_OF],
            check=True,
            capture_output=True,
            text=True,
            cwd=ws,
        ).stdout
        runs.append(json.loads(out))
    result = {key: median([r[key] for r in runs]) for key in runs[0]}
    if cli:
        exe = shutil.which("ita-rules") or str(Path(sys.executable).with_name("ita-rules"))
        times, rss = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            with open(os.devnull, "w") as sink:
                proc = subprocess.Popen(
                    [exe, "retention", "plan", "--as-of", AS_OF, "--json"], stdout=sink, cwd=ws
                )
                _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
                proc.returncode = os.waitstatus_to_exitcode(status)
            times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise SystemExit(f"ita-rules retention plan failed ({proc.returncode})")
            rss.append(usage.ru_maxrss / 1024)
        result["cli"] = median(times)
        result["cli_maxrss_mib"] = median(rss)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="with --dir: keep workspaces made by an earlier run"
    )
    args = parser.parse_args()
    os.environ.pop("ITA_DATABASE_URL", None)
    base = args.dir or Path(tempfile.mkdtemp(prefix="ita-retention-bench-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    try:
        for n in sizes:
            start = time.perf_counter()
            ws = base / f"ws_{n}"
            if not (args.reuse and (ws / ".bench-complete").exists()):
                # in a child process: a child's peak RSS (ru_maxrss) starts from its parent's
                # RSS at the fork, and generating a million rows here would make it 600+ MiB
                code = "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
                code += "import retention_plan as b; b.make_workspace(Path(sys.argv[2]), "
                code += "int(sys.argv[3]), seed=int(sys.argv[3]))"
                here = str(Path(__file__).resolve().parent)
                subprocess.run([sys.executable, "-c", code, here, str(base), str(n)], check=True)
                (ws / ".bench-complete").write_text("")
                took = time.perf_counter() - start
                print(f"{n:>9,} records generated in {took:.1f} s", flush=True)
            results[n] = r = bench(ws, args.rounds, not args.no_cli)
            cli = r.get("cli")
            cli_text = (
                f"; `ita-rules retention plan --json` process {cli:.2f} s, "
                f"peak RSS {r['cli_maxrss_mib']:.0f} MiB"
                if cli
                else ""
            )
            print(
                f"{n:>9,} records: plan {r['plan']:.2f} s (parts, warm: records+tags read "
                f"{r['items']:.2f} s, active runs {r['active_runs']:.3f} s, plan_records "
                f"{r['make_plan']:.2f} s), then plan_id {r['plan_id']:.2f} s, JSON "
                f"{r['json']:.2f} s; {int(r['selected']):,} selected, peak RSS "
                f"{r['maxrss_mib']:.0f} MiB" + cli_text,
                flush=True,
            )
        if len(sizes) >= 2:
            lo, hi = results[sizes[0]], results[sizes[-1]]
            factor = sizes[-1] / sizes[0]
            parts = ["plan", "items", "make_plan"] + (["cli"] if "cli" in hi else [])
            ratios = ", ".join(f"{p} x{hi[p] / lo[p]:.1f}" for p in parts)
            head = f"{sizes[-1]:,} / {sizes[0]:,} ({factor:g}x records)"
            print(f"{head}: {ratios} (linear: x{factor:g})")
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark `retention plan` over N store records, this checkout beside a baseline checkout
(default: ``/tmp/base4524r``, made by ``git archive 4524eae ita_rules | tar -x -C DIR``), on
SQLite and on Postgres, in one run (docs/architecture.md#speed-budgets; issue #16 goal 6:
1,000,000 records in at most 2 s and 300 MiB, linear from 100k).

For each size the same rows (seeded) go into a SQLite workspace and a Postgres database; the
schemas are made by this checkout's code, the rows inserted directly (files need not exist for
a plan): one blob per record, types mixed (screenshot 50 %, embedding 25 %, candles 15 %,
result 10 %) over 20 symbols and 4 timeframes, created over the last two years, 2 % tagged
``important``, a third of the records from 1,000 runs (half of them of active rule versions).
The baseline gets a copy whose version row says its own schema version (the tables it knows
are the same).

Two things are timed, each in a fresh process per run, alternating baseline and ours, medians
of ``--rounds``:

- ``plan``: the plan in process, what issue #16 goal 6 asks of (its "1M records 3.17 s" was the
  planner alone): ``Retention.open``, ``plan()``, every decision read and decided, the plan id
  and the totals (``summary()``);
- ``json``: what ``ita-rules retention plan --json`` does in process, what a user of the command
  waits for: the same plan and the whole JSON document streamed to /dev/null, then the plan id.

Beside ``plan`` on SQLite, in the same rounds, the **floor**: what any plan that lists every
live record with its reason (as README's plan does) must do before it decides anything, written
as plainly as it can be: ``sqlite3`` reads the same columns of each type's live records through the
same queries (the newest 3 of each group by the same window), and one ``Decision`` is made per
row, all kept, for no reason. No planner can cost less than this line; ``ours/floor`` is what
the deciding, the protections, the totals and the plan id add (issue #16 goal 6 asks ``<= 2 s``
of ours at 1,000,000 records: compare it with the floor of the same run).

Each as wall seconds and CPU seconds (user + sys of the process, the interpreter's start and
imports included: the machine is shared, so CPU time says more when the load average is high),
and the peak RSS (``ru_maxrss``). The load average is printed with the figures. Usage:

    python bench/retention_plan.py [--sizes 100000,300000,1000000] [--rounds 3]
                                   [--base /tmp/base4524r] [--dir DIR [--reuse]] [--no-postgres]
"""

from __future__ import annotations

import argparse
import io
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("ITA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
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
RUN_RULES = [("IB_raid_v1", "v1.2"), ("Frank_raid_v1", "v2.0"), ("London_FVG_v1", "v1.1")]
RUN_RULES += [("Frank_raid_v1", "v1.0")]  # the first two are active in the sample registry
N_RUNS = 1000

PLAN_ONE = """
import datetime as dt, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
t0 = time.perf_counter()
from ita_rules.retention.engine import Retention
from ita_rules.retention.render import write_plan_json
from ita_rules.store import open_store
from ita_rules.workspace import Workspace
ws = Workspace.open(sys.argv[2])
store = open_store(ws)
plan = Retention.open(ws, store, dt.datetime.fromisoformat(sys.argv[3])).plan()
if sys.argv[4] == "json":
    with open("/dev/null", "w") as sink:
        write_plan_json(plan, sink)
else:  # the plan alone: every decision read and decided, then the id and the totals
    for decision in plan.decisions:
        pass
    plan.summary()
plan_id, selected = plan.plan_id, plan.n_selected
wall = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": use.ru_utime + use.ru_stime,
                  "rss": use.ru_maxrss / 1024, "plan_id": plan_id, "selected": selected}))
"""
MODES = {"plan": "(a) the plan in process", "json": "(b) plan --json to /dev/null"}
FLOOR_ONE = """
import resource, sqlite3, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from ita_rules.retention.decisions import Decision
db = sqlite3.connect(sys.argv[2])
live = "FROM store_records WHERE status = 'live'"
for (type_,) in db.execute(f"SELECT DISTINCT type {live}").fetchall():
    if type_ == "embedding":  # prune_old, keep_last 3: the newest 3 of each group
        ranked = ("SELECT file_id, row_number() OVER (PARTITION BY symbol, timeframe ORDER BY "
                  f"created_at DESC, file_id DESC) AS rank {live} AND type = ?")
        newest = dict(db.execute(f"SELECT file_id, rank FROM ({ranked}) WHERE rank <= 3", (type_,)))
    columns = "file_id, size, created_at, run_id, hash"
    for fid, size, created, run_id, hash_ in db.execute(f"SELECT {columns} {live} AND type = ?",
                                                         (type_,)):
        Decision(fid, type_, size, created, "keep", "", False)
wall = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": use.ru_utime + use.ru_stime, "rss": use.ru_maxrss / 1024}))
""".replace("import resource", "import json, resource")


def iso(seconds: float) -> str:
    micro = int(seconds % 1 * 1e6)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micro:06d}Z"


def rows(n: int, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    """The runs, blobs, records and tags of a store of ``n`` records."""
    rnd = random.Random(seed)
    runs = []
    for i in range(N_RUNS):
        setup, version = RUN_RULES[i % len(RUN_RULES)]
        day, seq = f"2025_{1 + i // 300:02d}_01", i % 300 + 1
        runs.append((f"run_{day}_{seq:03d}", day, seq, "backtest_flow", "succeeded", setup,
                     version, False, "2025-01-01T00:00:00.000000Z", "{}"))  # fmt: skip
    symbols = [f"SYM{i:02d}" for i in range(20)]
    now = time.mktime(time.strptime("2026-01-15", "%Y-%m-%d"))
    blobs, records, tags = [], [], []
    for i in range(n):
        type_, folder, ext = rnd.choice(TYPES)
        digest, path = f"sha256:{i:064x}", f"{folder}/f{i:08d}.{ext}"
        size, created = rnd.randint(1_000, 5_000_000), iso(now - rnd.uniform(0, 730 * 86400))
        file_id = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        run_id = rnd.choice(runs)[0] if rnd.random() < 0.33 else None
        blobs.append((digest, path, size, created))
        symbol, timeframe = rnd.choice(symbols), rnd.choice(["M5", "M15", "H1", "D1"])
        record = (file_id, digest, path, size, type_, symbol, timeframe, run_id, "{}", created)
        records.append((*record, "live"))
        if rnd.random() < 0.02:
            tags.append((file_id, "important"))
    return {"runs": runs, "store_blobs": blobs, "store_records": records, "store_tags": tags}


COLUMNS = {
    "runs": "run_id, day, seq, flow_type, status, setup_id, rule_version, git_dirty, started_at, "
    "snapshot",
    "store_blobs": "hash, path, size, created_at",
    "store_records": "file_id, hash, path, size, type, symbol, timeframe, run_id, metadata, "
    "created_at, status",
    "store_tags": "file_id, tag",
}


def make_workspace(ws: Path, database_url: str | None) -> None:
    """A workspace with the sample rules and the policy, its schema made by this checkout."""
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.test"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.test"}
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    (ws / "ita.toml").write_text("")
    shutil.copytree(REPO / "rules", ws / "rules")
    (ws / "retention.yaml").write_text(POLICY)
    subprocess.run(["git", "add", "-A"], cwd=ws, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "rules"], cwd=ws, check=True, env=env)
    code = (
        "import sys; from ita_rules.store import open_store; from ita_rules.workspace import "
        "Workspace; open_store(Workspace.open(sys.argv[1])).close()"
    )
    env = {**os.environ, **({"ITA_DATABASE_URL": database_url} if database_url else {})}
    subprocess.run([sys.executable, "-c", code, str(ws)], check=True, env=env, cwd=REPO)


def fill(n: int, sqlite_path: Path, pg_database: str | None) -> None:
    """Insert the rows of size ``n`` into the SQLite file and the Postgres database."""
    data = rows(n, seed=n)
    db = sqlite3.connect(sqlite_path)
    db.execute("PRAGMA synchronous=OFF")
    with db:
        for table, columns in COLUMNS.items():
            marks = ",".join("?" * len(columns.split(",")))
            db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", data[table])
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    if pg_database is not None:
        import psycopg

        with psycopg.connect(pg_url(pg_database)) as conn, conn.cursor() as cur:
            for table, columns in COLUMNS.items():
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in data[table]:
                        copy.write_row(row)
            conn.commit()
            cur.execute("ANALYZE")


def pg_url(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + database


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


def baseline_copy(base: Path, ws: Path, pg_database: str | None) -> None:
    """The baseline's copy of a workspace (and of its Postgres database), its version row set to
    the baseline's schema version."""
    version = subprocess.run(
        [sys.executable, "-c", "from ita_rules.db.steps import STEPS; print(STEPS[-1][0])"],
        cwd=base, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    newer = ["run_verifications"]  # tables a newer schema added that the baseline does not know
    copy = ws.with_name(ws.name + "_base")
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(ws, copy)
    fix = [f"UPDATE ita_schema_version SET version = {version}"] + [
        f"DROP TABLE IF EXISTS {table}" for table in newer
    ]
    db = sqlite3.connect(copy / ".ita" / "ita.sqlite")
    with db:
        for sql in fix:
            db.execute(sql)
    db.close()
    if pg_database is not None:
        pg_admin(f'DROP DATABASE IF EXISTS "{pg_database}_base" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{pg_database}_base" TEMPLATE "{pg_database}"')
        import psycopg

        with psycopg.connect(pg_url(pg_database + "_base"), autocommit=True) as conn:
            for sql in fix:
                conn.execute(sql)


def one_run(code: Path, ws: Path, database_url: str | None, mode: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITA_")}
    if database_url:
        env["ITA_DATABASE_URL"] = database_url
    out = subprocess.run(
        [sys.executable, "-c", PLAN_ONE, str(code), str(ws), AS_OF, mode],
        check=True, capture_output=True, text=True, cwd=ws, env=env,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def floor_run(ws: Path) -> dict[str, Any]:
    """:data:`FLOOR_ONE` over the workspace's SQLite file, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", FLOOR_ONE, str(REPO), str(ws / ".ita" / "ita.sqlite")],
        check=True, capture_output=True, text=True, cwd=ws,
    ).stdout  # fmt: skip
    return dict(json.loads(out))


def compare(
    base: Path, ws: Path, pg: str | None, rounds: int, mode: str
) -> dict[str, dict[str, Any]]:
    """Baseline and ours, alternating, on the workspace's SQLite file or its Postgres copy; for
    the plan on SQLite the floor too, in the same rounds."""
    runs: dict[str, list[dict[str, Any]]] = {"base": [], "ours": []}
    floor = mode == "plan" and pg is None
    if floor:
        runs["floor"] = []
    copy = ws.with_name(ws.name + "_base")
    for _ in range(rounds):
        runs["base"].append(one_run(base, copy, pg and pg + "_base", mode))
        runs["ours"].append(one_run(REPO, ws, pg, mode))
        if floor:
            runs["floor"].append(floor_run(ws))
    out = {}
    for who, results in runs.items():
        ids = {r.get("plan_id") for r in results}
        out[who] = {k: statistics.median(r[k] for r in results) for k in ("wall", "cpu", "rss")}
        out[who]["plan_id"] = ids.pop() if len(ids) == 1 else "differs between runs"
    return out


def row_line(n: int, kind: str, label: str, got: dict[str, dict[str, Any]], load: float) -> str:
    b, o = got["base"], got["ours"]
    same = "same plan id" if b["plan_id"] == o["plan_id"] else "PLAN IDS DIFFER"
    return (
        f"{n:>9,} {kind:<8} {label:<29} baseline {b['wall']:6.2f} s wall {b['cpu']:6.2f} s CPU "
        f"{b['rss']:5.0f} MiB | ours {o['wall']:6.2f} s wall {o['cpu']:6.2f} s CPU "
        f"{o['rss']:5.0f} MiB ({same}; load {load:.1f})"
    ) + (
        f"\n{'':>9} {kind:<8} {'(floor) rows + a Decision each':<29} "
        f"{'':>9}{f['wall']:6.2f} s wall {f['cpu']:6.2f} s CPU {f['rss']:5.0f} MiB | ours/floor "
        f"CPU {o['cpu'] / f['cpu']:.2f}"
        if (f := got.get("floor"))
        else ""
    )


def print_growth(table: dict[tuple[int, str, str], dict[str, Any]], sizes: list[int]) -> None:
    """How ours grew from the first size to the last (linear: the ratio of the sizes)."""
    if len(sizes) < 2:
        return
    for kind in ("sqlite", "postgres"):
        for mode, label in MODES.items():
            if (sizes[0], kind, mode) in table and (sizes[-1], kind, mode) in table:
                lo, hi = table[sizes[0], kind, mode]["ours"], table[sizes[-1], kind, mode]["ours"]
                print(
                    f"ours {kind} {label}: {sizes[-1]:,}/{sizes[0]:,} records: wall "
                    f"x{hi['wall'] / lo['wall']:.1f}, CPU x{hi['cpu'] / lo['cpu']:.1f} "
                    f"(linear: x{sizes[-1] / sizes[0]:g})"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", type=Path, default=Path("/tmp/base4524r"))
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep what an earlier --dir run made")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    where = args.dir or Path(tempfile.mkdtemp(prefix="ita-retention-bench-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    loads = [os.getloadavg()[0]]
    table: dict[tuple[int, str, str], dict[str, dict[str, Any]]] = {}
    try:
        for n in sizes:
            ws, pg = where / f"ws_{n}", None if args.no_postgres else f"ita_bench_retention_{n}"
            if not (args.reuse and (ws / ".bench-complete").exists()):
                start = time.perf_counter()
                if pg is not None:
                    pg_admin(f'DROP DATABASE IF EXISTS "{pg}" WITH (FORCE)')
                    pg_admin(f'CREATE DATABASE "{pg}"')
                    make_workspace(ws, pg_url(pg))  # the Postgres schema
                make_workspace(ws, None)  # the SQLite schema (ita.toml names no database)
                code = "import sys; sys.path.insert(0, sys.argv[1]); import retention_plan as b; "
                code += "from pathlib import Path; b.fill(int(sys.argv[2]), Path(sys.argv[3]), "
                code += "sys.argv[4] or None)"
                here, path = str(Path(__file__).parent), str(ws / ".ita" / "ita.sqlite")
                subprocess.run(
                    [sys.executable, "-c", code, here, str(n), path, pg or ""], check=True
                )
                baseline_copy(args.base, ws, pg)
                (ws / ".bench-complete").write_text("")
                print(f"{n:>9,} records made in {time.perf_counter() - start:.0f} s", flush=True)
            for kind in ["sqlite"] + ([] if pg is None else ["postgres"]):
                url = pg_url(pg) if kind == "postgres" and pg else None
                for mode, label in MODES.items():
                    got = table[n, kind, mode] = compare(args.base, ws, url, args.rounds, mode)
                    loads.append(os.getloadavg()[0])
                    print(row_line(n, kind, label, got, loads[-1]), flush=True)
        print_growth(table, sizes)
        low, high, cores = min(loads), max(loads), os.cpu_count()
        print(f"load average (1 min) during the run: {low:.1f} to {high:.1f}, {cores} cores")
    finally:
        if args.dir is None:
            shutil.rmtree(where, ignore_errors=True)
            for n in sizes if not args.no_postgres else []:
                for suffix in ("", "_base"):
                    pg_admin(
                        f'DROP DATABASE IF EXISTS "ita_bench_retention_{n}{suffix}" WITH (FORCE)'
                    )


if __name__ == "__main__":
    sys.stdout = io.TextIOWrapper(sys.stdout.buffer, line_buffering=True)
    main()

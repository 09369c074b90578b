"""Benchmark: ``ita-rules report`` on a big desk (docs/architecture.md#report).

Builds (once; ``--keep DIR`` reuses it) a workspace of 2,000 setups x 5 versions (one commit
per version level, every fifth setup with a deprecated first version), a retention policy,
and 10,000 finished backtest runs, each with a stored result holding three metrics. The runs
are made the fast way: one real run through the library gives the snapshot that 10,000
snapshot files copy (each with its own id, rule version and result), ``RunStore.restore``
reads them into the database as ``store rebuild`` does, the results go in with one bulk put
and are then linked to their runs. Then, alternating, medians of ``--runs`` rounds, whole processes:

* ``ita-rules list`` on the same workspace (the peer: it reads the same 10,000 rule files);
* ``ita-rules report -o OUT`` (every page: registry, 2,000 setup pages with all their diffs,
  runs, 10,000 run pages, storage with the retention plan);
* with ``--cold``, the report again with the registry scan's cache removed first;

wall time and the child's CPU time (user+sys), with the load average (the machine is shared).
Then every page kind is opened in Debian's Chromium (Playwright, ``/usr/bin/chromium``) over
``file://``: the median time to the ``load`` event (navigation timing), to the first contentful
paint and the renderer's main-thread task time (with ``--baseline``: the baseline's pages too,
alternating). Targets of issue #13: the build under 10 s, every page under 1 s.

Run:  python bench/report.py [--setups 2000] [--runs-count 10000] [--runs 3] [--keep DIR]
                             [--baseline DIR] [--cold]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ita_rules.core import canonical

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
VERSIONS = ((1, 0), (1, 1), (1, 2), (2, 0), (2, 1))
POLICY = """\
safety_window_days: 7
large_purge_gb: 10
types:
  result: {retain_days: null, strategy: keep_forever}
protect: {tags: [important], active_rules: true}
"""


def rule_text(setup: str, major: int, minor: int, active: bool) -> str:
    params: dict[str, Any] = {"atr_mult": 1.0 + minor / 10, "max_trades_per_day": 2}
    if major > 1:
        params["filter"] = "trend"  # a key added: the major bump
    data: dict[str, Any] = {
        "setup_id": setup,
        "version": f"{major}.{minor}",
        "author": f"trader_{int(setup[-5:]) % 7}",
        "created": "2025-01-01",
        "description": f"benchmark setup {setup}",
        "components": ["Detect_Sessions", "Detect_FVG"],
        "rules": {"market": "GER40", "session": {"start": "08:00", "minutes": 60}},
        "params": params,
        "targets": {"tp": 2.0, "sl": 1.0},
        "active": active,
        "tags": ["bench", f"group{int(setup[-5:]) % 20}"],
    }
    if not active:
        data["deprecation_reason"] = "replaced by the next version"
    data["params_hash"] = canonical.params_hash(data)
    return json.dumps(data, indent=1) + "\n"  # JSON is YAML


def git(root: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.test"]
    subprocess.run(["git", *ident, *args], cwd=root, check=True, capture_output=True)


def build(root: Path, setups: int, runs: int) -> None:
    from ita_rules.workspace import init_workspace

    init_workspace(root)
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "/out/\n/incoming/\n")
    (root / "retention.yaml").write_text(POLICY)
    names = [f"Bench_{i:05d}" for i in range(setups)]
    for major, minor in VERSIONS:
        for i, name in enumerate(names):
            path = root / "rules" / name / f"v{major}.{minor}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                rule_text(name, major, minor, not (i % 5 == 0 and (major, minor) == (1, 0)))
            )
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", f"versions {major}.{minor}")
    make_runs(root, names, runs)


def make_runs(root: Path, names: list[str], count: int) -> None:
    import sqlalchemy as sa

    from ita_rules.db import tables as t
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.store import PutSpec, open_store
    from ita_rules.workspace import Workspace

    ws = Workspace.open(root)
    with ws.start_run("backtest_flow", rule=ws.registry.get(names[0], "1.0")) as run:
        pass
    with RunStore.open(ws.settings) as store:
        template = store.get(run.run_id)
    folder = ws.settings.store_root / "archive" / "provenance"
    incoming = root / "incoming"
    incoming.mkdir()
    plan = []
    for n in range(count):
        day, seq = divmod(n, 100)
        run_id = f"run_2026_{1 + day // 28:02d}_{1 + day % 28:02d}_{seq + 1:03d}"
        setup = names[n % len(names)]
        major, minor = VERSIONS[(n // len(names)) % len(VERSIONS)]
        plan.append((run_id, setup, f"{major}.{minor}"))
        result = {
            "setup_id": setup,
            "rule_version": f"{major}.{minor}",
            "metrics": {"sharpe": (n % 97) / 31, "win_rate": (n % 53) / 53, "trades": n % 40},
        }
        (incoming / f"{run_id}.json").write_text(json.dumps(result))
    with open_store(ws) as store:
        records = store.put_many(
            [incoming / f"{run_id}.json" for run_id, _, _ in plan], PutSpec(type="result")
        )
        with store.db.write() as conn:
            conn.execute(
                t.records.update().where(t.records.c.file_id == sa.bindparam("fid")),
                [
                    {"fid": r.file_id, "run_id": run_id}
                    for r, (run_id, _, _) in zip(records, plan, strict=True)
                ],
            )
    for record, (run_id, setup, version) in zip(records, plan, strict=True):
        rule = ws.registry.get(setup, version)
        snap = {
            **template,
            "run_id": run_id,
            "rule_id": setup,
            "rule_version": f"v{version}",
            "params_hash": rule.params_hash,
            "rule_path": f"rules/{setup}/v{version}.yaml",
            "started_at": f"{run_id[4:14].replace('_', '-')}T10:00:00.000000Z",
            "finished_at": f"{run_id[4:14].replace('_', '-')}T10:05:00.000000Z",
            "outputs": [record.file_id],
        }
        (folder / f"{run_id}_snapshot.json").write_text(json.dumps(snap, sort_keys=True))
    with RunStore.open(ws.settings) as store:
        restored, bad = store.restore()
    assert len(restored) == count and not bad, (len(restored), bad)


def timed(cmd: list[str], cwd: Path, code: Path | None = None) -> tuple[float, float]:
    """Wall and CPU (user+sys of the child and of the workers it forks) seconds of one process;
    ``code``: a folder holding another version's ``ita_rules/`` to run instead of this one."""
    env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


KINDS = ("registry", "setup", "runs", "run", "storage")
PAINTS = """async () => {
  const nav = performance.getEntriesByType("navigation")[0];
  const fcp = await new Promise((resolve) => {
    setTimeout(() => resolve(-1), 5000);
    new PerformanceObserver((list) => {
      const e = list.getEntriesByName("first-contentful-paint")[0];
      if (e) resolve(e.startTime);
    }).observe({ type: "paint", buffered: true });
  });
  return [nav.loadEventEnd, fcp];
}"""


def page_kinds(site: Path) -> dict[str, str]:
    """Each page kind's file (the first setup and run page) relative to ``site``."""
    run_page = sorted((site / "run").iterdir())[0].relative_to(site).as_posix()
    setup_page = sorted((site / "setup").iterdir())[0].relative_to(site).as_posix()
    files = ("index.html", setup_page, "runs.html", run_page, "storage.html")
    return dict(zip(KINDS, files, strict=True))


def page_loads(sites: dict[str, Path], rounds: int) -> dict[tuple[str, str], list[float]]:
    """Per (site label, page kind): the medians over ``rounds`` of the time to the ``load``
    event, to the first contentful paint (-1: none within 5 s) and the renderer's main-thread
    task time until both (CDP Performance.TaskDuration: the page's own work, less inflated by
    a busy machine than the wall times), in ms. The sites alternate in each round; every page
    opens in a new tab."""
    from playwright.sync_api import sync_playwright

    out: dict[tuple[str, str], list[list[float]]] = {
        (label, kind): [] for label in sites for kind in KINDS
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for n in range(rounds):
            order = list(sites.items()) if n % 2 == 0 else list(sites.items())[::-1]
            for kind in KINDS:
                for label, site in order:
                    page = browser.new_page()
                    cdp = page.context.new_cdp_session(page)
                    cdp.send("Performance.enable")
                    page.goto((site / page_kinds(site)[kind]).as_uri(), wait_until="load")
                    load, fcp = page.evaluate(PAINTS)
                    metrics = cdp.send("Performance.getMetrics")["metrics"]
                    task = next(m["value"] for m in metrics if m["name"] == "TaskDuration")
                    out[(label, kind)].append([float(load), float(fcp), task * 1000])
                    page.close()
        browser.close()
    return {k: [statistics.median(c) for c in zip(*rows, strict=True)] for k, rows in out.items()}


def print_page_loads(sites: dict[str, Path], rounds: int = 5) -> None:
    before = os.getloadavg()[0]
    loads = page_loads(sites, rounds)
    after = os.getloadavg()[0]
    print(f"page load in Chromium over file:// (medians of {rounds}, sites alternating; "
          f"load average {before:.1f} before, {after:.1f} after; goal: load < 1 s)")  # fmt: skip
    print(f"  {'page':<9} {'site':<10} {'load ms':>8} {'FCP ms':>8} {'main-thread ms':>15}")
    for kind in KINDS:
        for label in sites:
            load, fcp, task = loads[(label, kind)]
            print(f"  {kind:<9} {label:<10} {load:8.0f} {fcp:8.0f} {task:15.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--setups", type=int, default=2000)
    ap.add_argument("--runs-count", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3, help="rounds of each command")
    ap.add_argument("--keep", type=Path, help="build (or reuse) the workspace here")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a folder holding another version's ita_rules/ (git archive REV ita_rules | tar -x "
        "-C DIR): its list and report run too, interleaved",
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="also time our report with the scan cache (.ita/rules-scan.json) removed first: "
        "every rule file read and validated again, and the cache written",
    )
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    root = base / "ws"
    if not (root / "ita.toml").exists():
        start = time.perf_counter()
        build(root, args.setups, args.runs_count)
        print(f"built {args.setups} setups x {len(VERSIONS)} versions, {args.runs_count} runs "
              f"in {time.perf_counter() - start:.0f} s: {root}")  # fmt: skip
    ita = str(BIN / "ita-rules")
    site = root / "out" / "site"
    timed([ita, "report", "-o", str(site)], root)  # warm the index and the page cache
    kinds: list[tuple[str, str, Path | None]] = [
        ("list", "ita-rules list", None),
        ("report", "ita-rules report -o DIR", None),
    ]
    if args.cold:
        kinds.append(("cold", "ita-rules report, no scan cache", None))
    if args.baseline is not None:
        kinds += [
            ("list", "baseline: ita-rules list", args.baseline),
            ("report", "baseline: ita-rules report -o DIR", args.baseline),
        ]
    rows: dict[str, list[tuple[float, float]]] = {label: [] for _, label, _ in kinds}
    levels = [os.getloadavg()[0]]
    for _ in range(args.runs):
        for verb, label, code in kinds:
            cmd = [ita, "list"] if verb == "list" else [ita, "report", "-o", str(site)]
            if verb == "cold":
                (root / ".ita" / "rules-scan.json").unlink(missing_ok=True)
            rows[label].append(timed(cmd, root, code))
            levels.append(os.getloadavg()[0])
    print(f"load average (1 min) during the rounds: {min(levels):.1f} to {max(levels):.1f} "
          "(2 cores, shared: wall times wait for the CPU; compare CPU)")  # fmt: skip
    print("the peer: list reads and validates the same 10,000 rule files through the same "
          "Registry.scan, so a faster registry load speeds both; both take the valid files "
          "whose bytes did not change from the scan cache (.ita/rules-scan.json, written by "
          "the warm-up report; --cold times a report without it)")  # fmt: skip
    print(f"{'command':<40} {'wall s':>8} {'cpu s':>8}   (medians of {args.runs}, alternating)")
    for _, label, _ in kinds:
        wall = statistics.median(w for w, _ in rows[label])
        cpu = statistics.median(c for _, c in rows[label])
        print(f"{label:<40} {wall:>8.2f} {cpu:>8.2f}")
    if args.baseline is not None:  # the last report written is the baseline's: write ours again
        timed([ita, "report", "-o", str(site)], root)
    pages = sum(1 for _ in site.rglob("*.html"))
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"report: {pages} pages, {size / 1e6:.1f} MB; target: under 10 s")
    if Path(CHROMIUM).exists():
        sites = {"ours": site}
        if args.baseline is not None:  # its pages too, from the same workspace
            sites["baseline"] = root / "out" / "site-baseline"
            timed([ita, "report", "-o", str(sites["baseline"])], root, args.baseline)
        print_page_loads(sites)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark retention over vectors in the embedded Chroma store (issue #14): ``retention
plan``, then apply + ``sweep`` of what it selects, seconds and peak RSS, printed beside a plain
``collection.delete(ids=...)`` of the same ids on a copy of the same store.

A fresh workspace is made (the sample rules, the README's policy with ``safety_window_days: 0``
so the sweep can follow the apply at once); ``--size`` vectors of dimension 4 are added to one
collection through Chroma in batches, stamped like ``run.save_embeddings`` does (numeric
``created_at`` spread over two years, ``source_id`` in size/10 groups, no run: nothing is
lineage-protected, 2 % tagged ``important``), and the manifest rows are inserted directly.
Each measured phase runs in its own process (peak RSS is that process's). Usage:

    python bench/vectors.py [--size 1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAME = "bench-vectors"
POLICY = """\
safety_window_days: 0
large_purge_gb: 10
types:
  embedding:  {retain_days: 180, strategy: prune_old, keep_last: 3}
protect:
  tags: [important]
  active_rules: true
"""


def build(root: Path, size: int) -> float:
    """The workspace and its vectors; returns the seconds the adds took."""
    sys.path.insert(0, str(REPO))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    shutil.copytree(REPO / "rules", root / "rules")
    (root / "retention.yaml").write_text(POLICY)
    (root / "ita.toml").write_text(
        '[vectors]\nurl = "chroma:.ita/vectors"\ngroup_key = "source_id"\n'
    )
    from ita_rules.core.config import load_settings
    from ita_rules.db import open_database
    from ita_rules.provenance import vectorstore
    from ita_rules.provenance.embeddings import manifest

    settings = load_settings(root)
    db = open_database(settings.database_url, root)
    client = vectorstore.open_store(vectorstore.address(settings.vectors_url, root))
    coll = vectorstore.collection(client, NAME, create=True)
    rng, now = random.Random(7), time.time()
    started = time.perf_counter()
    for start in range(0, size, 5000):
        ids = [f"v{i:07d}" for i in range(start, min(size, start + 5000))]
        metas = [
            {"created_at": now - rng.uniform(0, 730) * 86400,
             "source_id": f"s{rng.randrange(size // 10 or 1)}",
             "ita_deleted_at": 0, "ita_tags": "important" if rng.random() < 0.02 else "",
             "run_id": "", "setup_id": "", "rule_version": ""}
            for _ in ids
        ]  # fmt: skip
        coll.add(
            ids=ids, embeddings=[[rng.random() for _ in range(4)] for _ in ids], metadatas=metas
        )
        with db.write() as conn:
            conn.execute(
                manifest.insert(),
                [
                    {
                        "collection": NAME,
                        "vector_id": i,
                        "created_at": "2026-01-01T00:00:00.000000Z",
                    }
                    for i in ids
                ],
            )
    db.dispose()
    return time.perf_counter() - started


JOBS = "from ita_rules.retention import jobs\n"
PHASES = {
    "plan": JOBS + "plan = jobs.plan(desk)\nout = {'selected': plan.n_selected}",
    "apply": JOBS
    + "r = jobs.apply(desk).as_dict()\nout = {'soft_deleted': r['vectors_soft_deleted']}",
    "sweep": JOBS + "r = jobs.sweep(desk).as_dict()\nout = {'purged': r['vectors_purged']}",
    "plain_delete": (
        "import json\nfrom ita_rules.provenance import vectorstore as vs\n"
        "ids = json.load(open(sys.argv[3]))\n"
        "where = vs.address(desk.settings.vectors_url, desk.root)\n"
        "coll = vs.collection(vs.open_store(where), 'bench-vectors')\n"
        "t1 = time.perf_counter()\ncoll.delete(ids=ids)\n"
        "out = {'deleted': len(ids), 'delete_call_s': round(time.perf_counter() - t1, 2)}"
    ),
}
RUNNER = """
import sys, time, resource, json
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
from ita_rules.workspace import Workspace
desk = Workspace.open(sys.argv[1])
{body}
out['seconds'] = round(time.perf_counter() - t0, 2)
out['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def phase(name: str, root: Path, *extra: str) -> dict[str, object]:
    code = RUNNER.format(repo=str(REPO), body=PHASES[name])
    proc = subprocess.run(
        [sys.executable, "-c", code, str(root), name, *extra], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name}: {proc.stderr.strip().splitlines()[-1]}")
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="ita-bench-vectors-"))
    root, copy = base / "ws", base / "ws-plain"
    built = build(root, args.size)
    print(f"{args.size} vectors added in {built:.1f} s")
    results = {"plan": phase("plan", root), "apply": phase("apply", root)}
    shutil.copytree(root, copy)  # the same store, soft-deleted, for the plain delete
    results["sweep"] = phase("sweep", root)
    report = max((root / "logs").glob("purge_*_sweep*.json"), key=lambda p: p.stat().st_mtime)
    ids = [f.rsplit("/", 1)[1] for f in json.loads(report.read_text())["affected_vector_ids"]]
    (base / "ids.json").write_text(json.dumps(ids))
    results["plain_delete"] = phase("plain_delete", copy, str(base / "ids.json"))
    for name, found in results.items():
        print(f"{name:13} {json.dumps(found)}")
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"(peak RSS of this driver, which added the vectors: {driver} MB)")


if __name__ == "__main__":
    main()

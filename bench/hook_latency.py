#!/usr/bin/env python3
"""Pre-commit hook latency (docs/architecture.md#speed-budgets): our published validate hook on
one changed rule file in a registry of 10,000 version files, side by side with check-jsonschema
on the same file and schema.

    python bench/hook_latency.py [--files 10000] [--runs 21] [--baseline DIR]

Both are run as whole processes, alternately, and the medians compared. Target: our hook takes at
most half of check-jsonschema's time. ``--baseline DIR`` (a folder holding another version's
``ita_rules/``, e.g. ``git archive REV ita_rules | tar -x -C DIR``) runs that version's hook too,
interleaved with ours, so a before/after comparison shares the machine's load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ita_rules.core.canonical import params_hash  # noqa: E402
from ita_rules.core.yamlio import loads  # noqa: E402

TEMPLATE = (REPO / "rules" / "IB_raid_v1" / "v1.2.yaml").read_text()


def make_registry(root: Path, n_files: int) -> Path:
    per_setup = 10
    for i in range(n_files):
        setup, minor = f"Setup_{i // per_setup:05d}", i % per_setup
        text = TEMPLATE.replace("IB_raid_v1", setup).replace(
            'version: "1.2"', f'version: "1.{minor}"'
        )
        text = text.replace("max_trades_per_day: 1", f"max_trades_per_day: {minor + 1}")
        body = text.rsplit("params_hash:", 1)[0]
        doc, _ = loads(body, "x", raw_scalars=("version",))
        assert doc is not None
        path = root / "rules" / setup / f"v1.{minor}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body + f'params_hash: "{params_hash(doc.data)}"\n')
    return (
        root
        / "rules"
        / f"Setup_{(n_files - 1) // per_setup:05d}"
        / f"v1.{(n_files - 1) % per_setup}.yaml"
    )


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--baseline", type=Path, help="a folder holding ita_rules/ to compare")
    args = parser.parse_args()
    base_env = None
    if args.baseline is not None:  # the hook's cwd is the registry: PYTHONPATH decides the code
        base_env = {**os.environ, "PYTHONPATH": str(args.baseline.resolve())}
    bindir = Path(sys.executable).parent
    hook = shutil.which("ita-rules-hook-validate", path=str(bindir)) or "ita-rules-hook-validate"
    cjs = shutil.which("check-jsonschema", path=str(bindir)) or shutil.which("check-jsonschema")
    if cjs is None:
        raise SystemExit("check-jsonschema is not installed: pip install check-jsonschema")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        changed = make_registry(root, args.files).relative_to(root).as_posix()
        print(f"registry: {args.files} version files generated in {time.perf_counter() - t0:.1f} s")
        schema = str(REPO / "schemas" / "rule.schema.json")
        ours_cmd = [hook, changed]
        ref_cmd = [cjs, "--schemafile", schema, changed]
        ours: list[float] = []
        ref: list[float] = []
        base: list[float] = []
        timed(ours_cmd, root), timed(ref_cmd, root)  # warm the page cache
        if base_env is not None:
            timed(ours_cmd, root, base_env)
        for _ in range(args.runs):
            ours.append(timed(ours_cmd, root))
            ref.append(timed(ref_cmd, root))
            if base_env is not None:
                base.append(timed(ours_cmd, root, base_env))
        py = [timed([sys.executable, "-c", "pass"], root) for _ in range(args.runs)]
    m_ours, m_ref, m_py = (statistics.median(x) for x in (ours, ref, py))
    print(f"{'command':<58} {'median':>9}")
    print(f"{'python -c pass':<58} {m_py:>8.3f}s")
    print(f"{'check-jsonschema --schemafile rule.schema.json FILE':<58} {m_ref:>8.3f}s")
    print(f"{'ita-rules-hook-validate FILE  (published hook entry)':<58} {m_ours:>8.3f}s")
    if base:
        m_base = statistics.median(base)
        print(f"{'the same hook, --baseline version':<58} {m_base:>8.3f}s")
        print(
            f"ratio ours/baseline = {m_ours / m_base:.2f}  (baseline/check-jsonschema = "
            f"{m_base / m_ref:.2f})"
        )
    ratio = m_ours / m_ref
    verdict = "meets" if ratio <= 0.5 else "MISSES"
    print(f"ratio ours/check-jsonschema = {ratio:.2f}  ({verdict} the target <= 0.50)")


if __name__ == "__main__":
    main()

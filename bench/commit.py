#!/usr/bin/env python3
"""A commit's cost with our hooks (docs/architecture.md#speed-budgets, issue #16 goal 1).

    python bench/commit.py [--setups 2000] [--versions 5] [--runs 15] [--baseline DIR]

A registry of SETUPS x VERSIONS rule files made by ``ita-rules init`` and committed once; one
clone per configuration, each with its hooks installed by the real pre-commit
(``pre-commit install --hook-type pre-commit --hook-type pre-push``):

* ``bare``: no hooks at all (``git commit --no-verify``);
* ``pre-commit, a no-op hook``: the framework's own cost, which neither tool can avoid;
* ``ours``: the ``.pre-commit-config.yaml`` that ``ita-rules init`` writes today;
* ``two hooks``: the two separate hooks ``ita-rules-validate`` and ``ita-rules-check`` (the
  config ``init`` wrote before the combined hook; workspaces made then still use it);
* ``check-jsonschema``: one ``check-jsonschema --schemafile schemas/rule.schema.json`` hook on
  the same files (``language: system``, as ours);
* with ``--baseline DIR`` (a folder holding another version's ``ita_rules/``, e.g.
  ``git archive REV ita_rules | tar -x -C DIR``): init's config and the two-hook config
  running that version's code (PYTHONPATH), i.e. the hooks as they were.

One run of a configuration: write one new version file (the next minor of a setup, correct
hash), ``git add`` it, time ``git commit`` (wall, and user+sys CPU of git and everything it
waited for), then drop the commit again (untimed). The configurations take turns, in a rotating
order, and the medians are compared. **Cost** = a configuration's median minus the bare
commit's median: what the hooks add. The target (issue #16): our cost <= 0.6 x
check-jsonschema's. The ratio of the totals is printed too.

**What a user gets, not this checkout's venv.** The development venv holds ita-rules as an
editable install, whose ``.pth`` finder runs at every Python start in it (pathlib, re,
importlib.util...: ~12 ms CPU for ``python -c pass``), so every tool of that venv, pre-commit
and check-jsonschema included, would pay a cost no user pays. The bench therefore builds a wheel
of this checkout (``pip wheel --no-deps``, from a copy: nothing is written here) and installs it
into a venv of its own (``pip install --no-deps --no-index``: the console scripts and bytecode
pip makes); the dependencies come from this venv's site-packages through a plain path line in a
``.pth`` file (so their own ``.pth`` files, the editable finder among them, do not run), and
pre-commit and check-jsonschema run from that venv too (their console scripts, copied with its
interpreter in the first line). ``--dev-venv`` measures this venv as it is instead. With
``--baseline``, the baseline code is read through PYTHONPATH from that same venv.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import _venv  # noqa: E402  (bench/ is sys.path[0])
from _venv import sh, user_venv  # noqa: E402

from ita_rules.core.canonical import params_hash  # noqa: E402
from ita_rules.core.yamlio import loads  # noqa: E402

BIN = Path(sys.executable).parent
TEMPLATE = (REPO / "rules" / "IB_raid_v1" / "v1.2.yaml").read_text()
FILES = r"^rules/[^/]+/[^/]+\.ya?ml$"
TWO_HOOKS = f"""\
repos:
  - repo: local
    hooks:
      - id: ita-rules-validate
        name: ita-rules validate (schema, naming, params_hash)
        entry: ita-rules-hook-validate
        language: system
        files: {FILES}
        stages: [pre-commit, pre-push]
      - id: ita-rules-check
        name: ita-rules check (released versions are immutable; version order and bumps)
        entry: ita-rules-hook-check
        language: system
        always_run: true
        pass_filenames: false
        require_serial: true
        stages: [pre-commit, pre-push]
"""
NO_OP = """\
repos:
  - repo: local
    hooks:
      - id: no-op
        name: no-op
        entry: "true"
        language: system
        always_run: true
        pass_filenames: false
        stages: [pre-commit, pre-push]
"""
CHECK_JSONSCHEMA = f"""\
repos:
  - repo: local
    hooks:
      - id: check-jsonschema
        name: check-jsonschema
        entry: check-jsonschema --schemafile schemas/rule.schema.json
        language: system
        files: {FILES}
        stages: [pre-commit, pre-push]
"""


def rule_text(setup: str, minor: int) -> str:
    """A valid version file ``setup`` 1.``minor`` with its correct params_hash."""
    text = TEMPLATE.replace("IB_raid_v1", setup).replace('version: "1.2"', f'version: "1.{minor}"')
    text = text.replace("max_trades_per_day: 1", f"max_trades_per_day: {minor + 1}")
    body = text.rsplit("params_hash:", 1)[0]
    doc, _ = loads(body, "x", raw_scalars=("version",))
    assert doc is not None
    return body + f'params_hash: "{params_hash(doc.data)}"\n'


def make_registry(root: Path, setups: int, versions: int, env: dict[str, str]) -> None:
    sh([str(BIN / "ita-rules"), "init", str(root)], root.parent, env)
    for s in range(setups):
        setup = f"Setup_{s:05d}"
        (root / "rules" / setup).mkdir(parents=True)
        for minor in range(versions):
            (root / "rules" / setup / f"v1.{minor}.yaml").write_text(rule_text(setup, minor))
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-q", "--no-verify", "-m", "registry"], root, env)


class Config:
    """One clone with one hook configuration, and its timings."""

    def __init__(self, name: str, clone: Path, env: dict[str, str], verify: bool = True) -> None:
        self.name, self.clone, self.env, self.verify = name, clone, env, verify
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def commit_once(self, new_file: str, text: str) -> tuple[float, float]:
        (self.clone / new_file).write_text(text)
        sh(["git", "add", new_file], self.clone, self.env)
        args = ["git", "commit", "-q", "-m", "one new version"]
        if not self.verify:
            args.append("--no-verify")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        sh(args, self.clone, self.env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        sh(["git", "reset", "-q", "--hard", "HEAD~1"], self.clone, self.env)
        return wall, cpu


def setup_configs(
    tmp: Path, origin: Path, env: dict[str, str], baseline: Path | None, bindir: Path
) -> list[Config]:
    ours_text = (origin / ".pre-commit-config.yaml").read_text()
    specs: list[tuple[str, str | None, dict[str, str]]] = [
        ("bare (--no-verify)", None, env),
        ("pre-commit, a no-op hook", NO_OP, env),
        ("ours (init's config)", ours_text, env),
        ("two hooks (validate, check)", TWO_HOOKS, env),
        ("check-jsonschema", CHECK_JSONSCHEMA, env),
    ]
    if baseline is not None:
        base_env = {**env, "PYTHONPATH": str(baseline.resolve())}
        specs.append(("ours, --baseline code", ours_text, base_env))
        specs.append(("two hooks, --baseline code", TWO_HOOKS, base_env))
    configs = []
    for n, (name, config, cenv) in enumerate(specs):
        clone = tmp / f"clone{n}"
        sh(["git", "clone", "-q", "--local", str(origin), str(clone)], tmp, env)
        if config is not None:
            (clone / ".pre-commit-config.yaml").write_text(config)
            sh(["git", "commit", "-q", "--no-verify", "--allow-empty", "-am", "hooks"], clone, env)
            hook_types = ["--hook-type", "pre-commit", "--hook-type", "pre-push"]
            sh([str(bindir / "pre-commit"), "install", *hook_types], clone, env)
        configs.append(Config(name, clone, cenv, verify=config is not None))
    return configs


def bench_env(tmp: Path, bindir: Path) -> dict[str, str]:
    """The environment of every command (:func:`_venv.bench_env`), pre-commit's cache and HOME
    in the run's folder, no system git config, a fixed author."""
    return {
        **_venv.bench_env(tmp, bindir),
        "PRE_COMMIT_HOME": str(tmp / "pre-commit-home"),
        "HOME": str(tmp),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.test",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.test",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="a folder holding ita_rules/ to compare")
    parser.add_argument(
        "--dev-venv", action="store_true", help="run the tools of this venv (editable install)"
    )
    args = parser.parse_args()
    if shutil.which("check-jsonschema", path=str(BIN)) is None:
        raise SystemExit("check-jsonschema is not installed: pip install check-jsonschema")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bindir = BIN if args.dev_venv else user_venv(tmp, bench_env(tmp, BIN))
        print(
            f"tools from {bindir} ({'this venv' if args.dev_venv else 'a wheel of this checkout'})"
        )
        env = bench_env(tmp, bindir)
        t0 = time.perf_counter()
        origin = tmp / "registry"
        make_registry(origin, args.setups, args.versions, env)
        total = args.setups * args.versions
        print(
            f"registry: {args.setups} setups x {args.versions} = {total} version files, "
            f"one commit, made in {time.perf_counter() - t0:.1f} s"
        )
        configs = setup_configs(tmp, origin, env, args.baseline, bindir)
        setup = f"Setup_{args.setups // 2:05d}"
        new_file = f"rules/{setup}/v1.{args.versions}.yaml"
        text = rule_text(setup, args.versions)
        for cfg in configs:  # warm-up: page cache, pre-commit's own first-run setup
            cfg.commit_once(new_file, text)
        loads_seen = [os.getloadavg()[0]]
        for run in range(args.runs):
            for k in range(len(configs)):
                cfg = configs[(run + k) % len(configs)]
                wall, cpu = cfg.commit_once(new_file, text)
                cfg.wall.append(wall)
                cfg.cpu.append(cpu)
            loads_seen.append(os.getloadavg()[0])
    report(configs, loads_seen, args.runs)


def report(configs: list[Config], loads_seen: list[float], runs: int) -> None:
    print(
        f"load average (1 min) during the runs: {min(loads_seen):.2f}-{max(loads_seen):.2f}; "
        f"{runs} runs each, alternating; medians"
    )
    med = {c.name: (statistics.median(c.wall), statistics.median(c.cpu)) for c in configs}
    bare_wall, bare_cpu = next(iter(med.values()))
    print(f"{'configuration':<30} {'wall':>8} {'cost':>8} {'cpu':>8} {'cpu cost':>9}")
    for name, (wall, cpu) in med.items():
        print(
            f"{name:<30} {wall:>7.3f}s {wall - bare_wall:>7.3f}s {cpu:>7.3f}s "
            f"{cpu - bare_cpu:>8.3f}s"
        )
    ours_wall, ours_cpu = med["ours (init's config)"]
    ref_wall, ref_cpu = med["check-jsonschema"]
    cost = (ours_wall - bare_wall) / (ref_wall - bare_wall)
    cpu_cost = (ours_cpu - bare_cpu) / (ref_cpu - bare_cpu)
    verdict = "meets" if cost <= 0.6 else "MISSES"
    print(
        f"ours/check-jsonschema: cost {cost:.2f} ({verdict} the target <= 0.60), "
        f"cpu cost {cpu_cost:.2f}, total {ours_wall / ref_wall:.2f}, "
        f"cpu total {ours_cpu / ref_cpu:.2f}"
    )
    noop_wall, noop_cpu = med["pre-commit, a no-op hook"]
    print(
        f"hooks alone (cost minus the no-op hook's), ours/check-jsonschema: wall "
        f"{(ours_wall - noop_wall) / (ref_wall - noop_wall):.2f}, "
        f"cpu {(ours_cpu - noop_cpu) / (ref_cpu - noop_cpu):.2f}"
    )
    for name in (
        "ours, --baseline code",
        "two hooks (validate, check)",
        "two hooks, --baseline code",
    ):
        if name in med:
            wall, cpu = med[name]
            print(
                f"{name}/check-jsonschema: cost {(wall - bare_wall) / (ref_wall - bare_wall):.2f}, "
                f"cpu cost {(cpu - bare_cpu) / (ref_cpu - bare_cpu):.2f}, "
                f"total {wall / ref_wall:.2f}"
            )


if __name__ == "__main__":
    main()

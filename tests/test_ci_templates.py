"""``ita-rules init --ci github|gitlab`` and the published ``action.yml``.

The generated files are parsed, then their commands are run by hand, as the CI would run them,
in a real git repository with a remote holding the target branch and a pull-request branch:
a mutated released version fails with annotations, a clean change passes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ita_rules.core.canonical import params_hash
from tests.conftest import REPO, SAMPLE_RULES

BIN = Path(sys.executable).parent
MUTATION_PREFIX = (
    "rules/IB_raid_v1/v1.2.yaml:19:22: params.ib_range_atr_mult: is released (in origin/main)"
)
ANNOTATION_PREFIX = (
    "::error file=rules/IB_raid_v1/v1.2.yaml,line=19,col=22,title=params.ib_range_atr_mult::"
)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    for var in [v for v in env if v.startswith(("GITHUB_", "CI_"))]:
        del env[var]
    env.update(extra)
    return env


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=300, check=False
    )


def _git(cwd: Path, *args: str) -> str:
    done = _run(["git", *args], cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _init(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([str(BIN / "ita-rules"), "init", *args], tmp_path)


def _desk(tmp_path: Path, ci: str) -> Path:
    """``ita-rules init desk --ci CI``, the sample rules on main, pushed to a bare origin."""
    made = _init(tmp_path, "desk", "--ci", ci)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "desk"
    shutil.copytree(SAMPLE_RULES, root / "rules", dirs_exist_ok=True)
    _git(root, "checkout", "-q", "-B", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "the desk's rules")
    _git(tmp_path, "init", "-q", "--bare", "origin.git")
    _git(root, "remote", "add", "origin", str(tmp_path / "origin.git"))
    _git(root, "push", "-q", "origin", "main")
    return root


def _pr_branch(root: Path, *, mutate: bool, rehash: bool = True) -> None:
    """A pull-request branch: a released parameter changed (with its params_hash rewritten to
    match, so that only check can tell), or only a tag added (allowed)."""
    _git(root, "checkout", "-q", "-b", "pr", "main")
    path = root / "rules" / "IB_raid_v1" / "v1.2.yaml"
    text = path.read_text(encoding="utf-8")
    if mutate:
        changed = text.replace("ib_range_atr_mult: 1.2", "ib_range_atr_mult: 1.25")
        if rehash:
            old = yaml.safe_load(text)["params_hash"]
            changed = changed.replace(old, params_hash(yaml.safe_load(changed)))
    else:
        changed = text.replace('tags: ["ger40", "initial-balance"]', 'tags: ["ger40", "ib"]')
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    _git(root, "commit", "-q", "-am", "the pull request")


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _github_steps(steps: list[dict[str, Any]], event: str) -> list[str]:
    """The ``run:`` lines GitHub would run for ``event`` (not the install: it is done here)."""
    conditions = {
        "github.event_name == 'pull_request'": event == "pull_request",
        "github.event_name != 'pull_request'": event != "pull_request",
        "github.event_name == 'push'": event == "push",
    }
    runs = []
    for step in steps:
        if "run" not in step or step["run"].startswith("pip install"):
            continue
        if "if" in step and not conditions[step["if"]]:
            continue
        runs.append(step["run"])
    return runs


def _run_steps(root: Path, runs: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Each step in bash (as GitHub and GitLab do: ``bash -e``) until one fails."""
    out = []
    for script in runs:
        done = _run(["bash", "-e", "-c", script], root, env)
        out.append(done.stdout + done.stderr)
        if done.returncode != 0:
            return done.returncode, "".join(out)
    return 0, "".join(out)


def _github_source(root: Path, source: str) -> list[dict[str, Any]]:
    """The steps of the generated workflow (``workflow``) or of the repository's action."""
    if source == "workflow":
        (job,) = _load(root / ".github" / "workflows" / "rules.yml")["jobs"].values()
        steps: list[dict[str, Any]] = job["steps"]
        return steps
    steps = _load(REPO / "action.yml")["runs"]["steps"]
    return steps


def _run_github_pull_request(root: Path, steps: list[dict[str, Any]]) -> tuple[int, str]:
    """``steps`` as GitHub runs them for a pull request into ``main``."""
    env = _env(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="pull_request", GITHUB_BASE_REF="main")
    return _run_steps(root, _github_steps(steps, "pull_request"), env)


# -- GitHub -------------------------------------------------------------------------------


def test_github_workflow_parses_and_checks_out_the_whole_history(tmp_path: Path) -> None:
    root = _desk(tmp_path, "github")
    workflow = _load(root / ".github" / "workflows" / "rules.yml")
    on = workflow["on"] if "on" in workflow else workflow[True]  # YAML 1.1: `on` is true
    assert set(on) == {"pull_request", "push"}
    (job,) = workflow["jobs"].values()
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    assert [s["run"] for s in job["steps"] if "run" in s] == [
        'pip install "ita-rules==0.1.0"',
        "ita-rules validate",
        'ita-rules check --base "origin/$GITHUB_BASE_REF"',
        "ita-rules check --history",
    ]


@pytest.mark.parametrize("source", ["workflow", "action"])
def test_github_pull_request_with_a_mutation_fails_with_annotations(
    tmp_path: Path, source: str
) -> None:
    root = _desk(tmp_path, "github")
    _pr_branch(root, mutate=True)
    steps = _github_source(root, source)
    code, out = _run_github_pull_request(root, steps)
    assert code == 1, out
    lines = out.splitlines()
    assert any(line.startswith(MUTATION_PREFIX) for line in lines), out
    assert any(line.startswith(ANNOTATION_PREFIX) for line in lines), out
    assert "    ~ params.ib_range_atr_mult: 1.2 -> 1.25" in lines


def test_github_pull_request_with_a_stale_hash_fails_at_validate(tmp_path: Path) -> None:
    root = _desk(tmp_path, "github")
    _pr_branch(root, mutate=True, rehash=False)
    code, out = _run_github_pull_request(root, _github_source(root, "workflow"))
    assert code == 1, out
    assert out.splitlines()[1].startswith(
        "::error file=rules/IB_raid_v1/v1.2.yaml,line=26,col=14,title=params_hash::params_hash: is"
    ), out
    assert out.endswith("8 file(s) checked, 1 problem(s)\n")


@pytest.mark.parametrize("source", ["workflow", "action"])
def test_github_clean_pull_request_and_push_pass(tmp_path: Path, source: str) -> None:
    root = _desk(tmp_path, "github")
    _pr_branch(root, mutate=False)
    steps = _github_source(root, source)
    code, out = _run_github_pull_request(root, steps)
    assert code == 0, out
    assert "::error" not in out
    assert "1 changed file(s) checked against origin/main, 0 problem(s)" in out
    # the merge, then the push to main runs the history audit
    _git(root, "checkout", "-q", "main")
    _git(root, "merge", "-q", "--ff-only", "pr")
    env = _env(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="push")
    runs = _github_steps(steps, "push")
    assert runs[-1] == "ita-rules check --history"
    code, out = _run_steps(root, runs, env)
    assert code == 0, out
    assert "::error" not in out


def test_action_yml_has_what_github_requires() -> None:
    action = _load(REPO / "action.yml")
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert steps
    for step in steps:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step["shell"] == "bash", step
    installs = [s["run"] for s in steps if "run" in s and s["run"].startswith("pip install")]
    assert installs == ['pip install "${{ github.action_path }}"']
    for name, spec in action.get("inputs", {}).items():
        assert spec["description"], name


# -- GitLab -------------------------------------------------------------------------------


def _gitlab_script(root: Path) -> list[str]:
    config = _load(root / ".gitlab-ci.yml")
    (job,) = config.values()
    assert job["variables"]["GIT_DEPTH"] == 0
    assert {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in job["rules"]
    script: list[str] = job["script"]
    assert script[0] == 'pip install "ita-rules==0.1.0"'
    return script[1:]


def test_gitlab_merge_request_with_a_mutation_fails(tmp_path: Path) -> None:
    root = _desk(tmp_path, "gitlab")
    _pr_branch(root, mutate=True)
    # GitLab fetches only the pipeline's branch: the job fetches the target itself
    _git(root, "update-ref", "-d", "refs/remotes/origin/main")
    env = _env(CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
    code, out = _run_steps(root, _gitlab_script(root), env)
    assert code == 1, out
    assert any(line.startswith(MUTATION_PREFIX) for line in out.splitlines()), out
    assert "::error" not in out


def test_gitlab_clean_merge_request_and_push_pass(tmp_path: Path) -> None:
    root = _desk(tmp_path, "gitlab")
    _pr_branch(root, mutate=False)
    env = _env(CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main")
    code, out = _run_steps(root, _gitlab_script(root), env)
    assert code == 0, out
    assert "1 changed file(s) checked against origin/main, 0 problem(s)" in out
    env = _env(CI_PIPELINE_SOURCE="push", CI_COMMIT_BRANCH="main", CI_DEFAULT_BRANCH="main")
    code, out = _run_steps(root, _gitlab_script(root), env)
    assert code == 0, out


# -- init --ci ----------------------------------------------------------------------------


def test_init_ci_on_an_existing_workspace_adds_the_file_and_never_overwrites(
    tmp_path: Path,
) -> None:
    made = _init(tmp_path, "desk")
    assert made.returncode == 0, made.stderr
    root = tmp_path / "desk"
    added = _init(root, "--ci", "github")
    assert (added.returncode, added.stdout) == (0, "created .github/workflows/rules.yml\n")
    workflow = root / ".github" / "workflows" / "rules.yml"
    workflow.write_text("# ours\n", encoding="utf-8")
    again = _init(root, "--ci", "github")
    assert (again.returncode, again.stdout) == (
        0,
        "kept .github/workflows/rules.yml: it exists already (not overwritten)\n",
    )
    assert workflow.read_text(encoding="utf-8") == "# ours\n"
    gitlab = _init(root, "--ci", "gitlab")
    assert (gitlab.returncode, gitlab.stdout) == (0, "created .gitlab-ci.yml\n")


def test_init_ci_unknown_is_a_usage_error_and_creates_nothing(tmp_path: Path) -> None:
    done = _init(tmp_path, "desk", "--ci", "jenkins")
    assert done.returncode == 2
    assert done.stderr == "ita-rules: --ci: unknown CI 'jenkins' (known: github, gitlab)\n"
    assert not (tmp_path / "desk").exists()


def test_docs_ci_shows_the_generated_workflow() -> None:
    from ita_rules.ci import GITHUB_WORKFLOW

    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    section = text[text.index("## GitHub Actions") :]
    block = section[section.index("```yaml\n") + len("```yaml\n") :]
    assert yaml.safe_load(block[: block.index("```")]) == yaml.safe_load(GITHUB_WORKFLOW)

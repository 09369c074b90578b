"""The published hooks (.pre-commit-hooks.yaml) run by the real pre-commit framework.

The hook repository is a snapshot of this project (its tracked and new files) committed in a
temporary git repository, so the test sees the work tree as it is. pre-commit installs it once
per session into a shared PRE_COMMIT_HOME (a python virtualenv with ita-rules inside).
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

from ita_rules.core.gitio import git_env
from tests.conftest import REPO, git
from tests.test_check import (
    _no_git_env,  # noqa: F401 (an autouse fixture)
    put,
    rule_yaml,
)

BIN = Path(sys.executable).parent
PROJECT_PARTS = (
    "pyproject.toml",
    "README.md",
    ".pre-commit-hooks.yaml",
    "ita_rules/",
    "schemas/",
    "hooks/",
)


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """(snapshot repository, its commit, PRE_COMMIT_HOME)."""
    dest = tmp_path_factory.mktemp("hook-repo")
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            env=git_env(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in listed:
        src = REPO / name
        if name and name.startswith(PROJECT_PARTS) and src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    env = {
        **git_env(),  # never the GIT_DIR/GIT_INDEX_FILE of a hook that runs these tests
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
    }
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *args], cwd=dest, check=True, env=env, capture_output=True)
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, check=True, capture_output=True, text=True
    ).stdout.strip()
    return dest, rev, tmp_path_factory.mktemp("pre-commit-home")


def run(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "PIP_CACHE_DIR": str(home / "pip-cache"),  # try-repo installs again: reuse the wheels
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    proc.stdout += proc.stderr  # git prints the hooks' output on stderr; pre-commit on stdout
    return proc


# The published hook ids a rules repository may use: the two parts, or the one hook for both.
HOOK_IDS = {"two hooks": ["ita-rules-validate", "ita-rules-check"], "one hook": ["ita-rules"]}
BOTH = pytest.mark.parametrize("ws", list(HOOK_IDS), indirect=True)


@pytest.fixture(params=["two hooks"])
def ws(
    request: pytest.FixtureRequest, in_git_repo: Path, hook_repo: tuple[Path, str, Path]
) -> tuple[Path, Any]:
    """A rules repository using the published hooks (the two by default), with S1 1.0 and 1.1
    committed through them."""
    repo, rev, home = hook_repo
    hooks = [{"id": hook_id} for hook_id in HOOK_IDS[request.param]]
    config = {"repos": [{"repo": str(repo), "rev": rev, "hooks": hooks}]}
    (in_git_repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    installed = run(
        in_git_repo,
        home,
        "pre-commit",
        "install",
        "--hook-type",
        "pre-commit",
        "--hook-type",
        "pre-push",
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    put(in_git_repo, "S1", "1.0")
    put(in_git_repo, "S1", "1.1", params={"atr_mult": 1.5})
    first = commit(in_git_repo, home, "first versions")
    assert first.returncode == 0, first.stdout + first.stderr

    def do(message: str) -> subprocess.CompletedProcess[str]:
        return commit(in_git_repo, home, message)

    return in_git_repo, do


def commit(root: Path, home: Path, message: str) -> subprocess.CompletedProcess[str]:
    git(root, "add", "-A")
    return run(root, home, "git", "commit", "-q", "-m", message)


@BOTH
def test_commit_editing_a_released_version_is_rejected(ws: tuple[Path, Any]) -> None:
    root, do = ws
    put(root, "S1", "1.0", params={"atr_mult": 1.2})
    r = do("edit a released version")
    assert r.returncode == 1
    assert "released versions are immutable" in r.stdout  # the check's name, or the one hook's
    assert (
        "rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in HEAD): only active, "
        "deprecation_reason and tags may change; make a new version for this change "
        "(ita-rules new-version S1):\n    ~ params.atr_mult: 1.0 -> 1.2\n" in r.stdout
    )
    assert git(root, "log", "--format=%s", "-1") == "first versions"


def test_commit_adding_a_correct_new_version_passes(ws: tuple[Path, Any]) -> None:
    root, do = ws
    put(root, "S1", "1.2", params={"atr_mult": 1.8})
    put(root, "S1", "1.0", active=False, reason="superseded")
    r = do("new version")
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(root, "log", "--format=%s", "-1") == "new version"


@BOTH
def test_wrong_hash_is_fixed_and_the_commit_fails_once(ws: tuple[Path, Any]) -> None:
    root, do = ws
    put(root, "S1", "1.2", params={"atr_mult": 1.8}, bad_hash=True)
    r = do("new version with a wrong hash")
    assert r.returncode == 1
    assert "rules/S1/v1.2.yaml: params_hash written; review and stage the file again" in r.stdout
    assert "- files were modified by this hook" in r.stdout
    fixed = yaml.safe_load((root / "rules/S1/v1.2.yaml").read_text())
    assert (
        fixed["params_hash"]
        == yaml.safe_load(rule_yaml("S1", "1.2", params={"atr_mult": 1.8}))["params_hash"]
    )
    r = do("new version, hash fixed")
    assert r.returncode == 0, r.stdout + r.stderr


def test_deleting_a_released_version_is_rejected(ws: tuple[Path, Any]) -> None:
    root, do = ws
    (root / "rules/S1/v1.0.yaml").unlink()
    r = do("delete")
    assert r.returncode == 1
    assert (
        "rules/S1/v1.0.yaml: is released (in HEAD) and was deleted; a released version is never "
        "deleted: restore it and deprecate it instead (ita-rules deprecate S1@1.0 --reason TEXT)"
        in r.stdout
    )


def _push_main_to_a_new_remote(root: Path, home: Path, tmp_path: Path) -> None:
    """A bare repository as ``origin`` of ``root``, ``main`` pushed to it (hooks running)."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(root, "remote", "add", "origin", str(bare))
    assert run(root, home, "git", "push", "-q", "origin", "main").returncode == 0


@BOTH
def test_pre_push_stage_checks_the_pushed_range(
    ws: tuple[Path, Any], tmp_path: Path, hook_repo: tuple[Path, str, Path]
) -> None:
    root, _ = ws
    home = hook_repo[2]
    _push_main_to_a_new_remote(root, home, tmp_path)
    put(root, "S1", "1.1", params={"atr_mult": 4.0})
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "skipped the commit hooks")
    r = run(root, home, "git", "push", "origin", "main")
    assert r.returncode != 0
    assert "rules/S1/v1.1.yaml:10:13: params.atr_mult: is released (in " in r.stdout + r.stderr


def test_pre_push_stage_refuses_a_released_version_changed_and_put_back(
    ws: tuple[Path, Any], tmp_path: Path, hook_repo: tuple[Path, str, Path]
) -> None:
    """The pushed range's trees are equal, but a commit in between changed released 1.1: the
    published check hook audits those commits, as check --history would."""
    root, _ = ws
    home = hook_repo[2]
    _push_main_to_a_new_remote(root, home, tmp_path)
    intro = git(root, "rev-parse", "HEAD")[:12]
    put(root, "S1", "1.1", params={"atr_mult": 4.0})
    git(root, "commit", "-q", "--no-verify", "-am", "mutate")
    mutated = git(root, "rev-parse", "HEAD")[:12]
    put(root, "S1", "1.1", params={"atr_mult": 1.5})
    git(root, "commit", "-q", "--no-verify", "-am", "put back")
    r = run(root, home, "git", "push", "origin", "main")
    assert r.returncode != 0
    assert (
        f"rules/S1/v1.1.yaml:10:13: released version changed in commit {mutated} (introduced in "
        f"commit {intro}); only active, deprecation_reason and tags may change:\n"
        "    ~ params.atr_mult: 1.5 -> 4.0\n" in r.stdout
    ), r.stdout


@BOTH
def test_commit_moving_rules_dir_cannot_hide_an_edit(ws: tuple[Path, Any]) -> None:
    """The check hook reads the rules folder from HEAD's ita.toml, not the one being committed."""
    root, do = ws
    (root / "ita.toml").write_text('[rules]\ndir = "other"\n')
    (root / "other").mkdir()
    put(root, "S1", "1.0", params={"atr_mult": 1.2})
    r = do("move the folder and edit 1.0")
    assert r.returncode == 1
    assert (
        'ita.toml: rules.dir: is "other" in the index but "rules" in HEAD; the rules folder '
        "cannot be moved (the versions released in it would go unchecked)\n" in r.stdout
    ), r.stdout
    assert "rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in HEAD)" in r.stdout
    assert git(root, "log", "--format=%s", "-1") == "first versions"


def test_try_repo(ws: tuple[Path, Any], hook_repo: tuple[Path, str, Path]) -> None:
    root, _ = ws
    repo, rev, home = hook_repo
    (root / "rules/S1/v1.1.yaml").unlink()
    git(root, "add", "-A")
    r = run(root, home, "pre-commit", "try-repo", str(repo), "ita-rules-check", "--ref", rev)
    assert r.returncode == 1
    assert "rules/S1/v1.1.yaml: is released (in HEAD) and was deleted" in r.stdout


def test_init_config_is_the_published_hooks_run_locally() -> None:
    """``ita-rules init`` writes the published combined hook as a ``repo: local`` entry with the
    same settings (entry, stages, always_run, ...), so the two cannot drift apart."""
    from ita_rules.workspace import PRE_COMMIT_CONFIG

    published = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (local,) = yaml.safe_load(PRE_COMMIT_CONFIG)["repos"]
    assert local["repo"] == "local"
    ignored = ("language", "description")

    def settings(hooks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {h["id"]: {k: v for k, v in h.items() if k not in ignored} for h in hooks}

    assert sorted(settings(published)) == ["ita-rules", "ita-rules-check", "ita-rules-validate"]
    assert settings(local["hooks"]) == {"ita-rules": settings(published)["ita-rules"]}
    assert {h["language"] for h in local["hooks"]} == {"system"}

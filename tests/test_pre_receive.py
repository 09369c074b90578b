"""hooks/pre-receive in a real bare repository: pushes that change released versions are
refused with our message in the pusher's output; good pushes, new and deleted branches pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, git
from tests.test_check import (
    _no_git_env,  # noqa: F401 (an autouse fixture)
    commit,
    put,
)


def push(client: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "push", *args], cwd=client, capture_output=True, text=True)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(bare server repository with the hook, a client clone with S1 1.0 and 1.1 pushed)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    bare = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    shutil.copy(REPO / "hooks" / "pre-receive", bare / "hooks" / "pre-receive")
    (bare / "hooks" / "pre-receive").chmod(0o755)
    client = tmp_path / "client"
    git(tmp_path, "clone", "-q", str(bare), str(client))
    (client / "ita.toml").write_text("")
    put(client, "S1", "1.0")
    put(client, "S1", "1.1", params={"atr_mult": 1.5})
    commit(client, "first versions")
    first = push(client, "origin", "main")
    assert first.returncode == 0, first.stderr
    return bare, client


def test_bad_push_is_rejected_with_our_message(server: tuple[Path, Path]) -> None:
    bare, client = server
    before = git(bare, "rev-parse", "main")
    put(client, "S1", "1.0", params={"atr_mult": 1.2})
    commit(client, "edit a released version")
    r = push(client, "--no-verify", "origin", "main")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: push to refs/heads/main refused: released rule versions are immutable"
        in r.stderr
    )
    assert (
        "remote: rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in refs/heads/main before "
        "this push): only active, deprecation_reason and tags may change" in r.stderr
    )
    assert "remote:     ~ params.atr_mult: 1.0 -> 1.2" in r.stderr
    assert "[remote rejected] main -> main (pre-receive hook declined)" in r.stderr
    assert git(bare, "rev-parse", "main") == before


def test_good_push_is_accepted(server: tuple[Path, Path]) -> None:
    bare, client = server
    put(client, "S1", "1.2", params={"atr_mult": 1.8})
    put(client, "S1", "1.0", active=False, reason="superseded by 1.1")
    head = commit(client, "new version, deprecate the first")
    r = push(client, "origin", "main")
    assert r.returncode == 0, r.stderr
    assert git(bare, "rev-parse", "main") == head


def test_deleting_a_released_file_is_rejected(server: tuple[Path, Path]) -> None:
    _, client = server
    (client / "rules/S1/v1.0.yaml").unlink()
    commit(client, "delete")
    r = push(client, "origin", "main")
    assert r.returncode != 0
    assert (
        "remote: rules/S1/v1.0.yaml: is released (in refs/heads/main before this push) "
        "and was deleted" in r.stderr
    )


def test_force_push_rewriting_a_released_version_is_rejected(server: tuple[Path, Path]) -> None:
    bare, client = server
    before = git(bare, "rev-parse", "main")
    git(client, "reset", "-q", "--hard", "HEAD")
    put(client, "S1", "1.1", params={"atr_mult": 9.9})
    git(client, "add", "-A")
    git(client, "commit", "-q", "--amend", "-m", "rewritten")
    r = push(client, "--force", "origin", "main")
    assert r.returncode != 0
    assert (
        "remote: rules/S1/v1.1.yaml:10:13: params.atr_mult: is released "
        "(in refs/heads/main before this push)" in r.stderr
    )
    assert git(bare, "rev-parse", "main") == before


def test_new_branches_and_deleted_branches(server: tuple[Path, Path]) -> None:
    bare, client = server
    git(client, "checkout", "-q", "-b", "feature")
    put(client, "S1", "1.2", params={"atr_mult": 1.8})
    commit(client, "new version on a branch")
    r = push(client, "origin", "feature")
    assert r.returncode == 0, r.stderr
    git(client, "checkout", "-q", "-b", "bad-branch", "main")
    put(client, "S1", "1.1", params={"atr_mult": 3.0})
    commit(client, "edit released on a new branch")
    r = push(client, "origin", "bad-branch")
    assert r.returncode != 0
    assert (
        "remote: rules/S1/v1.1.yaml:10:13: params.atr_mult: is released (in refs/heads/main)"
        in r.stderr
    )
    r = push(client, "origin", "--delete", "feature")
    assert r.returncode == 0, r.stderr
    assert git(bare, "branch", "--list", "feature") == ""
    git(bare, "config", "receive.denyDeleteCurrent", "ignore")
    r = push(client, "origin", "--delete", "main")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: push refused: refs/heads/main is protected; deleting it would delete "
        "released versions" in r.stderr
    )


def test_protected_ref_patterns() -> None:
    from ita_rules.core.config import RulesConfig
    from ita_rules.rules.receive import Protection

    prot = Protection(
        {},
        ("refs/heads/main", "refs/heads/master"),
        RulesConfig("rules", ("release/*", "refs/heads/lts-?")),
        "refs/heads/main",
        ("rules",),
        True,
    )
    covered = [
        "refs/heads/main",
        "refs/heads/master",
        "refs/tags/v1.0",
        "refs/heads/release/2026",
        "refs/heads/release/a/b",
        "refs/heads/lts-1",
    ]
    assert all(prot.covers(r) for r in covered)
    for ref in ("refs/heads/feature", "refs/heads/lts-10", "refs/notes/commits", "refs/release/x"):
        assert not prot.covers(ref), ref

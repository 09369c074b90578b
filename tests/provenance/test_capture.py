"""What a snapshot records about the code and the machine."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from ita_rules.provenance import capture
from tests.conftest import git


def test_git_state_of_a_clean_dirty_and_detached_tree(in_git_repo: Path) -> None:
    root = in_git_repo
    state = capture.git_state(root)
    assert (state.commit, state.dirty) == (None, True)  # nothing committed yet
    assert set(state.untracked) == {"ita.toml"}
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    head = git(root, "rev-parse", "HEAD")
    clean = capture.git_state(root, skip=[root / "exchange"])
    assert (clean.commit, clean.branch, clean.dirty, clean.diff) == (head, "main", False, b"")

    (root / "ita.toml").write_text("# edited\n")
    (root / "exchange" / "archive").mkdir(parents=True)
    (root / "exchange" / "archive" / "x.json").write_text("{}")  # the store: data, not code
    (root / ".ita").mkdir()
    (root / ".ita" / "ita.sqlite").write_bytes(b"db")
    (root / "notes.md").write_text("idea\n")
    dirty = capture.git_state(root, skip=[root / "exchange"])
    assert dirty.dirty and dirty.changed == ("ita.toml",)
    assert dirty.untracked == {"notes.md": capture.file_hash(root / "notes.md")[0]}
    assert b"+# edited" in dirty.diff and dirty.diff_hash and dirty.diff_hash.startswith("sha256:")

    git(root, "checkout", "-q", "--detach")
    assert capture.git_state(root).branch is None


def test_outside_git_the_tree_counts_as_dirty(tmp_path: Path) -> None:
    state = capture.git_state(tmp_path)
    assert state.commit is None and state.dirty


def test_packages_see_installs_and_upgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert "ita-demo-pkg" not in capture.packages()
    info = site / "ita_demo_pkg-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ita_demo.pkg\nVersion: 0.3\n\nbody"
    )
    importlib.invalidate_caches()
    assert capture.packages()["ita-demo-pkg"] == "0.3"  # names normalised (PEP 503)
    assert capture.packages()["pytest"] == importlib.metadata.version("pytest")


def test_secret_looking_names_keep_their_name_but_never_their_value() -> None:
    env = {
        "ITA_PROFILE": "p",
        "ITA_TELEGRAM_TOKEN": "t",
        "AWS_SECRET_ACCESS_KEY": "s",
        "PGPASSWORD": "x",
        "ITA_DATABASE_URL": "postgresql://u:pw@h/db",
        "HOME": "/root",
    }
    got = capture.allowed_env(["ITA_*", "AWS_*", "PGPASSWORD"], env)
    assert got == {
        "AWS_SECRET_ACCESS_KEY": "<redacted>",
        "ITA_DATABASE_URL": "postgresql://u:<redacted>@h/db",
        "ITA_PROFILE": "p",
        "ITA_TELEGRAM_TOKEN": "<redacted>",
        "PGPASSWORD": "<redacted>",
    }


def test_declared_inputs_and_ignored_files_are_data_not_code(in_git_repo: Path) -> None:
    root = in_git_repo
    (root / "data").mkdir()
    (root / "data" / "GER40_M15.csv").write_text("time,close\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    (root / ".gitignore").write_text("build/\n*.log\n")
    git(root, "add", ".gitignore")
    git(root, "commit", "-q", "-m", "ignore build output")
    outside = root.parent / "elsewhere.csv"
    outside.write_text("time,close\n")
    (root / "data" / "link.csv").symlink_to(outside)

    (root / "data" / "GER40_M15.csv").write_text("time,close\n2025-05-01,1\n")  # appended
    (root / "build").mkdir()
    (root / "build" / "out.txt").write_text("v2\n")  # untracked and ignored
    (root / "run.log").write_text("log\n")
    inputs = [root / "data" / "GER40_M15.csv", root / "data" / "link.csv"]
    state = capture.git_state(root, skip=inputs)
    assert (state.dirty, state.changed, state.untracked, state.diff) == (False, (), {}, b"")

    (root / "flow.py").write_text("x = 1\n")  # code: still counts
    (root / "ita.toml").write_text("# edited\n")
    state = capture.git_state(root, skip=inputs)
    assert state.dirty and state.changed == ("ita.toml",) and list(state.untracked) == ["flow.py"]
    assert b"out.txt" not in state.diff and b"GER40" not in state.diff
    assert b"+# edited" in state.diff


def test_a_tracked_file_that_gitignore_matches_still_counts(in_git_repo: Path) -> None:
    """git tracks it (added before the ignore rule, or with ``git add -f``): when it changes,
    the commit alone no longer says what the run read, so the tree is dirty."""
    root = in_git_repo
    (root / ".gitignore").write_text("/data/\n")
    (root / "data").mkdir()
    (root / "data" / "overrides.json").write_text('{"risk": 1}\n')
    git(root, "add", ".gitignore")
    git(root, "add", "-f", "data/overrides.json")
    git(root, "commit", "-q", "-m", "start")
    (root / "data" / "overrides.json").write_text('{"risk": 50}\n')
    state = capture.git_state(root)
    assert state.dirty and state.changed == ("data/overrides.json",)
    assert b'+{"risk": 50}' in state.diff

"""Journeys at the rules seam: the hooks ``ita-rules init`` installs, ``validate --fix`` and
``new-version`` on a desk's workspace, with the real pre-commit client and real git pushes."""

from __future__ import annotations

from pathlib import Path

import yaml

from ita_rules.workspace import GITIGNORE_LINES
from tests.journeys.conftest import Desk

V10 = "rules/IB_raid_v1/v1.0.yaml"
HOOK_NAME = "ita-rules (validate and check; released versions are immutable)"
OLD_HASH = "sha256:b164e1361e676b5756935aabe8dcaaabd3c43324da95706814505ab783f40db5"
# The hash of v1.0's content once params.ib_range_atr_mult is 1.3 instead of 1.0.
EDITED_HASH = "sha256:a15d6603b9f5c874dae923bc88895bc1ebe720bf2c9ff33a58c57ec58545e86b"

RELEASED_HASH = (
    f"{V10}:26:14: params_hash: is {OLD_HASH} but the content hashes to {EDITED_HASH}: "
    "this version is released (in {ref}) and was changed; a released version never changes: "
    "make a new version for the change (ita-rules new-version IB_raid_v1) and restore this file "
    f"(git checkout {{ref}} -- {V10})"
)
RELEASED_CHANGED = (
    f"{V10}:19:22: params.ib_range_atr_mult: is released (in {{ref}}): only active, "
    "deprecation_reason and tags may change; make a new version for this change "
    "(ita-rules new-version IB_raid_v1):\n    ~ params.ib_range_atr_mult: 1.0 -> 1.3\n"
)


def edit_released(desk: Desk) -> str:
    """Change a value of the committed v1.0 in place (its params_hash left as it was)."""
    text = desk.read(V10)
    edited = text.replace("ib_range_atr_mult: 1.0", "ib_range_atr_mult: 1.3")
    assert edited != text
    desk.write(V10, edited)
    return edited


def test_init_config_runs_one_hook_for_both(desk: Desk) -> None:
    """The generated .pre-commit-config.yaml has one hook that validates and checks, at both
    stages, on every commit (it reads the staged changes itself)."""
    config = yaml.safe_load(desk.read(".pre-commit-config.yaml"))
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert sorted(hooks) == ["ita-rules"]
    hook = hooks["ita-rules"]
    assert hook["entry"] == "ita-rules-hook"
    assert hook["language"] == "system"
    assert (hook["always_run"], hook["pass_filenames"], hook["require_serial"]) == (
        True,
        False,
        True,
    )
    assert hook["stages"] == ["pre-commit", "pre-push"]


def test_commit_editing_a_released_version_is_refused_every_time(desk: Desk) -> None:
    """Editing a committed version and committing (twice) is refused by the generated hook,
    which does not "fix" the released file's hash."""
    desk.install_hooks()
    head = desk.git("rev-parse", "HEAD")
    edited = edit_released(desk)
    for attempt in (1, 2):
        r = desk.commit(f"attempt {attempt}", V10)
        out = r.out + r.err
        assert r.code == 1, out
        assert RELEASED_HASH.format(ref="HEAD") + "\n" in out, out
        assert RELEASED_CHANGED.format(ref="HEAD") in out, out
        assert "params_hash written" not in out
        assert "validate --fix" not in out
        assert desk.read(V10) == edited  # the user's edit, hash untouched
    assert desk.git("rev-parse", "HEAD") == head


def test_commit_all_runs_the_check_on_the_index_being_committed(desk: Desk) -> None:
    """``git commit -a`` stages into ``.git/index.lock`` and hands that index to the hooks:
    the hook reads it too (the check read the old ``.git/index`` and passed)."""
    desk.install_hooks()
    head = desk.git("rev-parse", "HEAD")
    edit_released(desk)
    r = desk.sh("git", "commit", "-q", "-a", "-m", "commit -a")
    out = r.out + r.err
    assert r.code == 1, out
    assert RELEASED_CHANGED.format(ref="HEAD") in out, out
    hook_line = next(line for line in out.splitlines() if line.startswith("ita-rules ("))
    assert hook_line.startswith(HOOK_NAME) and hook_line.endswith("Failed"), out
    assert desk.git("rev-parse", "HEAD") == head


def test_pre_push_refuses_a_released_version_mutated_with_no_verify(
    desk: Desk, tmp_path: Path
) -> None:
    """A commit that skipped the commit hooks is refused at the push; nothing is rewritten."""
    bare = tmp_path / "remote.git"
    desk.sh("git", "init", "-q", "--bare", str(bare), check=True)
    desk.git("remote", "add", "origin", str(bare))
    desk.install_hooks()
    first = desk.sh("git", "push", "-q", "origin", "main")
    assert first.code == 0, first.out + first.err
    pushed = desk.git("rev-parse", "HEAD")
    edited = edit_released(desk)
    desk.git("add", V10)
    desk.git("commit", "-q", "--no-verify", "-m", "skipped the commit hooks")
    r = desk.sh("git", "push", "origin", "main")
    out = r.out + r.err
    assert r.code != 0, out
    assert RELEASED_CHANGED.format(ref=pushed) in out, out
    assert RELEASED_HASH.format(ref=pushed) + "\n" in out, out
    assert "params_hash written" not in out and "validate --fix" not in out
    assert desk.git("status", "--porcelain") == ""  # no ` M rules/...` left behind
    assert desk.read(V10) == edited
    assert desk.git("--git-dir", str(bare), "rev-parse", "main") == pushed


def test_pre_push_does_not_rewrite_the_hash_of_a_new_version(desk: Desk, tmp_path: Path) -> None:
    """A new version with a wrong hash, committed with --no-verify: the push is refused with the
    hash message, and the hook writes nothing (the work tree is not what is pushed)."""
    bare = tmp_path / "remote.git"
    desk.sh("git", "init", "-q", "--bare", str(bare), check=True)
    desk.git("remote", "add", "origin", str(bare))
    desk.install_hooks()
    assert desk.sh("git", "push", "-q", "origin", "main").code == 0
    new = "rules/IB_raid_v1/v1.3.yaml"
    text = desk.read("rules/IB_raid_v1/v1.2.yaml").replace('version: "1.2"', 'version: "1.3"')
    text = text.replace("max_trades_per_day: 1", "max_trades_per_day: 2")
    desk.write(new, text)
    desk.git("add", new)
    desk.git("commit", "-q", "--no-verify", "-m", "new version, hash not updated")
    r = desk.sh("git", "push", "origin", "main")
    out = r.out + r.err
    assert r.code != 0, out
    (line,) = [line for line in out.splitlines() if line.startswith(f"{new}:")]
    assert line.endswith("(run `ita-rules validate --fix` to write it)"), out
    assert "released" not in line, out
    assert "params_hash written" not in out
    assert desk.git("status", "--porcelain") == ""
    assert desk.read(new) == text


def test_commit_of_a_new_version_with_a_wrong_hash_writes_it_and_fails_once(desk: Desk) -> None:
    """The hook writes the hash of a version not released yet into the file and fails, as a
    pre-commit hook that modifies files does; staged again, the commit passes."""
    desk.install_hooks()
    head = desk.git("rev-parse", "HEAD")
    new = "rules/IB_raid_v1/v1.3.yaml"
    text = desk.read("rules/IB_raid_v1/v1.2.yaml").replace('version: "1.2"', 'version: "1.3"')
    text = text.replace("max_trades_per_day: 1", "max_trades_per_day: 2")
    desk.write(new, text)
    r = desk.commit("new version, hash not updated", new)
    out = r.out + r.err
    assert r.code == 1, out
    assert f"{new}: params_hash written; review and stage the file again\n" in out, out
    assert "- files were modified by this hook" in out, out
    assert desk.git("rev-parse", "HEAD") == head
    assert desk.run("validate", new).code == 0
    r = desk.commit("new version", new)
    assert r.code == 0, r.out + r.err
    assert desk.git("log", "--format=%s", "-1") == "new version"


def test_validate_fix_leaves_a_released_file_untouched(desk: Desk) -> None:
    edited = edit_released(desk)
    for args in (("validate",), ("validate", "--fix"), ("validate", "--fix", V10)):
        r = desk.run(*args)
        assert r.code == 1, r.out + r.err
        assert r.out == RELEASED_HASH.format(ref="HEAD") + "\n", r.out
        assert "fixed" not in r.err and "validate --fix" not in r.out
        assert desk.read(V10) == edited


def test_validate_fix_writes_the_hash_of_a_new_file(desk: Desk) -> None:
    new = "rules/IB_raid_v1/v1.3.yaml"
    text = desk.read("rules/IB_raid_v1/v1.2.yaml").replace('version: "1.2"', 'version: "1.3"')
    stated = yaml.safe_load(text)["params_hash"]
    text = text.replace("max_trades_per_day: 1", "max_trades_per_day: 2")
    desk.write(new, text)
    r = desk.run("validate", new)
    assert r.code == 1
    (line,) = r.out.splitlines()
    assert line.startswith(f"{new}:26:14: params_hash: is {stated} but the content hashes to ")
    assert line.endswith(" (run `ita-rules validate --fix` to write it)"), line
    assert "released" not in line
    r = desk.run("validate", "--fix", new)
    assert (r.code, r.out) == (0, f"{new}: params_hash written\n"), r.out + r.err
    assert desk.run("validate").code == 0


def test_new_version_with_an_invalid_value_writes_nothing(desk: Desk) -> None:
    r = desk.run("new-version", "IB_raid_v1", "--set", "targets.tp=abc")
    assert r.code == 1, r.out + r.err
    assert r.out == ""
    assert r.err == (
        "ita-rules: rules/IB_raid_v1/v1.3.yaml:22:7: targets.tp: "
        "expected a number, got the string 'abc'\n"
    )
    assert not (desk.root / "rules/IB_raid_v1/v1.3.yaml").exists()
    assert desk.git("status", "--porcelain") == ""


def test_init_ignores_the_data_folder(desk: Desk) -> None:
    assert "/data/" in GITIGNORE_LINES
    assert "/data/" in desk.read(".gitignore").splitlines()
    desk.write("data/GER40_M1.csv", "time,open,high,low,close,volume\n")
    assert desk.git("status", "--porcelain") == ""

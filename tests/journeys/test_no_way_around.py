"""Journeys: ways around the immutability of released versions that check closes.

* a push (pre-push range, ``check --base``, the server hook) whose intermediate commits change
  a released version and change it back: refused, so ``check --history`` stays green;
* a change hidden behind a line break only YAML sees (a lone ``\\r``, U+0085, U+2028, U+2029):
  ``check --history`` finds it;
* ``ita.toml`` moving the rules folder in the commit that also changes a released version:
  the pre-commit check still looks at the folder HEAD uses, and reports the move;
* a rule file whose name is not UTF-8: a one-line finding naming it (escaped), exit 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.journeys.conftest import BIN, Desk, rewrite

V10 = "rules/IB_raid_v1/v1.0.yaml"
MUTATED = (
    "{path}:19:22: released version changed in commit {commit} (introduced in commit "
    "{intro}); only active, deprecation_reason and tags may change:\n"
    "    ~ params.ib_range_atr_mult: 1.0 -> 1.3\n"
)


def mutate_then_revert(desk: Desk) -> str:
    """Two commits made with --no-verify: v1.0 changed, then put back. Returns the first."""
    original = desk.read(V10)
    rewrite(desk, V10, "ib_range_atr_mult: 1.0", "ib_range_atr_mult: 1.3")
    desk.git("commit", "-q", "--no-verify", "-am", "mutate")
    mutated = desk.git("rev-parse", "HEAD")
    desk.write(V10, original)
    desk.git("commit", "-q", "--no-verify", "-am", "revert")
    return mutated


def server(desk: Desk, tmp_path: Path) -> Path:
    """A bare remote whose pre-receive hook is ours (as hooks/pre-receive installs it)."""
    bare = tmp_path / "srv.git"
    desk.sh("git", "init", "-q", "--bare", "-b", "main", str(bare), check=True)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\nexec {BIN / 'ita-rules-hook-check'} --pre-receive\n")
    hook.chmod(0o755)
    desk.git("remote", "add", "origin", str(bare))
    return bare


def test_mutate_then_revert_is_refused_by_pre_push_check_base_and_server(
    desk: Desk, tmp_path: Path
) -> None:
    bare = server(desk, tmp_path)
    intro = desk.git("rev-parse", "HEAD")
    assert desk.sh("git", "push", "-q", "origin", "main").code == 0
    desk.install_hooks()
    mutated = mutate_then_revert(desk)
    expected = MUTATED.format(path=V10, commit=mutated[:12], intro=intro[:12])

    r = desk.run("check", "--base", "origin/main")  # what CI runs on a pull request
    assert r.code == 1, r.out + r.err
    assert expected in r.out, r.out

    r = desk.sh("git", "push", "origin", "main")  # the pre-push hook: the pushed range
    assert r.code != 0, r.out + r.err
    assert expected in r.out + r.err, r.out + r.err

    r = desk.sh("git", "push", "--no-verify", "origin", "main")  # the server refuses it too
    assert r.code != 0, r.err
    assert "remote: " + expected.splitlines()[0] in r.err, r.err
    assert desk.sh("git", "--git-dir", str(bare), "rev-parse", "main").out.strip() == intro

    assert desk.run("check", "--history").code == 1  # what would have stayed red for ever


def test_a_clean_series_of_commits_is_pushed(desk: Desk, tmp_path: Path) -> None:
    server(desk, tmp_path)
    assert desk.sh("git", "push", "-q", "origin", "main").code == 0
    desk.install_hooks()
    assert desk.run("deprecate", "IB_raid_v1@1.0", "--reason", "superseded").code == 0
    assert desk.commit("deprecate 1.0").code == 0
    assert desk.run("deprecate", "IB_raid_v1@1.1", "--reason", "superseded").code == 0
    assert desk.commit("deprecate 1.1").code == 0
    r = desk.sh("git", "push", "origin", "main")
    assert r.code == 0, r.out + r.err
    assert desk.run("check", "--history").code == 0


@pytest.mark.parametrize("brk", ["\r", "\x85", "\u2028", "\u2029"])
def test_history_sees_a_change_hidden_behind_a_yaml_line_break(desk: Desk, brk: str) -> None:
    assert desk.run("new", "Alpha").code == 0
    path = "rules/Alpha/v1.0.yaml"
    text = desk.read(path).replace("params:\n  risk_per_trade: 0.01\n", "")
    desk.write(path, text)
    assert desk.run("validate", "--fix", path).code in (0, 1)
    assert desk.run("validate", path).code == 0
    desk.commit("v1", path)
    intro = desk.git("rev-parse", "HEAD")
    raw = (desk.root / path).read_bytes().decode("utf-8")
    sneaked = raw.replace("tags: []\n", f"tags: []{brk}params: {{risk_per_trade: 0.5}}\n")
    assert sneaked != raw
    (desk.root / path).write_bytes(sneaked.encode("utf-8"))
    desk.git("commit", "-q", "--no-verify", "-am", "sneak")
    sneak = desk.git("rev-parse", "HEAD")
    r = desk.run("check", "--history")
    assert r.code == 1, r.out + r.err
    assert (
        f"{path}: released version changed in commit {sneak[:12]} (introduced in commit "
        f"{intro[:12]}); only active, deprecation_reason and tags may change" in r.out
    ), r.out
    assert desk.run("check", "--base", "HEAD~1").code == 1


def test_precommit_check_keeps_heads_rules_folder(desk: Desk) -> None:
    toml = desk.read("ita.toml")
    desk.write("ita.toml", toml.replace('dir = "rules"', 'dir = "other"'))
    (desk.root / "other").mkdir()
    rewrite(desk, V10, "ib_range_atr_mult: 1.0", "ib_range_atr_mult: 1.3")
    desk.git("add", "-A")
    r = desk.run("check")
    assert r.code == 1, r.out + r.err
    assert (
        'ita.toml: rules.dir: is "other" in the index but "rules" in HEAD; the rules folder '
        "cannot be moved (the versions released in it would go unchecked)\n" in r.out
    ), r.out
    assert f"{V10}:19:22: params.ib_range_atr_mult: is released (in HEAD)" in r.out, r.out
    desk.install_hooks()
    r = desk.sh("git", "commit", "-q", "-m", "move and change")
    assert r.code != 0
    assert 'is "other" in the index but "rules" in HEAD' in r.out + r.err


def test_a_rule_file_name_that_is_not_utf8_is_one_line(desk: Desk) -> None:
    weird = os.fsdecode(b"rules/IB_raid_v1/v1.3\xff.yaml")
    shown = "rules/IB_raid_v1/v1.3\\xff.yaml"
    Path(desk.root, weird).write_text(desk.read("rules/IB_raid_v1/v1.2.yaml"))
    for args in (("validate",), ("check",)):
        if args == ("check",):
            desk.git("add", "-A")
        r = desk.run(*args)
        assert r.code == 1, (args, r.out, r.err)
        assert "internal error" not in r.err
        lines = [line for line in r.out.splitlines() if shown in line]
        assert lines == [
            f"{shown}: file name 'v1.3\\xff.yaml' must be v{{MAJOR}}.{{MINOR}}.yaml without "
            "leading zeros, e.g. v1.2.yaml for version 1.2"
        ], (args, r.out)
    desk.git("commit", "-q", "--no-verify", "-m", "weird")
    r = desk.run("check", "--base", "HEAD~1")
    assert r.code == 1, r.out + r.err
    assert "internal error" not in r.err
    assert next(line for line in r.out.splitlines() if shown in line).startswith(shown + ": ")


def test_server_lets_a_feature_branch_edit_but_audits_what_main_receives(
    desk: Desk, tmp_path: Path
) -> None:
    """A version only a feature branch holds stays editable there (the server does not audit
    unprotected refs); merged into main, the commits main receives are audited like
    check --history, so the edit in between is refused (squash the branch first)."""
    bare = server(desk, tmp_path)
    assert desk.sh("git", "push", "-q", "origin", "main").code == 0
    main = desk.git("rev-parse", "HEAD")
    desk.git("switch", "-q", "-c", "feature")
    new = "rules/IB_raid_v1/v1.3.yaml"
    desk.write(new, desk.read("rules/IB_raid_v1/v1.2.yaml"))
    rewrite(desk, new, 'version: "1.2"', 'version: "1.3"')
    rewrite(desk, new, "ib_range_atr_mult: 1.2", "ib_range_atr_mult: 1.4")
    desk.git("add", new)
    desk.git("commit", "-q", "--no-verify", "-m", "1.3")
    rewrite(desk, new, "ib_range_atr_mult: 1.4", "ib_range_atr_mult: 1.5")
    desk.git("commit", "-q", "--no-verify", "-am", "1.3 after review")
    edited = desk.git("rev-parse", "HEAD")
    r = desk.sh("git", "push", "--no-verify", "origin", "feature")
    assert r.code == 0, r.err
    desk.git("switch", "-q", "main")
    desk.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    r = desk.sh("git", "push", "--no-verify", "origin", "main")
    assert r.code != 0, r.err
    assert f"remote: {new}:19:22: released version changed in commit {edited[:12]}" in r.err, r.err
    assert desk.sh("git", "--git-dir", str(bare), "rev-parse", "main").out.strip() == main
    assert desk.run("check", "--history").code == 1  # what main would have failed on

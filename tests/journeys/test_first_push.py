"""Journeys: the first push of a branch (a new branch, or the first push to an empty remote).

pre-commit gives the pre-push hooks no ``PRE_COMMIT_FROM_REF`` when the commits pushed reach a
root commit (nothing of them is on the remote yet): the check hook then audits the commits the
push sends, so a released version changed in a commit made with ``--no-verify`` (its
params_hash rewritten to match, so the validate hook is content) is refused there too.
"""

from __future__ import annotations

from pathlib import Path

from tests.journeys.conftest import Desk, rewrite

V10 = "rules/IB_raid_v1/v1.0.yaml"
CHANGED = (
    "{path}:19:22: released version changed in commit {commit} (introduced in commit "
    "{intro}); only active, deprecation_reason and tags may change:\n"
    "    ~ params.ib_range_atr_mult: 1.0 -> 1.3\n"
)
RANGE_CHANGED = (
    "{path}:19:22: params.ib_range_atr_mult: is released (in {ref}): only active, "
    "deprecation_reason and tags may change; make a new version for this change "
    "(ita-rules new-version IB_raid_v1):\n    ~ params.ib_range_atr_mult: 1.0 -> 1.3\n"
)


def forge_released(desk: Desk) -> str:
    """Commit, skipping the commit hooks, a change of released v1.0 with a matching hash."""
    rewrite(desk, V10, "ib_range_atr_mult: 1.0", "ib_range_atr_mult: 1.3")
    assert desk.run("validate", V10).code == 0  # the hash is right: validate has nothing to say
    desk.git("add", V10)
    desk.git("commit", "-q", "--no-verify", "-m", "forged a released version")
    return desk.git("rev-parse", "HEAD")


def remote(desk: Desk, tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    desk.sh("git", "init", "-q", "--bare", str(bare), check=True)
    desk.git("remote", "add", "origin", str(bare))
    desk.install_hooks()
    return bare


def refs_of(bare: Path) -> dict[str, str]:
    """``{ref: commit}`` of the bare remote."""
    listed = Desk(bare, {}).sh("git", "--git-dir", str(bare), "for-each-ref", check=False).out
    return {line.split()[2]: line.split()[0] for line in listed.splitlines()}


def refused_push(desk: Desk, *args: str) -> str:
    """``git push ARGS``, which must fail (the pre-push hook refuses it); its output."""
    r = desk.sh("git", "push", *args)
    out = r.out + r.err
    assert r.code != 0, out
    return out


def test_first_push_to_an_empty_remote_audits_every_commit_it_sends(
    desk: Desk, tmp_path: Path
) -> None:
    """(a) main pushed for the first time, a --no-verify commit in it that edits a released
    value and rewrites the hash: refused with the place of the change, nothing on the remote."""
    bare = remote(desk, tmp_path)
    intro = desk.git("rev-parse", "HEAD")
    forged = forge_released(desk)
    out = refused_push(desk, "origin", "main")
    assert CHANGED.format(path=V10, commit=forged[:12], intro=intro[:12]) in out, out
    assert "error: failed to push some refs" in out
    assert refs_of(bare) == {}


def test_new_branch_off_a_pushed_main_is_checked_from_its_parent(
    desk: Desk, tmp_path: Path
) -> None:
    """(b) main is on the remote; a new feature branch carries the forged commit: refused with
    the released-changed message against the remote's commit it starts from."""
    bare = remote(desk, tmp_path)
    assert desk.sh("git", "push", "-q", "origin", "main").code == 0
    pushed = desk.git("rev-parse", "HEAD")
    desk.git("switch", "-q", "-c", "feature")
    forge_released(desk)
    out = refused_push(desk, "origin", "feature")
    assert RANGE_CHANGED.format(path=V10, ref=pushed) in out, out
    assert refs_of(bare) == {"refs/heads/main": pushed}


def test_new_branch_pushed_to_an_empty_remote_is_audited(desk: Desk, tmp_path: Path) -> None:
    """(b) a feature branch is the first thing pushed (the remote is empty): its history reaches
    the root commit and is audited; the forged commit is refused."""
    bare = remote(desk, tmp_path)
    intro = desk.git("rev-parse", "HEAD")
    desk.git("switch", "-q", "-c", "feature")
    forged = forge_released(desk)
    out = refused_push(desk, "-u", "origin", "feature")
    assert CHANGED.format(path=V10, commit=forged[:12], intro=intro[:12]) in out, out
    assert refs_of(bare) == {}


def test_orphan_branch_pushed_next_to_main_is_audited(desk: Desk, tmp_path: Path) -> None:
    """An orphan branch (its own root) pushed where main already is: its own commits are
    audited, so a released version changed within them is refused."""
    bare = remote(desk, tmp_path)
    assert desk.sh("git", "push", "-q", "origin", "main").code == 0
    pushed = desk.git("rev-parse", "HEAD")
    desk.git("switch", "-q", "--orphan", "other")
    desk.git("checkout", "main", "--", ".")
    desk.git("commit", "-q", "--no-verify", "-m", "the rules again, on their own")
    intro = desk.git("rev-parse", "HEAD")
    forged = forge_released(desk)
    out = refused_push(desk, "origin", "other")
    assert CHANGED.format(path=V10, commit=forged[:12], intro=intro[:12]) in out, out
    assert refs_of(bare) == {"refs/heads/main": pushed}


def test_clean_first_pushes_pass(desk: Desk, tmp_path: Path) -> None:
    """(c) the first push of main, then a new branch with a correct new version: both pass."""
    bare = remote(desk, tmp_path)
    first = desk.sh("git", "push", "origin", "main")
    assert first.code == 0, first.out + first.err
    assert refs_of(bare) == {"refs/heads/main": desk.git("rev-parse", "HEAD")}
    desk.git("switch", "-q", "-c", "feature")
    new = "rules/IB_raid_v1/v1.3.yaml"
    desk.write(new, desk.read("rules/IB_raid_v1/v1.2.yaml"))
    rewrite(desk, new, 'version: "1.2"', 'version: "1.3"')
    rewrite(desk, new, "max_trades_per_day: 1", "max_trades_per_day: 2")
    made = desk.commit("a new version", new)
    assert made.code == 0, made.out + made.err
    r = desk.sh("git", "push", "origin", "feature")
    assert r.code == 0, r.out + r.err
    assert refs_of(bare)["refs/heads/feature"] == desk.git("rev-parse", "HEAD")


def test_clean_first_push_of_a_new_branch_to_an_empty_remote_passes(
    desk: Desk, tmp_path: Path
) -> None:
    """(c) a branch with a deprecation (an allowed change of a released version) and a new
    version, pushed first to an empty remote: the audit finds nothing."""
    bare = remote(desk, tmp_path)
    desk.git("switch", "-q", "-c", "feature")
    r = desk.run("deprecate", "IB_raid_v1@1.0", "--reason", "superseded by 1.1")
    assert r.code == 0, r.out + r.err
    made = desk.commit("retire 1.0", V10)
    assert made.code == 0, made.out + made.err
    pushed = desk.sh("git", "push", "origin", "feature")
    assert pushed.code == 0, pushed.out + pushed.err
    assert refs_of(bare) == {"refs/heads/feature": desk.git("rev-parse", "HEAD")}

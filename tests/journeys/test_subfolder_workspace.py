"""Journey: a workspace in a subfolder of a larger repository (``ita-rules init desk`` inside a
research repository), its hooks installed exactly as the generated config says. pre-commit runs
hooks at the top of the work tree, where there is no ita.toml: the config ``init`` writes names
the workspace's folder (``args: [--workspace, "desk"]``), so commits anywhere in the
repository pass, a released version edited in the desk is refused, and a new version's hash is
written once. An existing pre-commit configuration is kept, and ``init`` says what it lacks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.journeys.conftest import REPO, Desk, _desk_env

V12 = "rules/IB_raid_v1/v1.2.yaml"


def _research_repo(tmp_path: Path) -> tuple[Desk, Desk]:
    """(the repository's top, its desk): a root commit, then ``ita-rules init desk`` and the
    hooks installed from the desk."""
    top = Desk(tmp_path / "research", _desk_env(tmp_path))
    top.root.mkdir()
    top.sh("git", "init", "-q", "-b", "main", check=True)
    for key, value in (("user.name", "trader_1"), ("user.email", "t1@example.test")):
        top.git("config", key, value)
    top.write("README", "# research\n")
    top.commit("root")
    assert top.run("init", "desk").code == 0
    desk = Desk(top.root / "desk", top.env)
    shutil.copytree(REPO / "rules" / "IB_raid_v1", desk.root / "rules" / "IB_raid_v1")
    desk.install_hooks()
    return top, desk


def test_hooks_of_a_workspace_in_a_subfolder(tmp_path: Path) -> None:
    top, desk = _research_repo(tmp_path)
    config = desk.read(".pre-commit-config.yaml")
    assert '        args: [--workspace, "desk"]\n' in config

    r = desk.commit("the desk and its rules")  # the hook runs at the top and finds desk/
    assert r.code == 0, r.out + r.err
    top.write("README", "# research\nmore\n")
    r = top.commit("unrelated, at the top")
    assert r.code == 0, r.out + r.err

    desk.write(V12, desk.read(V12).replace("ib_range_atr_mult: 1.2\n", "ib_range_atr_mult: 1.25\n"))
    r = desk.commit("edit a released version")
    assert r.code == 1
    assert (
        "desk/rules/IB_raid_v1/v1.2.yaml:19:22: params.ib_range_atr_mult: is released (in HEAD)"
        in r.out + r.err
    ), r.out + r.err
    desk.git("checkout", "HEAD", "--", V12)

    r = desk.run("new-version", "IB_raid_v1")
    assert r.code == 0, r.err
    v13 = "rules/IB_raid_v1/v1.3.yaml"
    desk.write(v13, desk.read(v13).replace("ib_range_atr_mult: 1.2\n", "ib_range_atr_mult: 1.3\n"))
    r = desk.commit("v1.3")  # the hook writes the hash and fails once
    assert r.code == 1
    assert "desk/rules/IB_raid_v1/v1.3.yaml: params_hash written; review and stage" in r.err
    r = desk.commit("v1.3")
    assert r.code == 0, r.out + r.err
    assert desk.git("log", "--format=%s", "-1") == "v1.3"


def test_init_says_what_a_kept_pre_commit_config_lacks(tmp_path: Path) -> None:
    env = _desk_env(tmp_path)
    repo = Desk(tmp_path / "repo", env)
    repo.root.mkdir()
    repo.sh("git", "init", "-q", check=True)
    other = (
        "repos:\n  - repo: local\n    hooks:\n      - id: other\n        name: other\n"
        '        entry: "true"\n        language: system\n'
    )
    repo.write(".pre-commit-config.yaml", other)
    r = repo.run("init", ".")
    assert r.code == 0, r.err
    lacks = (
        "kept .pre-commit-config.yaml: it exists and runs no ita-rules hook, so released "
        "versions are not protected at commit and push; add this entry under its `repos:`, then "
        "run `pre-commit install --hook-type pre-commit --hook-type pre-push`:\n"
        "  - repo: local\n    hooks:\n      - id: ita-rules\n"
    )
    assert lacks in r.out, r.out
    assert repo.read(".pre-commit-config.yaml") == other  # kept as it was
    again = repo.run("init", ".")  # said again, not "nothing to do"
    assert again.code == 0 and lacks in again.out, again.out

    # a subfolder workspace whose config runs the hook without naming the folder
    repo.write(
        "desk/.pre-commit-config.yaml",
        "repos:\n  - repo: local\n    hooks:\n      - id: ita-rules\n        name: ita-rules\n"
        "        entry: ita-rules-hook\n        language: system\n",
    )
    r = repo.run("init", "desk")
    assert r.code == 0, r.err
    assert (
        "kept .pre-commit-config.yaml: its ita-rules hook runs at the top of the work tree and "
        'will not find this workspace in desk/; add to the hook:\n        args: [--workspace, "desk"]\n'
    ) in r.out, r.out

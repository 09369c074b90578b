"""``ita-rules check`` against real git repositories: staged changes, ranges, shallow clones."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ita_rules.core import canonical
from tests.conftest import git, write


@pytest.fixture(autouse=True)
def _no_git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as if outside any git hook: a ``GIT_DIR``/``GIT_INDEX_FILE`` inherited from a hook
    that runs the test suite would make every git call below act on the outer repository."""
    from ita_rules.core.gitio import git_env

    kept = git_env()
    for var in list(os.environ):
        if var.startswith("GIT_") and var not in kept:
            monkeypatch.delenv(var)


def rule_yaml(
    setup: str = "S1",
    version: str = "1.0",
    *,
    params: dict[str, Any] | None = None,
    components: list[str] | None = None,
    targets: dict[str, Any] | None = None,
    active: bool = True,
    reason: str | None = None,
    tags: list[str] | None = None,
    author: str = "trader",
    bad_hash: bool = False,
) -> str:
    """A valid rule file (with its params_hash) as text."""
    data: dict[str, Any] = {
        "setup_id": setup,
        "version": version,
        "author": author,
        "created": "2025-01-01",
        "components": components or ["Detect_Sessions"],
        "rules": {"market": "GER40"},
        "params": {"atr_mult": 1.0} if params is None else params,
        "targets": targets or {"tp": 2.0, "sl": 1.0},
        "active": active,
    }
    if reason is not None:
        data["deprecation_reason"] = reason
    if tags is not None:
        data["tags"] = tags
    data["params_hash"] = canonical.params_hash(data)
    if bad_hash:
        data["params_hash"] = "sha256:" + "0" * 64
    return yaml.safe_dump(data, sort_keys=False)


def put(root: Path, setup: str, version: str, **kw: Any) -> Path:
    return write(root / "rules" / setup / f"v{version}.yaml", rule_yaml(setup, version, **kw))


def commit(root: Path, message: str = "change") -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def ws(in_git_repo: Path) -> Path:
    """A workspace with S1 v1.0, v1.1 and S2 v1.0 committed."""
    put(in_git_repo, "S1", "1.0")
    put(in_git_repo, "S1", "1.1", params={"atr_mult": 1.5})
    put(in_git_repo, "S2", "1.0")
    commit(in_git_repo, "first versions")
    return in_git_repo


def staged_check(cli: Any, *args: str) -> Any:
    git(Path.cwd(), "add", "-A")
    return cli("check", *args)


def test_clean_new_version_passes(ws: Path, cli: Any) -> None:
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    r = staged_check(cli)
    assert (r.code, r.out) == (0, "")
    assert "1 staged change(s) checked against HEAD, 0 problem(s)" in r.err


def test_nothing_staged_passes(ws: Path, cli: Any) -> None:
    r = cli("check")
    assert (r.code, r.out) == (0, "")


def test_edit_of_released_version_is_refused_with_its_diff(ws: Path, cli: Any) -> None:
    (ws / "rules/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0", params={"atr_mult": 1.2}))
    r = staged_check(cli)
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0] == (
        "rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in HEAD): only active, "
        "deprecation_reason and tags may change; make a new version for this change "
        "(ita-rules new-version S1):"
    )
    assert lines[1] == "    ~ params.atr_mult: 1.0 -> 1.2"
    assert lines[2].startswith('    ~ params_hash: "sha256:')
    assert len(lines) == 3


def test_a_linked_setup_folder_is_refused_as_validate_refuses_it(
    ws: Path, cli: Any, tmp_path: Path
) -> None:
    """A setup folder committed as a symbolic link (to a shared drive, say): validate refuses it
    in every clone, so the staged check and a range refuse it before it gets there; a link
    standing for anything else under the rules folder too (git does not say what it points
    to), a hidden one not."""
    shared = tmp_path / "shared" / "S3"
    write(shared / "v1.0.yaml", rule_yaml("S3", "1.0"))
    (ws / "rules" / "S3").symlink_to(shared)
    (ws / "rules" / ".cache").symlink_to(tmp_path / "shared")
    r = staged_check(cli)
    assert (r.code, r.out) == (
        1,
        "rules/S3: is a symbolic link; rule folders must be real folders\n",
    )
    assert cli("validate").out.startswith("rules/S3: is a symbolic link; rule folders must be")
    git(ws, "commit", "-q", "--no-verify", "-m", "linked")
    r = cli("check", "--base", "HEAD~1")
    assert (r.code, r.out) == (
        1,
        "rules/S3: is a symbolic link; rule folders must be real folders\n",
    )


def test_lifecycle_changes_are_allowed(ws: Path, cli: Any) -> None:
    put(ws, "S1", "1.0", active=False, reason="replaced by 1.1", tags=["old"])
    r = staged_check(cli)
    assert (r.code, r.out) == (0, "")


def test_deactivation_needs_a_reason(ws: Path, cli: Any) -> None:
    put(ws, "S1", "1.0", active=False)
    r = staged_check(cli)
    assert r.code == 1
    assert r.out.startswith("rules/S1/v1.0.yaml:")
    assert "deprecation_reason" in r.out


def test_identity_fields_of_a_released_version_are_frozen(ws: Path, cli: Any) -> None:
    put(ws, "S1", "1.0", author="someone else")
    r = staged_check(cli)
    assert r.code == 1
    assert r.out.splitlines() == [
        "rules/S1/v1.0.yaml:3:9: author: is released (in HEAD): only active, deprecation_reason "
        "and tags may change; make a new version for this change (ita-rules new-version S1):",
        '    ~ author: "trader" -> "someone else"',
    ]


def test_deleting_a_released_version_is_refused(ws: Path, cli: Any) -> None:
    (ws / "rules/S2/v1.0.yaml").unlink()
    r = staged_check(cli)
    assert r.code == 1
    assert r.out == (
        "rules/S2/v1.0.yaml: is released (in HEAD) and was deleted; a released version is never "
        "deleted: restore it and deprecate it instead (ita-rules deprecate S2@1.0 --reason TEXT)\n"
    )


def test_renaming_a_released_version_is_refused(ws: Path, cli: Any) -> None:
    git(ws, "mv", "rules/S2/v1.0.yaml", "rules/S2/v9.0.yaml")
    r = cli("check")
    assert r.code == 1
    assert (
        "rules/S2/v1.0.yaml: is released (in HEAD) and was renamed to rules/S2/v9.0.yaml; "
        "a released version is never renamed: restore it and add a new version instead\n"
    ) in r.out
    assert "rules/S2/v9.0.yaml:2:10: version: is '1.0' but the file name says '9.0'" in r.out


@pytest.mark.parametrize(
    ("version", "kw", "expected"),
    [
        (
            "1.3",
            {"params": {"atr_mult": 2.0}},
            "rules/S1/v1.3.yaml:2:10: version: version 1.3 skips versions: "
            "after 1.1 comes 1.2 or 2.0",
        ),
        (
            "1.2",
            {"params": {"atr_mult": 1.5}},
            "rules/S1/v1.2.yaml:15:14: params_hash: has the same params_hash as 1.1 ({h}); a new "
            "version must change components, rules, params or targets",
        ),
        (
            "1.2",
            {"params": {"atr_mult": 1.5, "max_trades": 2}},
            "rules/S1/v1.2.yaml:2:10: version: adds or removes a key or a component, which needs a "
            "major bump: 2.0, not 1.2:\n    + params.max_trades: 2",
        ),
        (
            "1.2",
            {"components": ["Detect_Sessions", "Detect_FVG"]},
            "rules/S1/v1.2.yaml:2:10: version: adds or removes a key or a component, which needs a "
            'major bump: 2.0, not 1.2:\n    + components[1]: "Detect_FVG"',
        ),
    ],
)
def test_wrong_new_versions(
    ws: Path, cli: Any, version: str, kw: dict[str, Any], expected: str
) -> None:
    put(ws, "S1", version, **kw)
    r = staged_check(cli)
    h = canonical.params_hash(yaml.safe_load(rule_yaml("S1", "1.1", params={"atr_mult": 1.5})))
    assert r.code == 1
    assert r.out == expected.format(h=h) + "\n"


def test_major_bump_allowed_for_values_or_keys(ws: Path, cli: Any) -> None:
    put(ws, "S1", "2.0", params={"atr_mult": 1.5, "max_trades": 2})
    put(ws, "S2", "2.0", params={"atr_mult": 3.0})
    r = staged_check(cli)
    assert (r.code, r.out) == (0, "")


def test_version_lower_than_the_latest_released(ws: Path, cli: Any) -> None:
    put(ws, "S2", "2.0", params={"atr_mult": 3.0})
    commit(ws)
    put(ws, "S2", "1.1", params={"atr_mult": 4.0})
    r = staged_check(cli)
    assert r.code == 1
    assert r.out == (
        "rules/S2/v1.1.yaml:2:10: version: version 1.1 is lower than 2.0, the latest released "
        "version of S2; a new version must be greater than every existing version\n"
    )


def test_first_version_of_a_setup_must_be_1_0(ws: Path, cli: Any) -> None:
    put(ws, "S3", "2.0")
    r = staged_check(cli)
    assert r.code == 1
    assert r.out == (
        "rules/S3/v2.0.yaml:2:10: version: version 2.0 is the first version of S3; the first "
        "version must be 1.0\n"
    )


def test_wrong_hash_is_reported(ws: Path, cli: Any) -> None:
    put(ws, "S1", "1.2", params={"atr_mult": 1.8}, bad_hash=True)
    r = staged_check(cli)
    assert r.code == 1
    assert "rules/S1/v1.2.yaml:15:14: params_hash: is sha256:000" in r.out


def test_initial_commit_has_nothing_released(in_git_repo: Path, cli: Any) -> None:
    put(in_git_repo, "S1", "1.0")
    r = staged_check(cli)
    assert (r.code, r.out) == (0, "")


def test_checks_the_staged_content_not_the_work_tree(ws: Path, cli: Any) -> None:
    (ws / "rules/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0", params={"atr_mult": 9.0}))
    r = cli("check")  # not staged: the index still equals HEAD
    assert (r.code, r.out) == (0, "")


def test_json_output(ws: Path, cli: Any) -> None:
    (ws / "rules/S2/v1.0.yaml").unlink()
    git(ws, "add", "-A")
    r = cli("check", "--json")
    doc = json.loads(r.out)
    assert r.code == 1
    assert doc["ok"] is False and doc["mode"] == "staged" and doc["released"] == "HEAD"
    assert [f["code"] for f in doc["findings"]] == ["released-deleted"]


def test_github_annotations(ws: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    (ws / "rules/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0", params={"atr_mult": 1.2}))
    r = staged_check(cli)
    assert r.code == 1
    assert (
        "::error file=rules/S1/v1.0.yaml,line=10,col=13,title=params.atr_mult::"
        "params.atr_mult: is released" in r.out
    )


def test_protected_ref_decides_what_is_released(ws: Path, cli: Any) -> None:
    (ws / "ita.toml").write_text('[rules]\nprotected_ref = "released"\n')
    commit(ws)
    git(ws, "branch", "released")
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    commit(ws, "1.2, committed but not in the protected ref")
    put(ws, "S1", "1.2", params={"atr_mult": 1.9})  # not released yet: may still change
    assert staged_check(cli).code == 0
    put(ws, "S1", "1.1", params={"atr_mult": 1.6})  # released in the protected ref
    r = staged_check(cli)
    assert r.code == 1
    assert r.out.startswith("rules/S1/v1.1.yaml:10:13: params.atr_mult: is released (in released)")


def test_missing_protected_ref_is_a_usage_error(ws: Path, cli: Any) -> None:
    (ws / "ita.toml").write_text('[rules]\nprotected_ref = "origin/main"\n')
    r = cli("check")
    assert r.code == 2
    assert "protected ref (rules.protected_ref) 'origin/main' is not a commit" in r.err


def test_range_with_branches_and_merges(ws: Path, cli: Any) -> None:
    base = git(ws, "rev-parse", "HEAD")
    git(ws, "checkout", "-q", "-b", "feature")
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    commit(ws, "new version")
    git(ws, "checkout", "-q", "main")
    put(ws, "S2", "1.1", params={"atr_mult": 2.5})
    commit(ws, "S2 1.1")
    git(ws, "merge", "-q", "--no-edit", "feature")
    assert cli("check", "--base", base).code == 0
    git(ws, "checkout", "-q", "-b", "bad")
    put(ws, "S2", "1.1", params={"atr_mult": 2.6})
    commit(ws, "edit S2 1.1")
    r = cli("check", "--base", "main", "--head", "bad")
    assert r.code == 1
    assert r.out.startswith("rules/S2/v1.1.yaml:10:13: params.atr_mult: is released (in main)")
    # 1.1 was not in base, but a commit of the range made it and a later one changed it:
    # check --history would fail on that for ever, so the range is refused too
    r = cli("check", "--base", base, "--head", "bad")
    assert r.code == 1
    edit, made = git(ws, "rev-parse", "bad")[:12], git(ws, "rev-parse", "main~1")[:12]
    assert r.out.startswith(
        f"rules/S2/v1.1.yaml:10:13: released version changed in commit {edit} (introduced in "
        f"commit {made}); only active, deprecation_reason and tags may change:\n"
    ), r.out


def test_bad_refs_are_usage_errors(ws: Path, cli: Any) -> None:
    r = cli("check", "--base", "nope")
    assert r.code == 2
    assert "base 'nope' is not a commit in this repository" in r.err
    r = cli("check", "--head", "HEAD")
    assert r.code == 2 and "--head needs --base" in r.err


def test_missing_workspace_is_a_usage_error(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("check").code == 2


def test_shallow_clone_missing_base(
    ws: Path, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = git(ws, "rev-parse", "HEAD")
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    commit(ws)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{ws}", str(clone))
    monkeypatch.chdir(clone)
    r = cli("check", "--base", first)
    assert r.code == 2
    assert f"base '{first}' is not in this repository: this clone is shallow" in r.err
    assert "fetch with depth 0" in r.err and "fetch the base" in r.err
    git(clone, "fetch", "-q", "--unshallow")
    assert cli("check", "--base", first).code == 0


def test_hook_entry_point(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ita_rules.hooks import check_main

    (ws / "rules/S2/v1.0.yaml").unlink()
    git(ws, "add", "-A")
    assert check_main([]) == 1
    assert "rules/S2/v1.0.yaml: is released (in HEAD) and was deleted" in capsys.readouterr().out
    git(ws, "reset", "-q", "--hard")
    base = git(ws, "rev-parse", "HEAD")
    put(ws, "S1", "1.1", params={"atr_mult": 7.0})
    to = commit(ws)
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)  # as pre-commit sets it at pre-push
    monkeypatch.setenv("PRE_COMMIT_TO_REF", to)
    assert check_main([]) == 1
    assert "rules/S1/v1.1.yaml:10:13: params.atr_mult: is released" in capsys.readouterr().out


@pytest.mark.parametrize("entry", ["check_main", "main"])
def test_hook_path_does_not_import_typer(ws: Path, entry: str) -> None:
    """The check hook and the combined one (``ita-rules-hook``) on a staged new version: the
    file is read, parsed and validated without any heavy module, PyYAML included (the rule
    files are in the layout :mod:`ita_rules.core.blockyaml` reads)."""
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    git(ws, "add", "-A")
    code = (
        f"import sys; from ita_rules.hooks import {entry}; rc = {entry}([]); "
        "heavy = ('typer', 'rich', 'sqlalchemy', 'git', 'deepdiff', 'jsonschema', 'ruamel'); "
        "bad = [m for m in heavy if m in sys.modules]; "
        "print(rc, bad, 'yaml' in sys.modules)"
    )
    out = subprocess.run(
        [__import__("sys").executable, "-c", code], cwd=ws, capture_output=True, text=True
    )
    assert out.stdout.strip() == "0 [] False", out.stderr


def test_combined_hook_takes_only_no_fix_and_workspace(ws: Path) -> None:
    """``ita-rules-hook`` reads its options without argparse, with argparse's exit codes."""
    hook = str(Path(__import__("sys").executable).parent / "ita-rules-hook")
    usage = "usage: ita-rules-hook [--no-fix] [--workspace DIR]\n"
    for args in (["--fix"], ["--workspace"], ["--no-fix", "--workspace"]):
        bad = subprocess.run([hook, *args], cwd=ws, capture_output=True, text=True)
        assert (bad.returncode, bad.stdout) == (2, ""), args
        assert bad.stderr == (
            f"{usage}ita-rules-hook: error: unrecognized arguments: {' '.join(args)}\n"
        )
    helped = subprocess.run([hook, "--help"], cwd=ws, capture_output=True, text=True)
    assert helped.returncode == 0
    assert "--no-fix         report wrong hashes, do not write" in helped.stdout
    # --workspace names the workspace's folder; one with no ita.toml at or above is an error
    nowhere = subprocess.run([hook, "--workspace=/"], cwd=ws, capture_output=True, text=True)
    assert (nowhere.returncode, nowhere.stdout) == (2, "")
    assert nowhere.stderr.startswith("ita-rules: no ita-rules workspace at / or above")
    named = subprocess.run([hook, "--workspace", "."], cwd=ws, capture_output=True, text=True)
    assert (named.returncode, named.stdout) == (0, ""), named.stdout + named.stderr
    put(ws, "S1", "1.2", params={"atr_mult": 1.8}, bad_hash=True)
    git(ws, "add", "-A")
    kept = subprocess.run([hook, "--no-fix"], cwd=ws, capture_output=True, text=True)
    assert kept.returncode == 1 and "params_hash written" not in kept.stdout, kept.stdout
    assert kept.stdout.startswith("rules/S1/v1.2.yaml:"), kept.stdout
    assert "sha256:" + "0" * 64 in (ws / "rules/S1/v1.2.yaml").read_text()
    fixed = subprocess.run([hook], cwd=ws, capture_output=True, text=True)
    assert fixed.returncode == 1
    # only that line: not also the hash it has just written, "run validate --fix to write it"
    assert (
        fixed.stdout == "rules/S1/v1.2.yaml: params_hash written; review and stage the file again\n"
    )
    assert "sha256:" + "0" * 64 not in (ws / "rules/S1/v1.2.yaml").read_text()


def test_staged_check_lists_only_the_changed_setup_folders(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit's check reads the released versions and predecessors of the setups it changes,
    not the whole registry (a new S1 version: S2 is never listed), and finds the same. The
    index is not listed at all: its side is the released folder as the diff leaves it."""
    from ita_rules.core import gitio
    from ita_rules.rules.check import run_check

    listed: list[tuple[str | None, tuple[str, ...]]] = []
    real_files_in, real_tree_entries = gitio.Git.files_in, gitio.Git.tree_entries

    def files_in(self: gitio.Git, ref: str, folders: list[str]) -> dict[str, tuple[str, str]]:
        listed.append((ref, tuple(folders)))
        return real_files_in(self, ref, folders)

    def tree_entries(self: gitio.Git, ref: str | None, *paths: str) -> dict[str, tuple[str, str]]:
        listed.append((ref, paths))
        return real_tree_entries(self, ref, *paths)

    monkeypatch.setattr(gitio.Git, "files_in", files_in)
    monkeypatch.setattr(gitio.Git, "tree_entries", tree_entries)
    put(ws, "S1", "1.3", params={"atr_mult": 1.8})  # skips 1.2: its predecessor must be read
    git(ws, "add", "-A")
    result = run_check(ws, ws / "rules")
    head = git(ws, "rev-parse", "HEAD")
    assert listed == [(head, ("rules/S1",))]
    assert [(f.path, f.message) for f in result.findings] == [
        ("rules/S1/v1.3.yaml", "version 1.3 skips versions: after 1.1 comes 1.2 or 2.0")
    ]


def test_range_ignores_replace_objects(ws: Path, cli: Any) -> None:
    """A replace ref that makes the base look like the mutated head hides nothing."""
    base = git(ws, "rev-parse", "HEAD")
    put(ws, "S1", "1.0", params={"atr_mult": 1.2})
    mutated = commit(ws, "edit a released version")
    fake = git(ws, "commit-tree", f"{mutated}^{{tree}}", "-m", "looks like the base")
    git(ws, "replace", base, fake)
    assert git(ws, "diff", "--name-only", base, mutated) == ""  # what plain git now shows
    r = cli("check", "--base", base)
    assert r.code == 1
    assert r.out.startswith(
        f"rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in {base}): only active"
    )


def test_range_reads_rules_dir_from_the_base_in_a_subfolder_workspace(
    in_git_repo: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workspace below the repository root: its ita.toml at the base decides the folder;
    neither the head's ita.toml nor ITA_RULES_DIR can point the check elsewhere."""
    ws = in_git_repo / "desk"
    ws.mkdir()
    (ws / "ita.toml").write_text('[rules]\ndir = "registry"\n')
    for version, mult in (("1.0", 1.0), ("1.1", 1.5)):
        write(
            ws / "registry/S1" / f"v{version}.yaml",
            rule_yaml("S1", version, params={"atr_mult": mult}),
        )
    base = commit(in_git_repo, "a desk in a subfolder")
    monkeypatch.chdir(ws)
    (ws / "ita.toml").write_text('[rules]\ndir = "elsewhere"\n')
    write(ws / "registry/S1/v1.0.yaml", rule_yaml("S1", "1.0", params={"atr_mult": 9.0}))
    commit(in_git_repo, "move the folder and edit 1.0")
    monkeypatch.setenv("ITA_RULES_DIR", "nowhere")
    r = cli("check", "--base", base)
    assert r.code == 1
    assert r.out.splitlines()[0] == (
        f'desk/ita.toml: rules.dir: is "elsewhere" in HEAD but "registry" in {base}; the rules '
        "folder cannot be moved (the versions released in it would go unchecked)"
    )
    assert r.out.splitlines()[1].startswith(
        "desk/registry/S1/v1.0.yaml:10:13: params.atr_mult: is released"
    )


def test_range_checks_every_folder_that_held_versions(ws: Path, cli: Any) -> None:
    """The base itself moved rules.dir earlier (a history from before the checks): versions
    released in the old folder stay protected."""
    (ws / "ita.toml").write_text('[rules]\ndir = "registry"\n')
    base = commit(ws, "point the registry elsewhere")
    (ws / "rules/S2/v1.0.yaml").unlink()
    commit(ws, "delete a released version in the old folder")
    r = cli("check", "--base", base)
    assert r.code == 1
    assert r.out.startswith(f"rules/S2/v1.0.yaml: is released (in {base}) and was deleted")


def test_range_may_choose_rules_dir_while_nothing_is_released(in_git_repo: Path, cli: Any) -> None:
    (in_git_repo / "README.md").write_text("a new desk\n")
    base = commit(in_git_repo, "start")
    (in_git_repo / "ita.toml").write_text('[rules]\ndir = "registry"\n')
    write(in_git_repo / "registry/S1/v1.0.yaml", rule_yaml("S1", "1.0"))
    commit(in_git_repo, "the registry lives in registry/")
    r = cli("check", "--base", base)
    assert (r.code, r.out) == (0, "")
    assert "1 changed file(s) checked" in r.err  # the new folder's files are validated
    write(in_git_repo / "registry/S1/v1.1.yaml", rule_yaml("S1", "1.1", bad_hash=True))
    commit(in_git_repo, "a wrong hash")
    r = cli("check", "--base", base)
    assert r.code == 1
    assert r.out.startswith("registry/S1/v1.1.yaml:")


def test_range_with_a_base_whose_ita_toml_does_not_load(ws: Path, cli: Any) -> None:
    (ws / "ita.toml").write_text("[rules]\ndir = 5\n")
    commit(ws, "a broken ita.toml")
    (ws / "ita.toml").write_text("")
    commit(ws, "fixed")
    r = cli("check", "--base", "HEAD~1")
    assert r.code == 2
    assert r.err == "ita-rules: HEAD~1:ita.toml: rules.dir: expected a string, got int 5\n"


NESTED = (
    "rules/S1/S3/v1.0.yaml: rule files sit directly in their setup folder "
    "(rules/{setup_id}/v{MAJOR}.{MINOR}.yaml); move it to rules/S3/v1.0.yaml\n"
)


def test_staged_rule_file_in_a_nested_folder_is_refused(ws: Path, cli: Any) -> None:
    """A valid file one folder too deep (its setup_id matching its own folder) is refused with
    the message validate gives, not checked as a version of S3."""
    write(ws / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    r = staged_check(cli)
    assert (r.code, r.out) == (1, NESTED)
    assert "1 staged change(s) checked against HEAD, 1 problem(s)" in r.err
    assert cli("validate").out == NESTED


def test_range_with_a_nested_rule_file_is_refused(ws: Path, cli: Any) -> None:
    base = git(ws, "rev-parse", "HEAD")
    write(ws / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    commit(ws, "one folder too deep")
    r = cli("check", "--base", base)
    assert (r.code, r.out) == (1, NESTED)
    write(ws / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0", params={"atr_mult": 3.0}))
    later = commit(ws, "changed in its nested folder")
    r = cli("check", "--base", f"{later}~1")
    assert (r.code, r.out) == (1, NESTED)


def test_moving_a_nested_rule_file_into_its_setup_folder_passes(ws: Path, cli: Any) -> None:
    """A nested file committed before (never a version: nothing can show it) may be moved
    where check says, or deleted."""
    write(ws / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    base = commit(ws, "one folder too deep, from before the layout rule")
    (ws / "rules/S3").mkdir()
    git(ws, "mv", "rules/S1/S3/v1.0.yaml", "rules/S3/v1.0.yaml")
    r = cli("check")
    assert (r.code, r.out) == (0, "")
    commit(ws, "moved")
    assert cli("check", "--base", base).out == ""
    git(ws, "rm", "-q", "rules/S3/v1.0.yaml")
    git(ws, "commit", "-q", "-m", "and deleted")
    write(ws / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    again = commit(ws, "nested again")
    git(ws, "rm", "-q", "rules/S1/S3/v1.0.yaml")
    assert cli("check").out == ""
    assert cli("check", "--base", again, "--head", again).out == ""


def test_nested_rule_file_in_a_subfolder_workspace_names_the_folder_as_the_repository_does(
    in_git_repo: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = in_git_repo / "desk"
    ws.mkdir()
    (ws / "ita.toml").write_text('[rules]\ndir = "registry"\n')
    write(ws / "registry/S1/v1.0.yaml", rule_yaml("S1", "1.0"))
    base = commit(in_git_repo, "a desk in a subfolder")
    monkeypatch.chdir(ws)
    write(ws / "registry/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    commit(in_git_repo, "nested")
    r = cli("check", "--base", base)
    assert (r.code, r.out) == (
        1,
        "desk/registry/S1/S3/v1.0.yaml: rule files sit directly in their setup folder "
        "(desk/registry/{setup_id}/v{MAJOR}.{MINOR}.yaml); move it to desk/registry/S3/v1.0.yaml\n",
    )


def first_push_env(monkeypatch: pytest.MonkeyPatch, local: str = "refs/heads/main") -> None:
    """What pre-commit sets at pre-push when the pushed commits reach a root commit: no range."""
    monkeypatch.delenv("PRE_COMMIT_FROM_REF", raising=False)
    monkeypatch.delenv("PRE_COMMIT_TO_REF", raising=False)
    monkeypatch.setenv("PRE_COMMIT_LOCAL_BRANCH", local)
    monkeypatch.setenv("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_URL", "/nowhere/remote.git")


def test_hook_push_without_a_range_audits_the_commits_it_sends(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing on the remote: every commit is sent; one that changed a released version (its
    hash rewritten to match) is refused at the place of the change."""
    from ita_rules.hooks import check_main

    git(ws, "branch", "-M", "main")
    first = git(ws, "rev-parse", "HEAD")
    put(ws, "S1", "1.0", params={"atr_mult": 1.2})
    forged = commit(ws, "forged")
    first_push_env(monkeypatch)
    assert check_main([]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"rules/S1/v1.0.yaml:10:13: released version changed in commit {forged[:12]} "
        f"(introduced in commit {first[:12]}); only active, deprecation_reason and tags may "
        "change:\n    ~ params.atr_mult: 1.0 -> 1.2\n"
    ), out
    # the remote has the first commit: the range from it, like --base
    git(ws, "update-ref", "refs/remotes/origin/main", first)
    assert check_main([]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in {first})")
    # the remote has everything: nothing is sent, nothing to check
    git(ws, "update-ref", "refs/remotes/origin/main", forged)
    assert (check_main([]), capsys.readouterr().out) == (0, "")


def test_push_without_a_range_checks_only_what_the_remote_lacks(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A violation already on the remote is not this push's: an unrelated history (its own
    root) merged on top of it is audited, and passes."""
    from ita_rules.hooks import check_main

    git(ws, "branch", "-M", "main")
    put(ws, "S1", "1.0", params={"atr_mult": 1.2})
    old = commit(ws, "an old violation, already pushed")
    git(ws, "update-ref", "refs/remotes/origin/main", old)
    git(ws, "switch", "-q", "--orphan", "other")
    (ws / "ita.toml").write_text("")
    put(ws, "S3", "1.0")
    commit(ws, "a history of its own")
    git(ws, "merge", "-q", "--allow-unrelated-histories", "-m", "merge main", "main")
    first_push_env(monkeypatch, "refs/heads/other")
    assert (check_main([]), capsys.readouterr().out) == (0, "")
    put(ws, "S3", "1.0", params={"atr_mult": 5.0})
    changed = commit(ws, "changed S3 1.0, made on the orphan side")
    assert check_main([]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"rules/S3/v1.0.yaml:10:13: released version changed in commit {changed[:12]} "
    ), out
    assert "rules/S1/" not in out


def test_push_to_a_url_compares_with_every_remote(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pushed to a URL (no remote of that name): what no remote-tracking ref has is sent."""
    from ita_rules.hooks import check_main

    first = git(ws, "rev-parse", "HEAD")
    git(ws, "update-ref", "refs/remotes/upstream/main", first)
    put(ws, "S1", "1.1", params={"atr_mult": 4.0})
    commit(ws, "edit 1.1")
    first_push_env(monkeypatch, "HEAD")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "/somewhere/else.git")
    assert check_main([]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"rules/S1/v1.1.yaml:10:13: params.atr_mult: is released (in {first})")


def test_push_without_a_range_refuses_a_nested_rule_file(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first push validates the tip's files too: a file one folder too deep is refused."""
    from ita_rules.hooks import check_main

    write(ws / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    commit(ws, "nested")
    first_push_env(monkeypatch, "HEAD")
    assert (check_main([]), capsys.readouterr().out) == (1, NESTED)


def test_server_hook_refuses_a_nested_rule_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hooks/pre-receive in a bare repository refuses the nested file with the same message."""
    import shutil
    import sys

    from tests.conftest import REPO

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    bare, client = tmp_path / "server.git", tmp_path / "client"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    shutil.copy(REPO / "hooks" / "pre-receive", bare / "hooks" / "pre-receive")
    (bare / "hooks" / "pre-receive").chmod(0o755)
    git(tmp_path, "clone", "-q", str(bare), str(client))
    (client / "ita.toml").write_text("")
    put(client, "S1", "1.0")
    before = commit(client, "first version")
    git(client, "push", "-q", "origin", "HEAD:main")
    write(client / "rules/S1/S3/v1.0.yaml", rule_yaml("S3", "1.0"))
    commit(client, "one folder too deep")
    r = subprocess.run(
        ["git", "push", "origin", "HEAD:main"], cwd=client, capture_output=True, text=True
    )
    assert r.returncode != 0
    assert "remote: " + NESTED.rstrip("\n") in r.stderr
    assert git(bare, "rev-parse", "main") == before


def _merge_two_v11(ws: Path, theirs: dict[str, Any]) -> tuple[str, str]:
    """S1 1.0 on main; ``a`` makes 1.1 (atr_mult 1.5), ``b`` from main makes 1.1 with
    ``theirs``; main takes ``a``, then merges ``b`` without committing, keeping its own 1.1
    where they conflict. Returns the two commits."""
    put(ws, "S1", "1.0")
    commit(ws, "first")
    git(ws, "checkout", "-q", "-b", "a")
    put(ws, "S1", "1.1", params={"atr_mult": 1.5})
    a = commit(ws, "1.1 on a")
    git(ws, "checkout", "-q", "-b", "b", "main")
    put(ws, "S1", "1.1", **theirs)
    b = commit(ws, "1.1 on b")
    git(ws, "checkout", "-q", "main")
    git(ws, "merge", "-q", "a")
    subprocess.run(["git", "merge", "-q", "--no-commit", "b"], cwd=ws, capture_output=True)
    if "<<<<<<<" in (ws / "rules/S1/v1.1.yaml").read_text():
        git(ws, "checkout", "--ours", "rules/S1/v1.1.yaml")
    git(ws, "add", "-A")
    return a, b


def test_a_merge_keeping_one_of_two_different_versions_is_refused_at_commit_time(
    in_git_repo: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two branches each made 1.1; the merge keeps main's (its tree does not change), but
    the other 1.1 would be in the history too: the staged check (pre-commit) refuses the
    merge commit, naming both commits and the way out, before a push does (walk2 F1)."""
    import sys

    ws = in_git_repo
    a, b = _merge_two_v11(ws, {"params": {"atr_mult": 1.7}})
    expected = (
        f"rules/S1/v1.1.yaml: version 1.1 was made twice: the merged branch (commit {b[:12]}) "
        f"made it with other content than this one (commit {a[:12]}); a released version has "
        "one content: abort the merge (git merge --abort), renumber the merged branch's version "
        "(rebase it on this one, `ita-rules new-version S1`) and merge again\n"
    )
    r = cli("check")
    assert (r.code, r.out) == (1, expected)
    # the hook pre-commit installs: the merge commit is not made
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    hook = ws / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\nexec ita-rules-hook\n")
    hook.chmod(0o755)
    done = subprocess.run(["git", "commit", "-q", "--no-edit"], cwd=ws, capture_output=True)
    assert done.returncode != 0
    assert expected in done.stderr.decode()
    assert git(ws, "rev-parse", "HEAD") == a


def test_a_merge_of_the_same_version_made_twice_alike_passes(in_git_repo: Path, cli: Any) -> None:
    """Both branches made 1.1 alike but for a tag: one version, one content."""
    ws = in_git_repo
    _merge_two_v11(ws, {"params": {"atr_mult": 1.5}, "tags": ["b"]})
    r = cli("check")
    assert (r.code, r.out) == (0, "")

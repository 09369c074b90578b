"""The command line as a user meets it: help with examples, README tour, exit codes, --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from ita_rules.cli.app import app
from ita_rules.cli.lazy import load_all
from tests.conftest import REPO, snapshot


def _commands() -> list[list[str]]:
    load_all()  # the verbs register when their modules are imported (ita_rules.cli.lazy)
    root = typer.main.get_command(app)
    out: list[list[str]] = []

    def walk(group: Any, prefix: list[str]) -> None:
        for name, cmd in group.commands.items():
            out.append([*prefix, name])
            if hasattr(cmd, "commands"):
                walk(cmd, [*prefix, name])

    walk(root, [])
    return out


COMMANDS = _commands()


def test_root_help_has_an_example(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("--help")
    assert r.code == 0 and "Example:" in r.out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_has_help_with_an_example(command: list[str], cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(*command, "--help")
    assert r.code == 0, r.err
    assert "Example:" in r.out, f"`ita-rules {' '.join(command)} --help` shows no example"
    assert f"ita-rules {' '.join(command)}" in r.out.split("Example:", 1)[1]


def test_the_new_version_help_examples_run_on_the_bundled_sample(sample_ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """The examples of ``new-version --help`` work as written on the sample registry (its
    first example set a key Frank_raid_v1 does not have, which needs --major: a walk-through)."""
    import shlex

    help_text = cli("new-version", "--help").out
    examples = [
        line.strip() for line in help_text.splitlines() if line.strip().startswith("ita-rules ")
    ]
    assert len(examples) == 2, help_text
    made = []
    for example in examples:
        r = cli(*shlex.split(example)[1:])
        assert r.code == 0, (example, r.err)
        made.append(r.out.strip())
        (sample_ws / r.out.strip()).unlink()  # each example from the same sample
    assert made == ["rules/Frank_raid_v1/v2.1.yaml", "rules/Frank_raid_v1/v3.0.yaml"]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_is_in_the_readme(command: list[str]) -> None:
    readme = (REPO / "README.md").read_text()
    assert f"ita-rules {' '.join(command)}" in readme


def test_usage_errors_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("no-such-verb").code == 2
    assert cli("list", "--no-such-option").code == 2


def test_missing_workspace_is_exit_2_one_line(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    r = cli("list")
    assert r.code == 2
    assert r.err == (
        f"ita-rules: no ita-rules workspace at {tmp_path} or above (no ita.toml); "
        "run `ita-rules init` or pass --workspace DIR\n"
    )


def test_list_show_diff(sample_ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("list", "--active", "--setup", "Frank_raid_v1")
    assert r.code == 0
    assert r.out.splitlines() == [
        "SETUP          VERSION  ACTIVE  AUTHOR    CREATED     PARAMS_HASH",
        "Frank_raid_v1  1.1      yes     trader_1  2025-10-15  sha256:28ffe92d971c",
        "Frank_raid_v1  2.0      yes     trader_1  2025-11-03  sha256:51186ccbac8e",
    ]
    data = json.loads(cli("list", "--json").out)
    assert [(x["setup_id"], x["version"], x["active"]) for x in data["rules"]] == [
        ("Frank_raid_v1", "1.0", False),
        ("Frank_raid_v1", "1.1", True),
        ("Frank_raid_v1", "2.0", True),
        ("IB_raid_v1", "1.0", True),
        ("IB_raid_v1", "1.1", True),
        ("IB_raid_v1", "1.2", True),
        ("London_FVG_v1", "1.0", True),
        ("London_FVG_v1", "1.1", False),
    ]
    shown = json.loads(cli("show", "London_FVG_v1", "--json").out)
    assert shown["version"] == "1.0"  # the latest *active* one
    assert shown["rule"]["rules"]["fvg"]["min_size_atr"] == 0.15
    r = cli("show", "London_FVG_v1@1.1")
    assert r.code == 0 and "state:       deprecated: Too few trades" in r.out
    r = cli("diff", "IB_raid_v1", "1.1", "1.2")
    assert r.out.splitlines() == [
        "IB_raid_v1 1.1 -> 1.2  (semantic change: minor)",
        "  ~ targets.tp: 1.5 -> 2.0",
    ]
    d = json.loads(cli("diff", "Frank_raid_v1", "1.1", "2.0", "--json").out)
    assert d["semantic_change"] == "major"
    assert {
        "change": "added",
        "path": "components[2]",
        "old": None,
        "new": "Detect_FVG",
        "structural": True,
    } in d["changes"]
    r = cli("show", "Nope_v1")
    assert (r.code, r.err) == (1, "ita-rules: no setup 'Nope_v1' in rules\n")


def test_list_reports_invalid_files_and_exits_1(sample_ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    bad = sample_ws / "rules/IB_raid_v1/v1.3.yaml"
    bad.write_text("setup_id: IB_raid_v1\nversion: '1.3'\n")
    r = cli("list", "--setup", "IB_raid_v1")
    assert r.code == 1
    assert "IB_raid_v1  1.2" in r.out and "1.3" not in r.out
    assert "1 invalid file(s) not listed; run `ita-rules validate`:" in r.err


def test_validate_json_and_github_annotations(sample_ws: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = sample_ws / "rules/IB_raid_v1/v1.2.yaml"
    path.write_text(path.read_text().replace("  tp: 2.0", "  tp: -2.0"))
    before = snapshot(sample_ws)
    r = cli("validate", "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["ok"] is False and doc["files"] == 8
    assert [(f["path"], f["line"], f["col"], f["field"], f["code"]) for f in doc["findings"]] == [
        ("rules/IB_raid_v1/v1.2.yaml", 22, 7, "targets.tp", "range"),
        ("rules/IB_raid_v1/v1.2.yaml", 26, 14, "params_hash", "hash-mismatch"),
    ]
    assert doc["findings"][0]["message"] == "expected a number > 0, got -2.0"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = cli("validate", "rules/IB_raid_v1")
    assert r.out.splitlines()[:2] == [
        "rules/IB_raid_v1/v1.2.yaml:22:7: targets.tp: expected a number > 0, got -2.0",
        "::error file=rules/IB_raid_v1/v1.2.yaml,line=22,col=7,title=targets.tp::"
        "targets.tp: expected a number > 0, got -2.0",
    ]
    assert len(r.out.splitlines()) == 4
    assert snapshot(sample_ws) == before


def test_validate_explicit_files_outside_a_workspace(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "rules" / "IB_raid_v1"
    target.mkdir(parents=True)
    (target / "v1.0.yaml").write_bytes((REPO / "rules/IB_raid_v1/v1.0.yaml").read_bytes())
    monkeypatch.chdir(tmp_path)
    r = cli("validate", "rules/IB_raid_v1/v1.0.yaml")
    assert r.code == 0, r.out + r.err


def test_unexpected_errors_are_one_line_unless_debug(sample_ws: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import ita_rules.rules.registry as registry

    def boom(self: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(registry.Registry, "scan", boom)
    r = cli("list")
    assert (r.code, r.err) == (
        3,
        "ita-rules: internal error: RuntimeError: disk on fire (run with --debug for the traceback)\n",
    )
    r = cli("--debug", "list")
    assert r.code == 3 and "Traceback (most recent call last)" in r.err


def test_python_dash_m_and_console_script() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "ita_rules", "--help"], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0 and "Example:" in r.stdout
    exe = Path(sys.executable).parent / "ita-rules"
    r = subprocess.run(
        [str(exe), "validate"], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert r.returncode == 0, r.stdout + r.stderr


def _released_hash(line: str) -> tuple[str, str]:
    """(stated, computed) of a ``params_hash: is X but the content hashes to Y`` line."""
    stated = line.split("params_hash: is ", 1)[1].split(" ", 1)[0]
    computed = line.split("the content hashes to ", 1)[1].split(":", 2)
    return stated, ":".join(computed[:2])


def test_validate_fix_leaves_released_versions_alone(sample_ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """A committed (released) version with a wrong hash was changed: --fix does not write its
    hash, and the message says to make a new version; an uncommitted file is fixed."""
    from tests.conftest import git

    released = sample_ws / "rules/IB_raid_v1/v1.2.yaml"
    released.write_text(released.read_text().replace("  tp: 2.0", "  tp: 2.5"))
    new = sample_ws / "rules/IB_raid_v1/v1.3.yaml"
    new.write_text(released.read_text().replace('version: "1.2"', 'version: "1.3"'))
    before = released.read_bytes()
    r = cli("validate", "--fix")
    assert r.code == 1, r.out + r.err
    fixed, line = r.out.splitlines()
    assert fixed == "rules/IB_raid_v1/v1.3.yaml: params_hash written"
    stated, computed = _released_hash(line)
    assert line == (
        f"rules/IB_raid_v1/v1.2.yaml:26:14: params_hash: is {stated} but the content hashes to "
        f"{computed}: this version is released (in HEAD) and was changed; a released version "
        "never changes: make a new version for the change (ita-rules new-version IB_raid_v1) "
        "and restore this file (git checkout HEAD -- rules/IB_raid_v1/v1.2.yaml)"
    )
    assert r.err == "9 file(s) checked, 1 problem(s), 1 fixed\n"
    assert released.read_bytes() == before
    assert f'params_hash: "{computed}"' in new.read_text()  # the new file got its hash

    # Released like this (committed with --no-verify): the same refusal, worded for that case.
    git(sample_ws, "add", "-A")
    git(sample_ws, "commit", "-q", "--no-verify", "-m", "a released version with a wrong hash")
    r = cli("validate", "--fix", "rules/IB_raid_v1/v1.2.yaml")
    assert r.code == 1
    assert r.out.endswith(
        f"{computed}: this version was released (in HEAD) like this, and a released version "
        "never changes: make a new version (ita-rules new-version IB_raid_v1)\n"
    ), r.out
    assert released.read_bytes() == before


def test_validate_released_means_in_the_protected_ref(sample_ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """With rules.protected_ref set, a version committed on a branch but not in that ref is not
    released yet: --fix writes its hash. A protected ref that does not exist is exit 2 (asked
    only when a hash is wrong: otherwise there is nothing to decide)."""
    from tests.conftest import git

    (sample_ws / "ita.toml").write_text('[rules]\nprotected_ref = "release"\n')
    assert cli("validate").code == 0
    path = sample_ws / "rules/IB_raid_v1/v1.3.yaml"
    text = (sample_ws / "rules/IB_raid_v1/v1.2.yaml").read_text()
    path.write_text(text.replace('version: "1.2"', 'version: "1.3"').replace("tp: 2.0", "tp: 2.5"))
    r = cli("validate")
    assert r.code == 2
    assert r.err == (
        "ita-rules: protected ref (rules.protected_ref) 'release' is not a commit in this "
        "repository (a typo, or not fetched yet: git fetch origin)\n"
    )
    git(sample_ws, "branch", "release")
    git(sample_ws, "add", "-A")
    git(sample_ws, "commit", "-q", "-m", "v1.3 on a branch, hash not updated")
    r = cli("validate", "rules/IB_raid_v1/v1.3.yaml")
    assert r.code == 1 and r.out.endswith(" (run `ita-rules validate --fix` to write it)\n")
    assert cli("validate", "--fix", "rules/IB_raid_v1/v1.3.yaml").code == 0
    # The same file in the protected ref: released, left alone.
    git(sample_ws, "branch", "-f", "release", "HEAD")
    path.write_text(path.read_text().replace("tp: 2.5", "tp: 3.0"))
    r = cli("validate", "--fix", "rules/IB_raid_v1/v1.3.yaml")
    assert r.code == 1
    assert "this version is released (in release) and was changed" in r.out, r.out
    assert "tp: 3.0" in path.read_text() and "params_hash written" not in r.out

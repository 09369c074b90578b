"""``ita-rules index [--rebuild] [--json]`` runs without typer (ita_rules/cli/plain.py), and
nobody can tell from the outside: the same output, exit code and files as the same command
line parsed by typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ita_rules.cli import plain
from tests.conftest import Result, git


def _through_typer(cli: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    with monkeypatch.context() as m:
        m.setattr(plain, "command", lambda _args: None)
        return cli(*args)  # type: ignore[no-any-return]


def _commit_version(root: Path, version: str) -> None:
    src = root / "rules" / "IB_raid_v1" / "v1.2.yaml"
    text = src.read_text().replace('version: "1.2"', f'version: "{version}"')
    (root / "rules" / "IB_raid_v1" / f"v{version}.yaml").write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"version {version}")


@pytest.mark.parametrize(
    "args",
    [["index"], ["index", "--rebuild"], ["index", "--json"], ["index", "--rebuild", "--json"]],
    ids=" ".join,
)
def test_index_says_what_typer_says(
    sample_ws: Path, cli: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """The same command line on the same history, once each way: the same result. (A new
    commit between the two runs of `index`, so that each way refreshes.)"""
    assert plain.command(args) is not None
    ours = cli(*args)
    index = sample_ws / ".ita" / "index.sqlite"
    index.unlink()
    theirs = _through_typer(cli, monkeypatch, *args)
    assert ours.code == theirs.code == 0
    assert ours.err == theirs.err == ""
    if "--json" in args:
        assert json.loads(ours.out) == json.loads(theirs.out)
    else:
        assert ours.out == theirs.out
        assert ours.out.startswith("index rebuilt (")
    _commit_version(sample_ws, "1.3")
    snapshot = index.read_bytes()
    ours = cli("index")
    index.write_bytes(snapshot)
    assert _through_typer(cli, monkeypatch, "index") == ours
    assert ours.out.startswith("index refreshed (1 new commit(s) touching the rules)")


def test_outside_a_workspace_the_error_is_typers(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ours = cli("index", "--rebuild")
    assert ours.code == 2 and ours.err.startswith("ita-rules: ")
    assert _through_typer(cli, monkeypatch, "index", "--rebuild") == ours


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["index", "--help"],
        ["index", "-h"],
        ["index", "--rebuil"],
        ["index", "extra"],
        ["-w", ".", "index"],
        ["--debug", "index"],
        ["index", "--debug"],
        ["log", "--rebuild"],
        ["indexx"],
    ],
    ids=" ".join,
)
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert plain.command(args) is None


def test_a_shell_completion_request_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert plain.command(["index"]) is not None
    monkeypatch.setenv("_ITA_RULES_COMPLETE", "bash_complete")
    assert plain.command(["index"]) is None


_PROBE = """
import json, sys
from ita_rules.cli import main, plain
if sys.argv[1] == "typer":
    plain.command = lambda args: None
try:
    main(sys.argv[2:])
finally:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("typer", "click"))
    print(json.dumps(loaded), file=sys.stderr)
"""


def _probe(way: str, *args: str, stdout: Any = subprocess.PIPE) -> tuple[int, str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, way, *args], stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    err, _, modules = done.stderr.rstrip("\n").rpartition("\n")
    return done.returncode, err, json.loads(modules)


def test_index_imports_no_typer(sample_ws: Path) -> None:
    code, err, loaded = _probe("plain", "index", "--rebuild")
    assert (code, err, loaded) == (0, "", [])
    code, err, loaded = _probe("typer", "index", "--rebuild")
    assert (code, err) == (0, "") and "typer" in loaded


def test_a_closed_stdout_ends_as_under_typer(sample_ws: Path) -> None:
    """`ita-rules index | true`: typer's main exits 1 and says nothing."""
    read, write = os.pipe()
    os.close(read)
    try:
        ours = _probe("plain", "index", "--rebuild", stdout=write)
        theirs = _probe("typer", "index", "--rebuild", stdout=write)
    finally:
        os.close(write)
    assert ours[:2] == theirs[:2] == (1, "")


@pytest.mark.parametrize("way", ["plain", "typer"])
def test_ctrl_c_is_a_silent_130_either_way(
    sample_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """An interrupt during the refresh: exit 130 and nothing on stderr, as typer's main does."""
    from ita_rules.cli import main
    from ita_rules.rules import index

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(index, "refresh", interrupted)
    if way == "typer":
        monkeypatch.setattr(plain, "command", lambda _args: None)
    with pytest.raises(SystemExit) as exited:
        main(["index", "--rebuild"])
    assert exited.value.code == 130
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "call, frozen",
    [
        ("main(['index', '--rebuild'])", False),  # a program or a test calling it
        ("sys.argv = ['ita-rules', 'index', '--rebuild']; main()", True),  # the console script
    ],
)
def test_objects_are_frozen_only_when_the_command_ends_the_process(
    sample_ws: Path, call: str, frozen: bool
) -> None:
    """A typer-free command freezes its objects for the exit (the exit's collection skips
    them) only as the console script runs it (``main()``); a program calling ``main(argv)``
    and catching its exit keeps a collector that collects what it made."""
    code = (
        "import gc, sys\nfrom ita_rules.cli import main\n"
        f"try:\n    {call}\nexcept SystemExit as exc:\n"
        "    print(exc.code, gc.isenabled(), gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=sample_ws, capture_output=True, text=True
    )
    assert done.stdout.splitlines()[-1].split() == ["0", "True", str(frozen)], done.stderr

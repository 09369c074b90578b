"""``store put`` read without typer (ita_rules/cli/store_put.py): a command line the plain
reader takes must give the verb exactly what typer gives it, and every other one goes to typer.

typer's side: its command is run with the verb's body replaced by a recorder, so what is
compared is the arguments, not the effects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.cli import store_put
from ita_rules.cli.store_put import PutArgs, plain


def typer_reads(args: list[str], monkeypatch: pytest.MonkeyPatch) -> PutArgs | str:
    """The PutArgs typer's ``store put`` command hands to the body, or why it refused."""
    import typer

    from ita_rules.cli.app import app

    seen: list[PutArgs] = []
    with monkeypatch.context() as patch:
        patch.setattr(store_put, "put", seen.append)
        command = typer.main.get_command(app)
        try:
            command.main(args=args, prog_name="ita-rules", standalone_mode=False)
        except Exception as exc:  # click's usage errors
            return f"refused: {type(exc).__name__}"
    return seen[0] if seen else "not called"


PLAIN_LINES = [
    ["store", "put", "a.csv", "--type", "candles"],
    ["-w", "ws", "store", "put", "dir/", "--type", "screenshot", "--symbol", "GER40"],
    ["store", "put", "a", "--tag", "london", "--tag", "x", "-t", "t", "b"],
    ["--workspace=ws", "store", "put", "--type=result", "a", "--run-id", "run_1"],
    ["store", "put", "-t", "candles", "./x//y.csv", "--timeframe", "M15", "--json"],
    ["store", "put", "a", "--meta", "k=v", "--meta=a=b=c", "--type", "t", "--json"],
    ["-w", "w", "store", "put", "put", "--type", "store"],
    ["store", "put", "a", "--tag=q", "--symbol=S", "--timeframe=M1", "--run-id=r", "--type=t"],
    ["store", "put", "é ü.csv", "a b/c", "--type", "candles", "--symbol", "x y"],
]


@pytest.mark.parametrize("args", PLAIN_LINES, ids=" ".join)
def test_a_plain_line_gives_the_body_what_typer_gives_it(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    read = plain(args)
    assert read is not None
    assert read == typer_reads(args, monkeypatch)


NOT_PLAIN = [
    [],
    ["-h"],
    ["index"],
    ["store", "get", "x"],
    ["store", "put", "--help"],
    ["store", "put", "a", "-h"],
    ["store", "put", "a"],  # no --type
    ["store", "put", "--type", "x"],  # no path
    ["store", "put", "a", "--type", "x", "--type", "y"],
    ["store", "put", "a", "-tcandles"],
    ["store", "put", "a", "-t=candles"],
    ["store", "put", "a", "--type", "--json"],
    ["store", "put", "a", "--type"],
    ["store", "put", "a", "--type="],
    ["store", "put", "--", "-a", "--type", "x"],
    ["store", "put", "-", "--type", "x"],
    ["store", "put", "", "--type", "x"],
    ["store", "put", "a", "--type", "x", "--json=1"],
    ["store", "put", "a", "--type", "x", "-w", "ws"],
    ["store", "put", "a", "--type", "x", "--symbol", "-1"],
    ["store", "put", "a", "--type", "x", "--bogus"],
    ["store", "--debug", "put", "a", "--type", "x"],
    ["--debug", "store", "put", "a", "--type", "x"],
    ["-w", "a", "-w", "b", "store", "put", "x", "--type", "y"],
    ["-w", "store", "put", "x", "--type", "y"],
    ["--workspace=", "store", "put", "x", "--type", "y"],
]


@pytest.mark.parametrize("args", NOT_PLAIN, ids=lambda a: " ".join(a) or "nothing")
def test_any_other_line_is_left_to_typer(args: list[str]) -> None:
    assert plain(args) is None


VALUES = ["a", "b/c", "./d//e.csv", "x y", "k=v", "é.csv", "M15", "put", "store"]
TRICKY = ["-x", "", "=", "--json", "-"]
OPTIONS = ["-t", "--type", "--symbol", "--timeframe", "--run-id", "--tag", "--meta", "-w"]
FLAGS = ["--json", "--debug", "-h", "--help", "--", "-", "-tx", "--bogus"]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """``[root options] store put`` then paths, options (``--name value`` or ``--name=value``)
    and flags in any order: half of them made of words the plain reader knows, the others
    with tricky words too."""
    clean = draw(st.booleans())
    value = st.sampled_from(VALUES if clean else VALUES + TRICKY)
    flag = st.sampled_from(["--json"] if clean else FLAGS)

    def option(names: list[str]) -> st.SearchStrategy[list[str]]:
        return st.tuples(st.sampled_from(names), value, st.booleans()).map(
            lambda o: [f"{o[0]}={o[1]}"] if o[2] else [o[0], o[1]]
        )

    roots = ["--workspace"] if clean else ["-w", "--workspace", "--debug"]
    root = draw(st.lists(option(roots), max_size=1 if clean else 2))
    item = st.one_of(value.map(lambda v: [v]), option(OPTIONS[:-1] if clean else OPTIONS))
    items = draw(st.lists(st.one_of(item, flag.map(lambda f: [f])), max_size=8))
    if clean or draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), ["--type", draw(value)])
    verb = ["store", "put"] if clean else draw(st.sampled_from([["store", "put"], ["store"]]))
    return [word for part in [*root, verb, *items] for word in part]


@settings(max_examples=400, deadline=None)
@given(command_lines())
def test_whatever_plain_takes_typer_reads_the_same(args: list[str]) -> None:
    read = plain(args)
    if read is not None:
        with pytest.MonkeyPatch.context() as monkeypatch:
            assert read == typer_reads(args, monkeypatch)


_PROBE = """
import json, sys
from ita_rules.cli import main
try:
    main(sys.argv[1:])
finally:
    sys.stdout.flush()
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _run(ws: Path, *args: str) -> tuple[int, str, str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "-w", str(ws), *args], capture_output=True, text=True
    )
    err, _, modules = done.stderr.rstrip("\n").rpartition("\n")
    return done.returncode, done.stdout, err, set(json.loads(modules))


def test_a_plain_put_runs_without_typer_and_prints_what_typer_did(store_ws: Any) -> None:
    src = store_ws.root / "in"
    src.mkdir()
    for n in range(3):
        (src / f"f{n}.png").write_bytes(b"x%d" % n)
    code, out, err, loaded = _run(store_ws.root, "store", "put", str(src), "--type", "screenshot")
    assert (code, err) == (0, "")
    assert not {m for m in loaded if m.split(".")[0] in ("typer", "click")}
    # on SQLite, nor the dataclasses module and the inspect module it imports (~44 million
    # instructions of a ~210 million start, valgrind): PutArgs, PutSpec and the records are
    # NamedTuples and plain classes (PostgreSQL's driver goes through SQLAlchemy, which
    # imports both)
    if store_ws.db_url.startswith("sqlite"):
        assert not loaded & {"dataclasses", "inspect"}
    # the same put again through typer (--help is not plain; a flag typer alone reads: -t=)
    code2, out2, err2, loaded2 = _run(
        store_ws.root, "store", "put", str(src), "-tscreenshot", "--tag", "again"
    )
    assert (code2, err2) == (0, "")
    assert "typer" in loaded2
    first = [line.split("  ") for line in out.splitlines()]
    second = [line.split("  ") for line in out2.splitlines()]
    assert [len(f) for f in first] == [2, 2, 2]
    assert [s[1:] for s in second] == [[f[1], "(already stored)"] for f in first]


def test_plain_errors_are_the_verbs_own(store_ws: Any) -> None:
    code, out, err, loaded = _run(
        store_ws.root, "store", "put", "nope.csv", "--type", "candles", "--meta", "novalue"
    )
    assert (code, out) == (2, "")
    assert err == "ita-rules: --meta: expected KEY=VALUE, got 'novalue'"
    assert "typer" not in loaded
    code, out, err, loaded = _run(store_ws.root, "store", "put", "nope.csv")
    assert code == 2 and "Missing option '--type'" in err and "typer" in loaded


def test_a_completion_request_goes_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    from ita_rules.cli import plain as entry

    args = ["store", "put", "a.csv", "--type", "candles"]
    assert entry.command(args) is not None
    monkeypatch.setenv(entry.COMPLETION_VARIABLE, "bash_complete")
    assert entry.command(args) is None


@pytest.mark.parametrize(
    "way", [["--type", "screenshot"], ["-tscreenshot"]], ids=["plain", "typer"]
)
def test_a_put_with_no_stdout_stores_and_exits_0(store_ws: Any, way: list[str]) -> None:
    """cron with stdout closed (``>&-``): Python has no sys.stdout; the files are stored and,
    as click's echo did, nothing is printed and the exit is 0 (it was an internal error)."""
    import os

    (store_ws.root / "a.png").write_bytes(b"png a")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ita_rules",
            "-w",
            str(store_ws.root),
            "store",
            "put",
            "a.png",
            *way,
        ],
        cwd=store_ws.root,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert len(list((store_ws.store_root / "to_vision").iterdir())) == 1

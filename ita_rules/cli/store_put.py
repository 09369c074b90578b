"""``store put``: its body, and its plain command lines read without typer.

A bulk put is what scripts run over and over, and importing typer (with the click it vendors)
costs a start ~45 ms of CPU, a quarter of a put of 1,000 small files. So the entry point
(:func:`ita_rules.cli.main`, through :mod:`ita_rules.cli.plain`) first asks :func:`plain`: a
command line made only of the words below is parsed here, and anything else (``--help``,
``--debug``, an option it does not know, a value that starts with ``-``, an option given twice,
a missing ``--type`` or path, ``--``) goes to typer as before, which parses it and
reports the same errors as always::

    ita-rules [-w|--workspace WS] store put PATH... --type TYPE [--symbol S]
        [--timeframe TF] [--run-id RUN] [--tag TAG]... [--meta KEY=VALUE]... [--json]

(``--option=value`` too, options and paths in any order after ``put``, ``-t`` for
``--type``.) Both ways end in :func:`put`, the verb's one body; tests/store/test_cli_put.py
checks that typer gives it the same arguments for every command line :func:`plain` takes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ita_rules.core.errors import UsageError

if TYPE_CHECKING:
    from ita_rules.store import PutSpec, Record
    from ita_rules.workspace import Workspace


class PutArgs(NamedTuple):
    """What ``store put`` was asked, as the typer command gets it. (A NamedTuple, as
    :class:`~ita_rules.store.PutSpec`: a plain put imports neither the dataclasses module nor
    the inspect module it needs, ~44 million instructions, ~12 ms of CPU.)"""

    workspace: Path | None
    paths: list[Path]
    type: str
    symbol: str | None = None
    timeframe: str | None = None
    run_id: str | None = None
    tags: Sequence[str] = ()
    meta: Sequence[str] = ()
    json: bool = False


_ROOT = {"-w": "workspace", "--workspace": "workspace"}  # before the verb
_ONCE = {
    "-t": "type",
    "--type": "type",
    "--symbol": "symbol",
    "--timeframe": "timeframe",
    "--run-id": "run_id",
}
_REPEATED = {"--tag": "tags", "--meta": "meta"}


def plain(args: list[str]) -> PutArgs | None:
    """The ``store put`` a plain command line asks for (see the module docstring), or None:
    then typer reads it."""
    if "" in args:
        return None  # typer reads an empty path as "."
    given: dict[str, str] = {}
    words = iter(args)
    for word in words:  # the root options, up to the verb
        if word == "store":
            break
        name, value = _option(word, words)
        if name not in _ROOT or value is None or _ROOT[name] in given:
            return None
        given[_ROOT[name]] = value
    if next(words, None) != "put":
        return None
    paths: list[Path] = []
    json_ = False
    repeated: dict[str, list[str]] = {"tags": [], "meta": []}
    for word in words:
        if not word.startswith("-"):
            paths.append(Path(word))
            continue
        if word == "--json":
            json_ = True
            continue
        name, value = _option(word, words)
        if value is None:
            return None
        if name in _REPEATED:
            repeated[_REPEATED[name]].append(value)
        elif name in _ONCE and _ONCE[name] not in given:
            given[_ONCE[name]] = value
        else:
            return None
    if not paths or "type" not in given:
        return None  # typer says what is missing
    workspace = given.get("workspace")
    if workspace is not None and os.path.exists(workspace) and not os.access(workspace, os.R_OK):
        return None  # typer refuses it (its path option checks that it is readable)
    return PutArgs(
        workspace=None if workspace is None else Path(workspace),
        paths=paths,
        type=given["type"],
        symbol=given.get("symbol"),
        timeframe=given.get("timeframe"),
        run_id=given.get("run_id"),
        tags=repeated["tags"],
        meta=repeated["meta"],
        json=json_,
    )


def _option(word: str, words: Iterator[str]) -> tuple[str, str | None]:
    """An option's name and value: ``--name=value``, else the word and the next one. The
    value is None when it is missing, empty or starts with ``-`` (typer's to read)."""
    name, sep, value = word.partition("=")
    if not (sep and name.startswith("--")):  # a short option is never split at "=": click reads
        # `-t=x` as the value "=x"; here the word `-t=x` names no option, and goes to typer
        name, value = word, next(words, "")
    return name, value if value and not value.startswith("-") else None


def put(args: PutArgs) -> int:
    """Store the files and print each record's file_id and path (or JSON): the verb's body.
    Returns the exit code (0: an error raises)."""
    from ita_rules.core import collector
    from ita_rules.store import PutSpec
    from ita_rules.store.sources import expand
    from ita_rules.workspace import Workspace

    spec = PutSpec(
        args.type, args.symbol, args.timeframe, args.run_id, tuple(args.tags), _meta(args.meta)
    ).checked()
    files = expand([str(p) for p in args.paths])
    workspace = Workspace.open(args.workspace)
    # A bulk put makes ~10 objects per file and no cycles: collecting is waste. The collector
    # stays paused until the records are printed and dropped (_show's argument is their only
    # reference): the collection that comes when it is on again then has few new objects to
    # go over. With the records alive it went over all of them: 62 ms of CPU after a put of
    # 50,000 files, 12 ms after 10,000.
    with collector.paused():
        return _show(_stored(workspace, files, spec), json_=args.json)


def _stored(workspace: Workspace, files: list[str], spec: PutSpec) -> list[Record]:
    """The records of the put, checked against the desk's runs and releases first (the store
    ``ws.store`` is, :class:`~ita_rules.provenance.desk.DeskStore`)."""
    from ita_rules.core.progress import Bar
    from ita_rules.provenance.desk import open_desk_store

    with open_desk_store(workspace) as store:
        bar = Bar("put")
        try:
            return store.put_many(files, spec, progress=bar)
        finally:
            bar.close()


def _show(records: list[Record], *, json_: bool) -> int:
    """Print the records (text or JSON); the exit code."""
    if json_:
        from ita_rules.core.reporters import dump_json

        # each record, and whether this put found its bytes stored already (the text says
        # "(already stored)"): a record's deduplicated is not stored, only this put knows it
        dump_json([{**r.as_dict(), "deduplicated": r.deduplicated} for r in records], sys.stdout)
        return 0
    lines = (
        f"{r.file_id}  {r.path}{'  (already stored)' if r.deduplicated else ''}" for r in records
    )
    print("\n".join(lines), flush=True)  # as click's echo: nothing when there is no stdout
    return 0


def _meta(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--meta: expected KEY=VALUE, got {pair!r}")
        out[key] = value
    return out

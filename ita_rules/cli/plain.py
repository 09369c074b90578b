"""The command lines served without typer: ``ita-rules index`` (its body is here) and a plain
``store put`` (:mod:`ita_rules.cli.store_put`).

Importing typer (and the click it carries) costs ~30 ms of CPU, a tenth of an index rebuild over
5,000 commits and a quarter of a put of 1,000 small files (issue #16 goals 7 and 2). A command
line that is exactly ``index`` with some of its flags (``--rebuild``, ``--json``) therefore runs
:func:`index` here, and one that :func:`ita_rules.cli.store_put.plain` reads runs
:func:`ita_rules.cli.store_put.put`, each with what typer's main does around a command: Ctrl-C
is exit 130 without a message, a closed stdout exit 1. Anything else (``--help``, ``--debug``,
an unknown option, ``-w DIR`` before ``index``, a shell completion request) goes to typer, so
that help texts and usage errors stay typer's own. The typer commands
(:mod:`ita_rules.cli.registry`, :mod:`ita_rules.cli.store`) run the same bodies.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from ita_rules.core.progress import Bar
    from ita_rules.recovery.rebuild import Rebuilt
    from ita_rules.workspace import Workspace

Echo = Callable[[str], None]
INDEX_FLAGS = frozenset({"--rebuild", "--json"})
COMPLETION_VARIABLE = "_ITA_RULES_COMPLETE"  # click's shell completion request


def command(args: Sequence[str]) -> Callable[[], int] | None:
    """The body that runs ``args`` without typer, or None when typer must parse them. A plain
    ``store put`` is served too (:mod:`ita_rules.cli.store_put`)."""
    if COMPLETION_VARIABLE in os.environ:
        return None
    if "store" in args:
        from ita_rules.cli import store_put

        asked = store_put.plain(list(args))
        return None if asked is None else lambda: as_typer_runs(lambda: store_put.put(asked))
    if not args or args[0] != "index" or not set(args[1:]) <= INDEX_FLAGS:
        return None
    rebuild, json_ = "--rebuild" in args, "--json" in args
    return lambda: as_typer_runs(lambda: index(None, rebuild=rebuild, json_=json_))


def as_typer_runs(body: Callable[[], int]) -> int:
    """``body()``'s exit code, with what typer's main does around a command: an interrupt is
    exit 130 without a message; a closed stdout (EPIPE) is exit 1, and the streams are closed
    quietly (nothing more to say, no error when Python flushes them at exit)."""
    try:
        return body()
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null: Python's flush at exit then has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def print_out(text: str) -> None:
    print(text, flush=True)


def print_err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextmanager
def indexing() -> Iterator[Bar]:
    """A progress bar (on a terminal) while the registry index refreshes."""
    from ita_rules.core.progress import Bar

    bar = Bar("indexing history", sys.stderr)
    try:
        yield bar
    finally:
        bar.close()


def index(
    workspace: Path | None,
    *,
    rebuild: bool,
    json_: bool,
    echo: Echo = print_out,
    warn: Echo = print_err,
) -> int:
    """``ita-rules index [--rebuild] [--json]``: refresh the registry index; with
    ``--rebuild`` also restore the rest of the database from the disk. The exit code."""
    from ita_rules.core import collector

    # the collector paused from the imports on (pathlib's among them: this module imports
    # nothing it does not need before, so that its collections do not run over them either)
    with collector.paused(), indexing() as bar:
        from ita_rules.rules.index import refresh, source
        from ita_rules.workspace import Workspace

        ws = Workspace.open(workspace)
        src = source(ws.root, ws.settings.rules_dir, ws.settings.protected_ref)
        # a bar that draws nothing (stderr is no terminal) is not called for every commit
        stats = refresh(src, rebuild=rebuild, progress=bar if bar.enabled else None)
    rebuilt = _restore_from_disk(ws) if rebuild else None
    if json_:
        from ita_rules.core.reporters import dump_json

        dump_json(
            {
                **stats.as_dict(),
                "store_records_restored": rebuilt.records if rebuilt else None,
                "store_rebuilt": rebuilt.as_dict() if rebuilt else None,
            },
            sys.stdout,
        )
        return 0 if rebuilt is None or rebuilt.ok else 1
    why = f" ({stats.reason})" if stats.reason else ""
    echo(
        f"index {stats.action}{why}: {stats.commits} commit(s) read, {stats.versions} version(s), "
        f"{stats.findings} audit finding(s)"
    )
    if rebuilt is None:
        return 0
    for line in rebuilt.warnings():
        warn(line)
    echo(f"store: {rebuilt} restored from the disk")
    return 0 if rebuilt.ok else 1


def _restore_from_disk(ws: Workspace) -> Rebuilt | None:
    """``index --rebuild`` also restores the rest of the database from the disk (the store's
    records, the runs, the remote copies) when the workspace has a store root; None when it
    has none (then the store, and SQLAlchemy, are not even imported)."""
    if not ws.settings.store_root.is_dir():
        return None
    from ita_rules.recovery.rebuild import rebuild_database

    return rebuild_database(ws)

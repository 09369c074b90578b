"""The one error handler of the entry points (the ``ita-rules`` CLI and the git hooks).

Library code raises; an entry point runs its body through :func:`run` and gets back the exit
code, with at most one line on stderr (docs/architecture.md#errors-and-exit-codes):
``ItaRulesError`` -> ``ita-rules: path:line:col: message``, its exit code (1, 2 for usage);
an interrupt -> ``ita-rules: interrupted``, 130; a closed pipe -> 1, silently (a hook whose
output or whose git is lost has not checked: it must not pass the commit); anything else
-> ``ita-rules: internal error: ...``, 3, with the traceback under ``--debug`` or
``ITA_DEBUG=1``. In the CLI, typer's main meets an interrupt and a closed stdout first: Ctrl-C
is a silent 130 and a closed stdout a silent 1 there (and in :mod:`ita_rules.cli.plain`, which
does as typer does); the hooks get this module's answers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from ita_rules.core.errors import ItaRulesError

INTERRUPTED = 130
INTERNAL = 3


def run(
    body: Callable[[], int],
    *,
    debug: bool = False,
    interrupts: tuple[type[BaseException], ...] = (),
    known: Callable[[Exception], int | None] | None = None,
    debug_hint: str = "run with --debug",
) -> int:
    """``body()``'s exit code, or the code of what it raised. ``interrupts`` are handled like
    Ctrl-C (the CLI's ``typer.Abort``); ``known`` may give the code of another exception it
    recognises (click's own), else the exception is an internal error; ``debug_hint`` says how
    to see its traceback."""
    debug = debug or os.environ.get("ITA_DEBUG") == "1"
    interrupted: tuple[type[BaseException], ...] = (KeyboardInterrupt, *interrupts)
    try:
        return body()
    except ItaRulesError as exc:
        if debug:
            _print_traceback()
        print(f"ita-rules: {exc}", file=sys.stderr)
        return exc.exit_code
    except interrupted:
        print("ita-rules: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as exc:
        code = known(exc) if known is not None else None
        if code is not None:
            return code
        if debug:
            _print_traceback()
        print(
            f"ita-rules: internal error: {type(exc).__name__}: {exc} "
            f"({debug_hint} for the traceback)",
            file=sys.stderr,
        )
        return INTERNAL


def _print_traceback() -> None:
    import traceback  # only when asked for: the hooks start faster without it

    traceback.print_exc()

"""The command line: the only place that imports typer, prints, or exits.

Each verb parses its options, calls one library function and renders the result. Errors are
rendered in one place, shared with the git hooks (:func:`ita_rules.core.exits.run`):
``ItaRulesError`` -> one line, exit 1; usage errors -> exit 2; an unexpected exception -> one
line (traceback with ``--debug``), exit 3.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ita_rules.cli import plain
from ita_rules.core import exits

# The command modules are imported when their verb runs (ita_rules.cli.lazy.VERBS lists them):
# a new verb's module goes there, with the first paragraph of its help. typer itself is
# imported only when the command line needs it (ita_rules.cli.plain serves `index` and a plain
# `store put` without).


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    without_typer = plain.command(args)
    if without_typer is not None:
        code = exits.run(without_typer)
        if argv is None:  # the console script: the process ends here
            from ita_rules.core import collector

            collector.freeze_at_exit()
        sys.exit(code)

    import typer

    from ita_rules.cli.app import app

    command = typer.main.get_command(app)

    def body() -> int:
        code = command.main(args=args, prog_name="ita-rules", standalone_mode=False)
        return code if isinstance(code, int) else 0

    sys.exit(exits.run(body, debug="--debug" in args, interrupts=(typer.Abort,), known=_click_exit))


def _click_exit(exc: Exception) -> int | None:
    """The exit code of click's own exceptions (typer may vendor click: matched by shape)."""
    import typer

    if isinstance(exc, typer.Exit) or type(exc).__name__ == "Exit":
        return int(getattr(exc, "exit_code", 0))
    code = getattr(exc, "exit_code", None)
    show = getattr(exc, "show", None)
    if callable(show) and isinstance(code, int):
        show()
        return code
    return None

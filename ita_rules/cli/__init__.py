"""The command line: the only place that imports typer, prints, or exits.

Each verb parses its options, calls one library function and renders the result. Errors are
rendered in one place (:func:`main`): ``ItaRulesError`` -> one line, exit 1; usage errors ->
exit 2; an unexpected exception -> one line (traceback with ``--debug``), exit 3.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import typer

from ita_rules.cli.app import app
from ita_rules.core.errors import ItaRulesError

# Importing the command modules registers their verbs on ``app``.
from ita_rules.cli import rules as _rules  # noqa: F401  isort: skip
from ita_rules.cli import registry as _registry  # noqa: F401  isort: skip
from ita_rules.cli import store as _store  # noqa: F401  isort: skip
from ita_rules.cli import runs as _runs  # noqa: F401  isort: skip
from ita_rules.cli import remote as _remote  # noqa: F401  isort: skip


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ITA_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="ita-rules", standalone_mode=False)
    except ItaRulesError as exc:
        if debug:
            traceback.print_exc()
        print(f"ita-rules: {exc}", file=sys.stderr)
        code = exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("ita-rules: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:
        code = _click_exit(exc)
        if code is None:
            if debug:
                traceback.print_exc()
            print(
                f"ita-rules: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for the traceback)",
                file=sys.stderr,
            )
            code = 3
    sys.exit(code if isinstance(code, int) else 0)


def _click_exit(exc: Exception) -> int | None:
    """The exit code of click's own exceptions (typer may vendor click: matched by shape)."""
    if isinstance(exc, typer.Exit) or type(exc).__name__ == "Exit":
        return int(getattr(exc, "exit_code", 0))
    code = getattr(exc, "exit_code", None)
    show = getattr(exc, "show", None)
    if callable(show) and isinstance(code, int):
        show()
        return code
    return None


from ita_rules.cli import retention as _retention  # noqa: E402,F401  isort: skip

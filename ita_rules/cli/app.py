"""The typer application object and the options every command shares."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from ita_rules.cli.lazy import LazyGroup
from ita_rules.core.reporters import dump_json

# The verbs register on ``app`` when their modules are imported: only the one that runs is
# (ita_rules.cli.lazy), so that every command starts without the others' imports.
app = typer.Typer(
    name="ita-rules",
    cls=LazyGroup,
    help=(
        "Rule registry, persistent store, run provenance and retention for ITA.\n\n"
        "\b\nExample:\n  ita-rules validate && ita-rules list"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class State:
    workspace: Path | None = None
    debug: bool = False


@app.callback()
def _root(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", help="Workspace directory (default: found from the current one)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    ctx.obj = State(workspace, debug)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()


def open_workspace(ctx: typer.Context) -> Any:
    from ita_rules.workspace import Workspace

    return Workspace.open(state(ctx).workspace)


def emit_json(document: Any) -> None:
    dump_json(document, sys.stdout)


def echo(text: str = "") -> None:
    typer.echo(text)


def warn(text: str) -> None:
    typer.echo(text, err=True)


JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document on stdout.")

"""Registry commands backed by git: check, log, index, export."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ita_rules.cli import plain
from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace, state, warn
from ita_rules.cli.plain import indexing
from ita_rules.core import reporters

if TYPE_CHECKING:
    from ita_rules.rules.index import Source


def index_source(ctx: typer.Context) -> Source:
    from ita_rules.rules.index import source

    ws = open_workspace(ctx)
    return source(ws.root, ws.settings.rules_dir, ws.settings.protected_ref)


@app.command()
def check(
    ctx: typer.Context,
    base: str | None = typer.Option(
        None, "--base", help="Check BASE..HEAD (CI): versions in BASE are released."
    ),
    head: str | None = typer.Option(
        None, "--head", help="With --base: the commit to check (default HEAD)."
    ),
    history: bool = typer.Option(False, "--history", help="Audit the whole history instead."),
    json_: bool = JSON_OPTION,
) -> None:
    """Refuse changes to released rule versions and wrong new versions.

    Default: the staged changes against the released ref (rules.protected_ref, or HEAD).
    Every problem is printed as `path:line:col: field: message`, with the diff; exit 1 when any.

    \b
    Example:
      ita-rules check
      ita-rules check --base origin/main
      ita-rules check --history
    """
    from ita_rules.rules.check import run_check

    ws = open_workspace(ctx)
    with indexing() as bar:
        result = run_check(
            ws.root,
            ws.settings.rules_dir,
            ws.settings.protected_ref,
            base=base,
            head=head,
            history=history,
            progress=bar,
        )
    if json_:
        emit_json(result.as_dict())
    else:
        reporters.text(result.findings, typer.get_text_stream("stdout"))
        what = {
            "staged": "staged change(s)",
            "range": "changed file(s)",
            "history": "version file(s)",
        }
        warn(
            f"{result.files} {what.get(result.mode, 'file(s)')} checked against {result.released}, "
            f"{len(result.findings)} problem(s)"
        )
    raise typer.Exit(1 if result.findings else 0)


@app.command()
def index(
    ctx: typer.Context,
    rebuild: bool = typer.Option(
        False, "--rebuild", help="Rebuild from scratch instead of refreshing."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Refresh the registry index (.ita/index.sqlite) from git history.

    Other commands refresh it too; it is derived from git, so deleting .ita/ loses nothing.

    \b
    Example:
      ita-rules index
      ita-rules index --rebuild
    """
    # the body is typer-free: ``ita-rules index [--rebuild] [--json]`` runs it without typer
    code = plain.index(state(ctx).workspace, rebuild=rebuild, json_=json_, echo=echo, warn=warn)
    raise typer.Exit(code)


@app.command()
def log(
    ctx: typer.Context,
    setup_id: str = typer.Argument(..., help="The setup, e.g. IB_raid_v1."),
    json_: bool = JSON_OPTION,
) -> None:
    """Each version of a setup with the commit, git author and date that introduced it, and its
    lifecycle changes.

    \b
    Example:
      ita-rules log IB_raid_v1
    """
    from ita_rules.rules.queries import setup_history

    with indexing() as bar:
        entries = setup_history(index_source(ctx), setup_id, bar)
    if json_:
        emit_json({"setup_id": setup_id, "versions": entries})
        return
    for e in entries:
        state = "active" if e["active"] else f"deprecated: {e['deprecation_reason']}"
        gone = f", deleted in {e['deleted_commit'][:12]}" if e["deleted_commit"] else ""
        echo(
            f"{e['rule_version']}  {e['introduced_commit'][:12]}  {e['introduced_at']}  "
            f"{e['git_author']}  {state}{gone}"
        )
        for ev in e["events"]:
            if ev["kind"] != "introduced":
                detail = f" ({ev['detail']})" if ev["detail"] else ""
                echo(
                    f"    {ev['kind']}{detail}  {ev['commit'][:12]}  {ev['at']}  {ev['git_author']}"
                )


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


@app.command()
def export(
    ctx: typer.Context,
    format_: ExportFormat = typer.Option(ExportFormat.json, "--format", help="json or csv."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to FILE instead of stdout."
    ),
) -> None:
    """Write the registry manifest (every version, its commit, author, state and params_hash).

    CSV imports into a spreadsheet or a Notion table.

    \b
    Example:
      ita-rules export --format csv -o registry.csv
    """
    from ita_rules.rules.queries import export_manifest

    with indexing() as bar:
        text = export_manifest(index_source(ctx), format_.value, output, bar)
    if output is None:
        typer.get_text_stream("stdout").write(text)
    else:
        warn(f"wrote {output}")


def list_at(ctx: typer.Context, at: str, *, active: bool, setup: str | None, json_: bool) -> None:
    """``list --at DATE``: the versions that existed (and were active) at a past moment."""
    from ita_rules.rules.queries import versions_at

    with indexing() as bar:
        found = versions_at(index_source(ctx), at, active_only=active, setup=setup, progress=bar)
    rows = found.rules
    if json_:
        emit_json({"at": found.when.isoformat(), "rules": rows})
        return
    table = [["SETUP", "VERSION", "INTRODUCED", "COMMIT", "PARAMS_HASH"]]
    table += [
        [
            r["setup_id"],
            r["version"],
            r["introduced_at"],
            r["introduced_commit"][:12],
            (r["params_hash"] or "")[:19],
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())

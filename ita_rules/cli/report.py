"""``ita-rules report``: the static report site (docs/architecture.md#report)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace


@app.command()
def report(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None, "--out", "-o", help="The folder to write (default: .ita/report/ in the workspace)."
    ),
    open_: bool = typer.Option(False, "--open", help="Open the registry page in a browser."),
    json_: bool = JSON_OPTION,
) -> None:
    """Write a static report site: registry, setups with diffs, runs with metrics and lineage,
    storage and the retention plan.

    HTML, CSS and a little JS in one folder: no server, nothing fetched from the web; it opens
    from file:// and from any static host or CI artifact. The folder is replaced as a whole
    (only when it is empty or holds an earlier report).

    \b
    Example:
      ita-rules report --open
      ita-rules report -o public/report --json
    """
    from ita_rules.core.progress import Bar
    from ita_rules.report.site import build_report

    ws = open_workspace(ctx)
    bar = Bar("writing report", sys.stderr)
    try:
        summary = build_report(ws, out, progress=bar)
    finally:
        bar.close()
    if json_:
        emit_json(summary.as_dict())
    else:
        echo(f"wrote {summary.pages} page(s) to {summary.out}")
        echo(str(summary.index))
    if open_:
        import webbrowser

        webbrowser.open(summary.index.as_uri())

"""Run lineage verbs: ``runs export --openlineage`` and ``runs dedupe``
(docs/architecture.md#lineage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ita_rules.cli.app import JSON_OPTION, echo, emit_json, open_workspace
from ita_rules.cli.runs import runs_app


@runs_app.command("export")
def export(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(None, help="Runs to export (default: every run)."),
    openlineage: bool = typer.Option(
        False, "--openlineage", help="OpenLineage RunEvents (spec 2-0-2), one per line."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only runs started on or after (YYYY-MM-DD or ISO time)."
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE.jsonl."),
    resend: bool = typer.Option(
        False, "--resend", help="Send the events queued while lineage.url was unreachable."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Export runs as OpenLineage events: START and COMPLETE / FAIL / ABORT per run, and an
    OTHER event naming outputs retention purged (DROP).

    Without -o the events are printed, one JSON object per line (with --json: one document
    with the counts and the events; with -o and --json: the counts). With --resend the events the
    live emitter could not deliver (.ita/lineage_queue.jsonl) are sent again, in order, to
    lineage.url, and nothing is exported.

    \b
    Example:
      ita-rules runs export --openlineage --since 2026-01-01 -o lineage.jsonl
      ita-rules runs export --openlineage run_2026_01_15_001
      ita-rules runs export --openlineage --resend
    """
    from ita_rules.core.errors import UsageError
    from ita_rules.provenance.lineage_emit import export_runs
    from ita_rules.provenance.lineage_emit import resend as resend_queue

    if not openlineage:
        raise UsageError("runs export: choose the format: --openlineage")
    settings = open_workspace(ctx).settings
    if resend:
        if run_ids or since or output:
            raise UsageError("--resend sends the queue; it takes no runs, --since or -o")
        sent, left = resend_queue(settings)
        if json_:
            emit_json({"sent": sent, "queued": left})
        else:
            echo(f"re-sent {sent} queued event(s); {left} still queued")
        raise typer.Exit(0 if left == 0 else 1)
    lines, runs = export_runs(settings, run_ids or [], since, output)
    if json_:  # one document: the counts, and the events themselves unless written to -o
        doc: dict[str, Any] = {"runs": runs, "count": len(lines), "output": output and str(output)}
        emit_json(doc if output else {**doc, "events": [json.loads(text) for text in lines]})
    elif output is None:
        for text in lines:
            echo(text)
    else:
        echo(f"wrote {len(lines)} event(s) of {runs} run(s) to {output}")


@runs_app.command("dedupe")
def dedupe(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Every run, not only succeeded ones."),
    json_: bool = JSON_OPTION,
) -> None:
    """Group runs by reproduction key; flag a key whose runs' results differ.

    The key is the SHA-256 of the RFC 8785 form of the params hash, commit, diff hash, each
    input's data hash with its range, the packages and the ita-rules version: runs with one key
    must give the same result. Exit 1 when a key is not reproducible.

    \b
    Example:
      ita-rules runs dedupe
      ita-rules runs dedupe --all --json
    """
    from ita_rules.provenance.repkey import dedupe_runs

    groups = dedupe_runs(open_workspace(ctx).settings, status=None if all_ else "succeeded")
    bad = [g for g in groups if g.differs]
    if json_:
        emit_json({"groups": [g.as_dict() for g in groups], "not_reproducible": len(bad)})
    else:
        for g in groups:
            verdict = "NOT REPRODUCIBLE: results differ" if g.differs else "same results"
            echo(f"{g.key}  {len(g.runs)} runs  {verdict}")
            for run_id in g.runs:
                prints = ", ".join(g.results.get(run_id, [])) or "no result"
                echo(f"  {run_id}  {prints}")
        echo(f"{len(groups)} key(s) shared by several runs, {len(bad)} not reproducible")
    raise typer.Exit(1 if bad else 0)

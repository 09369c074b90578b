"""Retention commands: plan, apply, sweep, run, restore, purge --admin, status (text output in
:mod:`ita_rules.cli.retention_text`)."""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Iterable
from typing import Any

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace, warn
from ita_rules.cli.retention_text import report_lines, status_lines
from ita_rules.core import times
from ita_rules.core.errors import UsageError

retention_app = typer.Typer(
    name="retention",
    help=(
        "Retention: soft delete by policy (retention.yaml), a safety window, protections that\n"
        "never fail, an audit log in logs/.\n\n"
        "\b\nExample:\n  ita-rules retention plan --json\n"
        "  ita-rules retention run          # the daily job: apply + sweep"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(retention_app, name="retention")

AS_OF = typer.Option(
    None,
    "--as-of",
    help="Plan for this day (ISO date/time; default now): records' ages are measured to it. "
    "The safety window always runs on the real clock.",
)
CONFIRM = typer.Option(None, "--confirm", help="The plan id of a large purge.")
MAX_DELETE = typer.Option(
    None, "--max-delete", min=0, help="At most N files this run, oldest first."
)


def _moment(text: str | None, option: str) -> _dt.datetime | None:
    """A date (its midnight) or an ISO time given as ``option`` (docs/architecture.md#times)."""
    return None if text is None else times.parse_bound(text, option)


def _print_report(report: Any, json_: bool) -> None:
    """The report as the library made (and saved) it: counts are what left the disk."""
    doc = report.as_dict()
    if json_:
        emit_json(doc)
        return
    for warning in doc["warnings"]:
        warn(f"ita-rules: warning: {warning}")
    for line in report_lines(doc):
        echo(line)


@retention_app.command("plan")
def plan(
    ctx: typer.Context,
    as_of: str | None = AS_OF,
    max_delete: int | None = MAX_DELETE,
    json_: bool = JSON_OPTION,
) -> None:
    """Show what apply would do: every file selected or kept, with its reason. Changes nothing.

    Records naming a run the metadata does not know are kept (their lineage cannot be
    checked) and listed as warnings on stderr.

    \b
    Example:
      ita-rules retention plan --as-of 2026-06-30 --json
    """
    from ita_rules.retention import jobs

    result = jobs.plan(open_workspace(ctx), as_of=_moment(as_of, "--as-of"), max_delete=max_delete)
    for warning in result.warnings:
        warn(f"ita-rules: warning: {warning}")
    if json_:
        from ita_rules.retention.render import write_plan_json

        write_plan_json(result, sys.stdout)
        return
    restores = [
        f"restore {r.file_id}  {r.type:<11} {r.size:>12}  {r.reason}" for r in result.restores
    ]
    lines = (
        f"{d.action:<7} {d.file_id}  {d.type:<11} {d.size:>12}  {d.reason}"
        for d in result.decisions
    )
    _echo_lines([*restores, *lines] if restores else lines)
    gb = result.bytes_selected / 1024**3
    back = (
        f", {len(restores)} soft-deleted record(s) protected again to restore" if restores else ""
    )
    echo(
        f"plan {result.plan_id}: {result.n_selected} selected ({gb:.3f} GB), "
        f"{len(result.decisions) - result.n_selected} kept{back}"
    )


def _echo_lines(lines: Iterable[str], chunk: int = 10_000) -> None:
    """``echo`` each line, a chunk of lines at a time (the same output, fewer writes)."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == chunk:
            echo("\n".join(batch))
            batch.clear()
    if batch:
        echo("\n".join(batch))


@retention_app.command("apply")
def apply(
    ctx: typer.Context,
    as_of: str | None = AS_OF,
    confirm: str | None = CONFIRM,
    max_delete: int | None = MAX_DELETE,
    json_: bool = JSON_OPTION,
) -> None:
    """Soft-delete what the policy selects (files stay on disk, restorable in the window).

    \b
    Example:
      ita-rules retention apply
      ita-rules retention apply --confirm plan_3f9a0c1d2e4b5a69
    """
    from ita_rules.retention import jobs

    desk, moment = open_workspace(ctx), _moment(as_of, "--as-of")
    _print_report(jobs.apply(desk, as_of=moment, confirm=confirm, max_delete=max_delete), json_)


@retention_app.command("sweep")
def sweep(
    ctx: typer.Context,
    max_delete: int | None = MAX_DELETE,
    json_: bool = JSON_OPTION,
) -> None:
    """Remove from disk files soft-deleted longer than the safety window (protections rechecked).

    The window runs from the real soft-delete time to the real clock: there is no --as-of.

    \b
    Example:
      ita-rules retention sweep --max-delete 1000
    """
    from ita_rules.retention import jobs

    _print_report(jobs.sweep(open_workspace(ctx), max_delete=max_delete), json_)


@retention_app.command("run")
def run(
    ctx: typer.Context,
    as_of: str | None = AS_OF,
    confirm: str | None = CONFIRM,
    max_delete: int | None = MAX_DELETE,
    json_: bool = JSON_OPTION,
) -> None:
    """The daily job: apply, then sweep (cron: `15 3 * * * cd /desk && ita-rules retention run`).

    --as-of only changes the day apply plans for; the sweep runs on the real clock.

    \b
    Example:
      ita-rules retention run --json
    """
    from ita_rules.retention import jobs

    desk, moment = open_workspace(ctx), _moment(as_of, "--as-of")
    done = jobs.daily(desk, as_of=moment, confirm=confirm, max_delete=max_delete)
    if json_:
        emit_json(done.as_dict())
        return
    _print_report(done.applied, False)
    _print_report(done.swept, False)


@retention_app.command("restore")
def restore(
    ctx: typer.Context,
    file_ids: list[str] = typer.Argument(
        None, help="File ids to restore (or their first 8+ characters)."
    ),
    run_id: str | None = typer.Option(None, "--run", help="Restore every file of this run."),
    json_: bool = JSON_OPTION,
) -> None:
    """Undo a soft delete (before sweep removed the file).

    \b
    Example:
      ita-rules retention restore --run run_2026_01_15_003
    """
    if bool(file_ids) == bool(run_id):
        raise UsageError("name FILE_ID... or --run RUN_ID (one of them)")
    from ita_rules.retention import jobs

    ids = jobs.restore(open_workspace(ctx), file_ids=file_ids or [], run_id=run_id)
    if json_:
        emit_json({"restored": ids})
    else:
        echo(f"restored {len(ids)} file(s)")


@retention_app.command("purge")
def purge(
    ctx: typer.Context,
    admin: bool = typer.Option(False, "--admin", help="Required: this deletes for good."),
    type_: str = typer.Option(..., "--type", help="The type to purge, e.g. result."),
    before: str = typer.Option(..., "--before", help="Only files created before this date."),
    confirm: str | None = typer.Option(None, "--confirm", help="The plan id printed by a dry run."),
    json_: bool = JSON_OPTION,
) -> None:
    """Administrator purge (the only way backtest results are deleted). Without --confirm it
    prints the plan and its id; protected tags still hold.

    \b
    Example:
      ita-rules retention purge --admin --type result --before 2024-01-01
      ita-rules retention purge --admin --type result --before 2024-01-01 --confirm plan_…
    """
    if not admin:
        raise UsageError("purge deletes for good: pass --admin to say you mean it")
    from ita_rules.retention import jobs

    cutoff = times.parse_bound(before, "--before")
    desk = open_workspace(ctx)
    plan, report = jobs.admin_purge(desk, type_=type_, before=cutoff, confirm=confirm)
    if report is not None:
        _print_report(report, json_)
    elif json_:
        emit_json(plan.as_dict())
    else:
        for d in plan.decisions:
            echo(f"{d.action:<7} {d.file_id}  {d.reason}")
        warn(
            f"{len(plan.selected)} file(s) would be purged; to do it: "
            f"ita-rules retention purge --admin --type {type_} --before {before} "
            f"--confirm {plan.plan_id}"
        )


@retention_app.command("status")
def status(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """Show what is soft-deleted and until when, and what waits for a remote copy. Changes
    nothing.

    Each soft-deleted file with its type, size, when apply soft-deleted it and why, and the end
    of its safety window (the first sweep after it removes the file); a file the policy wants
    on the remote first (archive_to_remote, backup_before_delete) without a verified copy
    waits for one.

    \b
    Example:
      ita-rules retention status
      ita-rules retention status --json
    """
    from ita_rules.retention.status import retention_status

    found = retention_status(open_workspace(ctx))
    if json_:
        emit_json(found.to_dict())
        return
    for line in status_lines(found.to_dict()):
        echo(line)

"""Run commands: ``runs start/finish/heartbeat/list/show/verify`` (docs/architecture.md#runs)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace, warn
from ita_rules.cli.runs_text import compare_text, list_text, show_text

runs_app = typer.Typer(
    name="runs",
    help=(
        "Run provenance: a snapshot of data, code, rule and libraries for every run, and its "
        "verification.\n\n\b\nExample:\n  ita-rules runs list --status running\n"
        "  ita-rules runs verify run_2026_01_15_001"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(runs_app, name="runs")

CLI_LEASE_S = 24 * 3600.0
RUN_ID_ARGUMENT = typer.Argument(..., help="The run, e.g. run_2026_01_15_001.")
FLOW_TYPE_ARGUMENT = typer.Argument(..., help="backtest_flow, live_flow, train_flow or configured.")
RULE_OPTION = typer.Option(None, "--rule", help="SETUP_ID@VERSION (or SETUP_ID: latest active).")
FROM_OPTION = typer.Option(None, "--from", help="First day (or ISO time) of the data range.")
START_LEASE_OPTION = typer.Option(
    CLI_LEASE_S,
    "--lease",
    help="Seconds until the run counts as abandoned unless finished or renewed.",
)


@runs_app.command("start")
def start(
    ctx: typer.Context,
    flow_type: str = FLOW_TYPE_ARGUMENT,
    rule: str | None = RULE_OPTION,
    symbol: str | None = typer.Option(None, "--symbol"),
    timeframe: str | None = typer.Option(None, "--timeframe"),
    inputs: list[str] = typer.Option(
        [], "--input", help="An input file, relative to the current folder (repeat for more)."
    ),
    time_column: str | None = typer.Option(
        None, "--time-column", help="Time column of candle inputs."
    ),
    start_: str | None = FROM_OPTION,
    end: str | None = typer.Option(None, "--to", help="Last day (or ISO time) of the data range."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a dirty work tree."),
    lease: float = START_LEASE_OPTION,
    flow_run_id: str | None = typer.Option(None, "--flow-run-id", help="An orchestrator's run id."),
    flow_name: str | None = typer.Option(None, "--flow-name", help="An orchestrator's flow name."),
    json_: bool = JSON_OPTION,
) -> None:
    """Start a run for a flow that is not written in Python; print its run id.

    The snapshot (inputs, data hash, rule, git state, packages) is written now with status
    running; finish the run with `runs finish`.

    \b
    Example:
      RUN=$(ita-rules runs start backtest_flow --rule IB_raid_v1@1.2 --symbol GER40 \\
            --timeframe M15 --input data/GER40_M15.csv --from 2025-05-01 --to 2025-10-31)
      ita-rules runs finish "$RUN" --status succeeded
    """
    from ita_rules.core.errors import UsageError
    from ita_rules.provenance import start_external_run

    if (start_ is None) != (end is None):
        raise UsageError("--from and --to go together")
    desk = open_workspace(ctx)
    snapshot = start_external_run(
        desk,
        flow_type,
        inputs=[_from_here(path, desk.root) for path in inputs],
        time_column=time_column,
        lease=lease,
        rule=rule,
        symbol=symbol,
        timeframe=timeframe,
        data_range=(start_, end) if start_ is not None and end is not None else None,
        strict=strict,
        flow_run_id=flow_run_id,
        flow_name=flow_name,
    )
    for entry in snapshot.get("inputs", []):
        if entry.get("rows") == 0:  # a range of another year, say: the run reads nothing
            rng = snapshot["data_range"]
            warn(f"note: {entry['path']}: no candle in the range {rng[0]} .. {rng[1]}")
    if json_:
        emit_json(snapshot)
    else:
        echo(snapshot["run_id"])


@runs_app.command("finish")
def finish(
    ctx: typer.Context,
    run_id: str = RUN_ID_ARGUMENT,
    status: str = typer.Option(..., "--status", help="succeeded or failed."),
    error: str | None = typer.Option(None, "--error", help="Why it failed."),
    outputs: list[str] = typer.Option([], "--output", help="A file_id the run stored (repeat)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Finish a running run as succeeded or failed.

    \b
    Example:
      ita-rules runs finish run_2026_01_15_001 --status failed --error "broker timeout"
    """
    from ita_rules.provenance import finish_run

    snapshot = finish_run(open_workspace(ctx), run_id, status, error, outputs or None)
    if json_:
        emit_json(snapshot)
    else:
        echo(f"{run_id} {snapshot['status']}")


@runs_app.command("heartbeat")
def heartbeat(
    ctx: typer.Context,
    run_id: str = RUN_ID_ARGUMENT,
    lease: float = typer.Option(CLI_LEASE_S, "--lease", help="Seconds from now."),
) -> None:
    """Renew the lease of a running run (for long runs started with `runs start`).

    \b
    Example:
      ita-rules runs heartbeat run_2026_01_15_001 --lease 3600
    """
    from ita_rules.provenance import renew_lease

    renew_lease(open_workspace(ctx), run_id, lease)


@runs_app.command("list")
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", help="running, succeeded, failed, abandoned."
    ),
    flow_type: str | None = typer.Option(None, "--flow-type"),
    setup: str | None = typer.Option(None, "--setup", help="Only runs of this setup."),
    version: str | None = typer.Option(
        None, "--version", help="Only runs of this rule version, SETUP_ID@VERSION."
    ),
    symbol: str | None = typer.Option(None, "--symbol"),
    limit: int | None = typer.Option(None, "--limit", help="At most this many (newest first)."),
    key: bool = typer.Option(False, "--key", help="Add each run's reproduction key."),
    metrics: bool = typer.Option(
        False, "--metrics", help="Add the metrics of each run's results (one column each)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """List runs, newest first, with status, rule, symbol and commit.

    With --metrics each run's results add their metrics (the `metrics` object of a result,
    else its top-level numbers): one column per name, sorted; "-" where a run has none.

    \b
    Example:
      ita-rules runs list --setup IB_raid_v1 --limit 20
      ita-rules runs list --version IB_raid_v1@1.2 --metrics
      ita-rules runs list --key
    """
    from ita_rules.core.errors import UsageError
    from ita_rules.provenance import list_runs
    from ita_rules.provenance.metrics import version_runs, with_metrics

    ws = open_workspace(ctx)
    filters = {"status": status, "flow_type": flow_type, "symbol": symbol}
    if version is not None and setup is not None:
        raise UsageError("--version names the setup: give --version or --setup, not both")
    if version is not None:
        rows = version_runs(ws, version, limit=limit, **filters)
    else:
        rows = list_runs(ws, setup_id=setup, limit=limit, **filters)
    if key:
        from ita_rules.provenance.repkey import run_keys

        keys = run_keys(ws.settings, [r["run_id"] for r in rows])
        rows = [{**r, "key": keys[r["run_id"]]} for r in rows]
    names: list[str] = []
    if metrics:
        rows, names = with_metrics(ws, rows)
    if json_:
        emit_json({"runs": rows, **({"metric_names": names} if metrics else {})})
        return
    list_text(rows, key, names if metrics else None)


@runs_app.command("show")
def show(
    ctx: typer.Context,
    run_id: str = RUN_ID_ARGUMENT,
    json_: bool = JSON_OPTION,
) -> None:
    """Show a run's snapshot: data, rule, code, environment, outputs, and the last verify.

    \b
    Example:
      ita-rules runs show run_2026_01_15_001 --json
    """
    from ita_rules.provenance import describe_run

    snapshot = describe_run(open_workspace(ctx), run_id)
    if json_:
        emit_json(snapshot)
    else:
        show_text(snapshot)


@runs_app.command("verify")
def verify(
    ctx: typer.Context,
    run_id: str = RUN_ID_ARGUMENT,
    json_: bool = JSON_OPTION,
) -> None:
    """Recompute every part of a run's snapshot; print "reproducible" or each difference.

    Checks the run's snapshot file first (present, the bytes written at the run, the same
    fields as the database copy), then compares the data (range hash over the same range), the
    rule version's params_hash, the commit (present and reachable), the dirty state and every
    package version. Exit 1 when the run is not reproducible. Each outcome is kept
    (reproducible, drifted, or unverifiable when a part could not be recomputed at all):
    `runs show` shows the last one.

    \b
    Example:
      ita-rules runs verify run_2026_01_15_001
    """
    from ita_rules.provenance import verify_run

    result = verify_run(open_workspace(ctx), run_id)
    if json_:
        emit_json(result.as_dict())
    elif result.reproducible:
        for note in result.notes:
            echo(f"{run_id}: note: {note}")
        echo(f"{run_id}: reproducible")
    else:
        for difference in result.differences:
            echo(f"{run_id}: {difference}")
        for note in result.notes:
            echo(f"{run_id}: note: {note}")
        echo(f"{run_id}: not reproducible ({len(result.differences)} difference(s))")
    raise typer.Exit(0 if result.reproducible else 1)


@runs_app.command("compare")
def compare(
    ctx: typer.Context,
    run_a: str = typer.Argument(..., help="The first run, e.g. run_2026_01_15_001."),
    run_b: str = typer.Argument(..., help="The second run."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show the drift between two runs' snapshots, sorted into params, code, data and
    environment ("no drift" when they were made alike).

    Params: the rule version and the run's parameters; code: commit, branch, dirty state and
    diff; data: data hash, range, symbol, timeframe and each input; environment: Python,
    platform, packages, host. Like `ita-rules diff`, a comparison is a report: exit 0 whether
    the runs differ or not (the JSON says "same"); an unknown run exits 1, a malformed id 2.

    \b
    Example:
      ita-rules runs compare run_2026_01_15_001 run_2026_01_16_002
      ita-rules runs compare run_2026_01_15_001 run_2026_01_16_002 --json
    """
    from ita_rules.provenance.compare import compare_runs

    found = compare_runs(open_workspace(ctx), run_a, run_b).to_dict()
    if json_:
        emit_json(found)
    else:
        compare_text(found)


def _from_here(path: str, root: Path) -> str:
    """An input path typed at the shell, relative to the current folder (like ``store put``'s
    files), as the run records it: relative to the workspace root when inside it."""
    full = os.path.abspath(path)
    try:
        inside = os.path.relpath(full, root)
    except ValueError:  # another drive (Windows)
        return full
    outside = inside == os.pardir or inside.startswith(os.pardir + os.sep)
    return full if outside else Path(inside).as_posix()

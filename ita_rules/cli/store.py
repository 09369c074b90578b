"""Store commands: ``store put/get/find/tag/verify/fsck/rebuild``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace, state, warn
from ita_rules.core.errors import UsageError

store_app = typer.Typer(
    name="store",
    help=(
        "Store files once by SHA-256 and find them again by symbol, timeframe, run or tag.\n\n"
        "\b\nExample:\n"
        "  ita-rules store put data/GER40_M15.csv --type candles --symbol GER40 --timeframe M15"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(store_app, name="store")


@contextmanager
def _store(ctx: typer.Context) -> Iterator[Any]:
    from ita_rules.store import open_store

    with open_store(open_workspace(ctx)) as store:
        yield store


def _line(record: Any) -> str:
    parts = [
        record.file_id,
        record.type,
        record.symbol or "-",
        record.timeframe or "-",
        record.run_id or "-",
        record.path,
    ]
    if record.tags:
        parts.append("tags=" + ",".join(record.tags))
    if record.status != "live":  # `find --status all` mixes them: say which is which
        parts.append("status=" + record.status)
    return "  ".join(parts)


@store_app.command("put")
def put(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        ..., help="Files to store; a directory stores every file under it.", readable=False
    ),
    type_: str = typer.Option(
        ..., "--type", "-t", help="candles, result, screenshot, annotation, model, ..."
    ),
    symbol: str | None = typer.Option(None, "--symbol", help="Instrument, e.g. GER40."),
    timeframe: str | None = typer.Option(None, "--timeframe", help="Candle timeframe, e.g. M15."),
    run_id: str | None = typer.Option(
        None,
        "--run-id",
        help="The run that produced the file (its symbol and timeframe are the defaults).",
    ),
    tag: list[str] = typer.Option([], "--tag", help="A tag (repeatable)."),
    meta: list[str] = typer.Option([], "--meta", help="Metadata KEY=VALUE (repeatable)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Store files (many at once in one transaction); print each record's file_id and path.

    A result (--type result) must be JSON naming a setup_id and rule_version of the registry.

    \b
    Example:
      ita-rules store put out/result.json --type result --run-id run_2026_01_15_001
      ita-rules store put charts/ --type screenshot --symbol GER40 --tag london
    """
    from ita_rules.cli.store_put import PutArgs
    from ita_rules.cli.store_put import put as run

    args = PutArgs(
        workspace=state(ctx).workspace,
        paths=paths,
        type=type_,
        symbol=symbol,
        timeframe=timeframe,
        run_id=run_id,
        tags=tag,
        meta=meta,
        json=json_,
    )
    code = run(args)
    if code:
        raise typer.Exit(code)


@store_app.command("get")
def get(
    ctx: typer.Context,
    file_id: str = typer.Argument(..., help="The record's file_id (or its first 8+ characters)."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Copy the file here (hash checked)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Show a record, or copy its file out with -o (the copy's hash is checked).

    \b
    Example:
      ita-rules store get 0b6f3c9e-2f1a-4c55-9d0e-6a1b2c3d4e5f -o /tmp/result.json
    """
    with _store(ctx) as store:
        record = store.export(file_id, output) if output is not None else store.get(file_id)
        absolute = store.abspath(record.path)
    if json_:
        emit_json({**record.as_dict(), "absolute_path": str(absolute)})
        return
    if output is None:
        for key, value in record.as_dict().items():
            echo(f"{key}: {value}")
        echo(f"absolute_path: {absolute}")
    else:
        echo(f"{record.path} -> {output}")


@store_app.command("find")
def find(
    ctx: typer.Context,
    type_: str | None = typer.Option(None, "--type", help="Only this type."),
    symbol: str | None = typer.Option(None, "--symbol"),
    timeframe: str | None = typer.Option(None, "--timeframe"),
    run_id: str | None = typer.Option(None, "--run-id"),
    tag: str | None = typer.Option(None, "--tag"),
    since: str | None = typer.Option(
        None, "--since", help="Stored on or after (YYYY-MM-DD or ISO time)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Stored before the end of (YYYY-MM-DD or ISO time)."
    ),
    hash_: str | None = typer.Option(None, "--hash", help="sha256:HEX or HEX."),
    status: str = typer.Option(
        "live", "--status", help="live, deleted, purged, missing, corrupt or all."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """List records matching every given filter, oldest first.

    \b
    Example:
      ita-rules store find --symbol GER40 --type candles --since 2026-01-01
      ita-rules store find --run-id run_2026_01_15_001 --json
    """
    from ita_rules.store.records import STATUSES

    if status != "all" and status not in STATUSES:
        raise UsageError(f"--status: expected one of {', '.join(STATUSES)} or all, got {status!r}")
    with _store(ctx) as store:
        records = store.find(
            type=type_,
            symbol=symbol,
            timeframe=timeframe,
            run_id=run_id,
            tag=tag,
            since=since,
            until=until,
            hash=hash_,
            status=None if status == "all" else (status,),
        )
        store.check_not_lost()  # an answer from a lost database would mislead: say so
    if json_:
        emit_json([r.as_dict() for r in records])
        return
    for record in records:
        echo(_line(record))


@store_app.command("tag")
def tag(
    ctx: typer.Context,
    file_id: str = typer.Argument(..., help="The record's file_id (or its first 8+ characters)."),
    tags: list[str] = typer.Argument(..., help="Tags to add."),
    json_: bool = JSON_OPTION,
) -> None:
    """Add tags to a record (protected tags such as `important` keep it from retention).

    \b
    Example:
      ita-rules store tag 0b6f3c9e-2f1a-4c55-9d0e-6a1b2c3d4e5f important
    """
    with _store(ctx) as store:
        record = store.tag(file_id, *tags)
    if json_:
        emit_json(record.as_dict())
        return
    echo(_line(record))


@store_app.command("verify")
def verify(
    ctx: typer.Context,
    all_: bool = typer.Option(
        False,
        "--all",
        help="Every file that should be on disk: live, soft-deleted, marked missing or corrupt "
        "(the default).",
    ),
    sample: int | None = typer.Option(None, "--sample", help="A random sample of N stored files."),
    older_than: float | None = typer.Option(
        None, "--older-than", help="Those not verified for N days."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Re-hash stored files, record last_verified_at, report corrupt or missing files (exit 1).

    Their records are marked corrupt or missing (`store find --status corrupt` lists them); a
    file found again with its hash makes its records live (or soft-deleted) again. A stored
    backtest result whose rule version no longer is what it was put with (a version not
    released then, committed later with other params, or deleted) is named (exit 1). Refused
    (exit 2), nothing marked, when the store root is not there (a drive not mounted).

    \b
    Example:
      ita-rules store verify --sample 100
      ita-rules store verify --older-than 30
    """
    from ita_rules.core.progress import Bar
    from ita_rules.provenance.resultcheck import stale_results
    from ita_rules.store import open_store
    from ita_rules.store.verify import select
    from ita_rules.store.verify import verify as run

    if all_ and (sample is not None or older_than is not None):
        raise UsageError("--all: cannot be combined with --sample or --older-than")
    workspace = open_workspace(ctx)
    with open_store(workspace) as store:
        store.check_not_lost()  # "0 file(s) verified" would hide a lost database
        records = select(store, sample=sample, older_than_days=older_than)
        bar = Bar("verify")
        try:
            report = run(store, records, progress=bar)
        finally:
            bar.close()
        stale = stale_results(workspace, store, report, records)
    ok = report.ok and not stale
    if json_:
        emit_json({**report.as_dict(), "ok": ok, "stale_results": [s.as_dict() for s in stale]})
    else:
        for record in report.missing:
            echo(f"{record.path}: missing ({_marked(record, 'missing')})")
        for record in report.corrupt:
            echo(
                f"{record.path}: corrupt: content does not match {record.hash} "
                f"({_marked(record, 'corrupt')})"
            )
        for record in report.back:
            again = "soft-deleted again" if record.deleted_at else "now live again"
            echo(
                f"{record.path}: back: content matches {record.hash} again "
                f"(record {record.file_id}, {again})"
            )
        for found in stale:
            echo(found.message())
        warn(
            f"{report.checked} file(s) verified for {report.records} record(s), "
            f"{len(report.corrupt)} corrupt, {len(report.missing)} missing"
            + (f", {len(report.back)} back" if report.back else "")
            + (f", {len(report.still)} still marked {_still(report.still)}" if report.still else "")
            + (f", {len(stale)} result(s) not of their rule version now" if stale else "")
        )
    raise typer.Exit(0 if ok else 1)


def _still(records: list[Any]) -> str:
    """How the records still marked are marked: missing, corrupt, or missing or corrupt."""
    return " or ".join(s for s in ("missing", "corrupt") if any(r.status == s for r in records))


def _marked(record: Any, status: str) -> str:
    """What verify did to a record it found ``status`` (live or soft-deleted before)."""
    deleted = "soft-deleted, " if record.status == "deleted" else ""
    return f"record {record.file_id}, {deleted}now marked {status}"


@store_app.command("fsck")
def fsck(
    ctx: typer.Context,
    repair: bool = typer.Option(
        False, "--repair", help="Fix what is found (unknown files go to lost+found)."
    ),
    quick: bool = typer.Option(False, "--quick", help="Compare sizes only; do not re-hash."),
    json_: bool = JSON_OPTION,
) -> None:
    """Find temp leftovers, files without records, records without files, hash mismatches.

    Exit 1 when a problem remains (after --repair: when one could not be fixed).

    \b
    Example:
      ita-rules store fsck && ita-rules store fsck --repair
    """
    from ita_rules.recovery.fsck import fsck as run

    with _store(ctx) as store:
        report = run(store, repair=repair, hashes=not quick)
    if json_:
        emit_json(report.as_dict())
    else:
        for problem in report.problems:
            echo(str(problem))
        warn(
            f"{report.files} file(s), {report.records} record(s), {len(report.problems)} problem(s)"
            + (", all repaired" if repair and report.problems and report.clean else "")
        )
    raise typer.Exit(0 if report.clean else 1)


@store_app.command("rebuild")
def rebuild(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """Restore the database from the disk (after it was lost): the store's records and tags
    and the remote copies from the journal, the runs from their snapshot files.

    Exit 1 when a snapshot file could not be read (it is named; the rest is restored). A
    journaled record whose file is not on disk is not restored (it is named).

    \b
    Example:
      rm .ita/ita.sqlite && ita-rules store rebuild
    """
    from ita_rules.recovery.rebuild import rebuild_database

    rebuilt = rebuild_database(open_workspace(ctx))
    if json_:
        emit_json(rebuilt.as_dict())
    else:
        for line in rebuilt.warnings():
            warn(line)
        echo(f"restored {rebuilt} from the disk")
    raise typer.Exit(0 if rebuilt.ok else 1)

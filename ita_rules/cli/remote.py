"""Remote commands: ``remote push``, ``remote pull``, ``remote check`` (rclone)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace, warn
from ita_rules.core.errors import UsageError

if TYPE_CHECKING:
    from ita_rules.core.progress import Bar
    from ita_rules.remote import Remote, SyncReport

remote_app = typer.Typer(
    name="remote",
    help=(
        "Copy the store to and from the rclone remote named by remote.name in ita.toml, "
        "every copy verified (size + hash).\n\n"
        "\b\nExample:\n  ita-rules remote push && ita-rules remote check"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(remote_app, name="remote")


@contextmanager
def _remote(ctx: typer.Context, label: str) -> Iterator[tuple[Remote, Bar]]:
    """The workspace's remote, and a progress bar named ``label`` for the work done on it."""
    from ita_rules.core.progress import Bar
    from ita_rules.remote import open_remote

    remote = open_remote(open_workspace(ctx))
    bar = Bar(label)
    try:
        yield remote, bar
    finally:
        bar.close()
        remote.close()


def _finish(report: SyncReport, json_: bool, summary: str) -> None:
    if json_:
        emit_json(report.as_dict())
    else:
        for outcome in report.failed:
            echo(str(outcome))
        warn(summary)
    raise typer.Exit(0 if report.ok else 1)


@remote_app.command("push")
def push(
    ctx: typer.Context,
    type_: str | None = typer.Option(None, "--type", help="Only files of this type."),
    since: str | None = typer.Option(
        None, "--since", help="Only files stored on or after (YYYY-MM-DD or ISO time)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Copy stored files that have no verified remote copy yet, then verify each on the remote.

    A file counts as pushed (remote_verified_at) only once the remote reports its size and
    hash equal to the local bytes. Re-running completes an interrupted push.

    \b
    Example:
      ita-rules remote push --type candles --since 2026-01-01
    """
    from ita_rules.store.records import LIVE

    with _remote(ctx, "push") as (remote, bar):
        records = remote.store.find(type=type_, since=since, status=LIVE)
        report = remote.push(records, progress=bar)
    _finish(
        report,
        json_,
        f"{report.count('verified')} file(s) copied and verified on {report.remote}, "
        f"{report.count('already')} already there, {len(report.failed)} failed",
    )


@remote_app.command("pull")
def pull(
    ctx: typer.Context,
    file_id: str | None = typer.Argument(None, help="Restore this record's file."),
    run_id: str | None = typer.Option(None, "--run", help="Restore every file of this run."),
    json_: bool = JSON_OPTION,
) -> None:
    """Restore stored files from the remote (also purged ones), each SHA-256 re-verified.

    Without arguments: every record whose file should be on disk but is missing.

    \b
    Example:
      ita-rules remote pull 0b6f3c9e-2f1a-4c55-9d0e-6a1b2c3d4e5f
      ita-rules remote pull --run run_2026_01_15_001
    """
    if file_id is not None and run_id is not None:
        raise UsageError("remote pull: give a FILE_ID or --run, not both")
    with _remote(ctx, "pull") as (remote, bar):
        whole = remote.store.resolve(file_id) if file_id is not None else None  # or 8+ chars
        report = remote.pull(remote.select_pull(whole, run_id), progress=bar)
    _finish(
        report,
        json_,
        f"{report.count('restored')} file(s) restored from {report.remote}, "
        f"{report.count('present')} already present, {len(report.failed)} failed",
    )


@remote_app.command("check")
def check(
    ctx: typer.Context,
    download: bool = typer.Option(
        False, "--download", help="Download every copy and compare its SHA-256 (slow, thorough)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Re-verify every recorded remote copy (size + hash); exit 1 when one is missing or differs.

    A copy found missing or different is no longer counted as verified (retention will not
    rely on it) until a push copies it again.

    \b
    Example:
      ita-rules remote check && ita-rules remote check --download
    """
    with _remote(ctx, "check") as (remote, bar):
        report = remote.check(download=download, progress=bar)
    _finish(
        report,
        json_,
        f"{report.count('ok')} copy(ies) verified on {report.remote}, "
        f"{report.count('missing')} missing, {report.count('corrupt')} different, "
        f"{report.count('not_pushed')} file(s) not pushed yet",
    )

"""Vector store commands: ``vectors status`` and ``vectors reconcile``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace

vectors_app = typer.Typer(
    name="vectors",
    help=(
        "Embeddings in the vector store (Chroma, [vectors] url in ita.toml), pruned by "
        "retention.\n\n\b\nExample:\n  ita-rules vectors status"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(vectors_app, name="vectors")

COLLECTION = typer.Option(None, "--collection", "-c", help="Only this managed collection.")


@contextmanager
def _opened(ctx: typer.Context) -> Iterator[tuple[Any, Any]]:
    from ita_rules.db import open_database

    ws = open_workspace(ctx)
    db = open_database(ws.settings.database_url, ws.settings.root)
    try:
        yield ws.settings, db
    finally:
        db.dispose()


@vectors_app.command("status")
def status(
    ctx: typer.Context, collection: str | None = COLLECTION, json_: bool = JSON_OPTION
) -> None:
    """Count the vectors of each managed collection: live, soft-deleted, orphans (in the
    store, unknown to the manifest).

    \b
    Example:
      ita-rules vectors status --json
    """
    from ita_rules.vectors.status import states

    with _opened(ctx) as (settings, db):
        found = states(settings, db, collection)
    if json_:
        emit_json({"collections": [s.as_dict() for s in found]})
        return
    if not found:
        echo("no managed collection (no vector saved with run.save_embeddings)")
    for s in found:
        echo(
            f"{s.name}: {s.live} live, {s.soft_deleted} soft-deleted, {len(s.orphans)} "
            f"orphan(s), {len(s.missing)} missing"
        )


@vectors_app.command("reconcile")
def reconcile(
    ctx: typer.Context, collection: str | None = COLLECTION, json_: bool = JSON_OPTION
) -> None:
    """List the ids the store holds that the manifest does not know, and the ids the
    manifest holds (not purged) that the store lacks. Exit 1 when there are any.

    \b
    Example:
      ita-rules vectors reconcile --collection research-notes
    """
    from ita_rules.vectors.status import states

    with _opened(ctx) as (settings, db):
        found = states(settings, db, collection)
    if json_:
        emit_json({"collections": [s.as_dict(ids=True) for s in found]})
    else:
        for s in found:
            for vid in s.orphans:
                echo(f"{s.name}/{vid}: in the store, not in the manifest")
            for vid in s.missing:
                echo(f"{s.name}/{vid}: in the manifest, missing from the store")
        if not any(s.orphans or s.missing for s in found):
            echo("store and manifest agree")
    if any(s.orphans or s.missing for s in found):
        raise typer.Exit(1)

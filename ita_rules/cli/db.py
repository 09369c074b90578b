"""Database commands: ``db upgrade``."""

from __future__ import annotations

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace

db_app = typer.Typer(
    name="db",
    help="The metadata database (SQLite file or Postgres).\n\n\b\nExample:\n  ita-rules db upgrade",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """Migrate the metadata database to the schema this ita-rules needs.

    \b
    Example:
      ITA_DATABASE_URL=postgresql://ita@db.example/ita ita-rules db upgrade
    """
    from ita_rules.db import connect
    from ita_rules.db import upgrade as run

    ws = open_workspace(ctx)
    database = connect(ws.settings.database_url, ws.settings.root)
    try:
        result = run(database)
    finally:
        database.dispose()
    if json_:
        emit_json({"database": database.shown_url, **result.as_dict()})
    elif result.before == result.after:
        echo(f"{database.shown_url}: schema version {result.after}, nothing to do")
    else:
        echo(
            f"{database.shown_url}: schema upgraded from version {result.before} to {result.after}"
        )

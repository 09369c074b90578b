"""One schema version for the whole metadata database, and ``ita-rules db upgrade``.

The database (the store's tables, the runs, the remote copies) has one version: the number of
the last step of :data:`ita_rules.db.steps.STEPS` it went through, kept in the
``ita_schema_version`` row ``store``. (That row held the store's own version until v3; keeping
its name makes earlier releases refuse a newer database instead of mistaking it for one they
know.) A new, empty database runs every step when it is first opened; a database at an older
version is refused (:class:`SchemaOutdated`) until ``ita-rules db upgrade`` (:func:`upgrade`)
runs the missing steps, in one transaction. A database made by a newer ita-rules is refused.

Databases of earlier releases, whose runs and remote tables kept their own version rows
(``runs``, ``remote``), are upgraded like any other: their version is the store's, and step 4
folds the other rows in.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ita_rules.db.engine import (
    AdvisoryLock,
    Database,
    SchemaOutdated,
    check_version,
    newer_schema,
    xact_lock,
)
from ita_rules.db.steps import STEPS

CURRENT_VERSION = STEPS[-1][0]
MARKER = "store"  # the row of ita_schema_version that holds the version
__all__ = ["CURRENT_VERSION", "MARKER", "SchemaOutdated", "Upgrade", "ensure_schema", "upgrade"]


@dataclass(frozen=True)
class Upgrade:
    before: int
    after: int

    def as_dict(self) -> dict[str, int]:
        return {"from": self.before, "to": self.after}


def read_version(conn: sa.Connection) -> int | None:
    """The schema version, or None when the database has no store tables yet (empty, or a
    database of an earlier release that only ever held runs or remote copies)."""
    inspector = sa.inspect(conn)
    row = None
    if inspector.has_table("ita_schema_version"):
        row = conn.execute(
            sa.text("SELECT version FROM ita_schema_version WHERE component = :c"), {"c": MARKER}
        ).first()
    if row is not None:
        return int(row[0])
    return 1 if inspector.has_table("store_records") else None  # v1 had no version table


def _migrate(conn: sa.Connection, before: int) -> None:
    """Run the steps after ``before`` and record the current version."""
    for version, step in STEPS:
        if before < version:
            step(conn)
    conn.execute(sa.text("DELETE FROM ita_schema_version WHERE component = :c"), {"c": MARKER})
    conn.execute(
        sa.text("INSERT INTO ita_schema_version (component, version) VALUES (:c, :v)"),
        {"c": MARKER, "v": CURRENT_VERSION},
    )


def ensure_schema(db: Database, *, create: bool = True) -> int:
    """Create the schema in an empty database (every step); refuse an outdated or newer one.
    The version found (0: empty and ``create`` false)."""
    with db.write() as conn:
        xact_lock(conn, AdvisoryLock.SCHEMA)
        version = read_version(conn)
        if version is None and create:
            _migrate(conn, 0)
            version = CURRENT_VERSION
    if version is None:
        return 0
    check_version(version, CURRENT_VERSION, db.shown_url)
    return version


def upgrade(db: Database) -> Upgrade:
    """Run the missing migration steps in one transaction; a current schema is left alone."""
    with db.write() as conn:
        xact_lock(conn, AdvisoryLock.SCHEMA)
        before = read_version(conn) or 0
        if before > CURRENT_VERSION:
            raise newer_schema(before, CURRENT_VERSION, "the database")
        if before < CURRENT_VERSION:
            _migrate(conn, before)
        return Upgrade(before, CURRENT_VERSION)


def sqlite_statements() -> tuple[str, ...]:
    """The statements that give an empty SQLite database the schema the steps make: what
    they leave in ``sqlite_master``, in the order they made it, then the version row. Shipped
    as :mod:`ita_rules.db.schema_sqlite` (``python -m ita_rules.db.migrations`` writes it), so
    a new store's database is made without SQLAlchemy; the tests check that it is current."""
    engine = sa.create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            _migrate(conn, 0)
            made = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
            ).scalars()
            statements = [str(s) for s in made]
            rows = conn.exec_driver_sql("SELECT component, version FROM ita_schema_version")
            for component, version in rows:
                statements.append(
                    "INSERT INTO ita_schema_version (component, version) "
                    f"VALUES ('{component}', {int(version)})"
                )
    finally:
        engine.dispose()
    return tuple(statements)


def write_sqlite_module(path: str) -> None:
    """Write :mod:`ita_rules.db.schema_sqlite` (see :func:`sqlite_statements`)."""
    lines = [
        '"""The schema of a new SQLite database, generated from the migration steps',
        "(ita_rules/db/steps.py) by ``python -m ita_rules.db.migrations`` (then ``ruff format``):",
        "do not edit. :func:`ita_rules.db.engine.open_database` creates a new database with it,",
        'without SQLAlchemy; tests/db/test_migrations.py checks that it matches the steps."""',
        "",
        f"VERSION = {CURRENT_VERSION}",
        f"MARKER = {MARKER!r}",
        "STATEMENTS = (",
    ]
    for statement in sqlite_statements():
        words = statement.split(" ")
        parts: list[str] = []
        for word in words:
            if parts and len(parts[-1]) + len(word) < 80:
                parts[-1] += " " + word
            else:
                parts.append(word if not parts else " " + word)
        lines += [f"    {part!r}" for part in parts]
        lines[-1] += ","
    lines.append(")")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    import os

    write_sqlite_module(os.path.join(os.path.dirname(__file__), "schema_sqlite.py"))

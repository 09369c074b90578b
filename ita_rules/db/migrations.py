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

from ita_rules.core.errors import UsageError
from ita_rules.db.engine import AdvisoryLock, Database, xact_lock
from ita_rules.db.steps import STEPS

CURRENT_VERSION = STEPS[-1][0]
MARKER = "store"  # the row of ita_schema_version that holds the version


class SchemaOutdated(UsageError):
    """The database was created by an older ita-rules (run ``ita-rules db upgrade``) or by a
    newer one (upgrade ita-rules)."""


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


def _newer(version: int, where: str) -> SchemaOutdated:
    return SchemaOutdated(
        f"{where} has schema version {version}, newer than this ita-rules ({CURRENT_VERSION}): "
        "upgrade ita-rules"
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
    if version < CURRENT_VERSION:
        raise SchemaOutdated(
            f"the database {db.shown_url} has schema version {version}, this ita-rules needs "
            f"{CURRENT_VERSION}: run `ita-rules db upgrade`"
        )
    if version > CURRENT_VERSION:
        raise _newer(version, f"the database {db.shown_url}")
    return version


def upgrade(db: Database) -> Upgrade:
    """Run the missing migration steps in one transaction; a current schema is left alone."""
    with db.write() as conn:
        xact_lock(conn, AdvisoryLock.SCHEMA)
        before = read_version(conn) or 0
        if before > CURRENT_VERSION:
            raise _newer(before, "the database")
        if before < CURRENT_VERSION:
            _migrate(conn, before)
        return Upgrade(before, CURRENT_VERSION)

"""Schema versions and migrations of the store's tables.

Every schema change adds a step ``(to_version, function)`` to :data:`STEPS` and bumps
:data:`CURRENT_VERSION`; ``ita-rules db upgrade`` runs the missing steps in one transaction.
A new, empty database is created at the current version directly. Version 1 is kept as
frozen DDL (:func:`create_v1`) so that a test can build an old database and upgrade it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ita_rules.core.errors import UsageError
from ita_rules.db import tables as t
from ita_rules.db.engine import Database

COMPONENT = "store"
CURRENT_VERSION = 3
_PG_LOCK_KEY = 0x17A5_7013  # pg_advisory_xact_lock key: serialises schema creation


class SchemaOutdated(UsageError):
    """The database was created by an older ita-rules: run ``ita-rules db upgrade``."""


@dataclass(frozen=True)
class Upgrade:
    before: int
    after: int

    def as_dict(self) -> dict[str, int]:
        return {"from": self.before, "to": self.after}


def _lock(conn: sa.Connection) -> None:
    """Serialise schema work between processes (SQLite: the write transaction already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def read_version(conn: sa.Connection) -> int | None:
    """The store schema version, or None when the database has no store tables yet."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(t.schema_version.name):
        return 1 if inspector.has_table(t.records.name) else None
    row = conn.execute(
        sa.select(t.schema_version.c.version).where(t.schema_version.c.component == COMPONENT)
    ).first()
    if row is None:
        return 1 if inspector.has_table(t.records.name) else None
    return int(row[0])


def _set_version(conn: sa.Connection, version: int) -> None:
    conn.execute(t.schema_version.delete().where(t.schema_version.c.component == COMPONENT))
    conn.execute(t.schema_version.insert().values(component=COMPONENT, version=version))


def ensure_schema(db: Database, *, create: bool = True) -> int:
    """Create the schema in an empty database; refuse an outdated or newer one."""
    with db.write() as conn:
        _lock(conn)
        version = read_version(conn)
        if version is None and create:
            t.metadata.create_all(conn)
            _set_version(conn, CURRENT_VERSION)
            version = CURRENT_VERSION
    if version is None:
        return 0
    if version < CURRENT_VERSION:
        raise SchemaOutdated(
            f"the database {db.shown_url} has schema version {version}, this ita-rules needs "
            f"{CURRENT_VERSION}: run `ita-rules db upgrade`"
        )
    if version > CURRENT_VERSION:
        raise SchemaOutdated(
            f"the database {db.shown_url} has schema version {version}, newer than this "
            f"ita-rules ({CURRENT_VERSION}): upgrade ita-rules"
        )
    return version


def _v1_to_v2(conn: sa.Connection) -> None:
    """v2: verification and soft-delete times on records; tags move to their own table."""
    conn.execute(sa.text("ALTER TABLE store_records ADD COLUMN deleted_at VARCHAR(32)"))
    conn.execute(sa.text("ALTER TABLE store_records ADD COLUMN last_verified_at VARCHAR(32)"))
    t.tags.create(conn, checkfirst=True)
    for index in (*t.records.indexes, *t.tags.indexes):
        index.create(conn, checkfirst=True)
    rows = conn.execute(sa.text("SELECT file_id, tags FROM store_records")).all()
    pairs = [
        {"file_id": fid, "tag": tag}
        for fid, text in rows
        for tag in sorted(set(json.loads(text or "[]")))
    ]
    if pairs:
        conn.execute(t.tags.insert(), pairs)
    conn.execute(sa.text("ALTER TABLE store_records DROP COLUMN tags"))
    t.schema_version.create(conn, checkfirst=True)


def _v2_to_v3(conn: sa.Connection) -> None:
    """v3: a record keeps the base name of the file that was put."""
    conn.execute(sa.text("ALTER TABLE store_records ADD COLUMN original_name VARCHAR(255)"))


STEPS: list[tuple[int, Callable[[sa.Connection], None]]] = [(2, _v1_to_v2), (3, _v2_to_v3)]


def upgrade(db: Database) -> Upgrade:
    """Run the missing migration steps in one transaction; a current schema is left alone.
    Then the components that keep their own version and upgrade themselves on first use (the
    runs table) are upgraded too, when the database has them (the result names the store's
    versions)."""
    done = _upgrade_store(db)
    _upgrade_components(db)
    return done


def _upgrade_components(db: Database) -> None:
    from ita_rules.provenance.tables import COMPONENT as RUNS
    from ita_rules.provenance.tables import ensure_runs_schema

    sv = t.schema_version
    with db.read() as conn:
        if not sa.inspect(conn).has_table(sv.name):
            return
        found = conn.execute(sa.select(sv.c.version).where(sv.c.component == RUNS)).first()
    if found is not None:
        ensure_runs_schema(db)


def _upgrade_store(db: Database) -> Upgrade:
    with db.write() as conn:
        _lock(conn)
        before = read_version(conn)
        if before is None:
            t.metadata.create_all(conn)
            _set_version(conn, CURRENT_VERSION)
            return Upgrade(0, CURRENT_VERSION)
        if before > CURRENT_VERSION:
            raise SchemaOutdated(
                f"the database has schema version {before}, newer than this ita-rules "
                f"({CURRENT_VERSION}): upgrade ita-rules"
            )
        for to_version, step in STEPS:
            if before < to_version:
                step(conn)
        t.metadata.create_all(conn)  # indexes or tables a step did not need to touch
        _set_version(conn, CURRENT_VERSION)
        return Upgrade(before, CURRENT_VERSION)


def create_v1(conn: sa.Connection) -> None:
    """The schema as version 1 created it (frozen; used by the upgrade test)."""
    conn.execute(
        sa.text(
            "CREATE TABLE store_blobs (hash VARCHAR(71) PRIMARY KEY, path VARCHAR(1024) NOT NULL "
            "UNIQUE, size BIGINT NOT NULL, created_at VARCHAR(32) NOT NULL)"
        )
    )
    conn.execute(
        sa.text(
            "CREATE TABLE store_records (file_id VARCHAR(36) PRIMARY KEY, "
            "hash VARCHAR(71) NOT NULL "
            "REFERENCES store_blobs(hash), path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, "
            "type VARCHAR(32) NOT NULL, symbol VARCHAR(100), timeframe VARCHAR(16), "
            "run_id VARCHAR(100), metadata TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', "
            "created_at VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL)"
        )
    )


def ensure_component(
    db: Database,
    component: str,
    version: int,
    tables: sa.MetaData,
    *,
    lock_key: int,
    newer_error: type[UsageError] = SchemaOutdated,
    steps: Sequence[tuple[int, Callable[[sa.Connection], None]]] = (),
) -> None:
    """Create the tables of a component (``runs``, ``remote``...) in a database that lacks
    them, recording ``version`` in ``ita_schema_version``; refuse a database made by a newer
    ita-rules. An older version is upgraded in place by the component's ``steps``
    (``(to_version, function)``, additive changes only), in the same transaction. On Postgres
    an advisory lock serialises concurrent first uses and upgrades."""
    sv = t.schema_version
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key})
        sv.create(conn, checkfirst=True)
        row = conn.execute(sa.select(sv.c.version).where(sv.c.component == component)).first()
        if row is None:
            tables.create_all(conn)
            conn.execute(sv.insert().values(component=component, version=version))
            return
        found = int(row[0])
        if found < version and steps:
            for to_version, step in steps:
                if found < to_version:
                    step(conn)
            tables.create_all(conn)  # indexes or tables a step did not need to touch
            conn.execute(sv.update().where(sv.c.component == component).values(version=version))
            return
    if found > version:
        raise newer_error(
            f"the database {db.shown_url} has {component} schema version {found}, newer than "
            f"this ita-rules ({version}): upgrade ita-rules"
        )

"""The ``runs`` table of the metadata database, as the component ``runs`` (own schema version in
``ita_schema_version``, beside the store's). Created on first use, same code on SQLite and
Postgres.

A run id ``run_YYYY_MM_DD_NNN`` is ``(day, seq)`` with a unique constraint: allocation takes
the next ``seq`` of the day inside a write transaction (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on Postgres), past every id that has a snapshot file, claims the id by creating
its snapshot file exclusively, and retries on a unique violation, so concurrent runs never
collide. The table is derived: every row can be rebuilt from its run's snapshot file
(:meth:`ita_rules.provenance.runstore.RunStore.restore`).

Schema versions: 1 as first released; 2 adds ``snapshot_sha256`` (the SHA-256 of the exact
bytes last written to the run's snapshot file, so that ``runs verify`` can tell an edited file)
and ``restored_at`` (set on a row rebuilt from its file after the database was lost). A
version-1 table is upgraded in place, in one transaction, by the first command that opens the
runs table, or by ``ita-rules db upgrade`` (two nullable columns: old rows keep NULL).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from ita_rules.core.errors import UsageError
from ita_rules.db import Database

COMPONENT = "runs"
CURRENT_VERSION = 2
PG_LOCK_KEY = 0x17A5_7014  # pg_advisory_xact_lock: run id allocation and schema creation

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("day", sa.String(10), nullable=False),  # YYYY_MM_DD (UTC)
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("flow_type", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("setup_id", sa.String(64), index=True),
    sa.Column("rule_version", sa.String(32)),
    sa.Column("params_hash", sa.String(71)),
    sa.Column("symbol", sa.String(100), index=True),
    sa.Column("timeframe", sa.String(16)),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.Boolean, nullable=False),
    sa.Column("data_hash", sa.String(71)),
    sa.Column("flow_run_id", sa.String(64), index=True),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.String(32), nullable=False, index=True),
    sa.Column("finished_at", sa.String(32)),
    sa.Column("heartbeat_at", sa.String(32)),
    sa.Column("lease_until", sa.String(32)),  # a running run not renewed by then is abandoned
    sa.Column("error", sa.Text),
    sa.Column("snapshot", sa.Text, nullable=False),  # canonical JSON of the whole snapshot
    # "sha256:<hex>" of the bytes last written to the snapshot file (NULL: written before v2,
    # or restored from a file whose hash the store's journal does not hold)
    sa.Column("snapshot_sha256", sa.String(71)),
    sa.Column("restored_at", sa.String(32)),  # rebuilt from the snapshot file at that time
    sa.UniqueConstraint("day", "seq", name="runs_day_seq"),
)


class RunsSchemaOutdated(UsageError):
    """The runs table was made by a newer ita-rules."""


def lock(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})


def _v1_to_v2(conn: sa.Connection) -> None:
    """v2: the snapshot file's recorded hash, and when a row was restored from its file."""
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN snapshot_sha256 VARCHAR(71)"))
    conn.execute(sa.text("ALTER TABLE runs ADD COLUMN restored_at VARCHAR(32)"))


STEPS: list[tuple[int, Callable[[sa.Connection], None]]] = [(2, _v1_to_v2)]


def create_v1(conn: sa.Connection) -> None:
    """The runs table as version 1 created it (frozen; used by the upgrade test)."""
    conn.execute(
        sa.text(
            "CREATE TABLE runs (run_id VARCHAR(40) PRIMARY KEY, day VARCHAR(10) NOT NULL, "
            "seq INTEGER NOT NULL, flow_type VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
            "setup_id VARCHAR(64), rule_version VARCHAR(32), params_hash VARCHAR(71), "
            "symbol VARCHAR(100), timeframe VARCHAR(16), git_commit VARCHAR(64), "
            "git_dirty BOOLEAN NOT NULL, data_hash VARCHAR(71), flow_run_id VARCHAR(64), "
            "host VARCHAR(255), pid INTEGER, started_at VARCHAR(32) NOT NULL, "
            "finished_at VARCHAR(32), heartbeat_at VARCHAR(32), lease_until VARCHAR(32), "
            "error TEXT, snapshot TEXT NOT NULL, "
            "CONSTRAINT runs_day_seq UNIQUE (day, seq))"
        )
    )


def ensure_runs_schema(db: Database) -> None:
    """Create the runs table in a database that lacks it, upgrade an older one in place;
    refuse a newer one."""
    from ita_rules.db.migrations import ensure_component

    ensure_component(
        db,
        COMPONENT,
        CURRENT_VERSION,
        metadata,
        lock_key=PG_LOCK_KEY,
        newer_error=RunsSchemaOutdated,
        steps=STEPS,
    )

"""The ``runs`` table of the metadata database, same code on SQLite and Postgres. It is part of
the database's one schema version: created and migrated with the other tables by
:mod:`ita_rules.db.migrations` (its DDL history is in ``ita_rules/db/steps.py``; until schema
version 4 it kept a version of its own).

A run id ``run_YYYY_MM_DD_NNN`` is ``(day, seq)`` with a unique constraint: allocation takes
the next ``seq`` of the day inside a write transaction (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on Postgres, :func:`lock`), past every id that has a snapshot file, claims the id
by creating its snapshot file exclusively, and retries on a unique violation, so concurrent runs
never collide. The table is derived: every row can be rebuilt from its run's snapshot file
(:meth:`ita_rules.provenance.runstore.RunStore.restore`).

``snapshot_sha256`` is the SHA-256 of the exact bytes last written to the run's snapshot file
(so that ``runs verify`` can tell an edited file; NULL for rows written before it existed);
``restored_at`` is set on a row rebuilt from its file after the database was lost.
"""

from __future__ import annotations

import sqlalchemy as sa

from ita_rules.db.engine import AdvisoryLock, xact_lock

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
    # "sha256:<hex>" of the bytes last written to the snapshot file (NULL: written before it
    # existed, or restored from a file whose hash the store's journal does not hold)
    sa.Column("snapshot_sha256", sa.String(71)),
    sa.Column("restored_at", sa.String(32)),  # rebuilt from the snapshot file at that time
    sa.UniqueConstraint("day", "seq", name="runs_day_seq"),
)


def lock(conn: sa.Connection) -> None:
    """Serialise run id allocation between processes until the transaction ends."""
    xact_lock(conn, AdvisoryLock.RUN_IDS)

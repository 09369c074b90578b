"""The migrations of the metadata database, oldest first: frozen history.

Each step brings the whole database (store, runs and remote tables) from the version before it
to its own, in the transaction of :func:`ita_rules.db.migrations.upgrade`. A step writes its
own DDL and never reads today's ``sa.Table`` objects, so that changing a table later cannot
change what an old step does. A new schema change is a new step at the end of :data:`STEPS`;
``tests/db/test_migrations.py`` checks that the steps build exactly the tables the code uses.

The DDL is the same text on SQLite and Postgres, and says what ``MetaData.create_all`` said in
the releases that created new databases with it: index names ``ix_<table>_<column>``, primary
key columns ``NOT NULL`` (SQLite would otherwise accept NULL there). A database created by an
earlier release and upgraded is therefore the same as one created by these steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import sqlalchemy as sa

Step = Callable[[sa.Connection], None]


def _run(conn: sa.Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        conn.execute(sa.text(statement))


def _indexes(table: str, columns: Sequence[str]) -> list[str]:
    return [f"CREATE INDEX IF NOT EXISTS ix_{table}_{c} ON {table} ({c})" for c in columns]


def store_tables(conn: sa.Connection) -> None:
    """v1: the stored files (``store_blobs``) and one record per put (``store_records``,
    tags as a JSON list in a column)."""
    _run(
        conn,
        [
            "CREATE TABLE store_blobs (hash VARCHAR(71) NOT NULL PRIMARY KEY, "
            "path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, "
            "created_at VARCHAR(32) NOT NULL, UNIQUE (path))",
            "CREATE TABLE store_records (file_id VARCHAR(36) NOT NULL PRIMARY KEY, "
            "hash VARCHAR(71) NOT NULL REFERENCES store_blobs(hash), "
            "path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, type VARCHAR(32) NOT NULL, "
            "symbol VARCHAR(100), timeframe VARCHAR(16), run_id VARCHAR(100), "
            "metadata TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', "
            "created_at VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL)",
        ],
    )


def tags_and_times(conn: sa.Connection) -> None:
    """v2: verification and soft-delete times on records; tags move to their own table; the
    version table appears."""
    _run(
        conn,
        [
            "ALTER TABLE store_records ADD COLUMN deleted_at VARCHAR(32)",
            "ALTER TABLE store_records ADD COLUMN last_verified_at VARCHAR(32)",
            "CREATE TABLE IF NOT EXISTS store_tags (file_id VARCHAR(36) NOT NULL "
            "REFERENCES store_records(file_id), tag VARCHAR(64) NOT NULL, "
            "PRIMARY KEY (file_id, tag))",
            *_indexes("store_tags", ["tag"]),
            *_indexes(
                "store_records", ["hash", "type", "symbol", "run_id", "created_at", "status"]
            ),
        ],
    )
    rows = conn.execute(sa.text("SELECT file_id, tags FROM store_records")).all()
    pairs = [
        {"file_id": fid, "tag": tag}
        for fid, text in rows
        for tag in sorted(set(json.loads(text or "[]")))
    ]
    if pairs:
        conn.execute(
            sa.text("INSERT INTO store_tags (file_id, tag) VALUES (:file_id, :tag)"), pairs
        )
    _run(
        conn,
        [
            "ALTER TABLE store_records DROP COLUMN tags",
            "CREATE TABLE IF NOT EXISTS ita_schema_version (component VARCHAR(32) NOT NULL "
            "PRIMARY KEY, version INTEGER NOT NULL)",
        ],
    )


def original_name(conn: sa.Connection) -> None:
    """v3: a record keeps the base name of the file that was put."""
    conn.execute(sa.text("ALTER TABLE store_records ADD COLUMN original_name VARCHAR(255)"))


_RUNS = (
    "CREATE TABLE runs (run_id VARCHAR(40) NOT NULL PRIMARY KEY, day VARCHAR(10) NOT NULL, "
    "seq INTEGER NOT NULL, flow_type VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
    "setup_id VARCHAR(64), rule_version VARCHAR(32), params_hash VARCHAR(71), "
    "symbol VARCHAR(100), timeframe VARCHAR(16), git_commit VARCHAR(64), "
    "git_dirty BOOLEAN NOT NULL, data_hash VARCHAR(71), flow_run_id VARCHAR(64), "
    "host VARCHAR(255), pid INTEGER, started_at VARCHAR(32) NOT NULL, "
    "finished_at VARCHAR(32), heartbeat_at VARCHAR(32), lease_until VARCHAR(32), "
    "error TEXT, snapshot TEXT NOT NULL, snapshot_sha256 VARCHAR(71), "
    "restored_at VARCHAR(32), CONSTRAINT runs_day_seq UNIQUE (day, seq))"
)
_REMOTE_COPIES = (
    "CREATE TABLE remote_copies (hash VARCHAR(71) NOT NULL, remote VARCHAR(512) NOT NULL, "
    "remote_path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, remote_hash VARCHAR(160), "
    "verified_at VARCHAR(32), checked_at VARCHAR(32) NOT NULL, problem VARCHAR(500), "
    "PRIMARY KEY (hash, remote))"
)


def one_version(conn: sa.Connection) -> None:
    """v4: the runs and remote_copies tables join the one schema version. Until v3 each kept
    its own row in ``ita_schema_version`` (``runs`` 1 or 2, ``remote`` 1) and created itself on
    first use: a missing table is created here, a runs table of its version 1 gains the two
    columns of its version 2 (``snapshot_sha256``, ``restored_at``; old rows keep NULL) and
    the indexes its upgrade did not add, and the per-component rows are removed."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("runs"):
        conn.execute(sa.text(_RUNS))
    else:
        columns = {c["name"] for c in inspector.get_columns("runs")}
        if "snapshot_sha256" not in columns:
            conn.execute(sa.text("ALTER TABLE runs ADD COLUMN snapshot_sha256 VARCHAR(71)"))
        if "restored_at" not in columns:
            conn.execute(sa.text("ALTER TABLE runs ADD COLUMN restored_at VARCHAR(32)"))
    if not inspector.has_table("remote_copies"):
        conn.execute(sa.text(_REMOTE_COPIES))
    _run(
        conn,
        [
            *_indexes(
                "runs", ["flow_type", "status", "setup_id", "symbol", "flow_run_id", "started_at"]
            ),
            *_indexes("remote_copies", ["verified_at"]),
        ],
    )
    conn.execute(sa.text("DELETE FROM ita_schema_version WHERE component IN ('runs', 'remote')"))


def vector_manifest(conn: sa.Connection) -> None:
    """v5: the manifest of the vectors ita-rules added to a vector store (one row per vector;
    ``purged_at`` set by the sweep just before it deletes the vector)."""
    _run(
        conn,
        [
            "CREATE TABLE IF NOT EXISTS vector_manifest (collection VARCHAR(512) NOT NULL, "
            "vector_id VARCHAR(512) NOT NULL, run_id VARCHAR(40), "
            "created_at VARCHAR(32) NOT NULL, purged_at VARCHAR(32), "
            "PRIMARY KEY (collection, vector_id))",
            *_indexes("vector_manifest", ["run_id"]),
        ],
    )


def run_verifications(conn: sa.Connection) -> None:
    """v6: the outcome of every ``runs verify`` (one row per verify; the differences and notes
    as canonical JSON text)."""
    conn.execute(
        sa.text(
            "CREATE TABLE IF NOT EXISTS run_verifications (run_id VARCHAR(40) NOT NULL, "
            "verified_at VARCHAR(32) NOT NULL, outcome VARCHAR(16) NOT NULL, "
            "differences TEXT NOT NULL, notes TEXT NOT NULL, PRIMARY KEY (run_id, verified_at))"
        )
    )


# (version the step brings the database to, step), oldest first; the last is the current one
STEPS: tuple[tuple[int, Step], ...] = (
    (1, store_tables),
    (2, tags_and_times),
    (3, original_name),
    (4, one_version),
    (5, vector_manifest),
    (6, run_verifications),
)

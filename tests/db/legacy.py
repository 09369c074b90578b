"""Databases as earlier releases left them, for the migration tests.

The DDL below is what ita-rules at commit 64af823 (the last release with one schema version per
component) executed: ``create_v1`` of ``db/migrations.py`` and of ``provenance/tables.py`` for
the first versions, ``MetaData.create_all`` for the others (the same text on SQLite and
Postgres). Frozen: do not edit it when the schema changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

VERSION_TABLE = (
    "CREATE TABLE ita_schema_version ( component VARCHAR(32) NOT NULL, "
    "version INTEGER NOT NULL, PRIMARY KEY (component) )"
)

# store version 1 (no version table: its version is "store_records without a version row")
STORE_V1 = (
    "CREATE TABLE store_blobs (hash VARCHAR(71) PRIMARY KEY, path VARCHAR(1024) NOT NULL "
    "UNIQUE, size BIGINT NOT NULL, created_at VARCHAR(32) NOT NULL)",
    "CREATE TABLE store_records (file_id VARCHAR(36) PRIMARY KEY, hash VARCHAR(71) NOT NULL "
    "REFERENCES store_blobs(hash), path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, "
    "type VARCHAR(32) NOT NULL, symbol VARCHAR(100), timeframe VARCHAR(16), "
    "run_id VARCHAR(100), metadata TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '[]', "
    "created_at VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL)",
)

STORE_V3 = (
    "CREATE TABLE store_blobs ( hash VARCHAR(71) NOT NULL, path VARCHAR(1024) NOT NULL, "
    "size BIGINT NOT NULL, created_at VARCHAR(32) NOT NULL, PRIMARY KEY (hash), UNIQUE (path) )",
    "CREATE TABLE store_records ( file_id VARCHAR(36) NOT NULL, hash VARCHAR(71) NOT NULL, "
    "path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, type VARCHAR(32) NOT NULL, "
    "symbol VARCHAR(100), timeframe VARCHAR(16), run_id VARCHAR(100), metadata TEXT NOT NULL, "
    "created_at VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL, deleted_at VARCHAR(32), "
    "last_verified_at VARCHAR(32), original_name VARCHAR(255), PRIMARY KEY (file_id), "
    "FOREIGN KEY(hash) REFERENCES store_blobs (hash) )",
    "CREATE INDEX ix_store_records_created_at ON store_records (created_at)",
    "CREATE INDEX ix_store_records_hash ON store_records (hash)",
    "CREATE INDEX ix_store_records_run_id ON store_records (run_id)",
    "CREATE INDEX ix_store_records_status ON store_records (status)",
    "CREATE INDEX ix_store_records_symbol ON store_records (symbol)",
    "CREATE INDEX ix_store_records_type ON store_records (type)",
    "CREATE TABLE store_tags ( file_id VARCHAR(36) NOT NULL, tag VARCHAR(64) NOT NULL, "
    "PRIMARY KEY (file_id, tag), FOREIGN KEY(file_id) REFERENCES store_records (file_id) )",
    "CREATE INDEX ix_store_tags_tag ON store_tags (tag)",
)

RUNS_V1 = (
    "CREATE TABLE runs (run_id VARCHAR(40) PRIMARY KEY, day VARCHAR(10) NOT NULL, "
    "seq INTEGER NOT NULL, flow_type VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
    "setup_id VARCHAR(64), rule_version VARCHAR(32), params_hash VARCHAR(71), "
    "symbol VARCHAR(100), timeframe VARCHAR(16), git_commit VARCHAR(64), "
    "git_dirty BOOLEAN NOT NULL, data_hash VARCHAR(71), flow_run_id VARCHAR(64), "
    "host VARCHAR(255), pid INTEGER, started_at VARCHAR(32) NOT NULL, "
    "finished_at VARCHAR(32), heartbeat_at VARCHAR(32), lease_until VARCHAR(32), "
    "error TEXT, snapshot TEXT NOT NULL, "
    "CONSTRAINT runs_day_seq UNIQUE (day, seq))",
)

RUNS_V2 = (
    "CREATE TABLE runs ( run_id VARCHAR(40) NOT NULL, day VARCHAR(10) NOT NULL, "
    "seq INTEGER NOT NULL, flow_type VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, "
    "setup_id VARCHAR(64), rule_version VARCHAR(32), params_hash VARCHAR(71), "
    "symbol VARCHAR(100), timeframe VARCHAR(16), git_commit VARCHAR(64), "
    "git_dirty BOOLEAN NOT NULL, data_hash VARCHAR(71), flow_run_id VARCHAR(64), "
    "host VARCHAR(255), pid INTEGER, started_at VARCHAR(32) NOT NULL, "
    "finished_at VARCHAR(32), heartbeat_at VARCHAR(32), lease_until VARCHAR(32), error TEXT, "
    "snapshot TEXT NOT NULL, snapshot_sha256 VARCHAR(71), restored_at VARCHAR(32), "
    "PRIMARY KEY (run_id), CONSTRAINT runs_day_seq UNIQUE (day, seq) )",
    "CREATE INDEX ix_runs_flow_run_id ON runs (flow_run_id)",
    "CREATE INDEX ix_runs_flow_type ON runs (flow_type)",
    "CREATE INDEX ix_runs_setup_id ON runs (setup_id)",
    "CREATE INDEX ix_runs_started_at ON runs (started_at)",
    "CREATE INDEX ix_runs_status ON runs (status)",
    "CREATE INDEX ix_runs_symbol ON runs (symbol)",
)

REMOTE_V1 = (
    "CREATE TABLE remote_copies ( hash VARCHAR(71) NOT NULL, remote VARCHAR(512) NOT NULL, "
    "remote_path VARCHAR(1024) NOT NULL, size BIGINT NOT NULL, remote_hash VARCHAR(160), "
    "verified_at VARCHAR(32), checked_at VARCHAR(32) NOT NULL, problem VARCHAR(500), "
    "PRIMARY KEY (hash, remote) )",
    "CREATE INDEX ix_remote_copies_verified_at ON remote_copies (verified_at)",
)

HASH = "sha256:" + "a" * 64
FILE_ID = "11111111-1111-1111-1111-111111111111"
RUN_ID = "run_2026_01_15_001"


def _rows(store: int | None, runs: int | None, remote: int | None) -> list[str]:
    """One row in each table the old database has."""
    rows = []
    if store is not None:
        rows.append(
            f"INSERT INTO store_blobs VALUES ('{HASH}', 'archive/raw/old.csv', 3, "
            "'2025-01-01T00:00:00.000000Z')"
        )
        tags = ", tags" if store == 1 else ""
        value = ', \'["keep", "old"]\'' if store == 1 else ""
        rows.append(
            "INSERT INTO store_records (file_id, hash, path, size, type, symbol, timeframe, "
            f"run_id, metadata{tags}, created_at, status) VALUES ('{FILE_ID}', '{HASH}', "
            f"'archive/raw/old.csv', 3, 'candles', 'GER40', 'M15', '{RUN_ID}', '{{}}'{value}, "
            "'2025-01-01T00:00:00.000000Z', 'live')"
        )
        if store == 3:
            rows += [
                f"INSERT INTO store_tags VALUES ('{FILE_ID}', '{tag}')" for tag in ("keep", "old")
            ]
    if runs is not None:
        rows.append(
            "INSERT INTO runs (run_id, day, seq, flow_type, status, git_dirty, started_at, "
            f"snapshot) VALUES ('{RUN_ID}', '2026_01_15', 1, 'backtest_flow', 'succeeded', "
            "false, '2026-01-15T00:00:00Z', '{}')"
        )
    if remote is not None:
        rows.append(
            f"INSERT INTO remote_copies VALUES ('{HASH}', 'backup:', 'archive/raw/old.csv', 3, "
            "'md5:x', '2026-01-16T00:00:00Z', '2026-01-16T00:00:00Z', NULL)"
        )
    return rows


def create(
    conn: sa.Connection, *, store: int | None, runs: int | None = None, remote: int | None = None
) -> None:
    """Create the tables of an old database with each component at the given version (None:
    never used), its version rows as that release wrote them, and one row in each table."""
    ddl: list[str] = []
    markers: dict[str, int] = {}
    if store == 1:
        ddl += STORE_V1
    elif store == 3:
        ddl += STORE_V3
        markers["store"] = 3
    if runs is not None:
        ddl += RUNS_V1 if runs == 1 else RUNS_V2
        markers["runs"] = runs
    if remote is not None:
        ddl += REMOTE_V1
        markers["remote"] = remote
    if markers:
        ddl.append(VERSION_TABLE)
    _execute(conn, ddl + _rows(store, runs, remote))
    for component, version in markers.items():
        conn.execute(
            sa.text("INSERT INTO ita_schema_version VALUES (:c, :v)"),
            {"c": component, "v": version},
        )


def _execute(conn: sa.Connection, statements: Sequence[str]) -> None:
    for statement in statements:
        conn.execute(sa.text(statement))

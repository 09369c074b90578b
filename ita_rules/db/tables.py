"""The store's tables of the current schema (SQLAlchemy Core), identical on SQLite and Postgres.
The runs and remote tables are described beside the code that uses them
(``ita_rules/provenance/tables.py``, ``ita_rules/remote/tables.py``); the migrations that build
all of them are in ``ita_rules/db/steps.py``.

Times are ISO-8601 UTC strings (``2026-01-15T10:30:00.123456Z``): they sort as text and read
back the same from both dialects. JSON is kept as canonical text for the same reason.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# The schema version of the whole database, in the row "store" (ita_rules/db/migrations.py).
schema_version = sa.Table(
    "ita_schema_version",
    metadata,
    sa.Column("component", sa.String(32), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

# A stored file: the same bytes are stored once, whatever the number of records.
blobs = sa.Table(
    "store_blobs",
    metadata,
    sa.Column("hash", sa.String(71), primary_key=True),  # "sha256:" + 64 hex
    sa.Column("path", sa.String(1024), nullable=False, unique=True),  # relative to the root
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

# One row per put: each points to a stored file. Live statuses keep the file alive.
records = sa.Table(
    "store_records",
    metadata,
    sa.Column("file_id", sa.String(36), primary_key=True),
    sa.Column("hash", sa.String(71), sa.ForeignKey("store_blobs.hash"), nullable=False, index=True),
    sa.Column("path", sa.String(1024), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("type", sa.String(32), nullable=False, index=True),
    sa.Column("symbol", sa.String(100), index=True),
    sa.Column("timeframe", sa.String(16)),
    sa.Column("run_id", sa.String(100), index=True),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("deleted_at", sa.String(32)),
    sa.Column("last_verified_at", sa.String(32)),
    sa.Column("original_name", sa.String(255)),  # the base name of the file that was put
)

tags = sa.Table(
    "store_tags",
    metadata,
    sa.Column("file_id", sa.String(36), sa.ForeignKey("store_records.file_id"), primary_key=True),
    sa.Column("tag", sa.String(64), primary_key=True, index=True),
)

STORE_TABLES = (blobs, records, tags)

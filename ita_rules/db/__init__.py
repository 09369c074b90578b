"""The metadata database: SQLite by default, Postgres for teams
(docs/architecture.md#metadata-database).

``open_database(url, root)`` returns a :class:`Database` whose schema is current; an older
schema is refused until ``ita-rules db upgrade`` (:func:`upgrade`) migrates it. One version
and one ordered list of migrations cover every table (``db/migrations.py``, ``db/steps.py``).
"""

from __future__ import annotations

from ita_rules.db.engine import (
    AdvisoryLock,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    connect,
    open_database,
    xact_lock,
)
from ita_rules.db.migrations import CURRENT_VERSION, SchemaOutdated, upgrade

__all__ = [
    "CURRENT_VERSION",
    "AdvisoryLock",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "SchemaOutdated",
    "connect",
    "open_database",
    "upgrade",
    "xact_lock",
]

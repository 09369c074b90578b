"""The metadata database: SQLite by default, Postgres for teams
(docs/architecture.md#metadata-database).

``open_database(url, root)`` returns a :class:`Database` whose schema is current; an older
schema is refused until ``ita-rules db upgrade`` (:func:`upgrade`) migrates it. One version
and one ordered list of migrations cover every table (``db/migrations.py``, ``db/steps.py``).
The migrations (and SQLAlchemy with them) are imported when first asked for: opening a SQLite
store does not need them (``db/engine.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ita_rules.db.engine import (
    AdvisoryLock,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    SchemaOutdated,
    connect,
    open_database,
    xact_lock,
)

if TYPE_CHECKING:
    from ita_rules.db.migrations import CURRENT_VERSION, upgrade


def __getattr__(name: str) -> Any:
    if name in ("CURRENT_VERSION", "upgrade"):
        from ita_rules.db import migrations

        return getattr(migrations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

"""The persistent store (docs/architecture.md#store): files stored once by SHA-256, found by symbol,
timeframe, run or tag, written atomically, journaled so the database can be rebuilt.

    from ita_rules import Workspace
    from ita_rules.store import open_store
    store = open_store(Workspace.open())
    record = store.put("GER40_M15.csv", type="candles", symbol="GER40", timeframe="M15")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ita_rules.store.core import PutSpec, Store
from ita_rules.store.errors import BadName, ResultRejected, SourceError, StoreBusy, StoreError
from ita_rules.store.records import Record

if TYPE_CHECKING:
    from ita_rules.workspace import Workspace


def open_store(workspace: Workspace) -> Store:
    """The store of a workspace, its database connected and its schema current."""
    from ita_rules.db import open_database

    settings = workspace.settings
    db = open_database(settings.database_url, settings.root)
    return Store(settings, db, lambda: workspace.registry)  # loaded when a result needs it


def rebuild_from_journal(workspace: Workspace) -> int:
    """Restore everything the database lacks after it was lost (records, runs, remote copies:
    :func:`ita_rules.store.replay.rebuild_database`); return how many records were restored.
    Idempotent."""
    from ita_rules.store.replay import rebuild_database

    return rebuild_database(workspace).records


__all__ = [
    "BadName",
    "PutSpec",
    "Record",
    "ResultRejected",
    "SourceError",
    "Store",
    "StoreBusy",
    "StoreError",
    "open_store",
    "rebuild_from_journal",
]

"""The persistent store (docs/architecture.md#store): files stored once by SHA-256, found by symbol,
timeframe, run or tag, written atomically, journaled so the database can be rebuilt
(:mod:`ita_rules.recovery`).

    from ita_rules import Workspace
    from ita_rules.store import open_store
    with open_store(Workspace.open()) as store:
        record = store.put("GER40_M15.csv", type="candles", symbol="GER40", timeframe="M15")

This store checks what it knows of a put (a result's schema, its rule version in the registry,
its params_hash), not the desk's runs and releases, which are above it: a flow puts through
``ws.store`` (:class:`ita_rules.provenance.desk.DeskStore`), as ``store put`` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ita_rules.store.core import Store
from ita_rules.store.errors import BadName, ResultRejected, SourceError, StoreBusy, StoreError
from ita_rules.store.records import Record
from ita_rules.store.spec import PutSpec

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.rules.registry import Registry


class Desk(Protocol):
    """What a store is opened from: its settings, and the registry (loaded only when a result
    is put). A :class:`~ita_rules.workspace.Workspace` is one."""

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry: ...


def open_store(desk: Desk) -> Store:
    """The store of a workspace, its database connected and its schema current. Close it
    (``with open_store(ws) as store:``) to release the database connections."""
    from ita_rules.db import open_database

    settings = desk.settings
    db = open_database(settings.database_url, settings.root)
    return Store(settings, db, lambda: desk.registry)  # loaded when a result needs it


__all__ = [
    "BadName",
    "Desk",
    "PutSpec",
    "Record",
    "ResultRejected",
    "SourceError",
    "Store",
    "StoreBusy",
    "StoreError",
    "open_store",
]

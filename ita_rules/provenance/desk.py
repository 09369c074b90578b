"""What the runs need of a workspace: its root, its settings and its registry; and the store
a desk puts into (:class:`DeskStore`).

Provenance sits below the workspace layer (docs/architecture.md#packages), so it names the
parts it uses instead of importing :class:`ita_rules.workspace.Workspace`, which has them all
(mypy checks that it fits :class:`Desk`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ita_rules.store import Desk as StoreDesk
from ita_rules.store import Store

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.db import Database
    from ita_rules.rules.registry import Registry
    from ita_rules.store import PutSpec, Record
    from ita_rules.store.core import Progress


class Desk(StoreDesk, Protocol):
    """A workspace as the runs see it: what a store is opened from (settings, registry), and
    its root (:class:`~ita_rules.workspace.Workspace` is one)."""

    @property
    def root(self) -> Path: ...


class SettingsDesk:
    """A :class:`Desk` made of a workspace's settings alone: what the Prefect integration opens
    when a flow names no workspace (the registry is loaded on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root

    @cached_property
    def registry(self) -> Registry:
        from ita_rules.rules.registry import Registry

        return Registry(self.settings.rules_dir, self.root)


def open_desk(path: str | os.PathLike[str] | None = None) -> Desk:
    """The workspace at or above ``path`` (default: the current directory), as the runs see
    it: its settings, and its registry loaded on first use."""
    from ita_rules.core.config import find_root, load_settings

    return SettingsDesk(load_settings(find_root(Path(path) if path is not None else Path.cwd())))


class DeskStore(Store):
    """The store of a desk as its flows and ``store put`` put into it (``ws.store``, a run's
    outputs): every put is checked against the desk first
    (:func:`~ita_rules.provenance.putcheck.for_desk`): a result must name a rule version as it
    was released and agree with the run it is stored for, or names; a run id of the desk's
    form must name one of its runs. The plain :class:`~ita_rules.store.Store`
    (:func:`~ita_rules.store.open_store`) checks only what the store itself knows (schema,
    registry, params_hash): the store layer does not know runs; recovery, retention and the
    remote copies use it, and put no results."""

    def __init__(self, desk: Desk, db: Database) -> None:
        super().__init__(desk.settings, db, lambda: desk.registry)  # loaded for a result only
        self.desk = desk

    def put_many(
        self,
        paths: Sequence[str | os.PathLike[str]],
        spec: PutSpec,
        progress: Progress | None = None,
    ) -> list[Record]:
        """:meth:`Store.put_many` (and :meth:`Store.put`) of what the desk's check lets in."""
        from ita_rules.provenance.putcheck import for_desk

        shown = [os.fspath(p) for p in paths]  # a listed path stays Listed (fspath keeps it)
        if shown:
            spec = for_desk(self.desk, spec.checked(), shown)
        return super().put_many(shown, spec, progress)

    def put_bytes(self, data: bytes, *, ext: str, spec: PutSpec) -> Record:
        """:meth:`Store.put_bytes` of what the desk's check lets in (shown as ``<bytes>.EXT``)."""
        from ita_rules.provenance.putcheck import for_desk
        from ita_rules.store.sources import BYTES_SHOWN

        checked = for_desk(self.desk, spec.checked(), [f"{BYTES_SHOWN}.{ext}"], data=data)
        return super().put_bytes(data, ext=ext, spec=checked)


def open_desk_store(desk: Desk) -> DeskStore:
    """The store of a desk, checked as :class:`DeskStore` says, its database connected and its
    schema current. Close it (``with open_desk_store(ws) as store:``)."""
    from ita_rules.db import open_database

    settings = desk.settings
    return DeskStore(desk, open_database(settings.database_url, settings.root))

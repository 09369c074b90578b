"""What the runs need of a workspace: its root, its settings and its registry.

Provenance sits below the workspace layer (docs/architecture.md#packages), so it names the
parts it uses instead of importing :class:`ita_rules.workspace.Workspace`, which has them all
(mypy checks that it fits :class:`Desk`).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ita_rules.store import Desk as StoreDesk

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.rules.registry import Registry


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

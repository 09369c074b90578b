"""ita-rules: rule registry, persistent store, run provenance and retention for ITA.

The public API is imported lazily so that ``import ita_rules`` stays cheap on the pre-commit
hook path::

    from ita_rules import Workspace
    ws = Workspace.open()
    rule = ws.registry.get("IB_raid_v1", "1.2")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Workspace": "ita_rules.workspace",
    "Rule": "ita_rules.rules.model",
    "Version": "ita_rules.rules.model",
    "Registry": "ita_rules.rules.registry",
    "Run": "ita_rules.provenance.runs",
    "Store": "ita_rules.store.core",
    "Record": "ita_rules.store.records",
    "ItaRulesError": "ita_rules.core.errors",
    "UsageError": "ita_rules.core.errors",
}

if TYPE_CHECKING:
    from ita_rules.core.errors import ItaRulesError, UsageError
    from ita_rules.provenance.runs import Run
    from ita_rules.rules.model import Rule, Version
    from ita_rules.rules.registry import Registry
    from ita_rules.store.core import Store
    from ita_rules.store.records import Record
    from ita_rules.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ita_rules' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "ItaRulesError",
    "Record",
    "Registry",
    "Rule",
    "Run",
    "Store",
    "UsageError",
    "Version",
    "Workspace",
    "__version__",
]

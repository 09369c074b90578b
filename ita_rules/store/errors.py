"""Errors of the store. Names and arguments are usage errors (exit 2); data is exit 1."""

from __future__ import annotations

from ita_rules.core.errors import ItaRulesError, UsageError


class BadName(UsageError):
    """A value that would become part of a stored path is not safe (``..``, ``/``, NUL...)."""


class SourceError(UsageError):
    """The file to store is missing, a link, a folder, or cannot be read."""


class ResultRejected(ItaRulesError):
    """A backtest result is not valid or names a rule version that is not in the registry."""


class StoreError(ItaRulesError):
    """The store is inconsistent or a stored file is missing or corrupt."""


class StoreBusy(ItaRulesError):
    """Another process held the store lock for too long."""


class RemovalVetoed(ItaRulesError):
    """A removal was refused at the last moment (the record became protected or live again)."""

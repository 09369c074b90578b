"""One exception hierarchy for the whole package.

Library code raises; only the CLI (``ita_rules.cli``) turns an error into a printed line and
an exit code. ``ItaRulesError`` means "the data is wrong" (exit 1); ``UsageError`` means "the
command was used wrongly" (missing workspace, bad config, bad option value: exit 2).
"""

from __future__ import annotations

from typing import NamedTuple


class Location(NamedTuple):
    """Where a problem is: a file path (as the user gave or sees it), 1-based line and column.
    (A NamedTuple, like the other records the pre-commit hook makes: the dataclasses module
    and a frozen dataclass's generated methods cost every commit ~10 ms.)"""

    path: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        """``path``, ``path:line`` or ``path:line:col``: the one rendering of a place (findings
        use it too)."""
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class ItaRulesError(Exception):
    """A problem with the user's data. Rendered as ``path:line:col: message``; exit 1."""

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class UsageError(ItaRulesError):
    """The command was used wrongly: bad option value, missing workspace, bad config. Exit 2."""

    exit_code = 2


class ConfigError(UsageError):
    """``ita.toml`` or an ``ITA_*`` variable is wrong."""


class WorkspaceNotFound(UsageError):
    """No ``ita.toml`` in the directory or any parent."""


class GitError(ItaRulesError):
    """git is missing, or a git command failed."""


class RuleError(ItaRulesError):
    """A rule file cannot be loaded or is not valid."""


class NotFound(ItaRulesError):
    """A setup, version, file or run does not exist."""

"""A finding is one problem in one place. Checks collect findings; reporters print them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ita_rules.core.errors import Location

FieldPath = tuple[str | int, ...]


def dotted(path: Sequence[str | int]) -> str:
    """``("targets", "tp")`` -> ``targets.tp``; ``("components", 1)`` -> ``components[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class Finding(NamedTuple):
    """One problem: where (path, 1-based line/col), which field, what was expected."""

    path: str
    message: str
    line: int | None = None
    col: int | None = None
    field: str = ""
    code: str = "invalid"
    severity: str = "error"

    @property
    def location(self) -> str:
        """``path:line:col`` (as far as they are known), rendered like every error's place."""
        return str(Location(self.path, self.line, self.col))

    def __str__(self) -> str:
        field = f"{self.field}: " if self.field else ""
        return f"{self.location}: {field}{self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "field": self.field,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
        }

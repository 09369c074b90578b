"""A loaded YAML file (:class:`Document`) and the loader's limits, without PyYAML.

Both readers build a :class:`Document`: :mod:`ita_rules.core.blockyaml` (the usual block
layout, no PyYAML) and :mod:`ita_rules.core.yamlbuild` (PyYAML's nodes). Kept apart from
both so that a caller, the pre-commit hook among them, can hold a document without importing
PyYAML.
"""

from __future__ import annotations

from typing import Any

from ita_rules.core.findings import FieldPath, Finding, dotted

MAX_NODES = 100_000
MAX_DEPTH = 64
SAFE_INT = 2**53 - 1  # the largest integer JSON numbers (IEEE doubles) hold exactly


class Document:
    """A loaded YAML file: JSON-compatible ``data`` plus the marks of every value and key
    (1-based line and column by field path), filled in while it is built. A plain class: see
    :class:`~ita_rules.core.errors.Location`."""

    __slots__ = ("data", "key_marks", "marks", "path", "text")

    def __init__(self, path: str, data: Any, *, text: str = "") -> None:
        self.path = path
        self.data = data
        self.marks: dict[FieldPath, tuple[int, int]] = {}
        self.key_marks: dict[FieldPath, tuple[int, int]] = {}
        self.text = text

    def __repr__(self) -> str:
        return f"Document(path={self.path!r}, data={self.data!r})"

    def position(self, path: FieldPath, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, col) of the value at ``path`` (or of its key), else the nearest parent."""
        p = tuple(path)
        while True:
            if key and p in self.key_marks:
                return self.key_marks[p]
            if p in self.marks:
                return self.marks[p]
            if not p:
                return (1, 1)
            p = p[:-1]
            key = False

    def finding(
        self, path: FieldPath, message: str, *, key: bool = False, code: str = "invalid"
    ) -> Finding:
        line, col = self.position(path, key=key)
        return Finding(self.path, message, line, col, dotted(path), code)

"""What ``validate`` and ``check`` return: the files looked at and every finding."""

from __future__ import annotations

from typing import ClassVar

from ita_rules.core.findings import Finding


class Outcome:
    """For a result with ``findings``: ``ok`` and ``as_dict`` (``ok`` first, then its
    ``FIELDS`` in their order, the findings as dictionaries)."""

    FIELDS: ClassVar[tuple[str, ...]]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"ok": self.ok}
        for name in self.FIELDS:
            value = getattr(self, name)
            out[name] = [f.as_dict() for f in value] if name == "findings" else value
        return out

"""Differences between two rule versions (deepdiff), the bump level they need, and a
readable rendering (``~ targets.tp: 2.0 -> 2.5``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from deepdiff import DeepDiff

from ita_rules.core.canonical import HASHED_FIELDS
from ita_rules.core.findings import dotted

Bump = Literal["none", "minor", "major"]


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is ``+`` (added), ``-`` (removed) or ``~`` (changed)."""

    kind: str
    path: tuple[str | int, ...]
    old: Any = None
    new: Any = None
    structural: bool = False  # a key or a component added/removed: needs a major bump

    def __str__(self) -> str:
        where = dotted(self.path)
        if self.kind == "+":
            return f"+ {where}: {_show(self.new)}"
        if self.kind == "-":
            return f"- {where}: {_show(self.old)}"
        return f"~ {where}: {_show(self.old)} -> {_show(self.new)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "change": {"+": "added", "-": "removed", "~": "changed"}[self.kind],
            "path": dotted(self.path),
            "old": self.old,
            "new": self.new,
            "structural": self.structural,
        }


def _show(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def diff(
    old: dict[str, Any], new: dict[str, Any], fields: tuple[str, ...] | None = None
) -> list[Change]:
    """Every difference between two rule documents (all fields, or only ``fields``).

    Fields are compared one by one, so every change has a path that starts with its field
    (deepdiff may otherwise report a wholesale change of the root).
    """
    keys = fields or tuple(dict.fromkeys([*old, *new]))
    changes: list[Change] = []
    for key in keys:
        hashed = key in HASHED_FIELDS
        if key not in old and key not in new:
            continue
        if key not in old:
            changes.append(Change("+", (key,), new=new[key], structural=hashed))
        elif key not in new:
            changes.append(Change("-", (key,), old=old[key], structural=hashed))
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changes.extend(_field_changes(key, old[key], new[key]))
    changes.sort(key=lambda c: [str(p) for p in c.path])
    return changes


def _field_changes(key: str, old: Any, new: Any) -> list[Change]:
    hashed = key in HASHED_FIELDS
    out: list[Change] = []
    # deepdiff skips keys starting with "__" by default; in a rule file they are plain data.
    tree = DeepDiff(old, new, view="tree", verbose_level=2, ignore_private_variables=False)
    for report, items in tree.items():
        for item in items:
            path = (key, *item.path(output_format="list"))
            if report == "dictionary_item_added":
                out.append(Change("+", path, new=item.t2, structural=hashed))
            elif report == "dictionary_item_removed":
                out.append(Change("-", path, old=item.t1, structural=hashed))
            elif report == "iterable_item_added":
                out.append(Change("+", path, new=item.t2, structural=key == "components"))
            elif report == "iterable_item_removed":
                out.append(Change("-", path, old=item.t1, structural=key == "components"))
            else:  # values_changed, type_changes
                structural = hashed and (
                    isinstance(item.t1, dict) != isinstance(item.t2, dict)
                    or (key == "components" and len(path) > 1)
                )
                out.append(Change("~", path, old=item.t1, new=item.t2, structural=structural))
    return out


def required_bump(old: dict[str, Any], new: dict[str, Any]) -> tuple[Bump, list[Change]]:
    """The bump a new version needs over its predecessor, and the changes that decide it.

    Values only -> minor; a component or a key under rules/params/targets added or removed ->
    major; no semantic change -> none.
    """
    changes = diff(old, new, HASHED_FIELDS)
    if not changes:
        return "none", []
    old_components = set(old.get("components") or [])
    new_components = set(new.get("components") or [])
    structural = [c for c in changes if c.structural and c.path[0] != "components"]
    if old_components != new_components:
        structural.extend(c for c in changes if c.path[0] == "components")
    if structural:
        return "major", structural
    return "minor", changes

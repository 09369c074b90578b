"""Differences between two rule versions, the bump level they need (:func:`required_bump`),
the changes a released version may not have (:func:`mutation`), and a readable rendering
(``~ targets.tp: 2.0 -> 2.5``).

On the hook path: deepdiff is imported only when a difference has to be itemised; the common
cases are decided by comparing canonical JSON and by a structural walk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ita_rules.core import canonical
from ita_rules.core.canonical import HASHED_FIELDS
from ita_rules.core.findings import dotted
from ita_rules.rules.model import LIFECYCLE_FIELDS, Version

if TYPE_CHECKING:
    from ita_rules.rules.registry import Registry

Bump = Literal["none", "minor", "major"]


class Change(NamedTuple):
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
    from deepdiff import DeepDiff

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


def classify(old: dict[str, Any], new: dict[str, Any]) -> tuple[Bump, list[Change]]:
    """Every change between a version and its predecessor (deepdiff), and the bump they need:
    the deciding changes for a major bump, all of them for a minor one. :func:`required_bump`
    gives the same level faster; this is for showing what changed.

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


MAX_DIFF_LINES = 8


def diff_lines(changes: Iterable[Any]) -> str:
    """A few readable diff lines (``~ params.x: 1 -> 2``) to append to a message."""
    items = [str(c) for c in changes]
    shown = items[:MAX_DIFF_LINES]
    if len(items) > MAX_DIFF_LINES:
        shown.append(f"... and {len(items) - MAX_DIFF_LINES} more")
    return "".join(f"\n    {line}" for line in shown)


def _strip(data: Mapping[str, Any], drop: Iterable[str]) -> bytes:
    dropped = set(drop)
    return canonical.canonical_json({k: v for k, v in data.items() if k not in dropped})


def mutation(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The changes of a released version outside its lifecycle fields (empty: allowed)."""
    if _strip(old, LIFECYCLE_FIELDS) == _strip(new, LIFECYCLE_FIELDS):
        return []
    return [c for c in diff(old, new) if c.path and c.path[0] not in LIFECYCLE_FIELDS]


def _walk_bump(a: Any, b: Any) -> Bump | None:
    """ "major" when a key is added/removed anywhere, "minor" for values only, None: unsure."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return "major"
        for key in a:
            sub = _walk_bump(a[key], b[key])
            if sub is None or sub == "major":
                return sub
        return "minor"
    if isinstance(a, dict) or isinstance(b, dict):
        return "major"
    if isinstance(a, list) and isinstance(b, list):
        nested = any(isinstance(x, (dict, list)) for x in (*a, *b))
        return None if nested else "minor"
    if isinstance(a, list) or isinstance(b, list):
        return None
    return "minor"


def required_bump(old: dict[str, Any], new: dict[str, Any]) -> tuple[Bump, list[Change]]:
    """The bump ``new`` needs over ``old`` (``none``/``minor``/``major``) and the changes that
    decide a major one. A quick structural walk answers the common cases (a minor bump then
    comes without its changes); :func:`classify` (deepdiff) decides the rest."""
    a, b = canonical.hashed_content(old), canonical.hashed_content(new)
    if canonical.canonical_json(a) == canonical.canonical_json(b):
        return "none", []
    quick: Bump | None
    if set(a.get("components") or []) != set(b.get("components") or []):
        quick = "major"
    else:
        rest_a = {k: v for k, v in a.items() if k != "components"}
        rest_b = {k: v for k, v in b.items() if k != "components"}
        quick = _walk_bump(rest_a, rest_b)
    if quick == "minor":
        return "minor", []
    return classify(old, new)


class VersionDiff(NamedTuple):
    """``diff``: what changed between two versions of a setup, and the bump it needs."""

    setup_id: str
    old: Version
    new: Version
    bump: Bump
    changes: list[Change]

    def as_dict(self) -> dict[str, Any]:
        return {
            "setup_id": self.setup_id,
            "from": str(self.old),
            "to": str(self.new),
            "semantic_change": self.bump,
            "changes": [c.as_dict() for c in self.changes],
        }


def compare_versions(registry: Registry, setup_id: str, a: Version, b: Version) -> VersionDiff:
    """Every change from version ``a`` to ``b`` of a setup (outside version, created and
    params_hash, which always differ) and the bump ``b`` needs over ``a``."""
    old, new = registry.get(setup_id, a), registry.get(setup_id, b)
    ignored = ("version", "created", "params_hash")
    changes = diff(
        {k: v for k, v in old.data.items() if k not in ignored},
        {k: v for k, v in new.data.items() if k not in ignored},
    )
    bump, _ = classify(old.data, new.data)
    return VersionDiff(setup_id, old.version, new.version, bump, changes)

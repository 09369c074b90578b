"""The changes between two rule versions as :func:`ita_rules.rules.diffing.diff` lists them,
for every pair of versions of every setup (docs/architecture.md#report).

A registry of 2,000 setups x 5 versions has 20,000 pairs: deepdiff at ~2 ms a pair would be
most of the report's time. Rules are mostly mappings of scalars, so a plain walk lists those
changes itself (a key added or removed, a value or its type changed: the same
:class:`~ita_rules.rules.diffing.Change` records, with the same paths and the same
``structural`` flag); a field in which a list differs goes to ``diffing.diff`` (deepdiff pairs
list items its own way). :func:`level` reads the bump level off those changes, as
``diffing.classify`` does (``diffing.required_bump`` would call deepdiff for every major pair).
``tests/report/test_site.py`` checks that both agree with ``diffing``.
"""

from __future__ import annotations

from typing import Any

from ita_rules.core.canonical import HASHED_FIELDS
from ita_rules.rules.diffing import Bump, Change, diff

# deepdiff's threshold_to_diff_deeper: two mappings sharing less than this share of their keys
# are one changed value, not keys added and removed
DEEPER = 0.33


class _NeedsDeepdiff(Exception):
    """A list differs: deepdiff decides how its items pair."""


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every difference between two rule documents, as ``diffing.diff(old, new)``."""
    out: list[Change] = []
    for key in dict.fromkeys([*old, *new]):
        hashed = key in HASHED_FIELDS
        if key not in old:
            out.append(Change("+", (key,), new=new[key], structural=hashed))
        elif key not in new:
            out.append(Change("-", (key,), old=old[key], structural=hashed))
        elif _differ(old[key], new[key]):
            found: list[Change] = []
            try:
                _walk(key, (key,), old[key], new[key], found)
            except _NeedsDeepdiff:
                found = diff({key: old[key]}, {key: new[key]}, (key,))
            out.extend(found)
    out.sort(key=lambda c: [str(p) for p in c.path])
    return out


def level(old: dict[str, Any], new: dict[str, Any], found: list[Change]) -> Bump:
    """The bump ``new`` needs over ``old`` as :func:`ita_rules.rules.diffing.classify` decides
    it, from the changes :func:`changes` found: none without a change to a hashed field, major
    when the components differ as a set or a key was added or removed outside them, else
    minor."""
    hashed = [c for c in found if c.path[0] in HASHED_FIELDS]
    if not hashed:
        return "none"
    if set(old.get("components") or []) != set(new.get("components") or []):
        return "major"
    if any(c.structural and c.path[0] != "components" for c in hashed):
        return "major"
    return "minor"


def _differ(a: Any, b: Any) -> bool:
    return bool(a != b) or type(a) is not type(b)


def _walk(key: str, path: tuple[str | int, ...], a: Any, b: Any, out: list[Change]) -> None:
    hashed = key in HASHED_FIELDS
    if isinstance(a, dict) and isinstance(b, dict) and _deeper(a, b):
        for k in a:
            if k not in b:
                out.append(Change("-", (*path, k), old=a[k], structural=hashed))
        for k in b:
            if k not in a:
                out.append(Change("+", (*path, k), new=b[k], structural=hashed))
        for k in a:
            if k in b and _differ(a[k], b[k]):
                _walk(key, (*path, k), a[k], b[k], out)
        return
    if isinstance(a, list) or isinstance(b, list):
        raise _NeedsDeepdiff
    structural = hashed and (
        isinstance(a, dict) != isinstance(b, dict) or (key == "components" and len(path) > 1)
    )
    out.append(Change("~", path, old=a, new=b, structural=structural))


def _deeper(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    """Whether deepdiff lists the keys of two mappings (else: one changed value)."""
    union = len(a.keys() | b.keys())
    return union <= 1 or len(a.keys() & b.keys()) / union >= DEEPER

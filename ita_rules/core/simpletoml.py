"""``ita.toml`` files in the plain layout ``init`` writes, read without tomllib: exactly as
tomllib reads them, or not at all.

Importing tomllib (its regular expressions, with the string module) costs every commit's hook
~3 ms of CPU, and the hook reads ``ita.toml`` twice (the work tree's and the released one).
The file ``ita-rules init`` writes, and nearly every one edited from it, holds only comments,
``[table]`` headers with bare dotted names, and ``key = value`` lines whose value is a string
without escapes, ``true``/``false``, an integer or a one-line array of such strings.
:func:`loads` reads exactly that into the dict tomllib would return, and returns None for
anything else (escapes, other numbers, dates, inline tables, arrays of tables, multi-line
values, quoted or dotted keys, tabs, control characters and the other characters Python
does not call printable (NBSP...), a table or key given twice, a
table header that opens a table already there): the caller then parses the text with
tomllib, so every error and unusual reading stays tomllib's. ``tests/test_simpletoml.py``
keeps the two in agreement (hypothesis).
"""

from __future__ import annotations

import re
from typing import Any

_NAME = r"[A-Za-z0-9_-]+"
_STRING = r'"[^"\\]*"|\'[^\']*\''  # no control character: loads refused those already
_VALUE = rf"(?P<str>{_STRING})|(?P<bool>true|false)|(?P<int>0|-?[1-9][0-9]{{0,15}})"
_ARRAY = rf"\[ *(?P<items>(?:{_STRING})(?: *, *(?:{_STRING}))*)? *\]"
_END = r" *(?:#.*)?\Z"
_HEADER = re.compile(rf" *\[(?P<table>{_NAME}(?:\.{_NAME})*)\]{_END}")
_ENTRY = re.compile(rf" *(?P<key>{_NAME}) *= *(?:{_VALUE}|(?P<array>{_ARRAY})){_END}")
_ITEM = re.compile(_STRING)


def loads(text: str) -> dict[str, Any] | None:
    """``text`` as ``tomllib.loads`` reads it when it is in the plain layout (see the module
    docstring), else None."""
    if not text.replace("\n", "").isprintable():
        return None  # a tab, a CR or another control character (cheaper than a regex's class)
    doc: dict[str, Any] = {}
    table = doc
    for line in text.split("\n"):
        if not line.strip(" ") or line.lstrip(" ").startswith("#"):
            continue
        entry = _ENTRY.match(line)
        if entry is not None:
            key = entry["key"]
            if key in table:
                return None
            table[key] = _value(entry)
            continue
        header = _HEADER.match(line)
        if header is None:
            return None
        table = doc
        names = header["table"].split(".")
        for name in names[:-1]:  # the tables above it, made when they are not there yet
            table = table.setdefault(name, {})
            if not isinstance(table, dict):
                return None
        if names[-1] in table:  # defined (or made) before: tomllib decides
            return None
        table[names[-1]] = table = {}
    return doc


def _value(m: re.Match[str]) -> Any:
    """The value of a matched ``key = value`` line."""
    if m["str"] is not None:
        return m["str"][1:-1]
    if m["bool"] is not None:
        return m["bool"] == "true"
    if m["int"] is not None:
        return int(m["int"])
    items = m["items"]
    return [s[1:-1] for s in _ITEM.findall(items)] if items else []

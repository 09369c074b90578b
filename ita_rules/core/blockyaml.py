"""Rule files in the usual block layout, read without PyYAML: exactly as the loader reads
them, or not at all.

Importing PyYAML (and compiling its reader's and resolver's regular expressions) costs a
process ~10 ms of CPU: a fifth of what the pre-commit hook spends on a commit (issue #16). Yet
nearly every rule file is written in one plain layout: block mappings and block lists indented
with spaces, one entry a line, comments, and scalars that are quoted without escapes, numbers
(``2``, ``-1.5``), ``true``/``false``, dates (``2025-01-31``), unquoted text that starts with a
letter (``GER40``, ``sha256:ab``, ``Fade the raid (first hour), 50%``), and one-line flow lists
and mappings of such scalars (``tags: ["a", b]``, ``{tp: 2.0, sl: 1}``).
:func:`read` reads exactly that layout into the :class:`~ita_rules.core.yamldoc.Document` the
loader would build (the same data, the same marks), and returns None for anything else: tabs,
CR and the other line breaks (every character that Python does not call printable), anchors,
aliases, tags, nested or multi-line flow collections, block or multi-line scalars, empty
values, duplicate keys, times, ``null``, plain scalars that YAML 1.1 and 1.2 read differently
(``yes``, ``010``, ``1e3``)... The caller then hands the text to PyYAML
(:mod:`ita_rules.core.yamlloader`), so every error, refusal and unusual reading stays the
loader's own. ``tests/test_blockyaml.py`` keeps the two in agreement (hypothesis)."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ita_rules.core.findings import FieldPath
from ita_rules.core.isodate import is_date
from ita_rules.core.yamldoc import Document

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,127}):(?= |\Z)")
_FLOW_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,127}): ")
_WORD = r"[A-Za-z0-9_./-]"


def _scalar(plain_rest: str) -> str:
    """The pattern of a scalar this reader takes; a plain one is a letter or ``_``, then
    ``plain_rest`` (which differs in a block and in a flow collection)."""
    return (
        r'"(?P<dq>[^"\\]*)"'  # double-quoted, no escapes
        r"|'(?P<sq>[^']*)'"  # single-quoted, no doubled quote
        r"|(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"  # a plain date: its ISO string
        r"|(?P<num>-?(?:0|[1-9][0-9]{0,14})(?P<frac>\.[0-9]{1,15})?)"  # exact in a double
        rf"|(?P<plain>[A-Za-z_]{plain_rest})"
    )


# A value ends the line, or a comment after a space does.
_END = r"(?= +#| *\Z)"
# After its first letter, a plain scalar in a block holds any character but a space before
# a space, a "#" or its end, and a colon before a space or its end (``sha256:ab``, ``R&D,
# 50% (est.)``); in a flow collection, words of letters, digits and ``_./-`` between single
# spaces (no colon, comma or bracket).
_BLOCK_SCALAR = re.compile("(?:" + _scalar(r"(?:[^ :]|:(?=[^ ])| (?=[^ #]))*") + ")" + _END)
_FLOW_SCALAR = re.compile(_scalar(_WORD + r"*(?: " + _WORD + r"+)*"))
_REST = re.compile(r" *(?:#.*)?\Z")  # after a value: spaces, then maybe a comment
_BOOLS = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
# Words the loader reads as something else, or refuses as ambiguous (in any case).
_NOT_WORDS = frozenset({"yes", "no", "on", "off", "y", "n", "true", "false", "null"})
_MAX_DEPTH = 16  # deeper: left to the loader (its limit is 64)
_MAX_VALUES = 10_000  # more: left to the loader (its alias-bomb limit is 100,000)


class _Refused(Exception):
    """The text is not in the layout read here: the loader reads it."""


class _Line(NamedTuple):
    """One line that holds an entry: ``key: ...`` (``key`` set) or ``- ...`` (``key`` None).
    ``at`` is the index of its value in ``text`` (``len(text)`` when the value is below)."""

    number: int
    indent: int
    key: str | None
    at: int
    text: str


def read(text: str, display: str, raw_scalars: frozenset[str]) -> Document | None:
    """``text`` as :func:`ita_rules.core.yamlio.loads` loads it when it is in the layout this
    module reads (the top-level fields in ``raw_scalars`` read as written when they are
    numbers), else None: the caller then loads it with PyYAML."""
    if _unusual(text):
        return None
    try:
        lines = _lines(text)
        if not lines or lines[0].indent or lines[0].key is None:
            return None
        doc = Document(display, None, text=text)
        reader = _Reader(doc, lines, raw_scalars)
        doc.marks[()] = (lines[0].number, 1)
        doc.data = reader.mapping((), 0, 0)
    except _Refused:
        return None
    return doc


def _unusual(text: str) -> bool:
    """True when ``text`` holds a character outside the layout: one that Python does not call
    printable (control characters, tabs, CR, NEL, the line and paragraph separators, a
    byte-order mark, NBSP and the other spaces, surrogates, noncharacters), so never one that
    YAML refuses. ``str.isprintable`` costs nothing to set up; a regular expression's class of
    every allowed character took ~1.5 ms to compile."""
    return not text.replace("\n", "").isprintable()


def _lines(text: str) -> list[_Line]:
    """The lines that hold an entry (not blank, not only a comment)."""
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        body = line.lstrip(" ")
        if not body or body[0] == "#":
            continue
        indent = len(line) - len(body)
        m = _KEY.match(line, indent)
        if m is not None:
            key, at = m.group(1), m.end()
            if key.lower() in _NOT_WORDS:
                raise _Refused
        elif body.startswith("- "):
            key, at = None, indent + 2
        else:
            raise _Refused
        value = len(line) - len(line[at:].lstrip(" "))
        if line.startswith("#", value):  # "key: # comment": the value is below
            value = len(line)
        if value == len(line) and key is None:
            raise _Refused  # "- " alone: a null or a nested block
        out.append(_Line(number, indent, key, value, line))
    return out


class _Reader:
    """Builds the data of :func:`read`'s lines, and the document's marks, as the loader's
    builder does (``marks`` of every value, ``key_marks`` of every key, 1-based)."""

    def __init__(self, doc: Document, lines: list[_Line], raw: frozenset[str]) -> None:
        self.doc, self.lines, self.raw = doc, lines, raw
        self.i = 0
        self.values = 0

    def _next(self) -> _Line | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def mapping(self, path: FieldPath, indent: int, depth: int) -> dict[str, Any]:
        """The block mapping whose keys are at ``indent``, from the current line on."""
        out: dict[str, Any] = {}
        while (line := self._next()) is not None and line.indent >= indent:
            if line.indent > indent or line.key is None or line.key in out:
                raise _Refused  # wrong indentation, a list in a mapping, a duplicate key
            sub = (*path, line.key)
            self.doc.key_marks[sub] = (line.number, indent + 1)
            self.i += 1
            if line.at < len(line.text):
                out[line.key] = self.inline(line, sub, depth + 1)
            else:
                out[line.key] = self.below(sub, indent, depth + 1)
        return out

    def below(self, path: FieldPath, indent: int, depth: int) -> Any:
        """The value of a key at ``indent`` written on the lines below it: a block list
        (indented or not) or a more indented block mapping; nothing there is a null."""
        line = self._next()
        if line is None or depth > _MAX_DEPTH:
            raise _Refused
        if line.key is None and line.indent >= indent:
            self.doc.marks[path] = (line.number, line.indent + 1)
            return self.sequence(path, line.indent, depth)
        if line.indent > indent:
            self.doc.marks[path] = (line.number, line.indent + 1)
            return self.mapping(path, line.indent, depth)
        raise _Refused

    def sequence(self, path: FieldPath, indent: int, depth: int) -> list[Any]:
        """The block list whose ``-`` are at ``indent``, each holding a value on its line."""
        out: list[Any] = []
        while (line := self._next()) is not None and line.indent == indent and line.key is None:
            self.i += 1
            out.append(self.inline(line, (*path, len(out)), depth + 1))
        return out

    def inline(self, line: _Line, path: FieldPath, depth: int) -> Any:
        """The value written on ``line`` itself: a scalar or a one-line flow collection."""
        text, at = line.text, line.at
        self.doc.marks[path] = (line.number, at + 1)
        if text[at] in "[{":
            if depth > _MAX_DEPTH:
                raise _Refused
            value, end = self.flow(line, path)
        else:
            m = _BLOCK_SCALAR.match(text, at)
            if m is None:
                raise _Refused
            value, end = self.scalar(m, path), m.end()
        if not _REST.match(text, end):
            raise _Refused
        return value

    def flow(self, line: _Line, path: FieldPath) -> tuple[list[Any] | dict[str, Any], int]:
        """The flow list or mapping of scalars at ``line.at``, closed on the line (``[a, "b"]``,
        ``{tp: 2.0, sl: 1}``): its value and the index after it."""
        text = line.text
        close = "]" if text[line.at] == "[" else "}"
        items: list[Any] = []
        fields: dict[str, Any] = {}
        pos = _skip(text, line.at + 1)
        if text.startswith(close, pos):
            return (items if close == "]" else fields), pos + 1
        while True:  # an item, then a comma and the next or the end
            if close == "]":
                item = (*path, len(items))
            else:
                k = _FLOW_KEY.match(text, pos)
                if k is None or k[1] in fields or k[1].lower() in _NOT_WORDS:
                    raise _Refused
                item = (*path, k[1])
                self.doc.key_marks[item] = (line.number, pos + 1)
                pos = _skip(text, k.end())
            m = _FLOW_SCALAR.match(text, pos)
            if m is None:
                raise _Refused
            self.doc.marks[item] = (line.number, pos + 1)
            value = self.scalar(m, item)
            if close == "]":
                items.append(value)
            else:
                fields[str(item[-1])] = value
            pos = _skip(text, m.end())
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
            elif text.startswith(close, pos):
                return (items if close == "]" else fields), pos + 1
            else:
                raise _Refused

    def scalar(self, m: re.Match[str], path: FieldPath) -> Any:
        """One scalar's value, as the loader's builder makes it."""
        self.values += 1
        if self.values > _MAX_VALUES:
            raise _Refused
        quoted = m["dq"] if m["dq"] is not None else m["sq"]
        if quoted is not None:
            return quoted
        date = m["date"]
        if date is not None:  # the loader makes a date and writes it back as this text
            if not is_date(date):
                raise _Refused  # not a real date: the loader says so
            return date
        number = m["num"]
        if number is not None:
            if len(path) == 1 and path[0] in self.raw:
                return number  # version: 1.10 is "1.10"
            return float(number) if m["frac"] else int(number)
        word = m["plain"]
        if word in _BOOLS:
            return _BOOLS[word]
        if word.lower() in _NOT_WORDS:
            raise _Refused
        return word


def _skip(text: str, pos: int) -> int:
    """The index of the first character at or after ``pos`` that is not a space."""
    while text.startswith(" ", pos):
        pos += 1
    return pos

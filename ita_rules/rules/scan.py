"""Cheap, exact-or-refuse reading of a rule file's top-level scalars (for the history replay).

A rule blob in the usual block layout has its top-level scalar fields read with one regular
expression, exactly as the YAML loader would read them; anything unusual (flow style, tags,
anchors, block or continued values, directives) returns None and the caller uses the safe
loader instead. ``tests/test_history.py`` keeps the two in agreement (hypothesis).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ita_rules.core.isodate import is_date
from ita_rules.rules.model import LIFECYCLE_FIELDS

if TYPE_CHECKING:
    from ita_rules.core import yamlio

FIELDS = ("setup_id", "version", "author", "created", "active", "deprecation_reason", "params_hash")

# the booleans the loader takes; the YAML 1.1 ones it refuses as ambiguous (yamlscalars)
_BOOL = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_BOOL_WORDS_11 = frozenset({"yes", "no", "on", "off", "y", "n"})  # in any case
_NULL = ("", "~", "null", "Null", "NULL")
_FAIL = object()
# the first characters that make a plain value something else (an indicator, a number...)
# ("=": PyYAML's value tag; "<": "<<" is its merge key, which the loader refuses as a value)
_PLAIN_BAD_FIRST = frozenset("[]{}&*!|>@`%\"',#?:-+.=<0123456789")
# characters YAML does not allow in a stream (PyYAML's reader refuses them). This pattern and
# the other two that only unusual text needs (_COMMENT, _HIDDEN_BREAK) are given to ``re``'s
# functions as text, compiled on first use (re keeps them): compiling one costs ~1.3 million
# instructions, ~0.2 ms of every ``index`` run that never needs it
_NOT_PRINTABLE = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"


# the ASCII characters YAML allows: tab, line feed, carriage return and the printable ones
_ASCII_ALLOWED = bytes([9, 10, 13, *range(0x20, 0x7F)])


def _not_printable(text: str) -> bool:
    """Whether ``text`` holds a character of :data:`_NOT_PRINTABLE`, told without the regular
    expression (~25 instructions a character) where a C loop can: ASCII text has one unless
    deleting the allowed bytes from it leaves some (~3 a character); any other character of
    the pattern is one ``str.isprintable`` refuses too (a control, a surrogate, a
    non-character), so text that is printable once its line breaks are spaces has none; the
    pattern decides the rest (text with a tab, a CR, a NEL...)."""
    if text.isascii():  # (a flag CPython keeps: no scan)
        return bool(text.encode("ascii").translate(None, _ASCII_ALLOWED))
    return not text.replace("\n", " ").isprintable() and re.search(_NOT_PRINTABLE, text) is not None


# a comment: from a # at a line start or after a space or a tab (NBSP is no white space)
_COMMENT = r"#(?<![^ \t\n]#).*"


def _closed(rest: str) -> bool:
    """Whether the text after a quoted scalar's closing quote ends the value: nothing, or a
    comment after a space or a tab."""
    return rest == "" or (rest[0] in " \t" and rest.lstrip(" \t").startswith("#"))


@lru_cache(maxsize=4096)
def _scalar(raw: str) -> Any:
    if raw.startswith('"'):
        end = raw.find('"', 1)
        if end < 0 or "\\" in raw[:end]:
            return _FAIL
        return raw[1:end] if _closed(raw[end + 1 :]) else _FAIL
    if raw.startswith("'"):
        body = raw[1:]
        j, out = 0, []
        while True:
            k = body.find("'", j)
            if k < 0:
                return _FAIL
            if body[k + 1 : k + 2] == "'":
                out.append(body[j : k + 1])
                j = k + 2
                continue
            out.append(body[j:k])
            return "".join(out) if _closed(body[k + 1 :]) else _FAIL
    if "#" in raw:  # (the pattern is tried only where it can match)
        raw = re.sub(_COMMENT, "", raw, count=1)
    value = raw.rstrip(" \t")  # YAML's white space: not NBSP
    if value in _NULL:
        return None
    if value in _BOOL:
        return _BOOL[value]
    if is_date(value):  # a plain date: the loader reads it as its ISO text
        return value  # (February 30 or year 0, which it refuses, start with a digit: below)
    if value[0] in _PLAIN_BAD_FIRST or ": " in value or ":\t" in value or value[-1] == ":":
        return _FAIL  # tested without a regular expression, which tries every position
    if value.lower() in _BOOL_WORDS_11:
        return _FAIL  # the loader refuses it as ambiguous
    return value


# A field's line, matched from the line break before it (scan puts one before the text): a
# literal first character lets the search skip to each line instead of trying every position.
# Group 3 ("" or None): the next line surely starts another entry (or the text ends), so the
# value cannot go on there and scan need not look.
_FIELD_LINE = re.compile(
    r"\n(" + "|".join(FIELDS) + r")[ \t]*:(?:[ \t]([^\n]*)|\r?$)((?=\n[^ \t\n\r#-]|\n?\Z))?",
    re.MULTILINE,
)
# A lifecycle entry with its continuation lines, matched from the line break before it (like
# _FIELD_LINE): strip_lifecycle puts one before the text and takes it off the result.
_LIFECYCLE_BLOCK = re.compile(
    r"\n(?:" + "|".join(LIFECYCLE_FIELDS) + r")[ \t]*:.*(?:\n(?:[ \t]|-(?!--)|#|\r?$).*)*",
    re.MULTILINE,
)


def scan(text: str) -> dict[str, Any] | None:
    """The top-level scalar :data:`FIELDS` of a rule file read with one regular expression,
    exactly as the YAML loader reads them, or None when the file is not in the simple block
    layout that allows it (flow style, directives, tags, anchors, block or continued values)."""
    first = text[:1]
    if first.isspace():  # (lstrip copies the text: only when it has something to strip)
        first = text.lstrip()[:1]
    if first in ("{", "[", "%", "!", "&") or "\n---" in text or "\n..." in text:
        return None
    if _not_printable(text) or _hidden_break(text) or "\ufeff" in text:
        return None  # the loader refuses it, or breaks lines (drops a BOM) where re does not
    out: dict[str, Any] = {}
    text = "\n" + text  # see _FIELD_LINE
    for m in _FIELD_LINE.finditer(text):
        key, raw, settled = m.groups()
        if key in out:
            return None
        value = _scalar((raw or "").strip(" \t\r"))
        if value is _FAIL:
            return None
        if settled is not None:
            out[key] = value
            continue
        pos = m.end() + 1
        first = text[pos : pos + 1]
        if first in (" ", "\t", "-"):
            return None  # a block value or a continued plain scalar
        while first in ("\n", "\r", "#") and pos < len(text):  # blank or comment lines follow
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            line = text[pos:end]
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                if line[:1] in (" ", "\t", "-"):
                    return None  # a block value or a continued plain scalar
                break
            pos = end + 1
        out[key] = value
    if "active" in out and not isinstance(out["active"], bool):
        return None
    return out


# line breaks YAML knows but ``re``'s ``^`` and ``.`` do not: a lone CR, NEL, LS and PS; a value
# after one of them is on a new line for YAML (a top-level key there would go unseen here)
_HIDDEN_BREAK = "\r(?!\n)|[\x85\u2028\u2029]"


def _hidden_break(text: str) -> bool:
    """True when ``text`` holds one of :data:`_HIDDEN_BREAK`'s line breaks. Each is either a CR
    or a character outside ASCII, so ASCII text without a CR has none: told without the regular
    expression (``str.isascii`` is a flag CPython keeps; the search costs ~4 us a blob)."""
    if text.isascii() and "\r" not in text:
        return False
    return re.search(_HIDDEN_BREAK, text) is not None


_BRACKETS = "[]{}"
_OPENERS = _BRACKETS + "\"'"


def _holds_any(text: str, chars: str) -> bool:
    """True when ``text`` holds one of ``chars``: a substring test each (a regular expression's
    character class tests every character of the text in turn, ~6x slower on a rule file),
    in a plain loop: ``any`` over a generator doubled the cost with its frames."""
    for ch in chars:  # noqa: SIM110 - see above
        if ch in text:
            return True
    return False


def _closing_quote(line: str, start: int) -> int:
    """The index of the quote closing the scalar opened at ``line[start]``, or -1."""
    quote = line[start]
    i = start + 1
    while i < len(line):
        ch = line[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and line[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return -1


# a one-line quoted scalar: it opens at a line's start or after a space or one of ``:,[{?-``
# (elsewhere a quote is part of a plain scalar)
_SINGLE_QUOTED = re.compile(r"'(?<![^\s:,\[{?-]')[^'\n]*(?:''[^'\n]*)*'")
_DOUBLE_QUOTED = re.compile(r'"(?<![^\s:,\[{?-]")[^"\\\n]*(?:\\.[^"\\\n]*)*"')


def _unquoted(text: str) -> str:
    """The text without its one-line quoted scalars: what ``sub("", text)`` of the pattern
    ``SINGLE|DOUBLE`` gives. Each branch starts with its quote, so only the places of a quote
    can start a match: found by ``str.find`` and tried there, left to right, a match removed
    and the search going on after it, as ``sub`` does. The joined pattern's search tries every
    character against both quotes (~30 instructions a character: most of what the replay's
    lifecycle check cost)."""
    out: list[str] = []
    kept = look = 0  # kept: the text up to here is in out; look: where the next quote may be
    single, double = text.find("'"), text.find('"')  # the next of each kind at or after look
    while single >= 0 or double >= 0:
        at = single if double < 0 or 0 <= single < double else double
        m = (_SINGLE_QUOTED if at == single else _DOUBLE_QUOTED).match(text, at)
        if m is None:
            look = at + 1
        else:
            out.append(text[kept:at])
            kept = look = m.end()
        # looked for again only once passed (one kind is often absent: never looked for again)
        if 0 <= single < look:
            single = text.find("'", look)
        if 0 <= double < look:
            double = text.find('"', look)
    if not out:
        return text
    out.append(text[kept:])
    return "".join(out)


def lines_close(text: str) -> bool:
    """True when every line closes the flow collections and quoted scalars it opens. Only then
    is a line at column 0 sure to start a top-level key: a flow collection or a quoted scalar
    may go on at column 0 (``params: {a: 1,`` then ``tags: [x]}`` is one ``params``).
    Not cached: the replay keeps each blob's stripped text (``history._Blobs``), so it never
    asks twice about one text, and hashing the text for a cache cost more than it saved."""
    if not _holds_any(text, _OPENERS):
        return True
    bare = _unquoted(text)
    if "#" in bare:
        bare = re.sub(_COMMENT, "", bare)  # never removes a line break
    if "'" in bare or '"' in bare:  # a quote inside a plain scalar, or one left open
        return all(_line_closes(line) for line in text.split("\n"))
    if not _holds_any(bare, _BRACKETS):  # the usual block layout: quoted scalars, no flow
        return True
    for line in bare.split("\n"):
        opened = line.count("[") + line.count("{")
        if opened != line.count("]") + line.count("}"):
            return False
    return True


def _line_closes(line: str) -> bool:
    """:func:`lines_close` for one line, character by character."""
    depth, i, prev = 0, 0, ""
    while i < len(line):
        ch = line[i]
        if ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        if ch in "\"'" and prev in ("", ":", ",", "[", "{", "-", "?"):
            i = _closing_quote(line, i)
            if i < 0:
                return False
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                return False
        if ch not in " \t":
            prev = line[i] if line[i] in ":,[{-?" else "x"
        i += 1
    return depth == 0


def strip_lifecycle(text: str) -> str | None:
    """The text without its top-level lifecycle entries (and their continuation lines); None
    when that cannot be done line by line: a flow collection or a quoted scalar goes on to
    another line (a line at column 0 might then not be a top-level key), or a removed part
    holds an anchor that other values might use. Two files whose stripped texts are equal
    differ in their lifecycle fields only; None sends the caller to the YAML loader."""
    if _hidden_break(text) or not lines_close(text):
        return None
    removed: list[str] = []
    text = "\n" + text

    def cut(m: re.Match[str]) -> str:
        """An entry goes with the line break before it, the one after it stays; so one that
        runs to the end of the text leaves the line break before it, unless it is all."""
        removed.append(m.group(0))
        return "\n" if m.end() == len(text) and m.start() > 0 else ""

    kept = _LIFECYCLE_BLOCK.sub(cut, text)[1:]
    return None if any("&" in r for r in removed) else kept


def load_fields(raw: bytes, path: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(fields, full data): fields from :func:`scan` when possible (data then None), else both
    from the safe loader (None, None when the file does not load)."""
    text = raw.decode("utf-8", "replace")
    fields = scan(text)
    if fields is not None:
        return fields, None
    from ita_rules.core import yamlio

    doc, _ = yamlio.loads(text, path, raw_scalars=("version",))
    if doc is None or not isinstance(doc.data, dict):
        return None, None
    return {k: doc.data.get(k) for k in FIELDS if k in doc.data}, doc.data


def full_document(raw: bytes, path: str) -> yamlio.Document | None:
    """The file as ``check`` reads a blob (the same decoding and loader), or None."""
    from ita_rules.core import yamlio

    text, _ = yamlio.decode(raw, path)
    if text is None:
        return None
    doc, _ = yamlio.loads(text, path, raw_scalars=("version",))
    return doc


def full_data(raw: bytes, path: str) -> dict[str, Any] | None:
    """The file's data as ``check`` reads a blob (the same decoding and loader), or None."""
    doc = full_document(raw, path)
    return doc.data if doc is not None and isinstance(doc.data, dict) else None

"""Plain scalars and keys that read differently, or look alike while they differ.

* YAML 1.1 (this loader, PyYAML) and YAML 1.2 (editors, ruamel.yaml, most other parsers) read
  some plain (unquoted) scalars differently: the YAML 1.1 booleans ``yes no on off y n`` in any
  case (only ``true``/``false`` are booleans in both), numbers with a leading zero (``010`` is
  octal 8 in YAML 1.1, 10 in YAML 1.2), ``0o17``, ``0b101``, digit groups (``1_000``), exponents
  without a dot or a signed exponent (``1e3``, ``1.0e3`` are strings in YAML 1.1) and a sign
  before a bare fraction (``+.5``). :func:`ambiguous` says how each reads it and what to write.
* Keys that hold invisible, bidirectional-control or non-plain space characters, and keys not in
  Unicode NFC (NFC and NFD spellings look alike but are different keys and hash apart):
  :func:`key_characters`.

On the pre-commit hook path: PyYAML and the standard library only.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import yaml

_T = "tag:yaml.org,2002:"

# YAML 1.2 (core schema) numbers, to find plain scalars the two YAML versions read differently.
_INT_12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_NUMBER_START = frozenset("0123456789+-.")
_BOOL_WORDS_11 = frozenset({"yes", "no", "on", "off", "y", "n"})  # YAML 1.1 only, any case
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FILLERS = frozenset("\u034f\u115f\u1160\u3164\uffa0")  # invisible, though not format chars
# The type YAML 1.1 gives a plain scalar's text.
_resolve: Callable[[type, str, tuple[bool, bool]], str] = yaml.resolver.Resolver().resolve


def needs_quotes(text: str) -> bool:
    """True when the string ``text`` written unquoted would not load back as that string: it
    reads as another type, or it is a plain scalar this loader refuses as ambiguous."""
    if _resolve(yaml.ScalarNode, text, (True, False)) != _T + "str":
        return True
    return ambiguous(text, text) is not None


def _number_12(text: str) -> int | float | None:
    """What YAML 1.2 reads a plain scalar as when it is a number (else None: a string)."""
    if _INT_12.fullmatch(text):
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)
    if _FLOAT_12.fullmatch(text):
        return float(text)
    return None


def _show_number(value: int | float) -> str:
    """A number as written so that YAML 1.1 and 1.2 both read it back as that number."""
    if isinstance(value, int):
        return str(value)
    mantissa, _, exponent = repr(value).partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}" if exponent else mantissa


def ambiguous(text: str, value: Any) -> tuple[str, str] | None:
    """For a plain scalar read by YAML 1.1 as ``value``: (how the two YAML versions read it,
    what to write instead), or None when YAML 1.1 and YAML 1.2 agree."""
    if isinstance(value, str) and len(text) > 3 and text[0] not in _NUMBER_START:
        return None  # the common case: a word, neither a YAML 1.1 boolean nor a number
    if isinstance(value, float) and not math.isfinite(value):
        return None  # refused as not finite, whatever the YAML version
    quoted = f'"{text}"'
    if isinstance(value, bool) or (isinstance(value, str) and text.lower() in _BOOL_WORDS_11):
        if text.lower() in ("true", "false"):
            return None
        as_bool = "true" if text.lower() in ("yes", "on", "y") else "false"
        return f"YAML 1.1 reads it as {as_bool}", f"{quoted} or {as_bool}"
    v12 = _number_12(text)
    if isinstance(value, str):
        if v12 is None:
            return None
        shown = _show_number(v12)
        return (
            f"YAML 1.1 reads it as the string {quoted}, YAML 1.2 as the number {shown}",
            f"{quoted} or {shown}",
        )
    shown = _show_number(value)
    if v12 is None:
        return (
            f"YAML 1.1 reads it as the number {shown}, YAML 1.2 as the string {quoted}",
            f"{quoted} or {shown}",
        )
    if _LEADING_ZERO.fullmatch(text) or type(v12) is not type(value) or v12 != value:
        shown_12 = _show_number(v12)
        what = "the octal number " if _LEADING_ZERO.fullmatch(text) else ""
        choices = (
            f"{quoted}, {shown} or {shown_12}" if shown != shown_12 else f"{quoted} or {shown}"
        )
        return f"YAML 1.1 reads it as {what}{shown}, YAML 1.2 as {shown_12}", choices
    return None


def _char_kind(ch: str) -> str | None:
    """Why a character has no place in a key (None: it is fine)."""
    if ch in _BIDI:
        return "a bidirectional control character"
    category = unicodedata.category(ch)
    if category in ("Zs", "Zl", "Zp") and ch != " ":
        return "a space that is not a plain space"
    if category == "Cc":
        return "a control character"
    if category == "Cf" or ch in _FILLERS:
        return "an invisible character"
    return None


def escape(text: str) -> str:
    """``text`` with refused and combining characters written as ``\\uXXXX`` escapes."""
    return "".join(
        (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        if _char_kind(ch) is not None or unicodedata.combining(ch)
        else ch
        for ch in text
    )


def key_characters(key: str) -> str | None:
    """A message when a key holds characters that make look-alike keys, else None."""
    if key.isascii() and key.isprintable():
        return None  # the common case, and always in NFC
    for ch in key:
        kind = _char_kind(ch)
        if kind is not None:
            name = unicodedata.name(ch, "")
            what = f"U+{ord(ch):04X} {name}".rstrip()
            fix = "use a plain space or _" if kind.startswith("a space") else "delete it"
            return f"key '{escape(key)}' holds {kind} ({what}); {fix}"
    if not unicodedata.is_normalized("NFC", key):
        nfc = unicodedata.normalize("NFC", key)
        written = "".join(ch if ch.isascii() else f"\\u{ord(ch):04x}" for ch in nfc)
        return (
            f"key '{escape(key)}' is not in Unicode normal form NFC: it looks like '{nfc}' "
            f'but is a different key and hashes differently; write it as "{written}"'
        )
    return None

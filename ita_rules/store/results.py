"""Backtest results: a JSON object whose contract fields (``setup_id``, ``rule_version``,
``run_id``, ``params_hash``, ``symbol``, ``timeframe``, ``data_range``) are valid against
``backtest_result.schema.json`` and whose ``setup_id`` and ``rule_version`` exist in the
registry. Every other field is the flow's own (backtesting.py's ``"# Trades": 3``, ...).

Refused before a byte is stored, with ``path:line:col: field: message``: a result over
:data:`MAX_BYTES` (before it is parsed), text that is not UTF-8 or not JSON, duplicate keys
(JSON parsers silently keep the last one), and numbers JSON cannot hold (``NaN``,
``Infinity``, ``1e999``).
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError, Location
from ita_rules.core.findings import Finding
from ita_rules.store.errors import ResultRejected

if TYPE_CHECKING:
    from ita_rules.core.yamlio import Document
    from ita_rules.rules.registry import Registry

SCHEMA = "backtest_result.schema.json"
MAX_BYTES = 64 * 1024 * 1024  # a result is a summary; candles and trades lists go to the store
MAX_DEPTH = 100  # levels of nested objects and lists; a result is a summary, not a tree
MAX_INT_DIGITS = 300  # longer integers are not numbers any engine reports (int() refuses 4,300)

# A JSON string, or a number / constant outside strings (to find where a bad token is).
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?(?:NaN|Infinity|[0-9][0-9.eE+-]*)')


def _reject(findings: list[Finding]) -> ResultRejected:
    first = findings[0]
    message = f"{first.field}: {first.message}" if first.field else first.message
    if len(findings) > 1:
        message += "; " + "; ".join(str(f) for f in findings[1:])
    return ResultRejected(message, Location(first.path, first.line, first.col))


class _Parsed:
    """What the JSON parser met besides the value: the first duplicate key, the first token
    that is not a finite number."""

    def __init__(self) -> None:
        self.duplicate: str | None = None
        self.non_finite: str | None = None

    def pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items) and self.duplicate is None:
            seen: set[str] = set()
            for key, _value in items:
                if key in seen:
                    self.duplicate = key
                    break
                seen.add(key)
        return out

    def constant(self, name: str) -> None:
        if self.non_finite is None:
            self.non_finite = name

    def integer(self, text: str) -> int | float:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            if self.non_finite is None:
                self.non_finite = text
            return 0
        return int(text)

    def number(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value) and self.non_finite is None:
            self.non_finite = text
        return value


def _depth_over(value: Any, limit: int) -> bool:
    """True when ``value`` nests containers more than ``limit`` deep (iterative: no recursion,
    and it stops at the first container past the limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _token_at(text: str, token: str) -> tuple[int, int] | None:
    """1-based (line, col) of the first ``token`` outside strings."""
    for m in _TOKEN.finditer(text):
        if m.group() == token:
            start = m.start()
            line = text.count("\n", 0, start) + 1
            return line, start - (text.rfind("\n", 0, start) + 1) + 1
    return None


def _parse(text: str, shown: str) -> Any:
    seen = _Parsed()
    try:
        value = json.loads(
            text,
            object_pairs_hook=seen.pairs,
            parse_constant=seen.constant,
            parse_float=seen.number,
            parse_int=seen.integer,
        )
    except json.JSONDecodeError as exc:
        raise ResultRejected(
            f"not valid JSON: {exc.msg}", Location(shown, exc.lineno, exc.colno)
        ) from None
    except RecursionError:
        raise ResultRejected(
            f"nested more than {MAX_DEPTH} levels deep; a result is a flat record of what a "
            "run produced (store deep structures as their own files)",
            Location(shown),
        ) from None
    if seen.non_finite is not None:
        token = seen.non_finite
        if len(token.lstrip("-")) > MAX_INT_DIGITS:
            at = _token_at(text, token) or (None, None)
            raise ResultRejected(
                f"not valid here: an integer of {len(token.lstrip('-'))} digits (at most "
                f"{MAX_INT_DIGITS}); write it as a string",
                Location(shown, *at),
            )
        why = "is not a number JSON allows" if token.lstrip("-")[0] in "NI" else "is too large"
        at = _token_at(text, token) or (None, None)
        raise ResultRejected(
            f"not valid JSON: {token} {why}; write null or a finite number", Location(shown, *at)
        )
    if _depth_over(value, MAX_DEPTH):
        raise ResultRejected(
            f"nested more than {MAX_DEPTH} levels deep; a result is a flat record of what a "
            "run produced (store deep structures as their own files)",
            Location(shown),
        )
    if seen.duplicate is not None:
        from ita_rules.core.yamlio import loads

        _doc, problems = loads(text, shown)
        found = [p for p in problems if p.code == "duplicate-key"]
        if found:
            raise ResultRejected(found[0].message, Location(shown, found[0].line, found[0].col))
        raise ResultRejected(f"duplicate key {seen.duplicate!r}", Location(shown))
    return value


def _located(text: str, shown: str, value: Any) -> Document:
    """The document with the line and column of every value (JSON is YAML), loaded only when
    a problem has to be located; without marks when YAML reads the text differently."""
    from ita_rules.core.yamlio import Document, loads

    doc, _problems = loads(text, shown)
    return doc if doc is not None and doc.data == value else Document(shown, value)


def check_result(data: bytes, shown: str, registry: Registry) -> dict[str, Any]:
    """Parse and check a result; return the parsed document or raise :class:`ResultRejected`."""
    from ita_rules.core.validation import validate
    from ita_rules.core.yamlio import Document

    if len(data) > MAX_BYTES:
        raise ResultRejected(
            f"a result may hold at most {MAX_BYTES // (1024 * 1024)} MiB; this one is larger "
            "(store big tables such as trade lists as their own files)",
            Location(shown),
        )
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ResultRejected(f"not valid UTF-8 (byte {exc.start})", Location(shown)) from None
    value = _parse(text, shown)
    if not isinstance(value, dict):
        raise ResultRejected(
            "expected a JSON object with setup_id and rule_version", Location(shown, 1, 1)
        )
    if validate(Document(shown, value), SCHEMA):
        raise _reject(validate(_located(text, shown, value), SCHEMA))
    setup_id, version = value["setup_id"], value["rule_version"]
    try:
        rule = registry.get(setup_id, version)
    except ItaRulesError as exc:
        field, message = ("rule_version",), f"{setup_id}@{version} is not in the registry"
        message += f" ({exc.message})"
        if not registry.versions(setup_id):  # not the version: the setup is unknown
            field = ("setup_id",)
            message = f"no setup {setup_id} in the registry (`ita-rules list` shows them)"
        raise _reject([_located(text, shown, value).finding(field, message)]) from None
    given = value.get("params_hash")
    if given is not None and given != rule.params_hash:
        raise _reject(
            [
                _located(text, shown, value).finding(
                    ("params_hash",),
                    f"{given} differs from {setup_id}@{rule.rule_version}'s {rule.params_hash}",
                )
            ]
        )
    return value

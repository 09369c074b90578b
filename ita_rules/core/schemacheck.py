"""The packaged JSON Schemas, and validation that reports ``path:line:col``.

Validation has two speeds. :func:`quick_valid` interprets the small subset of JSON Schema our
own schemas use and answers only "valid or not"; it never claims a document is valid when
jsonschema would reject it (it answers False on any keyword it does not know, and a
differential test keeps the two in step). Only when it says False do we import jsonschema
(~0.15 s) to produce the exact errors. A valid file on the pre-commit hook path therefore
never pays for importing jsonschema.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from ita_rules.core.findings import FieldPath, Finding, dotted
from ita_rules.core.yamlio import Document

# Keywords that only annotate: they never make a document invalid.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "x-expected"}
)
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


@cache
def _ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` compiled with its own (ECMA-262) meaning of ``$``: the end of
    the text. Python's ``$`` also matches before a final newline, which would let ``"T\\n"``
    pass ``^[A-Z]$``; every ``$`` outside a character class becomes ``\\Z``."""
    out: list[str] = []
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            out.append("\\Z")
            continue
        out.append(ch)
    return re.compile("".join(out))


def pattern_matches(pattern: str, value: str) -> bool:
    """True when ``value`` matches the JSON Schema ``pattern`` (a search, ``$`` = end of text)."""
    return _ecma_pattern(pattern).search(value) is not None


@cache
def validator_class() -> Any:
    """jsonschema's Draft 2020-12 validator with the same ``pattern`` semantics as ours."""
    import jsonschema

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if isinstance(instance, str) and not pattern_matches(patrn, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    extend: Callable[..., Any] = jsonschema.validators.extend
    return extend(jsonschema.Draft202012Validator, validators={"pattern": pattern})


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A packaged schema by file name, e.g. ``rule.schema.json``."""
    text = resources.files("ita_rules.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is_type(value: Any, type_: str) -> bool:
    if type_ == "object":
        return isinstance(value, dict)
    if type_ == "array":
        return isinstance(value, list)
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "null":
        return value is None
    if type_ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if type_ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return False


def _valid_date(value: str) -> bool:
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII))  # as jsonschema checks it


def _unique_key(value: Any) -> str:
    """Equal keys for JSON-equal values: 1 and 1.0 are the same number, true is not 1."""

    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, list):
            return [norm(i) for i in v]
        if isinstance(v, dict):
            return {k: norm(i) for k, i in v.items()}
        return v

    return json.dumps(norm(value), sort_keys=True)


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def quick_valid(schema: dict[str, Any] | bool, value: Any) -> bool:
    """True only if ``value`` is valid; False when invalid *or* when unsure."""
    if schema is True:
        return True
    if schema is False or not isinstance(schema, dict):
        return False
    for key, arg in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key == "type":
            types = arg if isinstance(arg, list) else [arg]
            if not any(_is_type(value, t) for t in types):
                return False
        elif key == "properties":
            if isinstance(value, dict):
                for name, sub in arg.items():
                    if name in value and not quick_valid(sub, value[name]):
                        return False
        elif key == "additionalProperties":
            if isinstance(value, dict):
                known = schema.get("properties", {})
                for name, item in value.items():
                    if name not in known and not quick_valid(arg, item):
                        return False
        elif key == "required":
            if isinstance(value, dict) and any(name not in value for name in arg):
                return False
        elif key == "items":
            if isinstance(value, list) and not all(quick_valid(arg, item) for item in value):
                return False
        elif key == "pattern":
            if isinstance(value, str) and not pattern_matches(arg, value):
                return False
        elif key == "format":
            if arg != "date":
                return False
            if isinstance(value, str) and not _valid_date(value):
                return False
        elif key == "minLength":
            if isinstance(value, str) and len(value) < arg:
                return False
        elif key == "maxLength":
            if isinstance(value, str) and len(value) > arg:
                return False
        elif key == "minItems":
            if isinstance(value, list) and len(value) < arg:
                return False
        elif key == "uniqueItems":
            if arg and isinstance(value, list):
                seen = [_unique_key(v) for v in value]
                if len(set(seen)) != len(seen):
                    return False
        elif key == "exclusiveMinimum":
            if _is_type(value, "number") and not value > arg:
                return False
        elif key == "minimum":
            if _is_type(value, "number") and not value >= arg:
                return False
        elif key == "const":
            if not _json_equal(value, arg):
                return False
        elif key == "enum":
            if not any(_json_equal(value, option) for option in arg):
                return False
        elif key == "if":
            branch = schema.get("then") if quick_valid(arg, value) else schema.get("else")
            if branch is not None and not quick_valid(branch, value):
                return False
        elif key in ("then", "else"):
            continue  # evaluated with "if"
        else:
            return False  # a keyword we do not interpret: let jsonschema decide
    return True


def describe(value: Any) -> str:
    """A short description of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"{type(value).__name__} {value!r}"


def _expects(schema: Any) -> str:
    """What a (property) schema expects, in words: its x-expected, else its type."""
    if not isinstance(schema, dict):
        return "a value"
    if "x-expected" in schema:
        return str(schema["x-expected"])
    types = schema.get("type", [])
    types = types if isinstance(types, list) else [types]
    words = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types) or "a value"
    items = schema.get("items")
    if types == ["array"] and isinstance(items, dict) and items.get("type") == "string":
        words = "a list of strings"
    return words


def validate(doc: Document, schema_name: str) -> list[Finding]:
    """Validate ``doc.data`` against a packaged schema; every error mapped to its line."""
    schema = load_schema(schema_name)
    if quick_valid(schema, doc.data):
        return []
    import jsonschema  # deferred: costs ~0.15 s, paid only when the document is invalid

    validator = validator_class()(schema, format_checker=jsonschema.FormatChecker())
    findings: list[Finding] = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.path))):
        findings.extend(_explain(doc, error, schema))
    # One line per problem: e.g. "pattern" and "format" of a bad date say the same thing.
    unique = {(f.line, f.col, f.field, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.line or 0, f.col or 0, f.field))


def _condition(schema: dict[str, Any]) -> tuple[str, list[str]]:
    """``if``: its condition in words ("active is false") and the fields it tests."""
    cond = schema.get("if", {})
    props = cond.get("properties", {}) if isinstance(cond, dict) else {}
    words = [f"{k} is {json.dumps(v['const'])}" for k, v in props.items() if "const" in v]
    return " and ".join(words) or "the condition holds", list(props)


def _explain(doc: Document, error: Any, root: dict[str, Any]) -> list[Finding]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    sub = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    hint = sub.get("x-expected")
    if "then" in error.absolute_schema_path:  # e.g. deprecation_reason when active is false
        return _explain_then(doc, error, root)
    if keyword == "required":
        missing = [name for name in error.validator_value if name not in (value or {})]
        props = sub.get("properties", {})
        return [
            doc.finding(
                (*path, name),
                f"required field is missing; expected {_expects(props.get(name))}",
                code="required",
            )
            for name in missing
        ]
    if keyword == "additionalProperties":
        import difflib

        known = list(sub.get("properties", {}))
        out = []
        for name in value:
            if name in known:
                continue
            close = difflib.get_close_matches(str(name), known, n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            msg = f"unknown field{guess} (allowed: {', '.join(known)})"
            out.append(doc.finding((*path, name), msg, key=True, code="unknown-field"))
        return out
    if keyword == "type":
        want = _expects(sub)
        return [doc.finding(path, f"expected {want}, got {describe(value)}", code="type")]
    if keyword in ("pattern", "format") or (keyword == "maxLength" and hint):
        want = hint or f"text matching {error.validator_value}"
        return [doc.finding(path, f"expected {want}, got {describe(value)}", code=keyword)]
    if keyword == "maxLength":
        return [
            doc.finding(path, f"must be at most {error.validator_value} characters", code="range")
        ]
    if keyword == "exclusiveMinimum":
        return [
            doc.finding(
                path, f"expected a number > {error.validator_value}, got {value!r}", code="range"
            )
        ]
    if keyword == "minimum":
        return [
            doc.finding(
                path, f"expected a number >= {error.validator_value}, got {value!r}", code="range"
            )
        ]
    if keyword == "minLength":
        return [doc.finding(path, "must not be empty", code="empty")]
    if keyword == "minItems":
        return [
            doc.finding(
                path,
                f"expected at least {error.validator_value} item(s), "
                f"got {len(value) or 'an empty list'}",
                code="empty",
            )
        ]
    if keyword == "uniqueItems":
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            key = _unique_key(item)
            if key in seen:
                first = dotted((*path, seen[key]))
                msg = f"{describe(item)} is listed twice (first as {first}); items must be unique"
                return [doc.finding((*path, i), msg, code="duplicate")]
            seen[key] = i
        return [doc.finding(path, "items must be unique", code="duplicate")]
    if keyword == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        return [doc.finding(path, f"expected one of {options}, got {describe(value)}", code="enum")]
    if keyword == "minProperties":
        n = error.validator_value
        return [
            doc.finding(
                path,
                f"expected at least {n} entr{'y' if n == 1 else 'ies'}, got none",
                code="empty",
            )
        ]
    return [doc.finding(path, f"{error.message}", code=str(keyword))]


def _explain_then(doc: Document, error: Any, root: dict[str, Any]) -> list[Finding]:
    """An error of a conditional requirement: say which condition made the field required."""
    schema_path = list(error.absolute_schema_path)
    at_then = len(schema_path) - 1 - schema_path[::-1].index("then")
    owner: Any = root  # the (sub)schema holding this if/then
    for part in schema_path[:at_then]:
        owner = owner[part]
    when, tested = _condition(owner)
    then = owner.get("then", {})
    why = f"; {then['x-expected']}" if isinstance(then, dict) and "x-expected" in then else ""
    path: FieldPath = tuple(error.absolute_path)
    if error.validator == "required":
        value = error.instance if isinstance(error.instance, dict) else {}
        out = []
        for name in error.validator_value:
            if name in value:
                continue
            at = next(((*path, t) for t in tested if t in value), (*path, name))
            line, col = doc.position(at, key=True)
            msg = f"required when {when}{why}"
            out.append(Finding(doc.path, msg, line, col, dotted((*path, name)), "required"))
        return out
    if error.validator == "minLength":
        return [doc.finding(path, f"must not be empty when {when}{why}", code="empty")]
    if error.validator == "type":
        types = (
            error.validator_value
            if isinstance(error.validator_value, list)
            else [error.validator_value]
        )
        want = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        msg = f"expected {want} when {when}, got {describe(error.instance)}{why}"
        return [doc.finding(path, msg, code="type")]
    return [doc.finding(path, f"{error.message} (when {when})", code=str(error.validator))]


__all__ = [
    "describe",
    "dotted",
    "load_schema",
    "pattern_matches",
    "quick_valid",
    "validate",
    "validator_class",
]

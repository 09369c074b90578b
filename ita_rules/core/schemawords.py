"""jsonschema's errors in our words: one finding per problem, at the value's line and column.

Used by :func:`ita_rules.core.validation.validate` only when the fast path said "invalid".
"""

from __future__ import annotations

import json
from typing import Any

from ita_rules.core.findings import FieldPath, Finding, dotted
from ita_rules.core.yamlio import Document

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


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


def _condition(schema: dict[str, Any]) -> tuple[str, list[str]]:
    """``if``: its condition in words ("active is false") and the fields it tests."""
    cond = schema.get("if", {})
    props = cond.get("properties", {}) if isinstance(cond, dict) else {}
    words = [f"{k} is {json.dumps(v['const'])}" for k, v in props.items() if "const" in v]
    return " and ".join(words) or "the condition holds", list(props)


def explain(doc: Document, error: Any, root: dict[str, Any]) -> list[Finding]:
    """The findings of one jsonschema error, in our words."""
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    if "then" in error.absolute_schema_path:  # e.g. deprecation_reason when active is false
        return _explain_then(doc, error, root)
    if keyword == "required":
        return _explain_required(doc, error, path)
    if keyword == "additionalProperties":
        return _explain_unknown(doc, error, path)
    if keyword == "uniqueItems":
        return [_explain_duplicate(doc, error.instance, path)]
    message, code = _message(error)
    return [doc.finding(path, message, code=code)]


def _message(error: Any) -> tuple[str, str]:
    """The message and code of an error about one value."""
    keyword, limit, value = error.validator, error.validator_value, error.instance
    sub = error.schema if isinstance(error.schema, dict) else {}
    hint = sub.get("x-expected")
    if keyword == "type":
        return f"expected {_expects(sub)}, got {describe(value)}", "type"
    if keyword in ("pattern", "format") or (keyword == "maxLength" and hint):
        return f"expected {hint or f'text matching {limit}'}, got {describe(value)}", keyword
    if keyword == "maxLength":
        return f"must be at most {limit} characters", "range"
    if keyword == "exclusiveMinimum":
        return f"expected a number > {limit}, got {value!r}", "range"
    if keyword == "minimum":
        return f"expected a number >= {limit}, got {value!r}", "range"
    if keyword == "minLength":
        return "must not be empty", "empty"
    if keyword == "minItems":
        return f"expected at least {limit} item(s), got {len(value) or 'an empty list'}", "empty"
    if keyword == "enum":
        options = ", ".join(str(o) for o in limit)
        return f"expected one of {options}, got {describe(value)}", "enum"
    if keyword == "minProperties":
        return f"expected at least {limit} entr{'y' if limit == 1 else 'ies'}, got none", "empty"
    return f"{error.message}", str(keyword)


def _explain_required(doc: Document, error: Any, path: FieldPath) -> list[Finding]:
    value = error.instance
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    missing = [name for name in error.validator_value if name not in (value or {})]
    return [
        doc.finding(
            (*path, name),
            f"required field is missing; expected {_expects(props.get(name))}",
            code="required",
        )
        for name in missing
    ]


def _explain_unknown(doc: Document, error: Any, path: FieldPath) -> list[Finding]:
    import difflib

    sub = error.schema if isinstance(error.schema, dict) else {}
    known = list(sub.get("properties", {}))
    out = []
    for name in error.instance:
        if name in known:
            continue
        close = difflib.get_close_matches(str(name), known, n=1)
        guess = f"; did you mean '{close[0]}'?" if close else ""
        msg = f"unknown field{guess} (allowed: {', '.join(known)})"
        out.append(doc.finding((*path, name), msg, key=True, code="unknown-field"))
    return out


def _explain_duplicate(doc: Document, value: list[Any], path: FieldPath) -> Finding:
    seen: dict[str, int] = {}
    for i, item in enumerate(value):
        key = _unique_key(item)
        if key in seen:
            first = dotted((*path, seen[key]))
            msg = f"{describe(item)} is listed twice (first as {first}); items must be unique"
            return doc.finding((*path, i), msg, code="duplicate")
        seen[key] = i
    return doc.finding(path, "items must be unique", code="duplicate")


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

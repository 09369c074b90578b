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
from functools import cache
from importlib import resources
from typing import Any

from ita_rules.findings import FieldPath, Finding, dotted
from ita_rules.yamlio import Document

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
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value))


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
            if isinstance(value, str) and not re.search(arg, value):
                return False
        elif key == "format":
            if arg != "date":
                return False
            if isinstance(value, str) and not _valid_date(value):
                return False
        elif key == "minLength":
            if isinstance(value, str) and len(value) < arg:
                return False
        elif key == "minItems":
            if isinstance(value, list) and len(value) < arg:
                return False
        elif key == "uniqueItems":
            if arg and isinstance(value, list):
                seen = [json.dumps(v, sort_keys=True) for v in value]
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
    return f"{type(value).__name__} {value!r}"


def validate(doc: Document, schema_name: str) -> list[Finding]:
    """Validate ``doc.data`` against a packaged schema; every error mapped to its line."""
    schema = load_schema(schema_name)
    if quick_valid(schema, doc.data):
        return []
    import jsonschema  # deferred: costs ~0.15 s, paid only when the document is invalid

    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    findings: list[Finding] = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.path))):
        findings.extend(_explain(doc, error))
    findings.sort(key=lambda f: (f.line or 0, f.col or 0, f.field))
    return findings


def _explain(doc: Document, error: Any) -> list[Finding]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    sub = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    hint = sub.get("x-expected")
    if keyword == "required":
        missing = [name for name in error.validator_value if name not in (value or {})]
        out = []
        for name in missing:
            msg = f"expected {hint}" if hint else "required field is missing"
            out.append(doc.finding((*path, name), msg, code="required"))
        return out
    if keyword == "additionalProperties":
        allowed = ", ".join(sub.get("properties", {}))
        return [
            doc.finding((*path, name), f"unknown field (allowed: {allowed})", key=True, code="unknown-field")
            for name in value
            if name not in sub.get("properties", {})
        ]
    if keyword == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        want = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return [doc.finding(path, f"expected {want}, got {describe(value)}", code="type")]
    if keyword in ("pattern", "format"):
        want = hint or f"text matching {error.validator_value}"
        return [doc.finding(path, f"expected {want}, got {describe(value)}", code=keyword)]
    if keyword == "exclusiveMinimum":
        return [doc.finding(path, f"expected a number > {error.validator_value}, got {value!r}", code="range")]
    if keyword == "minimum":
        return [doc.finding(path, f"expected a number >= {error.validator_value}, got {value!r}", code="range")]
    if keyword == "minLength":
        return [doc.finding(path, "must not be empty", code="empty")]
    if keyword == "minItems":
        return [doc.finding(path, f"expected at least {error.validator_value} item(s)", code="empty")]
    if keyword == "uniqueItems":
        return [doc.finding(path, f"items must be unique, got {value!r}", code="duplicate")]
    return [doc.finding(path, f"{error.message}", code=str(keyword))]


__all__ = ["describe", "dotted", "load_schema", "quick_valid", "validate"]

"""The packaged JSON Schemas, and validation that reports ``path:line:col``.

Validation has two speeds. :func:`fast_valid` runs code that fastjsonschema generated ahead of
time from the schema (``fastschemas/``, rebuilt by ``python -m ita_rules.core.schemagen``) and
answers only "valid or not"; a test keeps it current and in agreement with jsonschema. Only when
it says False do we import jsonschema (~0.15 s) to produce the exact errors. A valid file on the
pre-commit hook path therefore never pays for importing jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from ita_rules.core.findings import Finding
from ita_rules.core.isodate import is_date
from ita_rules.core.yamlio import Document


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
    """A packaged schema by file name, e.g. ``rule.schema.json``. (json and importlib.resources
    are imported here: a valid file on the hook path never loads a schema, and the two cost
    a commit ~7 ms.)"""
    import json
    from importlib import resources

    text = resources.files("ita_rules.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# The formats the generated validators call by name (schemagen.FORMATS names them).
# ``format: date`` is checked as jsonschema checks it (ASCII digits, a date datetime.date
# holds) without importing datetime; tests/test_schema_fastpath.py keeps the two equal.
FORMATS: dict[str, Callable[[str], bool]] = {"date": is_date}
# The schemas with generated validators in ``fastschemas/`` (python -m ita_rules.core.schemagen),
# and those whose top-level fields can also be checked one at a time (a FIELDS table).
FAST_SCHEMAS = {
    "rule.schema.json": "rule",
    "retention.schema.json": "retention",
    "backtest_result.schema.json": "backtest_result",
}
FIELD_SCHEMAS = frozenset({"rule.schema.json"})


@cache
def _generated(module: str) -> Any:
    from importlib import import_module

    return import_module(f"ita_rules.core.fastschemas.{module}")


def _passes(validate: Callable[..., Any], value: Any) -> bool:
    from ita_rules.core.fastschemas import JsonSchemaValueException

    try:
        validate(value, FORMATS)
    except JsonSchemaValueException:
        return False
    return True


def fast_valid(schema_name: str, value: Any) -> bool:
    """True only if ``value`` is valid for the packaged schema; False when invalid, or when the
    schema has no generated validator (then jsonschema decides)."""
    module = FAST_SCHEMAS.get(schema_name)
    return module is not None and _passes(_generated(module).validate, value)


def field_valid(schema_name: str, field: str, value: Any) -> bool:
    """True when ``value`` is valid for the top-level field ``field`` of the schema."""
    assert schema_name in FIELD_SCHEMAS, schema_name
    return _passes(_generated(FAST_SCHEMAS[schema_name]).FIELDS[field], value)


def validate(doc: Document, schema_name: str) -> list[Finding]:
    """Validate ``doc.data`` against a packaged schema; every error mapped to its line."""
    if fast_valid(schema_name, doc.data):
        return []
    schema = load_schema(schema_name)
    import jsonschema  # deferred: costs ~0.15 s, paid only when the document is invalid

    validator = validator_class()(schema, format_checker=jsonschema.FormatChecker())
    from ita_rules.core.schemawords import explain

    findings: list[Finding] = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.path))):
        findings.extend(explain(doc, error, schema))
    # One line per problem: e.g. "pattern" and "format" of a bad date say the same thing.
    unique = {(f.line, f.col, f.field, f.message): f for f in findings}
    return sorted(unique.values(), key=lambda f: (f.line or 0, f.col or 0, f.field))


__all__ = [
    "fast_valid",
    "field_valid",
    "load_schema",
    "pattern_matches",
    "validate",
    "validator_class",
]

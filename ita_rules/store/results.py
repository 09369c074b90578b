"""Backtest results: JSON valid against ``backtest_result.schema.json`` whose ``setup_id`` and
``rule_version`` exist in the registry (the seed's acceptance). Anything else is refused with
``path:line:col: field: message`` before a byte is stored.
"""

from __future__ import annotations

import json
from typing import Any

from ita_rules.errors import ItaRulesError, Location
from ita_rules.findings import Finding
from ita_rules.rules.registry import Registry
from ita_rules.store.errors import ResultRejected

SCHEMA = "backtest_result.schema.json"
MAX_BYTES = 64 * 1024 * 1024


def _reject(findings: list[Finding]) -> ResultRejected:
    first = findings[0]
    message = f"{first.field}: {first.message}" if first.field else first.message
    if len(findings) > 1:
        message += "; " + "; ".join(str(f) for f in findings[1:])
    return ResultRejected(message, Location(first.path, first.line, first.col))


def check_result(data: bytes, shown: str, registry: Registry) -> dict[str, Any]:
    """Parse and check a result; return the parsed document or raise :class:`ResultRejected`."""
    from ita_rules.schemacheck import validate
    from ita_rules.yamlio import Document, loads

    if len(data) > MAX_BYTES:
        raise ResultRejected(
            f"result is {len(data)} bytes; the limit is {MAX_BYTES}", Location(shown)
        )
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ResultRejected(f"not valid UTF-8 (byte {exc.start})", Location(shown)) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultRejected(
            f"not valid JSON: {exc.msg}", Location(shown, exc.lineno, exc.colno)
        ) from None
    # JSON is YAML: load it again with marks so that schema errors point at their line.
    doc, _problems = loads(text, shown)
    if doc is None or doc.data != value:
        doc = Document(shown, value)
    if not isinstance(value, dict):
        raise ResultRejected(
            "expected a JSON object with setup_id and rule_version", Location(shown, 1, 1)
        )
    findings = validate(doc, SCHEMA)
    if findings:
        raise _reject(findings)
    setup_id, version = value["setup_id"], value["rule_version"]
    try:
        rule = registry.get(setup_id, version)
    except ItaRulesError as exc:
        raise _reject(
            [
                doc.finding(
                    ("rule_version",),
                    f"{setup_id}@{version} is not in the registry ({exc.message})",
                )
            ]
        ) from None
    given = value.get("params_hash")
    if given is not None and given != rule.params_hash:
        raise _reject(
            [
                doc.finding(
                    ("params_hash",),
                    f"{given} differs from {setup_id}@{version}'s {rule.params_hash}",
                )
            ]
        )
    return value

"""The generated fast validators (``ita_rules/core/fastschemas/``, docs/architecture.md#rule-files).

- the checked-in code is exactly what ``python -m ita_rules.core.schemagen`` generates now;
- it imports neither jsonschema nor fastjsonschema (only generating needs that);
- its verdict equals jsonschema's (with our ECMA-262 ``pattern``) on every file of the corpus
  (``tests/cases``), on the sample rules, on retention policies (their ``$ref`` included) and,
  field by field, on the near misses of every top-level rule field.
"""

from __future__ import annotations

import ast
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ita_rules.core import schemagen, validation, yamlio
from tests.conftest import REPO
from tests.retention.conftest import POLICY
from tests.test_loader import NEAR_MISSES, NUMBERS

RULE = "rule.schema.json"
RETENTION = "retention.schema.json"
CASES = Path(__file__).resolve().parent / "cases"


def jsonschema_valid(schema_name: str, value: Any) -> bool:
    schema = validation.load_schema(schema_name)
    validator = validation.validator_class()(schema, format_checker=jsonschema.FormatChecker())
    return bool(validator.is_valid(value))


def test_the_generated_validators_are_current() -> None:
    assert schemagen.stale() == [], "run: python -m ita_rules.core.schemagen"


def test_the_check_mode_names_a_stale_module(tmp_path: Path, monkeypatch: Any) -> None:
    for name, text in schemagen.sources().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "rule.py").write_text("# edited by hand\n", encoding="utf-8")
    monkeypatch.setattr(schemagen, "OUT_DIR", tmp_path)
    assert schemagen.main(["--check"]) == 1
    assert schemagen.stale() == ["rule.py"]


def test_the_generated_code_imports_neither_jsonschema_nor_fastjsonschema() -> None:
    """jsonschema costs ~0.15 s; fastjsonschema's package loads its code generator (~8 ms);
    decimal ~6 ms (the generated code tests for a Decimal without importing it)."""
    for path in sorted(schemagen.OUT_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            heavy = {"jsonschema", "fastjsonschema", "decimal"}
            assert not {n.split(".")[0] for n in names} & heavy, path
    code = (
        "import sys; from ita_rules.core import validation as s; "
        "ok = [s.fast_valid(n, {}) for n in s.FAST_SCHEMAS]; "
        "print(ok, [m for m in ('jsonschema', 'fastjsonschema') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[False, False, False] []"


def _corpus() -> list[tuple[Path, Any]]:
    """Every corpus file and sample rule the loader reads into a value."""
    files = sorted(CASES.rglob("*.y*ml")) + sorted((REPO / "rules").rglob("*.yaml"))
    out = []
    for path in files:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            doc = yamlio.load(path, raw_scalars=("version",))[0]
        except Exception:  # refused by the loader: never reaches the schema
            continue
        if doc is not None:
            out.append((path, doc.data))
    return out


def test_the_verdict_equals_jsonschema_on_the_corpus_and_the_sample_rules() -> None:
    verdicts = []
    for path, data in _corpus():
        fast = validation.fast_valid(RULE, data)
        assert fast == jsonschema_valid(RULE, data), path
        verdicts.append(fast)
    assert verdicts.count(True) >= 10 and verdicts.count(False) >= 30, verdicts


@pytest.mark.parametrize("field", list(validation.load_schema(RULE)["properties"]))
def test_each_field_alone_agrees_with_its_schema(field: str) -> None:
    schema = validation.load_schema(RULE)["properties"][field]
    validator = validation.validator_class()(schema, format_checker=jsonschema.FormatChecker())
    extra = [[], {}, ["a", "a"], [1, 1.0], ["a", ""], ["a"], {"tp": 0}, {"sl": 1.5}, "", "x"]
    for value in [*NEAR_MISSES, *NUMBERS, *extra]:
        assert validation.field_valid(RULE, field, value) == validator.is_valid(value), value


BASE_POLICY: dict[str, Any] = yaml.safe_load(POLICY)
policy_values = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 1, 1.0, 2.5, 36500, 36501, 1e300, "", "delete"]),
    st.sampled_from(["keep_forever", "prune_old", "archive_to_remote", "x", ["important"], {}]),
)
policy_changes = st.one_of(
    st.tuples(st.just("top"), st.sampled_from([*BASE_POLICY, "unknown"]), policy_values),
    st.tuples(
        st.just("type"),
        st.sampled_from(["candles", "result", "embedding", "model"]),
        st.sampled_from(["retain_days", "strategy", "keep_last", "other"]),
        policy_values,
    ),
    st.tuples(st.just("drop"), st.sampled_from([*BASE_POLICY, "types"])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(policy_changes, max_size=4))
def test_the_retention_verdict_equals_jsonschema(changes: list[tuple[Any, ...]]) -> None:
    policy = copy.deepcopy(BASE_POLICY)
    for change in changes:
        if change[0] == "top":
            policy[change[1]] = change[2]
        elif change[0] == "drop":
            policy.pop(change[1], None)
        elif isinstance(policy.get("types"), dict):
            rule = policy["types"].setdefault(change[1], {"strategy": "delete"})
            if isinstance(rule, dict):
                rule[change[2]] = change[3]
    assert validation.fast_valid(RETENTION, policy) == jsonschema_valid(RETENTION, policy)


def test_a_valid_retention_policy_takes_the_fast_path_through_its_ref() -> None:
    assert validation.fast_valid(RETENTION, BASE_POLICY)
    policy = copy.deepcopy(BASE_POLICY)
    policy["types"]["candles"]["strategy"] = "shred"  # only the $ref'd typeRule says no
    assert not validation.fast_valid(RETENTION, policy)
    assert not jsonschema_valid(RETENTION, policy)


@pytest.mark.parametrize(
    ("field", "value"),
    [("large_purge_gb", "10"), ("large_purge_gb", "-1"), ("safety_window_days", "7")],
)
def test_a_decimal_is_a_number_as_for_jsonschema(field: str, value: str) -> None:
    from decimal import Decimal

    policy = {**copy.deepcopy(BASE_POLICY), field: Decimal(value)}
    assert validation.fast_valid(RETENTION, policy) == jsonschema_valid(RETENTION, policy)
    assert validation.fast_valid(RETENTION, policy) is (value == "10")


def _fromisoformat_date(value: str) -> bool:
    """The date check the fast path had: datetime's reading, then the ASCII layout."""
    import datetime
    import re

    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII))


_digits = st.text(alphabet="0123456789", min_size=1, max_size=4)


@settings(max_examples=2000, deadline=None)
@given(
    value=st.one_of(
        st.dates().map(str),
        st.builds(lambda y, m, d: f"{y}-{m}-{d}", _digits, _digits, _digits),
        st.sampled_from(
            [
                "0000-01-01",
                "2024-02-29",
                "2023-02-29",
                "1900-02-29",
                "2000-02-29",
                "2025-1-01",
                "20250101",
                "2025-W01-1",
                "2025-01-01T00:00",
                "٢٠٢٥-٠١-٠١",
                "2025-01-01\n",
                " 2025-01-01",
                "2025-13-01",
                "2025-12-32",
                "9999-12-31",
            ]
        ),
        st.text(alphabet="0123456789-T:W ", max_size=12),
    )
)
def test_the_date_format_is_datetime_s(value: str) -> None:
    """format: date is told without datetime (the hook would import it for every commit),
    exactly as datetime.date.fromisoformat with the YYYY-MM-DD layout told it."""
    assert validation.FORMATS["date"](value) == _fromisoformat_date(value), value

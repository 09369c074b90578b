"""params_hash: golden values of the sample registry, and invariants (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.core.canonical import params_hash
from ita_rules.core.yamlio import loads
from ita_rules.rules.load import validate_file
from tests.conftest import REPO

# Pinned forever: if one of these changes, every released rule's hash changed with it.
GOLDEN = {
    "Frank_raid_v1/v1.0.yaml": "sha256:4564a59a06ebda38077879936e66a2dca4b9b7e1ba3786da9060bdb97e91ebf4",
    "Frank_raid_v1/v1.1.yaml": "sha256:28ffe92d971c70712e69de1bf5b86ac6ef637c47d861ff2b513eec2d5dd6a771",
    "Frank_raid_v1/v2.0.yaml": "sha256:51186ccbac8eb9b9ef959752a2a2305534d5c5a9a7c390708aee55bbdec3b3e5",
    "IB_raid_v1/v1.0.yaml": "sha256:b164e1361e676b5756935aabe8dcaaabd3c43324da95706814505ab783f40db5",
    "IB_raid_v1/v1.1.yaml": "sha256:dac4c64826726016502b3a4245f1dd0cf732e497dad0c0c62c84db76bb48b6c0",
    "IB_raid_v1/v1.2.yaml": "sha256:8ee214b277a7a6a539414cfa8467ccff8510428470aaea8d755167bcd162827d",
    "London_FVG_v1/v1.0.yaml": "sha256:f0057662fff7cf31f561da810337f6c914bfb491441de8d530b30ec59d09215b",
    "London_FVG_v1/v1.1.yaml": "sha256:21ad5b3170a13cebfff1a557d36a93cc0f474aa5aec396fe4526ec97940bbece",
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_sample_hashes_are_pinned(name: str) -> None:
    checked = validate_file(REPO / "rules" / name, name)
    assert checked.findings == []
    assert checked.computed_hash == GOLDEN[name]
    assert checked.rule is not None and checked.rule.params_hash == GOLDEN[name]


def test_every_sample_file_is_pinned() -> None:
    found = {p.relative_to(REPO / "rules").as_posix() for p in (REPO / "rules").rglob("*.yaml")}
    assert found == set(GOLDEN)


def test_hash_is_rfc8785_of_semantic_fields() -> None:
    # Independent of our code path: JCS of this content is this exact byte string.
    rule = {
        "targets": {"tp": 2.0, "sl": 1},
        "components": ["B", "A"],
        "rules": {},
        "version": "9.9",
    }
    import hashlib

    canonical = b'{"components":["B","A"],"rules":{},"targets":{"sl":1,"tp":2}}'
    assert params_hash(rule) == "sha256:" + hashlib.sha256(canonical).hexdigest()


def test_yaml_dates_hash_as_iso_strings() -> None:
    a, _ = loads("rules: {start: 2025-05-01}\n", "a")
    b, _ = loads('rules: {start: "2025-05-01"}\n', "b")
    assert a is not None and b is not None
    assert params_hash(a.data) == params_hash(b.data)


json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**53 - 1), 2**53 - 1) | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False, width=64),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
semantic = st.fixed_dictionaries(
    {
        "components": st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4),
        "rules": st.dictionaries(st.text(max_size=6), json_values, max_size=4),
        "targets": st.dictionaries(
            st.sampled_from(["tp", "sl", "be"]), st.floats(0.1, 10), max_size=3
        ),
    },
    optional={"params": st.dictionaries(st.text(max_size=6), json_values, max_size=4)},
)
lifecycle = st.fixed_dictionaries(
    {},
    optional={
        "active": st.booleans(),
        "deprecation_reason": st.none() | st.text(max_size=10),
        "tags": st.lists(st.text(max_size=5), max_size=3),
        "author": st.text(max_size=5),
        "version": st.sampled_from(["1.0", "2.3"]),
        "description": st.text(max_size=10),
    },
)


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _ints_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _ints_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints_as_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, float) and value == 0:
        return 0.0  # RFC 8785 writes -0 as 0
    return value


@settings(max_examples=100, deadline=None)
@given(semantic, lifecycle)
def test_hash_invariant_under_key_order_number_form_and_lifecycle(
    sem: dict[str, Any], life: dict[str, Any]
) -> None:
    h = params_hash(sem)
    assert h == params_hash(_reverse_keys(sem))
    assert h == params_hash(_ints_as_floats(sem))  # 2 and 2.0 hash the same
    assert h == params_hash({**sem, **life})  # lifecycle and identity fields are not hashed


@settings(max_examples=100, deadline=None)
@given(semantic, semantic)
def test_different_semantic_content_gives_different_hash(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    same = json.dumps(_ints_as_floats(a), sort_keys=True) == json.dumps(
        _ints_as_floats(b), sort_keys=True
    )
    assert (params_hash(a) == params_hash(b)) == same


@given(semantic, st.sampled_from(["components", "rules", "targets"]))
def test_any_semantic_edit_changes_the_hash(sem: dict[str, Any], field: str) -> None:
    edited = json.loads(json.dumps(sem))
    if field == "components":
        edited["components"] = [*edited["components"], "Extra_Component"]
    else:
        edited[field] = {**edited[field], "__new_key__": 1}
    assert params_hash(edited) != params_hash(sem)


def test_loader_output_hashes_like_the_file_says(tmp_path: Path) -> None:
    for name, expected in GOLDEN.items():
        text = (REPO / "rules" / name).read_text()
        doc, findings = loads(text, name, raw_scalars=("version",))
        assert doc is not None and not findings
        assert params_hash(doc.data) == expected


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=5000))
def test_the_hash_is_hashlib_s_sha256(data: bytes) -> None:
    """canonical hashes with CPython's own SHA-256 module (hashlib's OpenSSL costs the hook
    ~2.5 ms to import): the digest is hashlib's."""
    import hashlib

    from ita_rules.core.canonical import sha256_of

    assert sha256_of(data) == "sha256:" + hashlib.sha256(data).hexdigest()

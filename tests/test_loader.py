"""The safe YAML loader and the schema check, below the CLI: what the bad-input corpus cannot show.

- ``version: 1.10`` is the text "1.10", never the float 1.1 (and only the top-level key is raw);
- merge keys ``<<``: explicit keys win, the first merged mapping wins, marks stay on explicit keys;
- dates and timestamps become ISO-8601 strings, and hash like the same quoted strings;
- the bounds of what JSON can hold exactly (2**53 - 1, NaN, infinities);
- ``validation.fast_valid`` (the fast path) agrees exactly with jsonschema on our schema
  (hypothesis mutates a valid sample rule: values, types, presence, the active/reason rule).
"""

from __future__ import annotations

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

from ita_rules.core import canonical, validation, yamlbuild, yamlio, yamlloader
from ita_rules.rules.load import validate_file
from ita_rules.rules.model import Version
from tests.conftest import REPO, write

SAMPLE = REPO / "rules" / "Frank_raid_v1" / "v1.1.yaml"


def load(text: str, *, raw: tuple[str, ...] = ("version",)) -> Any:
    doc, findings = yamlio.loads(text, "t.yaml", raw_scalars=raw)
    assert doc is not None, [str(f) for f in findings]
    return doc.data


def refuse(text: str) -> str:
    doc, findings = yamlio.loads(text, "t.yaml", raw_scalars=("version",))
    assert doc is None and len(findings) == 1, findings
    return str(findings[0])


# --- version as written -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("1.10", "1.10"),
        ("1.1", "1.1"),
        ("1.0", "1.0"),
        ("10.20", "10.20"),
        ('"1.10"', "1.10"),
        ("2", "2"),
    ],
)
def test_version_is_read_as_written(written: str, read: str) -> None:
    assert load(f"version: {written}\n") == {"version": read}


def test_version_float_without_raw_reading_is_lossy() -> None:
    """Why the raw reading exists: plain YAML turns 1.10 into 1.1."""
    assert load("version: 1.10\n", raw=()) == {"version": 1.1}


def test_only_numbers_are_read_raw() -> None:
    """null and booleans stay what they are, so the schema says "expected a string, got null"."""
    assert load("version:\n") == {"version": None}
    assert load("version: true\n") == {"version": True}


def test_raw_reading_is_top_level_only() -> None:
    assert load("params:\n  version: 1.10\n") == {"params": {"version": 1.1}}


def test_unquoted_1_10_file_loads_as_version_1_10(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace('version: "1.1"', "version: 1.10")
    path = write(tmp_path / "Frank_raid_v1" / "v1.10.yaml", text)
    checked = validate_file(path)
    assert checked.ok, [str(f) for f in checked.findings]
    assert checked.rule is not None
    assert checked.rule.version == Version(1, 10) > Version(1, 9)
    assert checked.rule.rule_version == "v1.10"


# --- merge keys ---------------------------------------------------------------------------------


def test_merge_keys_explicit_keys_win() -> None:
    data = load("base: &b {session: london, atr: 14, spread: 1.5}\nrules:\n  <<: *b\n  atr: 20\n")
    assert data["rules"] == {"atr": 20, "session": "london", "spread": 1.5}


def test_merge_keys_first_source_wins_and_explicit_beats_all() -> None:
    data = load("a: &a {x: 1, w: 1}\nb: &b {x: 2, w: 2, z: 2}\nm:\n  <<: [*a, *b]\n  z: 3\n")
    assert data["m"] == {"x": 1, "w": 1, "z": 3}


def test_merge_keys_keep_the_marks_of_explicit_keys() -> None:
    doc, _ = yamlio.loads("a: &a {x: 1}\nm:\n  <<: *a\n  x: 5\n", "t.yaml")
    assert doc is not None
    assert doc.key_marks[("m", "x")] == (4, 3)  # the explicit key, not the anchor's on line 1
    assert doc.marks[("m", "x")] == (4, 6)


def test_merge_key_with_a_non_mapping_points_at_the_merge_key() -> None:
    assert refuse("a: &a 14\nm:\n  <<: *a\n") == (
        "t.yaml:3:3: m: a merge key (<<) needs a mapping or a list of mappings, got '14'"
    )
    assert refuse("a: &a {x: 1}\nm:\n  <<: [*a, [1]]\n").startswith("t.yaml:3:3: m: a merge key")


# --- dates --------------------------------------------------------------------------------------


def test_dates_and_timestamps_become_iso_strings() -> None:
    data = load(
        "created: 2025-10-15\n"
        "params:\n"
        "  blackout: [2025-01-03, 2025-01-03 13:30:00,\n"
        "             2025-02-07T13:30:00Z, 2025-02-07T13:30:00+01:00]\n"
    )
    assert data["created"] == "2025-10-15"
    assert data["params"]["blackout"] == [
        "2025-01-03",
        "2025-01-03T13:30:00",
        "2025-02-07T13:30:00+00:00",
        "2025-02-07T13:30:00+01:00",
    ]


def test_a_date_hashes_like_the_same_quoted_string() -> None:
    plain = load("components: [A]\nparams: {start: 2024-01-02}\n")
    quoted = load('components: [A]\nparams: {start: "2024-01-02"}\n')
    assert plain == quoted
    assert canonical.params_hash(plain) == canonical.params_hash(quoted)


def test_an_impossible_date_is_an_error_not_a_crash() -> None:
    assert refuse("created: 2025-02-30\n") == (
        "t.yaml:1:10: created: 2025-02-30 is not a valid date (day is out of range for month); "
        "write YYYY-MM-DD, or quote it if it is not a date"
    )


# --- numbers JSON can hold ----------------------------------------------------------------------


def test_integer_bounds_are_those_of_rfc8785() -> None:
    big = 2**53 - 1
    data = load(f"params: {{hi: {big}, lo: -{big}}}\n")
    assert data == {"params": {"hi": big, "lo": -big}}
    canonical.params_hash(data)  # hashable: the loader's bound is the canonicaliser's bound
    for value in (2**53, -(2**53), 2**64):
        assert "cannot be hashed exactly" in refuse(f"params: {{n: {value}}}\n")


@pytest.mark.parametrize("value", [".nan", ".NaN", ".inf", "-.inf", "+.inf", "1.0e+400"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    assert "is not a finite number" in refuse(f"params: {{x: {value}}}\n")


def test_base60_numbers_are_refused_but_quoted_times_are_fine() -> None:
    assert refuse("params: {start: 9:30}\n") == (
        "t.yaml:1:17: params.start: 9:30 is read by YAML 1.1 as the base-60 number 570; "
        'quote it ("9:30") if it is a time or a ratio'
    )
    assert load('params: {start: "9:30", open: 09:30}\n') == {
        "params": {"start": "9:30", "open": "09:30"}
    }


# --- keys, duplicates, tags ---------------------------------------------------------------------


def test_every_duplicate_is_reported_with_both_lines() -> None:
    doc, findings = yamlio.loads("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "t.yaml")
    assert doc is None
    assert [str(f) for f in findings] == [
        "t.yaml:4:3: b.c: duplicate key 'c' (first defined at line 3)",
        "t.yaml:5:1: a: duplicate key 'a' (first defined at line 1)",
    ]


def test_explicit_scalar_tags_with_bad_values_are_errors() -> None:
    assert refuse("x: !!float abc\n") == "t.yaml:1:4: x: 'abc' is not a valid !!float value"
    assert refuse("x: !!bool maybe\n") == "t.yaml:1:4: x: 'maybe' is not a valid !!bool value"
    assert "is not a valid date" in refuse("x: !!timestamp soon\n")
    assert load('x: !!str 1.10\nz: !!int "7"\n') == {"x": "1.10", "z": 7}


def test_tagged_keys_and_collection_keys_are_refused() -> None:
    assert "tag !!python/name:os.system is not allowed" in refuse(
        "? !!python/name:os.system\n: 1\n"
    )
    assert "mapping keys must be plain strings" in refuse("? [a, b]\n: 1\n")


# --- encodings and characters -------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_files_are_named(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "v1.0.yaml", "a: 1\n".encode(encoding))
    doc, findings = yamlio.load(path, "f.yaml")
    assert doc is None
    expected = encoding[:6].upper()
    assert str(findings[0]) == (
        f"f.yaml:1:1: file is {expected} (it starts with a {expected} byte-order mark); "
        "save it as UTF-8"
    )


def test_utf16_without_bom_is_suspected(tmp_path: Path) -> None:
    path = write(tmp_path / "v1.0.yaml", "a: 1\n".encode("utf-16-be"))
    doc, findings = yamlio.load(path, "f.yaml")
    assert doc is None
    assert str(findings[0]).startswith("f.yaml:1:1: invalid YAML: character U+0000 is not allowed")
    assert str(findings[0]).endswith("; is it UTF-16 without a byte-order mark? save it as UTF-8")


def test_decode_checks_git_blobs_like_files() -> None:
    """``decode`` is what ``read_text`` runs on a file's bytes; git blobs go through it too."""
    assert yamlio.decode("a: ä\n".encode(), "b.yaml") == ("a: ä\n", [])
    assert yamlio.decode("\ufeffa: 1\n".encode(), "b.yaml") == ("a: 1\n", [])
    _, (utf16,) = yamlio.decode("a: 1\n".encode("utf-16"), "b.yaml")
    assert utf16.code == "encoding" and "UTF-16" in utf16.message
    _, (big,) = yamlio.decode(b"#" * (yamlio.MAX_BYTES + 1), "b.yaml")
    assert str(big) == "b.yaml: file is 1048577 bytes; the limit is 1048576 bytes (1 MiB)"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    doc, _ = yamlio.load(write(tmp_path / "a.yaml", "\ufeffa: ä\n".encode()), "a.yaml")
    assert doc is not None and doc.data == {"a": "ä"}


@pytest.mark.parametrize("loader", ["libyaml", "pure"])
def test_control_character_position_counts_characters(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml reports byte offsets, PyYAML characters: both must give the same line:col."""
    if loader == "pure":
        monkeypatch.setattr(yamlloader, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):  # pragma: no cover
        pytest.skip("PyYAML without libyaml")
    assert refuse("a: ééé\nb: xé\x00\n").startswith(
        "t.yaml:2:6: invalid YAML: character U+0000 is not allowed"
    )


@pytest.mark.parametrize("loader", ["libyaml", "pure"])
def test_syntax_errors_name_the_character(loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if loader == "pure":
        monkeypatch.setattr(yamlloader, "_Loader", yaml.SafeLoader)
    assert refuse("a: 1\nb: é@x\nc: `\n").startswith(
        "t.yaml:3:4: invalid YAML: found character '`'"
    )
    assert refuse("a: *nope\n") == (
        "t.yaml:1:4: invalid YAML: found undefined alias *nope; "
        "no anchor &nope is defined before it"
    )


def test_deep_nesting_is_refused_by_both_loaders(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "nesting deeper than 64 levels" in refuse("x: " + "[" * 65 + "]" * 65 + "\n")
    assert "nesting deeper than 64 levels" in refuse("x: " + "[" * 5000 + "]" * 5000 + "\n")
    # pure Python: RecursionError, caught
    monkeypatch.setattr(yamlloader, "_Loader", yaml.SafeLoader)
    assert "nesting deeper than 64 levels" in refuse("x: " + "[" * 5000 + "]" * 5000 + "\n")


def test_empty_documents() -> None:
    for text in ("", "\n", "# only a comment\n", "---\n", "--- # c\n...\n"):
        assert refuse(text) == "t.yaml:1:1: file is empty; expected a mapping of fields"
    assert load("---\na: 1\n") == {"a": 1}


def test_the_shared_constructor_keeps_no_nodes_alive() -> None:
    """PyYAML's constructor caches every node it built; the loader runs in long processes."""
    load(SAMPLE.read_text(encoding="utf-8"))
    refuse("x: !!int nope\n")
    assert not yamlbuild._constructor.constructed_objects
    assert not yamlbuild._constructor.recursive_objects


def test_position_falls_back_to_the_nearest_parent() -> None:
    doc, _ = yamlio.loads("a:\n  b: 1\n", "t.yaml")
    assert doc is not None
    assert doc.position(("a", "b")) == (2, 6)
    assert doc.position(("a", "b"), key=True) == (2, 3)
    assert doc.position(("a", "missing")) == (2, 3)  # the mapping a
    assert doc.position(("nothing",)) == (1, 1)


# --- schema messages ----------------------------------------------------------------------------


def _schema_findings(text: str) -> list[str]:
    doc, findings = yamlio.loads(text, "t.yaml", raw_scalars=("version",))
    assert doc is not None, findings
    return [str(f) for f in validation.validate(doc, "rule.schema.json")]


def test_each_missing_field_is_reported_once() -> None:
    out = _schema_findings("description: x\n")
    fields = [line.split(": ")[1] for line in out]
    assert fields == sorted(fields) and len(set(fields)) == len(fields) == 7, out


def test_a_bad_date_is_one_line_not_one_per_keyword() -> None:
    """created has both a pattern and a format; a timestamp fails both but is reported once."""
    text = SAMPLE.read_text(encoding="utf-8").replace(
        'created: "2025-10-15"', "created: 2025-10-15 10:00:00"
    )
    assert _schema_findings(text) == [
        "t.yaml:6:10: created: expected a date YYYY-MM-DD, got the string '2025-10-15T10:00:00'"
    ]


# --- the fast path stays lean -------------------------------------------------------------------


def test_checking_a_valid_file_imports_no_heavy_module() -> None:
    code = (
        "import sys; from pathlib import Path; from ita_rules.rules.load import validate_file; "
        f"assert validate_file(Path({str(SAMPLE)!r})).ok; "
        "print(sorted(m for m in ('jsonschema', 'ruamel', 'typer', 'click', 'deepdiff', 'git') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- fast_valid agrees with jsonschema ----------------------------------------------------------

RULE = "rule.schema.json"
SCHEMA = validation.load_schema(RULE)
# jsonschema with the ECMA-262 "$" of JSON Schema patterns (plain re.search lets "T\n" match "^T$").
VALIDATOR = validation.validator_class()(SCHEMA, format_checker=jsonschema.FormatChecker())
BASE_DOC: dict[str, Any] = yamlio.load(SAMPLE, raw_scalars=("version",))[0].data  # type: ignore[union-attr]
FIELDS = list(SCHEMA["properties"])
MISSING = object()

# What the loader can produce: JSON values with string keys, finite floats, ints within 2**53 - 1.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53 - 1), 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
NEAR_MISSES = [
        "", "1.10", "01.1", "1.01", "1", "1.2.3", "0.0", "v1.2", "1.1\n",
        "Frank_raid_v1", "Frank_raid_v1\n", "9abc", "a" * 64, "a" * 65, "A-b_c", "../x", "a b",
        "2025-10-15", "2025-02-30", "2025-1-5", "20251015", "2025-W42-3", "2025-10-15T00:00:00",
        "2025-10-15\n", "\u0662\u0660\u0662\u0665-\u0661\u0660-\u0661\u0665",  # Arabic-Indic digits
        "sha256:" + "0" * 64, "sha256:" + "0" * 63, "sha256:" + "A" * 64,
        "sha256:" + "0" * 64 + "\n",
        "x",
]  # fmt: skip
NUMBERS = [0, -1, 0.0, -0.0, 5e-324, 1, 2.5, 1e300, True, False, "1", None]
near_misses = st.sampled_from(NEAR_MISSES)
numbers = st.sampled_from(NUMBERS)
values = (
    near_misses | json_values | numbers | st.lists(near_misses | st.text(max_size=3), max_size=4)
)

mutations = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(FIELDS)),
    st.tuples(st.just("set"), st.sampled_from([*FIELDS, "unknown", "Params"]), values),
    st.tuples(st.just("target"), st.sampled_from(["tp", "sl", "other"]), numbers | values),
    st.tuples(
        st.just("append"), st.sampled_from(["components", "tags"]), near_misses | numbers | values
    ),
    st.tuples(
        st.just("lifecycle"),
        st.sampled_from([False, True, 0, 1, "false", None, MISSING]),
        st.sampled_from([MISSING, None, "", "why", 5, ["x"]]),
    ),
    st.tuples(st.just("replace"), json_values),
)


def mutate(doc: dict[str, Any], change: tuple[Any, ...]) -> Any:
    kind = change[0]
    if kind == "delete":
        doc.pop(change[1], None)
    elif kind == "set":
        doc[change[1]] = change[2]
    elif kind == "target" and isinstance(doc.get("targets"), dict):
        doc["targets"][change[1]] = change[2]
    elif kind == "append" and isinstance(doc.get(change[1]), list):
        doc[change[1]].append(change[2])
    elif kind == "lifecycle":
        for name, value in (("active", change[1]), ("deprecation_reason", change[2])):
            if value is MISSING:
                doc.pop(name, None)
            else:
                doc[name] = value
    elif kind == "replace":
        return change[1]
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutations, max_size=4))
def test_fast_valid_agrees_with_jsonschema(changes: list[tuple[Any, ...]]) -> None:
    doc: Any = copy.deepcopy(BASE_DOC)
    for change in changes:
        doc = mutate(doc, change) if isinstance(doc, dict) else doc
    assert validation.fast_valid(RULE, doc) == VALIDATOR.is_valid(doc), doc


def test_fast_valid_agrees_on_every_near_miss_of_every_field() -> None:
    """Exhaustive over the boundary values hypothesis would rarely pick for one given field."""
    extra = [[], {}, ["a", "a"], [1, 1.0], ["a", ""], ["a", 1], {"tp": 0}, {"sl": "1"}]
    checked = 0
    for name in [*FIELDS, "unknown"]:
        for value in [*NEAR_MISSES, *NUMBERS, *extra, MISSING]:
            for active in (MISSING, False):
                doc = copy.deepcopy(BASE_DOC)
                if active is False:
                    doc["active"] = False
                    doc["deprecation_reason"] = "replaced"
                if value is MISSING:
                    doc.pop(name, None)
                else:
                    doc[name] = value
                quick = validation.fast_valid(RULE, doc)
                assert quick == VALIDATOR.is_valid(doc), (name, value, active)
                checked += 1
    assert checked > 1000


def test_the_sample_rules_take_the_fast_path() -> None:
    for path in sorted((REPO / "rules").rglob("*.yaml")):
        data = yamlio.load(path, raw_scalars=("version",))[0]
        assert data is not None and validation.fast_valid(RULE, data.data), path


@pytest.mark.parametrize(
    ("released", "tail"),
    [
        (
            None,
            " (run `ita-rules validate --fix` to write it)",
        ),
        (
            ("HEAD", False),
            ": this version is released (in HEAD) and was changed; a released version never "
            "changes: make a new version for the change (ita-rules new-version Frank_raid_v1) "
            "and restore this file (git checkout HEAD -- rules/Frank_raid_v1/v1.1.yaml)",
        ),
        (  # a description, not a ref name (the server hook's labels): no git command
            ("refs/heads/main before this push", False),
            ": this version is released (in refs/heads/main before this push) and was changed; "
            "a released version never changes: make a new version for the change "
            "(ita-rules new-version Frank_raid_v1)",
        ),
        (
            ("origin/main", True),
            ": this version was released (in origin/main) like this, and a released version "
            "never changes: make a new version (ita-rules new-version Frank_raid_v1)",
        ),
    ],
)
def test_hash_message_depends_on_whether_the_version_is_released(
    tmp_path: Path, released: tuple[str, bool] | None, tail: str
) -> None:
    """A wrong hash in a file not released yet is fixable; in a released version it is not."""
    from ita_rules.rules.load import Released

    text = SAMPLE.read_text(encoding="utf-8")
    stated = yaml.safe_load(text)["params_hash"]
    path = write(tmp_path / "rules/Frank_raid_v1/v1.1.yaml", text.replace("tp: 2.0", "tp: 2.5"))
    release = Released(*released) if released else None
    checked = validate_file(path, "rules/Frank_raid_v1/v1.1.yaml", released=release)
    (finding,) = checked.findings
    assert finding.code == "hash-mismatch" and finding.field == "params_hash"
    assert finding.message == f"is {stated} but the content hashes to {checked.computed_hash}{tail}"

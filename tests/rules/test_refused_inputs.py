"""Rule-file inputs that must be refused, as a desk meets them (real ``ita-rules`` processes).

The bad-input corpus (``tests/cases/invalid/``) pins the exact ``validate`` lines; these journeys
cover what it cannot: a folder whose name ends in a newline, ``show``/``list`` after a nested
folder, the version check after ``new-version --set params.__class__=1``, ``--fix`` through a
linked rules folder, and what the loader's Python API answers.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from ita_rules.core import validation, yamlio
from ita_rules.rules.diffing import diff, required_bump
from tests.conftest import SAMPLE_RULES
from tests.journeys.conftest import (
    Desk,
    desk_template,  # noqa: F401  (the fixture journey_desk copies)
)
from tests.journeys.conftest import desk as journey_desk  # noqa: F401  (a fixture)

LONDON = "rules/London_FVG_v1/v1.1.yaml"
SAMPLE = SAMPLE_RULES / "Frank_raid_v1" / "v1.1.yaml"


@pytest.fixture
def desk(journey_desk: Desk) -> Desk:  # noqa: F811
    """``ita-rules init`` in an empty folder, the sample rules committed (the journeys' desk)."""
    return journey_desk


def _copy_as(d: Desk, setup_id: str, folder: str) -> str:
    """The London setup's v1.1 as ``setup_id`` under ``folder`` (its params_hash stays right)."""
    text = d.read(LONDON).replace("setup_id: London_FVG_v1", f"setup_id: {setup_id}")
    rel = f"{folder}/v1.1.yaml"
    d.write(rel, text)
    return rel


def _fix_is_refused(desk: Desk, params: str, expected: str) -> None:
    """London's v1.1 with ``params`` in place of its ``atr_period: 14`` line: ``validate --fix``
    exits 1, prints ``expected`` and leaves the file as it was."""
    desk.write(LONDON, desk.read(LONDON).replace("  atr_period: 14\n", params))
    before = desk.read(LONDON)
    r = desk.run("validate", "--fix")
    assert r.code == 1
    assert r.out == expected
    assert desk.read(LONDON) == before


# -- full matches: "$" must not accept a value that ends in a newline ---------------------------


def test_a_setup_id_ending_in_a_newline_is_refused_even_in_a_matching_folder(desk: Desk) -> None:
    _copy_as(desk, '"Tn\\n"', "rules/Tn\n")  # the folder's name ends in a newline too
    r = desk.run("validate")
    assert r.code == 1, r.out + r.err
    assert r.out.endswith(
        "v1.1.yaml:2:11: setup_id: expected a setup id: a letter, then up to 63 letters, "
        "digits, '_' or '-', got the string 'Tn\\n'\n"
    )
    listed = desk.run("list").out.splitlines()
    assert not any(line.startswith("Tn") for line in listed), listed


@pytest.mark.parametrize("field", ["setup_id", "version", "created", "params_hash"])
def test_patterns_match_the_whole_value_on_both_paths(field: str) -> None:
    """JSON Schema patterns are ECMA-262: "$" is the end of the text, not "before a final \\n"."""
    doc, _ = yamlio.load(SAMPLE, "t.yaml", raw_scalars=("version",))
    assert doc is not None and validation.validate(doc, "rule.schema.json") == []
    doc.data[field] += "\n"
    assert not validation.field_valid("rule.schema.json", field, doc.data[field])
    [finding] = validation.validate(doc, "rule.schema.json")
    assert finding.field == field and finding.code in ("pattern", "format", "maxLength")


# -- nested folders: a rule file sits directly in its setup folder ------------------------------


def test_a_rule_file_in_a_nested_folder_is_refused(desk: Desk) -> None:
    rel = _copy_as(desk, "N", "rules/X/N")
    r = desk.run("validate")
    assert r.code == 1
    assert r.out == (
        "rules/X/N/v1.1.yaml: rule files sit directly in their setup folder "
        "(rules/{setup_id}/v{MAJOR}.{MINOR}.yaml); move it to rules/N/v1.1.yaml\n"
    )
    assert desk.run("validate", rel).out == r.out
    assert desk.run("show", "N").code == 1


# -- look-alike keys ----------------------------------------------------------------------------


def test_look_alike_keys_are_refused_with_the_character_named(desk: Desk) -> None:
    _fix_is_refused(
        desk,
        "  atr_period: 14\n  atr_\u200bperiod: 21\n",
        f"{LONDON}:15:3: params.atr_\\u200bperiod: key 'atr_\\u200bperiod' holds an invisible "
        "character (U+200B ZERO WIDTH SPACE); delete it\n",
    )


def test_nfc_and_nfd_keys_do_not_sit_side_by_side() -> None:
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    assert unicodedata.normalize("NFC", nfd) == nfc
    doc, findings = yamlio.loads(f"{nfc}: 1\n{nfd}: 2\n", "t.yaml")
    assert doc is None
    assert [(f.line, f.col, f.code) for f in findings] == [(2, 1, "key-characters")]
    assert "not in Unicode normal form NFC" in findings[0].message


# -- keys starting with "__" are part of the diff -----------------------------------------------


def test_a_dunder_key_is_a_change_the_version_checks_see(desk: Desk) -> None:
    r = desk.run("new-version", "London_FVG_v1", "--set", "params.__class__=1")
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        "ita-rules: these changes add or remove a key or a component, which needs a major bump "
        "(use --major for v2.0):\n  + params.__class__: 1\n"
    )
    assert not (desk.root / "rules/London_FVG_v1/v1.2.yaml").exists()
    # Written by hand instead, the version check before a commit sees the key too.
    text = desk.read(LONDON).replace('version: "1.1"', 'version: "1.2"')
    text = text.split("active: false")[0].replace(
        "  atr_period: 14\n", "  atr_period: 14\n  __class__: 1\n"
    )
    desk.write("rules/London_FVG_v1/v1.2.yaml", text)
    assert desk.run("validate", "--fix").code == 0
    desk.git("add", "-A")
    r = desk.run("check")
    assert r.code == 1
    assert r.out == (
        "rules/London_FVG_v1/v1.2.yaml:3:10: version: adds or removes a key or a component, "
        "which needs a major bump: 2.0, not 1.2:\n    + params.__class__: 1\n"
    )


def test_diff_reports_private_looking_keys() -> None:
    old = {"params": {"a": 1}}
    new = {"params": {"a": 1, "__class__": 1, "__init__": {"x": 2}}}
    assert [str(c) for c in diff(old, new)] == [
        "+ params.__class__: 1",
        '+ params.__init__: {"x": 2}',
    ]
    assert required_bump(old, new)[0] == "major"
    assert [str(c) for c in diff(new, {"params": {"a": 1, "__class__": 2, "__init__": {}}})] == [
        "~ params.__class__: 1 -> 2",
        "- params.__init__.x: 2",
    ]


# -- --fix never writes through a linked rules folder -------------------------------------------


def test_fix_does_not_write_through_a_linked_rules_folder(desk: Desk) -> None:
    shutil.move(desk.root / "rules", desk.root / "elsewhere")
    (desk.root / "rules").symlink_to("elsewhere", target_is_directory=True)
    path = desk.root / "elsewhere" / "London_FVG_v1" / "v1.1.yaml"
    path.write_text(path.read_text().replace("atr_period: 14", "atr_period: 15"))
    before = path.read_bytes()
    whole = desk.run("validate", "--fix")
    assert (whole.code, whole.out) == (
        1,
        "rules: is a symbolic link; rule folders must be real folders\n",
    )
    r = desk.run("validate", "--fix", LONDON)
    assert r.code == 1
    assert r.out == (
        f"{LONDON}: the folder rules is a symbolic link; rule folders must be real folders\n"
    )
    assert path.read_bytes() == before


# -- YAML 1.1 surprises -------------------------------------------------------------------------


def test_ambiguous_plain_scalars_are_refused_with_how_to_quote(desk: Desk) -> None:
    _fix_is_refused(
        desk,
        "  atr_period: 010\n  session: NO\n  mult: 1e3\n",
        f"{LONDON}:14:15: params.atr_period: ambiguous plain scalar 010 (YAML 1.1 reads it as "
        'the octal number 8, YAML 1.2 as 10): write "010", 8 or 10\n'
        f"{LONDON}:15:12: params.session: ambiguous plain scalar NO (YAML 1.1 reads it as "
        'false): write "NO" or false\n'
        f"{LONDON}:16:9: params.mult: ambiguous plain scalar 1e3 (YAML 1.1 reads it as the "
        'string "1e3", YAML 1.2 as the number 1000.0): write "1e3" or 1000.0\n',
    )


@pytest.mark.parametrize(
    "plain",
    [
        "true",
        "false",
        "True",
        "FALSE",
        "null",
        "~",
        "0",
        "14",
        "-3",
        "+7",
        "0x1F",
        "0.5",
        ".5",
        "2.",
        "1.5e-3",
        "1.0e+3",
        "2025-01-02",
        "london",
        "e3",
        "yes-no",
        "1.10",
    ],
)
def test_plain_scalars_both_yaml_versions_agree_on_stay_valid(plain: str) -> None:
    doc, findings = yamlio.loads(f"x: {plain}\n", "t.yaml")
    assert doc is not None, [str(f) for f in findings]


@pytest.mark.parametrize(
    "plain",
    [
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "N",
        "yEs",
        "010",
        "-07",
        "09",
        "0o17",
        "0b101",
        "1_000",
        "1e3",
        "1E+3",
        "1.0e3",
        "+.5",
        "1_0.5",
        "0x_1F",
    ],
)
def test_plain_scalars_the_yaml_versions_disagree_on_are_refused(plain: str) -> None:
    doc, findings = yamlio.loads(f"x: {plain}\n", "t.yaml")
    assert doc is None
    [finding] = findings
    assert finding.code == "ambiguous"
    assert finding.message.startswith(f"ambiguous plain scalar {plain} (YAML 1.1 reads it as ")
    assert f'write "{plain}"' in finding.message
    quoted, _ = yamlio.loads(f'x: "{plain}"\n', "t.yaml")
    assert quoted is not None and quoted.data == {"x": plain}


def test_new_version_quotes_strings_that_would_not_read_back(desk: Desk) -> None:
    r = desk.run("new-version", "London_FVG_v1", "--set", "params.session=NO")
    assert (r.code, r.out) == (2, "")
    assert r.err == (
        "ita-rules: --set 'params.session=NO': ambiguous plain scalar NO (YAML 1.1 reads it "
        'as false): write "NO" or false\n'
    )
    sets = ("--set", 'rules.sessions.sweep="NO"', "--set", 'params.atr_period="010"')
    r = desk.run("new-version", "London_FVG_v1", *sets)
    assert r.code == 0, r.err
    text = desk.read("rules/London_FVG_v1/v1.2.yaml")
    assert '{sweep: "NO", entry: london}' in text and '  atr_period: "010"\n' in text
    assert desk.run("validate").code == 0
    shown = desk.run("show", "London_FVG_v1@1.2", "--json").json()["rule"]
    assert (shown["rules"]["sessions"]["sweep"], shown["params"]["atr_period"]) == ("NO", "010")


def test_the_python_api_refuses_nested_and_linked_rule_files(desk: Desk) -> None:
    from ita_rules import Workspace
    from ita_rules.core.errors import NotFound, RuleError

    _copy_as(desk, "N", "rules/X/N")
    registry = Workspace.open(desk.root).registry
    rules, findings = registry.scan()
    assert "N" not in {r.setup_id for r in rules}
    assert [(f.path, f.code) for f in findings] == [("rules/X/N/v1.1.yaml", "layout")]
    with pytest.raises(NotFound):
        registry.get("N")
    shutil.rmtree(desk.root / "rules" / "X")
    shutil.move(desk.root / "rules", desk.root / "elsewhere")
    (desk.root / "rules").symlink_to("elsewhere", target_is_directory=True)
    with pytest.raises(RuleError, match="the folder rules is a symbolic link"):
        Workspace.open(desk.root).registry.get("London_FVG_v1", "1.0")


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="0123456789+-._:eExXoObBfFnNyYsStTrRuUlL~", min_size=1, max_size=7))
def test_what_the_loader_accepts_a_yaml_1_2_parser_reads_the_same(text: str) -> None:
    """ruamel.yaml reads YAML 1.2; it also allows digit groups (``1_000``) as an extension, so
    texts with ``_`` are left out. Dates are ISO strings on our side: left out too."""
    assume("_" not in text)
    doc, _ = yamlio.loads(f"x: {text}\n", "t.yaml")
    if doc is None:
        return
    try:
        theirs = YAML(typ="safe", pure=True).load(f"x: {text}\n")
    except YAMLError:
        return
    if not isinstance(theirs, dict) or isinstance(theirs["x"], _dt.date):
        return
    ours = doc.data["x"]
    assert (type(ours), ours) == (type(theirs["x"]), theirs["x"]), text


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("a\u00a0b", "holds a space that is not a plain space (U+00A0 NO-BREAK SPACE); use"),
        ("a\\tb", "holds a control character (U+0009); delete it"),
        ("a\u2066b", "holds a bidirectional control character (U+2066 LEFT-TO-RIGHT ISOLATE)"),
        ("\ufeffab", "holds an invisible character (U+FEFF ZERO WIDTH NO-BREAK SPACE)"),
        ("a\u3164b", "holds an invisible character (U+3164 HANGUL FILLER)"),
    ],
)
def test_each_kind_of_look_alike_key_is_named(key: str, says: str) -> None:
    doc, findings = yamlio.loads(f'params:\n  "{key}": 1\n', "t.yaml")
    assert doc is None
    [finding] = findings
    assert (finding.line, finding.col, finding.code) == (2, 3, "key-characters")
    assert says in finding.message
    assert finding.field.startswith("params.a") or finding.field.startswith("params.\\ufeff")
    assert finding.field.isascii()  # the character is shown as an escape, not invisibly


def test_explicit_tags_and_quotes_are_not_ambiguous() -> None:
    text = 'a: !!str y\nb: &x !!bool yes\nc: !!float "1.5"\nd: "NO"\n"y": 1\ne: \'1e3\'\nf: *x\n'
    doc, findings = yamlio.loads(text, "t.yaml")
    assert doc is not None, [str(f) for f in findings]
    assert doc.data == {"a": "y", "b": True, "c": 1.5, "d": "NO", "y": 1, "e": "1e3", "f": True}
    doc, findings = yamlio.loads("a: &x yes\nb: *x\n", "t.yaml")
    assert [(f.line, f.col, f.code) for f in findings] == [(1, 4, "ambiguous"), (1, 4, "ambiguous")]

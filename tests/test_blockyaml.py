"""blockyaml reads what it reads exactly as the PyYAML loader does (the same data, types and
marks) and leaves everything else to it; the usual layouts of rule files are read without
PyYAML (else the hook would gain nothing)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ita_rules.core import blockyaml, yamlio, yamlloader
from ita_rules.core.yamldoc import Document
from tests.test_check import rule_yaml

REPO = Path(__file__).resolve().parent.parent
RAW = frozenset({"version"})

# Values as written after "key: " or "- ": the layout's scalars and lists, and their neighbours
# that the loader reads differently or refuses (or that are not in the layout).
# fmt: off
_GOOD = [
    '"a b"', "'x'", '"a # b"', '""', "''", '"é€😀"', "'a \\ b'", "1", "0", "-0", "-7", "0.5",
    "-1.25", "2.0", "-0.0", "123456789012345", "1.123456789012345", "true", "False", "TRUE",
    "GER40", "fade", "sha256:ab12", "a:b", "http://x.y/z", "close back inside", "a -b", "_k",
    "a.b", "x y z", "[a, b]", "[]", "[ ]", '["x", y]', "[a,b]", "[ a ,b ]", "[1, -2.5, true]",
    '["a, b", c]', "[a b]", '"09:00"', "'2025-01-01'", "{a: 1}", "{}", "{ a: x , b: 'y'}",
    '{tp: 3.0, sl: -1}', "{version: 1.5}", "2025-01-01", "2024-02-29", "[2025-12-31, x]",
    "Fade the raid (first hour), 50% of R&D!", "it's \"x\" a#b", "a|b>c*d&e@f`g%h", "x: y:z",
    "José, é → ok", "a\\b", "k=v; [x] {y} ~z ?w", "a -- b --- c", "a:b:c",
]
_NEAR = [
    "'it''s'", '"a\\tb"', '"a\\"', "'a", "010", "0x1f", "1e3", "1.0e+3", "1_000", "+1", ".5",
    "1.", "9007199254740993", "1:30", "tRue", "yes", "No", "on", "OFF", "y", "n", "null",
    "Null", "~", "a: b", "a:", "a  b", "a #c", "a#c", "2023-02-29", "09:00", "&a x", "*a",
    "!!str x", "|", ">", "-x", "- x", "é", "@x", "`x", "%x", "?x", ":x", "=", "<<", "{a:1}",
    "{a: 1, a: 2}", "{yes: 1}", "{a: [b]}", "{a}", "{a: }", "{a: 1,}", '{"a": 1}',
    "[a, ]", "[a: b]", "[[a]]", "[a] x", "[yes]", "[a:b]", "[", "]", "a\tb", "0000-01-01",
    "2025-1-01", "2025-01-01T10:00:00", "2025-01-01 10:00", "1900-02-29", "[2025-02-30]",
    "a: b: c", "a b ", "a  b", "a #b", "a:", "Yes", "tRUE.", "a\u00a0b", "[a, b(c)]", "[x: y]",
]
# fmt: on
_KEYS = ["a", "b", "setup_id", "version", "K1", "_k", "a_b"]
_NEAR_KEYS = ["on", "y", "No", "a b", '"q"', "a-b", "é", "1", "<<", "? a"]
_noise = st.text(alphabet="ab1:.-# '\"[],{}&*!|>\\é\t\r\x85\u2028~", max_size=6)


def _mostly(good: list[str], near: list[str]) -> st.SearchStrategy[str]:
    """One of ``good`` (17 times in 20), of ``near`` (2 in 20), or noise."""
    return st.integers(0, 19).flatmap(
        lambda n: st.sampled_from(good) if n < 17 else st.sampled_from(near) if n < 19 else _noise
    )


_value = _mostly(_GOOD, _NEAR)
_key = _mostly(_KEYS, _NEAR_KEYS)
_comment = st.sampled_from(["", "", "", "", "", "  # note", " #x", "#x", "\t# t"])


@st.composite
def _block(draw: st.DrawFn, indent: int, depth: int, clean: bool) -> list[str]:
    """The lines of a block mapping at ``indent``: inline values, nested mappings, block lists
    (indented or not), comment and blank lines; ``clean``: the layout's values only."""
    lines: list[str] = []
    pad = " " * indent
    value = st.sampled_from(_GOOD) if clean else _value
    comment = st.sampled_from(["", "", "  # note"]) if clean else _comment
    for n in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", " " * draw(st.integers(0, 6)) + "# c"])))
        key = f"k{n}_{depth}" if clean else draw(_key)
        kinds = ["inline"] * 6 + ["map", "map", "list", "list"] + ([] if clean else ["empty"])
        kind = draw(st.sampled_from(kinds))
        sep = draw(st.sampled_from([" ", " ", "   "]))
        if kind == "inline" or depth >= 3:
            lines.append(f"{pad}{key}:{sep}{draw(value)}{draw(comment)}")
        elif kind == "empty":
            lines.append(f"{pad}{key}:{draw(comment)}")
        elif kind == "map":
            lines.append(f"{pad}{key}:{draw(comment)}")
            lines += draw(_block(indent + draw(st.integers(1, 4)), depth + 1, clean))
        else:
            lines.append(f"{pad}{key}:{draw(comment)}")
            dash = " " * (indent + draw(st.integers(0, 3)))
            for _ in range(draw(st.integers(1, 3))):
                lines.append(f"{dash}-{sep}{draw(value)}{draw(comment)}")
    return lines


@st.composite
def _texts(draw: st.DrawFn) -> str:
    """A text in (or near) the block layout, sometimes with one character changed."""
    clean = draw(st.booleans())
    text = "\n".join(draw(_block(0, 0, clean)))
    text += draw(st.sampled_from(["\n", "", "\n\n", "\n# end"]))
    if not clean and draw(st.integers(0, 5)) == 0 and text:
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.sampled_from([" ", "\t", "-", ":", "#", "\n", ""])) + text[at:]
    return draw(st.sampled_from(["", "", "", "# head\n", "---\n", "\ufeff"])) + text


@contextlib.contextmanager
def _loader(loader: Any) -> Iterator[None]:
    real = yamlloader._Loader
    yamlloader._Loader = loader
    try:
        yield
    finally:
        yamlloader._Loader = real


def _same(doc: Document, text: str, raw: frozenset[str], loader: Any) -> None:
    with _loader(loader):
        ref, findings = yamlloader.loads(text, doc.path, raw)
    assert findings == [] and ref is not None, (text, findings)
    assert repr(doc.data) == repr(ref.data), text  # types too: 1, 1.0 and True differ
    assert doc.marks == ref.marks, text
    assert doc.key_marks == ref.key_marks, text
    assert (doc.path, doc.text) == (ref.path, ref.text)


LOADERS = [getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader]


@settings(max_examples=3000, deadline=None)
@given(text=_texts(), raw=st.sampled_from([RAW, frozenset(), frozenset({"a", "b"})]))
def test_what_blockyaml_reads_the_loader_reads_alike(text: str, raw: frozenset[str]) -> None:
    """Whenever blockyaml reads a text, both PyYAML loaders (libyaml and pure Python) load it
    without a finding into the same data, with the same types, order and marks."""
    doc = blockyaml.read(text, "t.yaml", raw)
    event("read" if doc is not None else "left to the loader")
    if doc is not None:
        for loader in LOADERS:
            _same(doc, text, raw, loader)


def _usual() -> list[tuple[str, str]]:
    """Rule files as people and tools write them: the example registry, the tests' files
    (yaml.safe_dump), the template new versions are made from."""
    files = [(str(p.relative_to(REPO)), p.read_text()) for p in sorted(REPO.glob("rules/*/*.yaml"))]
    files.append(("rule_yaml", rule_yaml("S1", "1.0", tags=["a", "b"], reason="retired early")))
    files.append(("rule_yaml params", rule_yaml("S1", "2.3", params={"atr": 1.5, "count": -2})))
    return files


@pytest.mark.parametrize(("name", "text"), _usual(), ids=[n for n, _ in _usual()])
def test_the_usual_layouts_are_read_without_pyyaml(name: str, text: str) -> None:
    doc = blockyaml.read(text, name, RAW)
    assert doc is not None, name
    for loader in LOADERS:
        _same(doc, text, RAW, loader)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate key: the loader names both lines
        "a: yes\n",  # ambiguous: the loader says what to write
        "a: 2025-02-30\n",  # not a date: the loader says so
        "a:\n",  # null
        "a: 1\n  b: 2\n",  # a syntax error
        "a:\n\t- x\n",  # a tab
        "a: 1\r\nb: 2\r\n",  # CR LF
        "a: &x 1\nb: *x\n",
        "a: |\n  text\n",
        "a: long\n  continued\n",
        "- a\n",
        "",
        "# only a comment\n",
    ],
)
def test_anything_else_is_left_to_the_loader(text: str) -> None:
    assert blockyaml.read(text, "t.yaml", RAW) is None
    assert _seen(yamlio.loads(text, "t.yaml", raw_scalars=RAW)) == _seen(
        yamlloader.loads(text, "t.yaml", RAW)
    )


def _seen(loaded: tuple[Document | None, list[Any]]) -> tuple[Any, ...]:
    doc, findings = loaded
    if doc is None:
        return (findings,)
    return (repr(doc.data), doc.marks, doc.key_marks, findings)

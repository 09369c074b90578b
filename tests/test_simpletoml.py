"""simpletoml reads what it reads exactly as tomllib does (the same dict, types and order) and
leaves everything else to it; the ita.toml that init writes is read without tomllib."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ita_rules.core import config, simpletoml
from ita_rules.core.errors import ConfigError

# fmt: off
_VALUES = [
    '"exchange"', '""', "''", '"a # b"', "'C:\\\\path'", '"é€"', '"sqlite:///.ita/x"', "true",
    "false", "0", "7", "-12", "1234567890123456", "[]", '["a", "b"]', "[ 'x' ,\"y\" ]", "[ ]",
]
_NEAR = [
    '"a\\\\nb"', '"a\\\\"', "'it''s'", '"""x"""', "True", "01", "+1", "-0", "1_000", "0x1f",
    "1.5", "1e3", "12345678901234567890", "2025-01-01", "{a = 1}", "[1, 2]", '["a",]', "[",
    '["a"', 'a', '"a" "b"', "nan", "inf", '"\\t"',
]
_KEYS = ["root", "dir", "a", "b-c", "_k", "1"]
_NEAR_KEYS = ['"q"', "a.b", "a b", "é", "", " a"]
_HEADERS = ["[store]", "[rules]", "[notify.telegram]", "[a]", "[a.b]", "[notify]"]
_NEAR_HEADERS = ["[[a]]", "[ a ]", "[a.]", '["a"]', "[a] x", "[a", "a]"]
# fmt: on
_noise = st.text(alphabet="ab1=.\"'[]#, \t\r-_{}é\\", max_size=8)


def _mostly(good: list[str], near: list[str]) -> st.SearchStrategy[str]:
    """One of ``good`` (17 times in 20), of ``near`` (2 in 20), or noise."""
    return st.integers(0, 19).flatmap(
        lambda n: st.sampled_from(good) if n < 17 else st.sampled_from(near) if n < 19 else _noise
    )


_comment = st.sampled_from(["", "", "", "  # c", "# c", " #"])
_line = st.one_of(
    st.builds(
        lambda k, sep, v, c: f"{k}{sep}{v}{c}",
        _mostly(_KEYS, _NEAR_KEYS),
        st.sampled_from([" = ", "=", "  =  ", " ="]),
        _mostly(_VALUES, _NEAR),
        _comment,
    ),
    st.builds(lambda h, c: f"{h}{c}", _mostly(_HEADERS, _NEAR_HEADERS), _comment),
    st.sampled_from(["", "# comment", "   ", "  # indented"]),
    st.builds(lambda k, v: f"  {k} = {v}", _mostly(_KEYS, _NEAR_KEYS), _mostly(_VALUES, _NEAR)),
)


@settings(max_examples=3000, deadline=None)
@given(lines=st.lists(_line, max_size=8), end=st.sampled_from(["\n", "", "\r\n"]))
def test_what_simpletoml_reads_tomllib_reads_alike(lines: list[str], end: str) -> None:
    """Whenever simpletoml reads a text, tomllib reads it into the same dict (types and order
    too)."""
    text = end.join(lines) + end
    doc = simpletoml.loads(text)
    event("read" if doc is not None else "left to tomllib")
    if doc is not None:
        assert repr(doc) == repr(tomllib.loads(text)), text


def test_the_ita_toml_init_writes_is_read_without_tomllib(tmp_path: Path) -> None:
    from ita_rules.workspace import init_workspace

    init_workspace(tmp_path / "ws")
    text = (tmp_path / "ws" / "ita.toml").read_text(encoding="utf-8")
    doc = simpletoml.loads(text)
    assert doc is not None and repr(doc) == repr(tomllib.loads(text))


@pytest.mark.parametrize(
    "text",
    [
        "[rules]\ndir = 'a'\ndir = 'b'\n",  # a key twice: tomllib's error
        "[rules]\n[rules]\n",
        '[rules]\ndir = "a\\\\b"\n',  # an escape
        "[rules]\r\ndir = 'a'\r\n",
        "[rules]\n\tdir = 'a'\n",
        "[a.b]\n[a]\n",  # valid, but opens a table already made
    ],
)
def test_anything_else_is_left_to_tomllib(text: str) -> None:
    assert simpletoml.loads(text) is None


def test_a_wrong_ita_toml_is_still_tomllib_s_error(tmp_path: Path) -> None:
    (tmp_path / "ita.toml").write_text("[rules]\ndir = 'a'\ndir = 'b'\n")
    with pytest.raises(ConfigError, match=r"ita\.toml:3:10: Cannot overwrite a value"):
        config.load_settings(tmp_path)

"""The history's cheap reader (``rules/scan.py``) reads a rule file's top-level scalars exactly
as the YAML loader does or not at all: texts a review found it reading although the loader
refuses them (a date that names no day, a merge key as a value, a line break ``re`` does not
know) or reads them differently (a BOM before the first key)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.core import yamlio
from ita_rules.rules.scan import FIELDS, scan

BODY = 'setup_id: S1\nversion: "1.0"\nauthor: {author}\ncreated: {created}\nactive: true\n'


def _agree(text: str) -> None:
    fast = scan(text)
    doc, _ = yamlio.loads(text, "x", raw_scalars=("version",))
    if doc is None:
        assert fast is None, text
    elif fast is not None:
        assert fast == {k: doc.data[k] for k in FIELDS if k in doc.data}, text


@pytest.mark.parametrize(
    "text",
    [
        BODY.format(author="a", created="2025-02-30"),
        BODY.format(author="a", created="0000-01-01"),
        BODY.format(author="a", created="2025-13-01"),
        BODY.format(author="a", created="1900-02-29"),
        BODY.format(author="a", created="<<"),
        BODY.format(author="a\u2028b", created="2025-01-01"),
        BODY.format(author="a\x85b", created="2025-01-01"),
        BODY.format(author="a\rb", created="2025-01-01"),
    ],
)
def test_what_the_loader_refuses_scan_does_not_read(text: str) -> None:
    assert yamlio.loads(text, "x", raw_scalars=("version",))[0] is None
    assert scan(text) is None


@pytest.mark.parametrize("lead", ["\ufeff", "\r", "\x85", "\u2028"])
def test_a_first_key_after_a_bom_or_a_hidden_break_is_not_lost(lead: str) -> None:
    _agree(lead + BODY.format(author="a", created="2025-01-01"))


@settings(max_examples=500, deadline=None)
@given(
    created=st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z") | st.sampled_from(["<<", "<a"]),
    author=st.text(alphabet="ab <:\r\x85\u2028\u2029\ufeff", max_size=6),
    lead=st.sampled_from(["", "\ufeff", "\r", "\x85"]),
)
def test_scan_agrees_with_the_loader_on_dates_and_line_breaks(
    created: str, author: str, lead: str
) -> None:
    _agree(lead + BODY.format(author=author or "x", created=created))

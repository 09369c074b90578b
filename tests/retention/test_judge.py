"""The judge's arithmetic on times as the store writes them (``retention/judge.py``): the whole
days a record is old are Python's ``int()`` of its age in days, as the first planner computed
it (tests/retention/_reference.py), to the microsecond, in the future too, and for years before
1000; a text in the store's shape that names no moment has no age (it is kept); a stored time
is shown as ``datetime.isoformat()`` shows the moment."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.core import times
from ita_rules.retention.judge import STORE_TIME, Ages, shown

AS_OF = dt.datetime(2026, 1, 15, 12, 0, 0, 250_000, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
US = dt.timedelta(microseconds=1)

ages = st.builds(
    lambda days, nudge, seconds: days * DAY + nudge + dt.timedelta(seconds=seconds),
    st.integers(-3, 3000),
    st.sampled_from([dt.timedelta(0), US, -US]),
    st.sampled_from([0, 1, 43_200, 86_399]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ages, min_size=1, max_size=20))
def test_whole_days_are_int_of_the_age_in_days(ages: list[dt.timedelta]) -> None:
    counter = Ages(AS_OF)
    for age in ages:
        created = times.iso(AS_OF - age)
        assert counter.days_old(created) == int(age.total_seconds() / 86400), created


@pytest.mark.parametrize(
    "created",
    [
        "0999-12-30T12:00:00.250000Z",  # a year under 1000: strftime would not pad it
        "0500-01-01T12:00:00.250000Z",
        "0001-01-01T00:00:00.000000Z",
        "9999-12-31T23:59:59.999999Z",
    ],
)
def test_far_times_are_counted_exactly(created: str) -> None:
    age = AS_OF - dt.datetime.fromisoformat(created)
    assert Ages(AS_OF).days_old(created) == int(age.total_seconds() / 86400)


@pytest.mark.parametrize(
    "text",
    [
        "2025-02-30T00:00:00.000000Z",
        "2016-12-31T23:59:60.000000Z",
        "2025-01-01T24:00:00.000000Z",
        "２０２５-01-01T00:00:00.000000Z",
    ],
)
def test_a_text_that_names_no_moment_is_not_judged(text: str) -> None:
    # the days are not counted, and the planner keeps the record (test_plan_sql)
    assert STORE_TIME.fullmatch(text) is None or Ages(AS_OF).days_old(text) is None


def test_a_stored_time_is_shown_as_isoformat_shows_the_moment() -> None:
    for moment in (AS_OF, AS_OF.replace(microsecond=0), AS_OF.replace(microsecond=1)):
        assert shown(times.iso(moment)) == moment.isoformat()
    assert shown("2025-10-17T14:00:00+02:00") == "2025-10-17T14:00:00+02:00"
    assert shown("2025-10-17 12:00:00") == "2025-10-17T12:00:00+00:00"
    assert shown("yesterday") == "yesterday"


@settings(max_examples=100, deadline=None)
@given(st.lists(ages, min_size=1, max_size=20), st.integers(-14, 14))
def test_the_days_do_not_depend_on_the_offset_as_of_is_given_in(
    ages: list[dt.timedelta], hours: int
) -> None:
    # Ages counts from as_of's date and time of day in UTC, whatever offset it was given in
    elsewhere = AS_OF.astimezone(dt.timezone(dt.timedelta(hours=hours)))
    for age in ages:
        created = times.iso(AS_OF - age)
        assert Ages(elsewhere).days_old(created) == int(age.total_seconds() / 86400), created


def test_a_record_inside_retain_days_of_an_early_as_of_is_kept() -> None:
    # the cutoff is written as the store writes times: with a year under 1000 unpadded
    # ("500-01-02..."), every stored time sorted after it and this young record was selected
    from ita_rules.retention.judge import TypeJudge
    from ita_rules.retention.policy import TypeRule
    from ita_rules.retention.query import Lookups

    as_of = dt.datetime(500, 2, 1, tzinfo=dt.UTC)
    judge = TypeJudge("screenshot", TypeRule("delete", 30), as_of, None)
    row = ("f1", 10, "0500-01-30T00:00:00.000000Z", None, "sha256:00")
    [decision] = judge.decisions([row], Lookups({}, {}, {}, {}, {}))
    assert (decision.action, decision.reason) == ("keep", "inside retain_days (2 < 30 days old)")

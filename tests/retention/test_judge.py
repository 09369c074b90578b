"""The judge's text arithmetic on times as the store writes them (``retention/judge.py``): the
whole days a record is old, counted against day marks, are Python's ``int()`` of its age in
days, as the first planner computed it (tests/retention/_reference.py), to the microsecond,
for times older than any mark made so far and for times in the future; a stored time is shown
as ``datetime.isoformat()`` shows the moment."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.core import times
from ita_rules.retention.judge import Ages, shown

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
    counter = Ages(AS_OF)  # one counter for all: its marks reach back as times need them
    for age in ages:
        created = times.iso(AS_OF - age)
        assert counter.days_old(created) == int(age.total_seconds() / 86400), created


def test_a_stored_time_is_shown_as_isoformat_shows_the_moment() -> None:
    for moment in (AS_OF, AS_OF.replace(microsecond=0), AS_OF.replace(microsecond=1)):
        assert shown(times.iso(moment)) == moment.isoformat()
    assert shown("2025-10-17T14:00:00+02:00") == "2025-10-17T14:00:00+02:00"
    assert shown("2025-10-17 12:00:00") == "2025-10-17T12:00:00+00:00"
    assert shown("yesterday") == "yesterday"

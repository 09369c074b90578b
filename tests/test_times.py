"""The one time convention (ita_rules/core/times.py): UTC everywhere, a date bound covers its day."""

from __future__ import annotations

import datetime as dt

import pytest

from ita_rules.core import times
from ita_rules.core.errors import UsageError

UTC = dt.UTC


def test_a_date_as_an_upper_bound_keeps_the_last_second_of_the_day() -> None:
    end = times.parse_bound("2026-01-15", "--until", end=True)
    assert end == dt.datetime(2026, 1, 16, tzinfo=UTC)
    assert dt.datetime(2026, 1, 15, 23, 59, 59, 999_999, tzinfo=UTC) < end
    assert times.parse_bound("2026-01-15", "--since") == dt.datetime(2026, 1, 15, tzinfo=UTC)


def test_iso_times_are_read_as_utc_whatever_their_form() -> None:
    expected = dt.datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    for text in ("2026-01-15T10:30:00Z", "2026-01-15T10:30:00", "2026-01-15T12:30:00+02:00"):
        assert times.parse_bound(text, "--at") == expected
        assert times.parse_iso(text) == expected


def test_stored_form_sorts_like_time_and_reads_back() -> None:
    a = dt.datetime(2026, 1, 15, 9, 0, 0, 5, tzinfo=UTC)
    b = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=-1)))  # 11:00 UTC
    assert times.iso(a) == "2026-01-15T09:00:00.000005Z"
    assert times.iso(a) < times.iso(b)
    assert times.parse_iso(times.iso(b)) == b
    assert times.stamp(a) == "20260115T090000000Z"


@pytest.mark.parametrize("year", [1, 5, 500, 999, 1000, 9999])
def test_the_stored_form_has_four_year_digits_so_early_years_sort_first(year: int) -> None:
    # strftime("%Y") writes year 500 as "500", which sorts after "2026": a retention cutoff
    # --as-of an early year would then have selected records younger than retain_days
    moment = dt.datetime(year, 2, 1, 3, 4, 5, 60, tzinfo=UTC)
    assert times.iso(moment) == f"{year:04d}-02-01T03:04:05.000060Z"
    assert times.stamp(moment) == f"{year:04d}0201T030405000Z"
    assert times.parse_iso(times.iso(moment)) == moment
    later = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert (times.iso(moment) < times.iso(later)) == (year < 2026)


@pytest.mark.parametrize("text", ["2026-13-01", "15.01.2026", "yesterday", "9999-12-31x", ""])
def test_a_bad_date_names_the_option(text: str) -> None:
    with pytest.raises(UsageError) as err:
        times.parse_bound(text, "--until")
    assert str(err.value) == f"--until: expected a date YYYY-MM-DD or an ISO time, got {text!r}"


def test_the_last_day_of_the_calendar_is_refused_as_an_end_not_crashed() -> None:
    with pytest.raises(UsageError, match="--until: expected a date"):
        times.parse_bound("9999-12-31", "--until", end=True)


def test_microsecond_ranges_round_trip() -> None:
    moment = dt.datetime(2025, 5, 1, tzinfo=UTC)
    assert times.iso_us(times.to_us(moment)) == "2025-05-01T00:00:00Z"
    assert times.iso_us(times.to_us(moment) + 1_500) == "2025-05-01T00:00:00.0015Z"
    early = dt.datetime(999, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)
    assert times.iso_us(times.to_us(early)) == "0999-12-31T23:59:59.5Z"
    assert times.to_us(dt.datetime(1970, 1, 1)) == 0

"""Time, in one place (docs/architecture.md#times).

One convention everywhere:

- Every moment is an aware UTC ``datetime``; a naive one read from the user or a file means UTC.
- The database and the journals keep ``2026-01-15T10:30:00.123456Z`` (:func:`iso`), which sorts
  as text in the same order as in time.
- A date given as a bound covers the whole day: ``--since 2026-01-15`` starts at its midnight, and
  ``--until 2026-01-15`` / ``--at 2026-01-15`` end at the *next* midnight, exclusive
  (:func:`parse_bound` with ``end=True``), so nothing in the last second of the day is lost.
- Candle data ranges are kept in microseconds since the epoch and written back in their compact
  form ``2025-05-01T00:00:00Z`` (:func:`iso_us`), a fraction only when there is one.
"""

from __future__ import annotations

import datetime as _dt

from ita_rules.core.errors import UsageError

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_US = _dt.timedelta(microseconds=1)


def now() -> _dt.datetime:
    """The real clock, in UTC."""
    return _dt.datetime.now(_dt.UTC)


def utc(moment: _dt.datetime) -> _dt.datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_dt.UTC)
    return moment.astimezone(_dt.UTC)


def iso(moment: _dt.datetime) -> str:
    """``2026-01-15T10:30:00.123456Z``: how moments are kept in the database and journals. The
    year always has four digits (``strftime("%Y")`` writes year 500 as ``500``, which would sort
    after ``2026``): the text sorts as the time does."""
    return utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def stamp(moment: _dt.datetime) -> str:
    """``20260115T103000123Z``: UTC to the millisecond, safe in a file name."""
    m = utc(moment)
    return f"{m.year:04d}{m:%m%dT%H%M%S}{m.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> _dt.datetime:
    """A stored or user-given ISO-8601 moment (``Z`` or an offset, or naive = UTC), in UTC.
    Raises ``ValueError`` for anything else."""
    return utc(_dt.datetime.fromisoformat(text))


def parse_bound(text: str, option: str, *, end: bool = False) -> _dt.datetime:
    """A command-line date ``YYYY-MM-DD`` or ISO time. A date is the start of that day, or with
    ``end=True`` the start of the next one (an exclusive upper bound that keeps the whole day).
    A bad value is a :class:`UsageError` naming the option."""
    try:
        if len(text) == 10:
            day = _dt.date.fromisoformat(text)
            moment = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.UTC)
            return moment + _dt.timedelta(days=1) if end else moment
        return parse_iso(text)
    except (ValueError, OverflowError):
        raise UsageError(
            f"{option}: expected a date YYYY-MM-DD or an ISO time, got {text!r}"
        ) from None


def to_us(moment: _dt.datetime) -> int:
    """Microseconds since the epoch (a naive moment is UTC)."""
    return (utc(moment) - EPOCH) // _US


def iso_us(value: int) -> str:
    """Microseconds since the epoch -> ``2025-05-01T00:00:00Z`` (a fraction only when needed)."""
    moment = EPOCH + _dt.timedelta(microseconds=value)
    text = moment.replace(tzinfo=None).isoformat(timespec="seconds")  # four year digits always
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"

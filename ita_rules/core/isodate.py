"""``YYYY-MM-DD`` dates told without the datetime module (~0.7 ms to import, which every
commit's hook would pay): :func:`is_date`."""

from __future__ import annotations

import re

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_date(text: str) -> bool:
    """True when ``text`` is ``YYYY-MM-DD`` in ASCII digits and names a date that
    ``datetime.date`` holds: years 1 to 9999, the Gregorian calendar's months and days (the
    JSON Schema ``format: date`` check, and a plain YAML date the loader can build)."""
    if _DATE.fullmatch(text) is None:
        return False
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:])
    if year == 0 or not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= _MONTH_DAYS[month - 1] + (month == 2 and leap)

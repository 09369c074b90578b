"""The canonical form of candles (docs/architecture.md#runs): what a range hash is computed
over, whatever file the candles came from.

The form is columnar, so that CSV and Parquet holding the same candles hash the same and so
that how the file is cut into blocks never matters:

* the time column becomes int64 microseconds since the epoch, UTC (ISO-8601 text with or
  without a zone, naive times read as UTC; epoch numbers in s/ms/us/ns by their magnitude);
* a CSV from ``DataFrame.to_csv()`` (first header cell empty: the index) hashes like the
  same candles without the index: an unnamed first column is the time when no other column
  has a time name (a DatetimeIndex), and is left out otherwise (row numbers);
* every other column becomes float64: ``1.10``, ``1.1`` and ``1.100`` are one price, ``5``
  and ``5.0`` one volume; an empty cell is NaN; ``-0`` is ``0``; one NaN bit pattern;
* each column is a stream of 8-byte little-endian values, hashed on its own; the range hash is
  ``sha256(header + digest(time) + digest(col1) + ...)`` where the header names the columns
  (lowercase, time first, the others sorted) and the range as requested.

Rows are kept when ``start <= time <= end``; a date-only ``end`` covers that whole day. The
candles appended after the range therefore change nothing; a corrected candle inside does.
The first and last times and the row count inside the range are recorded too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ita_rules.core import times
from ita_rules.core.canonical import canonical_json
from ita_rules.core.errors import ItaRulesError, Location, UsageError

CANONICAL_VERSION = "ita-candles-v1"
TIME_NAMES = (
    "time", "timestamp", "datetime", "date_time", "date", "ts", "open_time", "gmt time",
    "local time", "time_utc", "datetime_utc",
)  # fmt: skip
PANDAS_INDEX = "__index_level_0__"  # how pandas names an unnamed index in Parquet
_DIGITS = re.compile(r"-?[0-9]+(\.[0-9]*)?")


class DataHashError(ItaRulesError):
    """An input cannot be read or is not a candle file of the form we can hash."""


# -- range ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataRange:
    """``[start, end]`` in microseconds since the epoch (UTC), and how the user wrote it."""

    start: int
    end: int
    given: tuple[str, str]

    @classmethod
    def parse(cls, value: Sequence[str]) -> DataRange:
        if isinstance(value, str) or len(value) != 2:
            raise UsageError(f"data_range: expected (START, END), got {value!r}")
        start_text, end_text = (str(v) for v in value)
        start = _bound(start_text, end=False)
        end = _bound(end_text, end=True)
        if end < start:
            raise UsageError(f"data_range: end {end_text} is before start {start_text}")
        return cls(start, end, (start_text, end_text))


def _bound(text: str, *, end: bool) -> int:
    """A bound of the range in microseconds (:func:`ita_rules.core.times.parse_bound`). The
    range keeps its last moment, so a date as the end is the microsecond before the next
    midnight."""
    moment = times.to_us(times.parse_bound(text, "data_range", end=end))
    if end and moment != times.to_us(times.parse_bound(text, "data_range")):  # a whole day
        return moment - 1
    return moment


# -- time values ------------------------------------------------------------------------------


def epoch_scale(magnitude: float) -> int:
    """Multiplier from an epoch number to microseconds, by its size (s, ms, us or ns)."""
    magnitude = abs(magnitude)
    if magnitude < 1e11:
        return 1_000_000
    if magnitude < 1e14:
        return 1_000
    if magnitude < 1e17:
        return 1
    return -1_000  # nanoseconds: divide


def parse_time(text: str, scale: int | None) -> int:
    """One time cell -> microseconds since the epoch. ``scale`` is set for epoch numbers."""
    if scale is not None:
        if "." in text:
            x = float(text)
            return int(x // -scale) if scale < 0 else int(x * scale)
        n = int(text)
        if scale < 0:  # nanoseconds: exact integer division, truncated like pyarrow's
            q = abs(n) // -scale
            return -q if n < 0 else q
        return n * scale
    return times.to_us(_dt.datetime.fromisoformat(text))


def time_scale_of(sample: str) -> int | None:
    """None for ISO text; the epoch multiplier when the first time cell is a number."""
    sample = sample.strip()
    return epoch_scale(float(sample)) if _DIGITS.fullmatch(sample) else None


# -- canonical accumulation -------------------------------------------------------------------


@dataclass
class RangeResult:
    """The canonical hash of the candles inside a range, with what was found there."""

    hash: str
    rows: int
    first: str | None
    last: str | None
    time_column: str
    columns: list[str]
    format: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "range_hash": self.hash,
            "rows": self.rows,
            "first": self.first,
            "last": self.last,
            "time_column": self.time_column,
            "columns": self.columns,
            "format": self.format,
        }


@dataclass
class Accumulator:
    """Per-column SHA-256 over 8-byte little-endian values, plus count and min/max time."""

    names: list[str]  # canonical names of the value columns, in hashing order
    rng: DataRange
    time_hash: Any = field(default_factory=hashlib.sha256)
    value_hashes: list[Any] = field(default_factory=list)
    rows: int = 0
    first: int | None = None
    last: int | None = None

    def __post_init__(self) -> None:
        self.value_hashes = [hashlib.sha256() for _ in self.names]

    def add_times(self, column: array[int] | memoryview, lo: int, hi: int) -> None:
        self.time_hash.update(le_bytes(column))
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)

    def finish(self, time_column: str, fmt: str, columns: list[str]) -> RangeResult:
        header = canonical_json(
            {
                "form": CANONICAL_VERSION,
                "columns": ["time", *self.names],
                "range": [times.iso_us(self.rng.start), times.iso_us(self.rng.end)],
            }
        )
        final = hashlib.sha256(header)
        final.update(self.time_hash.digest())
        for h in self.value_hashes:
            final.update(h.digest())
        return RangeResult(
            "sha256:" + final.hexdigest(),
            self.rows,
            times.iso_us(self.first) if self.first is not None else None,
            times.iso_us(self.last) if self.last is not None else None,
            time_column,
            columns,
            fmt,
        )


def le_bytes(values: array[Any] | memoryview) -> bytes | memoryview:
    """Little-endian bytes of an ``array`` (arrow buffers already are)."""
    if isinstance(values, memoryview):
        return values
    if sys.byteorder == "little":
        return memoryview(values)
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


# -- columns ----------------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def find_time_column(names: Sequence[str], given: str | None, shown: str) -> int:
    """The index of the time column: the given name, else the first with a known name, else
    an unnamed first column (the index ``DataFrame.to_csv()`` writes, e.g. a DatetimeIndex),
    or the index column ``DataFrame.to_parquet()`` writes."""
    lowered = [canonical_name(n) for n in names]
    if given is not None:
        if canonical_name(given) in lowered:
            return lowered.index(canonical_name(given))
        raise DataHashError(
            f"time column {given!r} not found (columns: {', '.join(names)})", Location(shown)
        )
    for candidate in TIME_NAMES:
        if candidate in lowered:
            return lowered.index(candidate)
    if lowered and not lowered[0]:
        return 0
    if PANDAS_INDEX in lowered:  # DataFrame.to_parquet() of an unnamed DatetimeIndex
        return lowered.index(PANDAS_INDEX)
    raise DataHashError(
        f"no time column found (columns: {', '.join(names)}); accepted names: "
        f"{', '.join(TIME_NAMES)}, or an unnamed first column (a pandas index); name another "
        "with --time-column (runs start) or time_column= (Python)",
        Location(shown),
    )


def value_order(names: Sequence[str], time_index: int, shown: str) -> list[int]:
    """Indexes of the value columns, sorted by canonical name; duplicates refused. An unnamed
    first column that is not the time is a pandas index (row numbers), not data: left out, so
    ``df.to_csv()`` hashes like the same candles written without their index."""
    others = [i for i in range(len(names)) if i != time_index]
    if others and others[0] == 0 and not canonical_name(names[0]):
        others = others[1:]
    canon = [canonical_name(names[i]) for i in others]
    if len(set(canon)) != len(canon) or "time" in canon:
        raise DataHashError(f"duplicate column names: {', '.join(names)}", Location(shown))
    return sorted(others, key=lambda i: canonical_name(names[i]))

"""Which candle differs: the first time, inside a run's data range, at which the recorded
candles and today's differ, and in which field (for ``runs verify``).

Both files are read into the canonical columns the range hash is computed from (times as
microseconds, values as float64), so a difference named here is one the hash also sees:
``1.10`` against ``1.1`` is no difference, a corrected close is.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ita_rules.core.times import iso_us
from ita_rules.provenance.candleform import Accumulator, DataRange
from ita_rules.provenance.datahash import range_hash


class _Keep:
    """Keeps the bytes a hash would get (the column, 8 bytes a value, little-endian)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def update(self, data: Any) -> None:
        self.parts.append(bytes(data))

    def digest(self) -> bytes:
        return b""

    def values(self, typecode: str) -> array[Any]:
        out = array(typecode)
        out.frombytes(b"".join(self.parts))
        if sys.byteorder != "little":
            out.byteswap()
        return out


class _Collector(Accumulator):
    def __post_init__(self) -> None:
        self.time_hash = _Keep()
        self.value_hashes = [_Keep() for _ in self.names]


@dataclass(frozen=True)
class Candles:
    """The candles of a file inside a range: value column names and, by time, the values."""

    names: list[str]
    rows: dict[int, tuple[float, ...]]


def read_candles(path: Path, rng: DataRange, time_column: str | None, shown: str) -> Candles:
    """The candles inside ``rng`` (the first of duplicate times wins), read like the hash."""
    kept: list[_Collector] = []

    def make(names: list[str], rng: DataRange) -> Accumulator:
        kept.append(_Collector(names, rng))
        return kept[-1]

    range_hash(path, rng, time_column=time_column, shown=shown, make=make)
    acc = kept[-1]  # a CSV re-read with times as text makes a new one
    times = acc.time_hash.values("q")
    columns = [h.values("d") for h in acc.value_hashes]
    rows: dict[int, tuple[float, ...]] = {}
    for i, when in enumerate(times):
        rows.setdefault(when, tuple(c[i] for c in columns))
    return Candles(list(acc.names), rows)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _shown(value: float) -> str:
    return "empty" if math.isnan(value) else repr(value)


def first_difference(recorded: Candles, now: Candles) -> str | None:
    """``first difference at 2025-05-07T00:00:00Z: close 107.0 -> 99.5`` (or a candle only on
    one side, or other columns); None when the candles are the same."""
    if recorded.names != now.names:
        return f"columns differ: {', '.join(recorded.names)} -> {', '.join(now.names)}"
    for when in sorted(recorded.rows.keys() | now.rows.keys()):
        old, new = recorded.rows.get(when), now.rows.get(when)
        at = f"first difference at {iso_us(when)}: "
        if old is None:
            return at + "a candle that the recorded data did not have"
        if new is None:
            return at + "the recorded candle is gone"
        for name, a, b in zip(now.names, old, new, strict=True):
            if not _same(a, b):
                return at + f"{name} {_shown(a)} -> {_shown(b)}"
    return None

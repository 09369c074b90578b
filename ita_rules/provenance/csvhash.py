"""Candle CSV files: the header's layout, whole-line blocks, and the pure-Python reader of the
canonical range hash (:mod:`ita_rules.provenance.candleform`).

With pyarrow installed (``ita-rules[parquet]``) CSV is parsed by pyarrow in worker threads
(:mod:`ita_rules.provenance.arrowhash`), a few 4 MiB chunks in flight; without it the reader
here gives the same hash, slower.
"""

from __future__ import annotations

import datetime as _dt
import math
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ita_rules.core import times as _times
from ita_rules.core.errors import Location
from ita_rules.provenance.candleform import (
    Accumulator,
    DataHashError,
    DataRange,
    RangeResult,
    canonical_name,
    find_time_column,
    le_bytes,
    parse_time,
    time_scale_of,
    value_order,
)

CSV_BLOCK = 8 << 20
_CANON_NAN = float("nan")


@dataclass(frozen=True)
class CsvLayout:
    """A candle CSV as its header line lays it out."""

    path: Path
    shown: str  # the path as messages name it
    delimiter: str
    names: list[str]  # the header's cells
    ti: int  # the time column
    order: list[int]  # the value columns, in hashing order
    header_len: int  # bytes of the header line

    @property
    def value_names(self) -> list[str]:
        return [canonical_name(self.names[i]) for i in self.order]


def csv_layout(path: Path, time_column: str | None, shown: str) -> CsvLayout:
    """Read the header line: the delimiter, the names, the time and value columns."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 16)
    except OSError as exc:
        raise DataHashError(f"cannot read: {exc.strerror}", Location(shown)) from None
    try:
        line = first.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError:
        raise DataHashError("the header line is not UTF-8", Location(shown, 1)) from None
    if not line:
        raise DataHashError("empty file: expected a header line", Location(shown, 1))
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        raise DataHashError("expected a delimited header line (time,open,...)", Location(shown, 1))
    names = [n.strip().strip('"') for n in line.split(delimiter)]
    ti = find_time_column(names, time_column, shown)
    order = value_order(names, ti, shown)
    return CsvLayout(path, shown, delimiter, names, ti, order, len(first))


def csv_range_hash(
    path: Path,
    rng: DataRange,
    *,
    time_column: str | None = None,
    shown: str | None = None,
    engine: str = "auto",
    make: Callable[[list[str], DataRange], Accumulator] = Accumulator,
) -> RangeResult:
    """The canonical range hash of a candle CSV (pyarrow when available, else pure Python).
    ``make`` builds what receives the columns (:func:`range_columns` keeps them instead)."""
    layout = csv_layout(path, time_column, shown or str(path))
    if engine == "arrow" or (engine == "auto" and have_pyarrow()):
        from ita_rules.provenance import arrowhash

        acc = arrowhash.csv_hash(lambda: make(layout.value_names, rng), layout)
    else:
        acc = make(layout.value_names, rng)
        _csv_python(acc, layout)
    return acc.finish(layout.names[layout.ti], "csv", layout.names)


def have_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def line_blocks(path: Path, start: int, size: int) -> Iterator[bytes]:
    """Whole lines from byte ``start`` on, about ``size`` bytes at a time; the last block
    holds what follows the last line end, if anything does."""
    with open(path, "rb") as fh:
        fh.seek(start)
        rest = b""
        while data := fh.read(size):
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            rest = data[cut:]
            yield data[:cut]
        if rest:
            yield rest


def _csv_blocks(layout: CsvLayout) -> Iterator[tuple[int, bytes]]:
    """(line number of the block's first line, whole lines) in blocks of about CSV_BLOCK."""
    line_no = 2
    try:
        for block in line_blocks(layout.path, layout.header_len, CSV_BLOCK):
            yield line_no, block
            line_no += block.count(b"\n")
    except OSError as exc:
        raise DataHashError(f"cannot read: {exc.strerror}", Location(layout.shown)) from None


def _csv_python(acc: Accumulator, layout: CsvLayout) -> None:
    """The pure-Python reader: each block's rows inside the range into the hashes."""
    scale: int | bool | None = False  # False: not known yet (the first time cell tells)
    for first_line, block in _csv_blocks(layout):
        scale = _hash_block(acc, layout, block, first_line, scale)


def _hash_block(
    acc: Accumulator, layout: CsvLayout, block: bytes, first_line: int, scale: int | bool | None
) -> int | bool | None:
    """Add the rows of one block that lie inside the range; return the time scale."""
    sep, width, ti, order = layout.delimiter.encode(), len(layout.names), layout.ti, layout.order
    lo_b, hi_b = acc.rng.start, acc.rng.end
    nan = _CANON_NAN
    isnan = math.isnan
    to_us, fromiso = _times.to_us, _dt.datetime.fromisoformat  # parse_time's ISO case, inlined
    times: array[int] = array("q")
    cols: list[array[float]] = [array("d") for _ in order]
    pairs = list(zip(order, [c.append for c in cols], strict=True))
    tmin = tmax = None
    for offset, raw in enumerate(block.split(b"\n")):
        line = raw.rstrip(b"\r")
        if not line:
            continue
        cells = line.split(sep)
        if len(cells) != width:
            where = Location(layout.shown, first_line + offset)
            raise DataHashError(f"expected {width} cells, found {len(cells)}", where)
        try:
            text = cells[ti].decode("ascii").strip().strip('"')
            if scale is False:
                scale = time_scale_of(text)
            t = to_us(fromiso(text)) if scale is None else parse_time(text, scale)
        except (ValueError, UnicodeDecodeError):
            where = Location(layout.shown, first_line + offset)
            raise DataHashError(f"time: not a timestamp: {cells[ti][:40]!r}", where) from None
        if t < lo_b or t > hi_b:
            continue
        times.append(t)
        if tmin is None or t < tmin:
            tmin = t
        if tmax is None or t > tmax:
            tmax = t
        for i, append in pairs:
            cell = cells[i].strip()
            if not cell or cell == b'""':
                append(nan)
                continue
            try:
                x = float(cell.strip(b'"')) + 0.0
            except ValueError:
                where = Location(layout.shown, first_line + offset)
                raise _not_a_number(acc, order.index(i), cell, where) from None
            append(nan if isnan(x) else x)
    if times:
        assert tmin is not None and tmax is not None
        acc.add_times(times, tmin, tmax)
        acc.rows += len(times)
        for h, col in zip(acc.value_hashes, cols, strict=True):
            h.update(le_bytes(col))
    return scale


def _not_a_number(acc: Accumulator, column: int, cell: bytes, where: Location) -> DataHashError:
    return DataHashError(f"{canonical_name(acc.names[column])}: not a number: {cell[:40]!r}", where)

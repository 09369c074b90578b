"""The pyarrow side of :mod:`ita_rules.provenance.datahash`: CSV cut into chunks parsed by
pyarrow in worker threads, and Parquet by row batches, into the same canonical columns as the
pure-Python reader.

Imported only when pyarrow is installed (``pip install 'ita-rules[parquet]'``).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ita_rules.core.errors import Location
from ita_rules.provenance.candleform import (
    Accumulator,
    DataHashError,
    DataRange,
    RangeResult,
    canonical_name,
    epoch_scale,
    find_time_column,
    parse_time,
    time_scale_of,
    value_order,
)
from ita_rules.provenance.csvhash import CsvLayout, line_blocks

BATCH_ROWS = 256 * 1024
ARROW_BLOCK = 4 << 20  # bytes of CSV per chunk; 2 chunks per worker are in flight
MAX_WORKERS = 4
_NAN = pa.scalar(float("nan"), pa.float64())


class _Times:
    """Turns a time column batch (text, numbers or timestamps) into int64 microseconds."""

    def __init__(self, shown: str, scale: int | bool | None = False) -> None:
        self.shown = shown
        self.scale = scale  # False: not known yet (taken from the first value)

    def __call__(self, column: Any) -> Any:
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if column.null_count:
            raise DataHashError("time: empty time cell", Location(self.shown))
        typ = column.type
        if pa.types.is_timestamp(typ):
            return pc.cast(pc.cast(column, pa.timestamp("us", typ.tz)), pa.int64())
        if pa.types.is_date(typ):
            return pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64())
        if pa.types.is_integer(typ) or pa.types.is_floating(typ):
            return self._epoch(column, float(column[0].as_py()) if len(column) else 0.0)
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            return self._text(pc.utf8_trim_whitespace(column))
        raise DataHashError(f"time: unsupported column type {typ}", Location(self.shown))

    def _epoch(self, column: Any, sample: float) -> Any:
        if self.scale is False:
            self.scale = epoch_scale(sample)
        scale = self.scale
        assert isinstance(scale, int)
        if pa.types.is_integer(column.type):
            column = pc.cast(column, pa.int64())
            if scale < 0:  # nanoseconds: exact integer division (truncating)
                return pc.divide(column, pa.scalar(-scale, pa.int64()))
            return pc.multiply(column, pa.scalar(scale, pa.int64()))
        if scale < 0:
            return pc.floor(pc.divide(column, float(-scale))).cast(pa.int64())
        return pc.cast(pc.multiply(column, float(scale)), pa.int64(), safe=False)

    def _text(self, column: Any) -> Any:
        if not len(column):
            return pa.array([], pa.int64())
        if self.scale is False:
            self.scale = time_scale_of(column[0].as_py())
        if self.scale is not None:
            has_dot = pc.any(pc.match_substring(column, ".")).as_py()
            try:
                numbers = pc.cast(column, pa.float64() if has_dot else pa.int64())
            except pa.ArrowInvalid as exc:
                raise DataHashError(f"time: {exc}", Location(self.shown)) from None
            return self._epoch(numbers, 0.0)
        for typ in (pa.timestamp("us"), pa.timestamp("us", tz="UTC")):
            try:
                return pc.cast(pc.cast(column, typ), pa.int64())
            except pa.ArrowInvalid:
                continue
        # mixed forms in one batch (some with a zone, some without): one by one
        try:
            return pa.array([parse_time(v, None) for v in column.to_pylist()], pa.int64())
        except ValueError as exc:
            raise DataHashError(f"time: not a timestamp ({exc})", Location(self.shown)) from None


def _values(column: Any, name: str, shown: str) -> Any:
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not (
        pa.types.is_floating(column.type)
        or pa.types.is_integer(column.type)
        or pa.types.is_null(column.type)
        or pa.types.is_decimal(column.type)
    ):
        raise DataHashError(f"{name}: not a number column ({column.type})", Location(shown))
    values = pc.cast(column, pa.float64())
    if values.null_count:
        values = pc.fill_null(values, _NAN)
    values = pc.add(values, 0.0)  # -0 -> 0
    if pc.any(pc.is_nan(values)).as_py():
        values = pc.if_else(pc.is_nan(values), _NAN, values)  # one NaN bit pattern
    return values


def _buffer(values: Any) -> memoryview:
    """The little-endian bytes of a primitive array without nulls (arrow is little-endian)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    width = values.type.byte_width
    data = values.buffers()[1]
    start = values.offset * width
    return memoryview(data)[start : start + len(values) * width]


_Part = tuple[Any, list[Any], int, int]  # kept times, kept value columns, min, max


def _select(times: Any, columns: list[Any], rng: DataRange) -> _Part | None:
    """The rows of a batch inside the range (computed by pyarrow, without the GIL)."""
    if not len(times):
        return None
    bounds = pc.min_max(times)
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    if lo >= rng.start and hi <= rng.end:  # the whole batch is inside: no filtering
        return times, columns, lo, hi
    mask = pc.and_(pc.greater_equal(times, rng.start), pc.less_equal(times, rng.end))
    kept = pc.filter(times, mask)
    if not len(kept):
        return None
    bounds = pc.min_max(kept)
    return kept, [pc.filter(c, mask) for c in columns], bounds["min"].as_py(), bounds["max"].as_py()


def _feed(acc: Accumulator, part: _Part | None) -> None:
    """Add a selected batch to the hashes, in file order."""
    if part is None:
        return
    kept, columns, lo, hi = part
    acc.add_times(_buffer(kept), lo, hi)
    acc.rows += len(kept)
    for h, column in zip(acc.value_hashes, columns, strict=True):
        h.update(_buffer(column))


def _add_batch(acc: Accumulator, times: Any, columns: list[Any], rng: DataRange) -> None:
    _feed(acc, _select(times, columns, rng))


def csv_hash(make: Callable[[], Accumulator], layout: CsvLayout) -> Accumulator:
    """Hash a CSV with pyarrow, chunk by chunk, in constant memory.

    The file is cut at line ends into chunks of ``ARROW_BLOCK`` bytes; worker threads parse
    them (pyarrow releases the GIL) and select the rows inside the range, a bounded number
    ahead, while this thread feeds the results to the hashes in file order. Times are first
    parsed as naive ISO timestamps; a file whose times are not all of that form (zone offsets,
    epoch numbers) is read again with the times as text. Quoted cells holding line breaks are
    not supported (no candle file has them).
    """
    first = _first_time(layout)
    scale = time_scale_of(first) if first is not None else None
    for time_type in (pa.timestamp("us"), pa.string()):
        try:
            return _csv_pass(make(), layout, time_type, scale)
        except pa.ArrowInvalid as exc:
            error = exc
    raise DataHashError(f"cannot parse: {_one_line(error)}", Location(layout.shown)) from None


def _first_time(layout: CsvLayout) -> str | None:
    with open(layout.path, "rb") as fh:
        fh.seek(layout.header_len)
        for raw in fh:
            line = raw.strip()
            if line:
                cells = line.decode("utf-8", "replace").split(layout.delimiter)
                return cells[layout.ti].strip().strip('"') if layout.ti < len(cells) else None
    return None


def _csv_pass(
    acc: Accumulator, layout: CsvLayout, time_type: Any, scale: int | None
) -> Accumulator:
    import pyarrow.csv as pcsv

    names, ti, order, shown = layout.names, layout.ti, layout.order, layout.shown
    column_types: dict[str, Any] = {names[i]: pa.float64() for i in order}
    column_types[names[ti]] = time_type
    parse = pcsv.ParseOptions(delimiter=layout.delimiter)
    convert = pcsv.ConvertOptions(
        column_types=column_types, strings_can_be_null=False, quoted_strings_can_be_null=True
    )
    value_names = layout.value_names

    def work(data: bytes) -> _Part | None:
        read = pcsv.ReadOptions(
            column_names=names, use_threads=False, block_size=max(len(data) + 1, 1 << 16)
        )
        table = pcsv.read_csv(
            pa.py_buffer(data), read_options=read, parse_options=parse, convert_options=convert
        )
        times = _Times(shown, scale)(table.column(ti))
        columns = [
            _values(table.column(i), name, shown)
            for i, name in zip(order, value_names, strict=True)
        ]
        return _select(times, columns, acc.rng)

    workers = max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    pending: deque[Future[_Part | None]] = deque()
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="ita-csv") as pool:
            for chunk in line_blocks(layout.path, layout.header_len, ARROW_BLOCK):
                if not chunk.strip():  # blank lines at the end
                    continue
                pending.append(pool.submit(work, chunk))
                if len(pending) >= 2 * workers:
                    _feed(acc, pending.popleft().result())
            while pending:
                _feed(acc, pending.popleft().result())
    except OSError as exc:
        raise DataHashError(f"cannot read: {_one_line(exc)}", Location(shown)) from None
    finally:
        for future in pending:
            future.cancel()
    return acc


def parquet_range_hash(
    path: Path,
    rng: DataRange,
    *,
    time_column: str | None = None,
    shown: str | None = None,
    make: Callable[[list[str], DataRange], Accumulator] = Accumulator,
) -> RangeResult:
    """The canonical range hash of a Parquet candle file, read batch by batch."""
    import pyarrow.parquet as pq

    shown = shown or str(path)
    try:
        pf = pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataHashError(
            f"not a readable Parquet file: {_one_line(exc)}", Location(shown)
        ) from None
    names = list(pf.schema_arrow.names)
    ti = find_time_column(names, time_column, shown)
    order = value_order(names, ti, shown)
    acc = make([canonical_name(names[i]) for i in order], rng)
    times_of = _Times(shown)
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, use_threads=True):
            times = times_of(batch.column(ti))
            columns = [_values(batch.column(i), canonical_name(names[i]), shown) for i in order]
            _add_batch(acc, times, columns, rng)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataHashError(f"cannot read: {_one_line(exc)}", Location(shown)) from None
    return acc.finish(names[ti], "parquet", names)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())

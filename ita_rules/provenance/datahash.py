"""``data_hash``: which data a run read, exactly (docs/architecture.md#runs).

Two hashes per input file:

* the plain file hash, ``sha256:`` of the bytes, streamed (64 KiB reads, constant memory);
* for candle files (CSV with a time column, Parquet) given a ``data_range``, the canonical
  range hash of only the candles inside the range.

The canonical form is columnar, so that CSV and Parquet holding the same candles hash the same
and so that how the file is cut into blocks never matters:

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

With pyarrow installed (``ita-rules[parquet]``) CSV is parsed by pyarrow in worker threads,
a few 4 MiB chunks in flight; without it a pure-Python reader gives the same hash, slower.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
import re
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ita_rules.core.canonical import canonical_json
from ita_rules.core.errors import ItaRulesError, Location, UsageError

READ_SIZE = 1 << 16  # 64 KiB: stays in the CPU cache; faster than 1 MiB reads here
CSV_BLOCK = 8 << 20
CANONICAL_VERSION = "ita-candles-v1"
TIME_NAMES = (
    "time", "timestamp", "datetime", "date_time", "date", "ts", "open_time", "gmt time",
    "local time", "time_utc", "datetime_utc",
)  # fmt: skip
PANDAS_INDEX = "__index_level_0__"  # how pandas names an unnamed index in Parquet
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_CANON_NAN = float("nan")
_US = _dt.timedelta(microseconds=1)
_DIGITS = re.compile(r"-?[0-9]+(\.[0-9]*)?")


class DataHashError(ItaRulesError):
    """An input cannot be read or is not a candle file of the form we can hash."""


# -- plain file hash --------------------------------------------------------------------------


def file_hash(path: Path) -> tuple[str, int]:
    """``("sha256:<hex>", size)`` of a file, streamed through one reused buffer."""
    h = hashlib.sha256()
    buf = bytearray(READ_SIZE)
    view = memoryview(buf)
    size = 0
    try:
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                h.update(view[:n])
                size += n
    except OSError as exc:
        raise DataHashError(f"cannot read: {exc.strerror}", Location(str(path))) from None
    return "sha256:" + h.hexdigest(), size


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
    try:
        if len(text) == 10:
            day = _dt.date.fromisoformat(text)
            moment = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.UTC)
            return _to_us(moment) + (86_400_000_000 - 1 if end else 0)
        return _to_us(_dt.datetime.fromisoformat(text))
    except ValueError:
        raise UsageError(
            f"data_range: expected a date YYYY-MM-DD or an ISO time, got {text!r}"
        ) from None


def _to_us(moment: _dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return (moment - _EPOCH) // _US


def iso_us(value: int) -> str:
    """Microseconds since the epoch -> ``2025-05-01T00:00:00Z`` (fraction only when needed)."""
    moment = _EPOCH + _dt.timedelta(microseconds=value)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


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
    return _to_us(_dt.datetime.fromisoformat(text))


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
class _Accumulator:
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

    def add_times(self, times: array[int] | memoryview, lo: int, hi: int) -> None:
        self.time_hash.update(_le(times))
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)

    def finish(self, time_column: str, fmt: str, columns: list[str]) -> RangeResult:
        header = canonical_json(
            {
                "form": CANONICAL_VERSION,
                "columns": ["time", *self.names],
                "range": [iso_us(self.rng.start), iso_us(self.rng.end)],
            }
        )
        final = hashlib.sha256(header)
        final.update(self.time_hash.digest())
        for h in self.value_hashes:
            final.update(h.digest())
        return RangeResult(
            "sha256:" + final.hexdigest(),
            self.rows,
            iso_us(self.first) if self.first is not None else None,
            iso_us(self.last) if self.last is not None else None,
            time_column,
            columns,
            fmt,
        )


def _le(values: array[Any] | memoryview) -> bytes | memoryview:
    """Little-endian bytes of an ``array`` (arrow buffers already are)."""
    if isinstance(values, memoryview):
        return values
    if sys.byteorder == "little":
        return memoryview(values)
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


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


def _value_order(names: Sequence[str], time_index: int, shown: str) -> list[int]:
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


# -- CSV --------------------------------------------------------------------------------------


def _sniff_csv(path: Path, shown: str) -> tuple[str, list[str], int]:
    """(delimiter, header names, byte length of the header line)."""
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
    return delimiter, [n.strip().strip('"') for n in line.split(delimiter)], len(first)


def csv_range_hash(
    path: Path,
    rng: DataRange,
    *,
    time_column: str | None = None,
    shown: str | None = None,
    engine: str = "auto",
    make: Callable[[list[str], DataRange], _Accumulator] = _Accumulator,
) -> RangeResult:
    """The canonical range hash of a candle CSV (pyarrow when available, else pure Python).
    ``make`` builds what receives the columns (:func:`range_columns` keeps them instead)."""
    shown = shown or str(path)
    delimiter, names, header_len = _sniff_csv(path, shown)
    ti = find_time_column(names, time_column, shown)
    order = _value_order(names, ti, shown)
    value_names = [canonical_name(names[i]) for i in order]
    use_arrow = engine == "arrow" or (engine == "auto" and _have_pyarrow())
    if use_arrow:
        from ita_rules.provenance import arrowhash

        acc = arrowhash.csv_hash(
            lambda: make(value_names, rng),
            path,
            delimiter,
            names,
            ti,
            order,
            header_len,
            shown,
        )
    else:
        acc = make(value_names, rng)
        _csv_python(acc, path, delimiter, len(names), ti, order, header_len, shown)
    return acc.finish(names[ti], "csv", names)


def _have_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _csv_blocks(path: Path, skip: int, shown: str) -> Iterator[tuple[int, bytes]]:
    """(line number of the block's first line, whole lines) in blocks of about CSV_BLOCK."""
    line_no = 2
    try:
        with open(path, "rb") as fh:
            fh.seek(skip)
            rest = b""
            while True:
                chunk = fh.read(CSV_BLOCK)
                if not chunk:
                    break
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                if cut == 0:
                    rest = data
                    continue
                rest = data[cut:]
                yield line_no, data[:cut]
                line_no += data.count(b"\n", 0, cut)
            if rest:
                yield line_no, rest
    except OSError as exc:
        raise DataHashError(f"cannot read: {exc.strerror}", Location(shown)) from None


def _csv_python(
    acc: _Accumulator,
    path: Path,
    delimiter: str,
    width: int,
    ti: int,
    order: list[int],
    header_len: int,
    shown: str,
) -> None:
    sep = delimiter.encode()
    scale: int | bool | None = False  # False: not known yet
    lo_b, hi_b = acc.rng.start, acc.rng.end
    nan = _CANON_NAN
    isnan = math.isnan
    for first_line, block in _csv_blocks(path, header_len, shown):
        times: array[int] = array("q")
        cols: list[array[float]] = [array("d") for _ in order]
        appends = [c.append for c in cols]
        pairs = list(zip(order, appends, strict=True))
        tmin = tmax = None
        for offset, raw in enumerate(block.split(b"\n")):
            line = raw.rstrip(b"\r")
            if not line:
                continue
            cells = line.split(sep)
            if len(cells) != width:
                raise DataHashError(
                    f"expected {width} cells, found {len(cells)}",
                    Location(shown, first_line + offset),
                )
            try:
                text = cells[ti].decode("ascii").strip().strip('"')
                if scale is False:
                    scale = time_scale_of(text)
                t = parse_time(text, scale)
            except (ValueError, UnicodeDecodeError):
                raise DataHashError(
                    f"time: not a timestamp: {cells[ti][:40]!r}",
                    Location(shown, first_line + offset),
                ) from None
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
                    raise DataHashError(
                        f"{canonical_name(acc.names[order.index(i)])}: not a number: {cell[:40]!r}",
                        Location(shown, first_line + offset),
                    ) from None
                append(nan if isnan(x) else x)
        if times:
            assert tmin is not None and tmax is not None
            acc.add_times(times, tmin, tmax)
            acc.rows += len(times)
            for h, col in zip(acc.value_hashes, cols, strict=True):
                h.update(_le(col))


# -- dispatch ---------------------------------------------------------------------------------


def range_hash(
    path: Path,
    rng: DataRange,
    *,
    time_column: str | None = None,
    shown: str | None = None,
    engine: str = "auto",
    make: Callable[[list[str], DataRange], _Accumulator] = _Accumulator,
) -> RangeResult:
    """The canonical range hash of a candle file, by its suffix (CSV or Parquet)."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        if not _have_pyarrow():
            raise DataHashError(
                "reading Parquet needs pyarrow: pip install 'ita-rules[parquet]'",
                Location(shown or str(path)),
            )
        from ita_rules.provenance import arrowhash

        return arrowhash.parquet_range_hash(
            path, rng, time_column=time_column, shown=shown, make=make
        )
    return csv_range_hash(path, rng, time_column=time_column, shown=shown, engine=engine, make=make)


def is_candle_file(path: Path) -> bool:
    return path.suffix.lower() in CSV_SUFFIXES + PARQUET_SUFFIXES


@dataclass(frozen=True)
class InputSpec:
    """One declared input: a path and, for candle files, the name of the time column."""

    path: str
    time_column: str | None = None
    candles: bool | None = None  # None: by suffix


def input_entry(
    spec: InputSpec, root: Path, rng: DataRange | None, *, engine: str = "auto"
) -> dict[str, Any]:
    """``{path, hash, size}`` plus, for a candle file with a range, its canonical range hash."""
    path = Path(spec.path)
    full = path if path.is_absolute() else root / path
    shown = spec.path
    if not full.is_file():
        raise DataHashError("input not found (or not a file)", Location(shown))
    digest, size = file_hash(full)
    entry: dict[str, Any] = {"path": _stored_path(full, root), "hash": digest, "size": size}
    candles = spec.candles if spec.candles is not None else is_candle_file(full)
    if rng is not None and candles:
        result = range_hash(full, rng, time_column=spec.time_column, shown=shown, engine=engine)
        entry.update(result.as_dict())
    return entry


def _stored_path(full: Path, root: Path) -> str:
    try:
        return full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return full.as_posix()


def data_hash(entries: Sequence[dict[str, Any]], rng: DataRange | None) -> str:
    """SHA-256 over the inputs in a fixed order (sorted by path): for each, its path and the
    range hash when it has one, else the plain file hash."""
    items = sorted(
        ({"path": e["path"], "hash": e.get("range_hash") or e["hash"]} for e in entries),
        key=lambda e: e["path"],
    )
    document = {
        "inputs": items,
        "range": list(rng.given) if rng is not None else None,
    }
    return "sha256:" + hashlib.sha256(canonical_json(document)).hexdigest()


def hash_inputs(
    specs: Sequence[InputSpec], root: Path, rng: DataRange | None, *, engine: str = "auto"
) -> tuple[list[dict[str, Any]], str]:
    """The input entries and the ``data_hash`` of a run."""
    seen: set[str] = set()
    entries = []
    for spec in specs:
        entry = input_entry(spec, root, rng, engine=engine)
        if entry["path"] in seen:
            raise UsageError(f"inputs: {spec.path} is declared twice")
        seen.add(entry["path"])
        entries.append(entry)
    entries.sort(key=lambda e: e["path"])
    return entries, data_hash(entries, rng)


def as_input_spec(value: str | os.PathLike[str] | dict[str, Any] | InputSpec) -> InputSpec:
    """An input as flows give it: a path, or ``{"path": ..., "time_column": ...}``."""
    if isinstance(value, InputSpec):
        return value
    if isinstance(value, dict):
        unknown = set(value) - {"path", "time_column", "candles"}
        if "path" not in value or unknown:
            raise UsageError(
                f"inputs: expected {{path, time_column?, candles?}}, got keys {sorted(value)}"
            )
        return InputSpec(str(value["path"]), value.get("time_column"), value.get("candles"))
    return InputSpec(os.fspath(value))

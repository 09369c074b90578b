"""``data_hash``: which data a run read, exactly (docs/architecture.md#runs).

Two hashes per input file:

* the plain file hash, ``sha256:`` of the bytes, streamed (64 KiB reads, constant memory);
* for candle files (CSV with a time column, Parquet) given a ``data_range``, the canonical
  range hash of only the candles inside the range (:mod:`ita_rules.provenance.candleform`
  says what it covers; :mod:`~ita_rules.provenance.csvhash` and
  :mod:`~ita_rules.provenance.arrowhash` read the files).

The ``data_hash`` of a run covers its inputs in a fixed order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ita_rules.core.canonical import canonical_json
from ita_rules.core.errors import Location, UsageError
from ita_rules.provenance.candleform import Accumulator, DataHashError, DataRange, RangeResult
from ita_rules.provenance.csvhash import csv_range_hash, have_pyarrow

READ_SIZE = 1 << 16  # 64 KiB: stays in the CPU cache; faster than 1 MiB reads here
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")

__all__ = [
    "DataHashError",
    "DataRange",
    "InputSpec",
    "RangeResult",
    "as_input_spec",
    "csv_range_hash",
    "data_hash",
    "file_hash",
    "hash_inputs",
    "input_entry",
    "is_candle_file",
    "range_hash",
]


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


# -- dispatch ---------------------------------------------------------------------------------


def range_hash(
    path: Path,
    rng: DataRange,
    *,
    time_column: str | None = None,
    shown: str | None = None,
    engine: str = "auto",
    make: Callable[[list[str], DataRange], Accumulator] = Accumulator,
) -> RangeResult:
    """The canonical range hash of a candle file, by its suffix (CSV or Parquet)."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        if not have_pyarrow():
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

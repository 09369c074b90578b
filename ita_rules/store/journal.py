"""The append-only journal under the store root: one JSON line per change, fsynced.

Every put, tag and status change is appended after its database transaction commits, under
the store lock. The database can be rebuilt from it (:func:`ita_rules.store.rebuild_from_journal`).
A process killed while appending leaves a partial last line: the next append starts on a new
line, readers skip it, and ``store fsck --repair`` drops it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _string  # a str -> a quoted JSON string
from pathlib import Path
from typing import Any

from ita_rules.fsutil import atomic_write_bytes

FORMAT = 1
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def encode(entry: Mapping[str, Any]) -> bytes:
    """One journal line, newline included."""
    return (_ENCODER.encode({"v": FORMAT, **entry}) + "\n").encode()


def put_entry(record: Mapping[str, Any], at: str) -> dict[str, Any]:
    """The entry of one put: the record (``Record.as_dict()``) and its stored file."""
    return {
        "op": "put",
        "at": at,
        "record": record,
        "blob": {"path": record["path"], "size": record["size"]},
    }


def snapshot_entry(run_id: str, sha256: str, at: str) -> dict[str, Any]:
    """The entry written each time a run's snapshot file is written: the SHA-256 of its bytes.

    The journal survives the loss of the database, so a snapshot file edited before the loss is
    still told from the one the run wrote after ``store rebuild`` (the rebuilt row is made from
    the file itself). Replay ignores these entries: they restore no record."""
    return {"op": "snapshot", "at": at, "run_id": run_id, "sha256": sha256}


_SNAPSHOT_OP = b'"op":"snapshot"'


# A put entry is encoded once with these markers in place of the fields that differ between
# the records of a batch, then filled in per record (about 2.5x cheaper than encoding each).
_VARYING = ("file_id", "path", "hash", "size", "original_name")
_MARKS = {field: f"\x00ita-{field}\x00" for field in _VARYING}
_FIELD_OF = {_ENCODER.encode(mark): field for field, mark in _MARKS.items()}
_MARK_RE = re.compile("(" + "|".join(re.escape(m) for m in _FIELD_OF) + ")")
_EXPECTED = sorted(["file_id", "hash", "original_name", "path", "path", "size", "size"])
Varying = tuple[str, str, str, int] | tuple[str, str, str, int, str | None]


def encode_puts(shared: Mapping[str, Any], varying: Iterable[Varying], at: str) -> bytes:
    """The lines of a batch of puts whose records are ``shared`` (a ``Record.as_dict()``) but
    for ``(file_id, path, hash, size[, original_name])``: exactly what :func:`encode` gives for
    each entry (without the fifth field, ``shared``'s ``original_name`` is kept)."""
    rows = [(*row[:4], row[4] if len(row) > 4 else shared.get("original_name")) for row in varying]
    template = encode(put_entry({**shared, **_MARKS}, at)).decode()
    parts = _MARK_RE.split(template)  # literal, marker, literal, ... literal
    if sorted(_FIELD_OF[m] for m in parts[1::2]) != _EXPECTED:  # a marker also in the data
        return b"".join(
            encode(put_entry({**shared, **dict(zip(_MARKS, row, strict=True))}, at)) for row in rows
        )
    line = "".join(
        "{" + _FIELD_OF[part] + "}" if i % 2 else part.replace("{", "{{").replace("}", "}}")
        for i, part in enumerate(parts)
    ).format
    return "".join(
        [
            line(
                file_id=_string(file_id),
                path=_string(path),
                hash=_string(hash_),
                size=int(size),
                original_name="null" if name is None else _string(name),
            )
            for file_id, path, hash_, size, name in rows
        ]
    ).encode()


@dataclass(frozen=True)
class Entry:
    line: int
    data: dict[str, Any]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: Iterable[Mapping[str, Any]]) -> None:
        """Append entries as JSON lines and fsync. Call under the store lock."""
        self.append_lines(b"".join(encode(e) for e in entries))

    def append_lines(self, payload: bytes) -> None:
        """Append encoded lines (see :func:`encode`, :func:`encode_puts`) and fsync."""
        if not payload:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644
        )
        try:
            size = os.fstat(fd).st_size
            if size and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
                payload = b"\n" + payload  # a previous writer died mid-line
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> tuple[list[Entry], list[int]]:
        """Every readable entry, and the line numbers of damaged lines."""
        good: list[Entry] = []
        bad: list[int] = []
        for number, raw in self._lines():
            try:
                data = json.loads(raw)
                if not isinstance(data, dict) or "op" not in data:
                    raise ValueError
            except ValueError:
                bad.append(number)
                continue
            good.append(Entry(number, data))
        return good, bad

    def snapshot_hashes(self) -> dict[str, str]:
        """``{run_id: sha256}`` of the last snapshot entry of each run (see
        :func:`snapshot_entry`); only those lines are parsed, so a large journal reads fast."""
        found: dict[str, str] = {}
        for _number, raw in self._lines():
            if _SNAPSHOT_OP not in raw:
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if (
                isinstance(data, dict)
                and data.get("op") == "snapshot"
                and isinstance(data.get("run_id"), str)
                and isinstance(data.get("sha256"), str)
            ):
                found[data["run_id"]] = data["sha256"]
        return found

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if raw.strip():
                    yield number, raw

    def drop_lines(self, numbers: Iterable[int]) -> None:
        """Rewrite the journal without the given (damaged) lines. Call under the store lock."""
        skip = set(numbers)
        if not skip or not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            kept = [
                raw if raw.endswith(b"\n") else raw + b"\n"
                for n, raw in enumerate(fh, 1)
                if n not in skip
            ]
        atomic_write_bytes(self.path, b"".join(kept))

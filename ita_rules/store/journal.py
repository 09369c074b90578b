"""The append-only journal under the store root: one JSON line per change, fsynced.

Write-ahead: every put, tag, status change and blob move is appended (and fsynced) under the
store lock *before* its database transaction commits, so the database never holds a change the
journal lacks. When the append fails (disk full, read-only) the journal is cut back to where it
was and nothing is committed; when the commit fails after the append, the caller cuts the
journal back too (:meth:`Journal.rollback`: no space is needed for that). Only a process killed
between the append and the commit leaves an entry the database lacks: its files were placed
before the append, so the rebuild (or ``store fsck --repair``) restores a complete record, and
an entry whose file is not on disk is skipped (:func:`ita_rules.store.replay.replay`).
The database can be rebuilt from it (:func:`ita_rules.recovery.rebuild.rebuild_database`).
A process killed while appending leaves a partial last line: the next append starts on a new
line, readers skip it, and ``store fsck --repair`` drops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from json.encoder import encode_basestring as _string  # a str -> a quoted JSON string
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from ita_rules.core.fsutil import atomic_write_bytes

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
    # each line is the template's literals with the row's encoded values between them, in
    # the markers' order; joined, not formatted (str.format parsed the ~540-character template
    # again for every line: ~13,000 instructions a record, valgrind)
    head, literals = parts[0], parts[2::2]
    in_marker_order = itemgetter(*(_VARYING.index(_FIELD_OF[m]) for m in parts[1::2]))
    pieces: list[str] = []
    for file_id, path, hash_, size, name in rows:
        values = (
            _string(file_id),
            _string(path),
            _string(hash_),
            str(int(size)),
            "null" if name is None else _string(name),
        )
        pieces.append(head)
        pieces.extend(chain.from_iterable(zip(in_marker_order(values), literals, strict=True)))
    return "".join(pieces).encode()


class Entry(NamedTuple):
    """One readable journal line: its number (from 1) and its JSON object."""

    line: int
    data: dict[str, Any]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: Iterable[Mapping[str, Any]]) -> int | None:
        """Append entries as JSON lines and fsync. Call under the store lock. Returns the
        journal's size before (see :meth:`append_lines`)."""
        return self.append_lines(b"".join(encode(e) for e in entries))

    def append_lines(self, payload: bytes) -> int | None:
        """Append encoded lines (see :func:`encode`, :func:`encode_puts`) and fsync; all or
        nothing: a failed write or fsync cuts the journal back to its size before and raises.

        Returns that size (None when the journal did not exist): give it to :meth:`rollback`
        when the change the lines describe is not committed after all."""
        if not payload:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.path, flags)
            existed = True
        except FileNotFoundError:
            fd = os.open(self.path, flags | os.O_CREAT, 0o644)
            existed = False
        try:
            size = os.fstat(fd).st_size
            if size and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
                payload = b"\n" + payload  # a previous writer died mid-line
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except BaseException:
                with contextlib.suppress(OSError):  # the error that matters is the first
                    self._cut(fd, size, existed)
                raise
        finally:
            os.close(fd)
        return size if existed else None

    def rollback(self, size: int | None) -> None:
        """Cut the journal back to ``size`` (what :meth:`append_lines` returned): the lines
        appended since describe a change that was not committed. Call under the store lock
        (nothing else appended meanwhile). Needs no free space."""
        try:
            fd = os.open(self.path, os.O_RDWR | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return
        try:
            with contextlib.suppress(OSError):  # called while another error is raised
                self._cut(fd, size or 0, size is not None)
        finally:
            os.close(fd)

    def _cut(self, fd: int, size: int, existed: bool) -> None:
        os.ftruncate(fd, size)
        if not existed and size == 0:
            os.unlink(self.path)  # the append created it: leave no empty journal behind
            return
        os.fsync(fd)

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

    def first_put(self) -> tuple[str, tuple[str, ...]] | None:
        """The file_id of the first readable put entry, with the paths its bytes were stored
        under (its own name, its stored file), or None without one: the oldest record the
        store ever wrote. Records are never removed from the database (a purge marks them), so
        a database without it lacks what the journal says was stored."""
        for _number, raw in self._lines():
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if not (isinstance(data, dict) and data.get("op") == "put"):
                continue
            record, blob = data.get("record"), data.get("blob")
            if not isinstance(record, dict) or not isinstance(record.get("file_id"), str):
                return None
            paths = [record.get("path"), blob.get("path") if isinstance(blob, dict) else None]
            return record["file_id"], tuple(p for p in paths if isinstance(p, str))
        return None

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

"""The append-only journal under the store root: one JSON line per change, fsynced.

Every put, tag and status change is appended after its database transaction commits, under
the store lock. The database can be rebuilt from it (:func:`ita_rules.store.rebuild_from_journal`).
A process killed while appending leaves a partial last line: the next append starts on a new
line, readers skip it, and ``store fsck --repair`` drops it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ita_rules.fsutil import atomic_write_bytes

FORMAT = 1


@dataclass(frozen=True)
class Entry:
    line: int
    data: dict[str, Any]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, entries: Iterable[dict[str, Any]]) -> None:
        """Append entries as JSON lines and fsync. Call under the store lock."""
        payload = b"".join(
            json.dumps(
                {"v": FORMAT, **e}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
            ).encode()
            + b"\n"
            for e in entries
        )
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

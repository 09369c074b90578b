"""What push, pull and check report: one :class:`FileOutcome` per stored content, gathered in
a :class:`SyncReport`; and the grouping of records by content (:class:`Blob`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ita_rules.store.records import Record

CHUNK = 1 << 20
FAILED = frozenset({"failed", "missing_local", "corrupt_local", "missing", "corrupt"})


@dataclass(frozen=True)
class Blob:
    """One stored content and the records that point to it."""

    hash: str
    path: str  # relative to the store root; also its path under the remote
    size: int
    records: tuple[Record, ...]

    @property
    def file_ids(self) -> list[str]:
        return [r.file_id for r in self.records]


@dataclass(frozen=True)
class FileOutcome:
    path: str
    hash: str
    size: int
    file_ids: tuple[str, ...]
    status: str  # push: verified|already|failed|missing_local|corrupt_local;
    # pull: restored|present|failed; check: ok|missing|corrupt|not_pushed
    detail: str | None = None
    verified_at: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.detail or self.status}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "hash": self.hash,
            "size": self.size,
            "file_ids": list(self.file_ids),
            "status": self.status,
            "detail": self.detail,
            "remote_verified_at": self.verified_at,
        }


@dataclass
class SyncReport:
    action: str
    remote: str
    hash_type: str | None
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status in FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def as_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.status] = counts.get(f.status, 0) + 1
        return {
            "action": self.action,
            "remote": self.remote,
            "hash_type": self.hash_type or "sha256-download",
            "ok": self.ok,
            "counts": counts,
            "files": [f.as_dict() for f in self.files],
        }


def group(records: Iterable[Record], stored: Mapping[str, str] | None = None) -> list[Blob]:
    """Records -> one :class:`Blob` per content hash, in the order first seen, named after
    the content's stored file (``stored``: hash -> path, see ``Store.stored_paths``; records
    of one content may have other names, hard links to it), else its first record's path."""
    by_hash: dict[str, list[Record]] = {}
    for record in records:
        by_hash.setdefault(record.hash, []).append(record)
    known = stored or {}
    return [Blob(h, known.get(h, rs[0].path), rs[0].size, tuple(rs)) for h, rs in by_hash.items()]


def hash_local(path: Path, extra: str | None) -> tuple[str, str, int]:
    """SHA-256 (``sha256:`` + hex), the ``extra`` hash (hex; "" when None) and the size of a
    file, in one streaming pass."""
    sha = hashlib.sha256()
    other = hashlib.new(extra) if extra and extra != "sha256" else None
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            sha.update(view[:n])
            if other is not None:
                other.update(view[:n])
            size += n
    hex_sha = sha.hexdigest()
    extra_hex = hex_sha if extra == "sha256" else (other.hexdigest() if other else "")
    return "sha256:" + hex_sha, extra_hex, size

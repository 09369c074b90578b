"""The record of one put (SPEC §4), as returned by the Python API and printed by the CLI."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LIVE = ("live", "deleted")  # statuses whose record still needs its stored file
STATUSES = ("live", "deleted", "purged", "missing", "corrupt")


@dataclass(frozen=True)
class Record:
    """One put: ``file_id`` (UUID) points to a stored file by ``path`` and ``hash``."""

    file_id: str
    path: str  # relative to the store root, "/"-separated
    hash: str  # "sha256:" + 64 hex
    size: int
    type: str
    symbol: str | None
    timeframe: str | None
    run_id: str | None
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    created_at: str
    status: str = "live"
    deleted_at: str | None = None
    last_verified_at: str | None = None
    deduplicated: bool = field(default=False, compare=False)  # this put found the bytes stored

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "path": self.path,
            "hash": self.hash,
            "size": self.size,
            "type": self.type,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "run_id": self.run_id,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "created_at": self.created_at,
            "status": self.status,
            "deleted_at": self.deleted_at,
            "last_verified_at": self.last_verified_at,
        }

    def row(self) -> dict[str, Any]:
        """The ``store_records`` row (tags live in ``store_tags``)."""
        out = self.as_dict()
        del out["tags"]
        out["metadata"] = dump_metadata(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        return cls(
            file_id=str(data["file_id"]),
            path=str(data["path"]),
            hash=str(data["hash"]),
            size=int(data["size"]),
            type=str(data["type"]),
            symbol=data.get("symbol"),
            timeframe=data.get("timeframe"),
            run_id=data.get("run_id"),
            tags=tuple(sorted(data.get("tags") or ())),
            metadata=dict(data.get("metadata") or {}),
            created_at=str(data["created_at"]),
            status=str(data.get("status") or "live"),
            deleted_at=data.get("deleted_at"),
            last_verified_at=data.get("last_verified_at"),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], tags: tuple[str, ...]) -> Record:
        data = dict(row)
        data["metadata"] = json.loads(data["metadata"] or "{}")
        data["tags"] = tags
        return cls.from_dict(data)


def dump_metadata(metadata: Mapping[str, Any]) -> str:
    return json.dumps(dict(metadata), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

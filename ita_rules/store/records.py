"""The record of one put, as returned by the Python API and printed by the CLI; reading
records (with their tags) from the database; and how a file id given by a user (the whole id
or a unique prefix of 8+ characters) is resolved."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import NotFound, UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa

LIVE = ("live", "deleted")  # statuses whose record still needs its stored file
# marked so by verify or fsck: the file was not there, or not with its hash; it may come back
# (a drive mounted again, good bytes copied back from a backup), and then so does the record
MARKED = ("missing", "corrupt")
CLAIMING = (*LIVE, *MARKED)  # statuses whose record still names its file: nothing deletes it
STATUSES = ("live", "deleted", "purged", "missing", "corrupt")


FIELDS = (
    "file_id",
    "path",
    "hash",
    "size",
    "type",
    "symbol",
    "timeframe",
    "run_id",
    "tags",
    "metadata",
    "created_at",
    "status",
    "deleted_at",
    "last_verified_at",
    "original_name",
    "deduplicated",
)  # a Record's fields, in order; all but the last are compared


class Record:
    """One put: ``file_id`` (UUID) points to a stored file by ``path`` and ``hash``.

    ``path`` is the record's own name in its type's folder; records of the same content in
    other folders or under other names are hard links to the same bytes (a copy where the
    file system cannot link). ``original_name`` is the base name of the file that was put
    (None for bytes put from memory and for records stored before it was kept).
    ``deduplicated``: this put found the bytes stored (not compared: not stored either).

    Immutable, compared and shown as a frozen dataclass would be, but a plain class: the
    dataclass decorator writes and compiles its methods at every start (~8 million
    instructions for this one, ~2 ms of a ``store put``).
    """

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
    status: str
    deleted_at: str | None
    last_verified_at: str | None
    original_name: str | None
    deduplicated: bool

    def __init__(
        self,
        file_id: str,
        path: str,
        hash: str,
        size: int,
        type: str,
        symbol: str | None,
        timeframe: str | None,
        run_id: str | None,
        tags: tuple[str, ...],
        metadata: Mapping[str, Any],
        created_at: str,
        status: str = "live",
        deleted_at: str | None = None,
        last_verified_at: str | None = None,
        original_name: str | None = None,
        deduplicated: bool = False,
    ) -> None:
        fields = self.__dict__  # frozen: set once, here (and by plan.place, the same way)
        fields["file_id"] = file_id
        fields["path"] = path
        fields["hash"] = hash
        fields["size"] = size
        fields["type"] = type
        fields["symbol"] = symbol
        fields["timeframe"] = timeframe
        fields["run_id"] = run_id
        fields["tags"] = tags
        fields["metadata"] = metadata
        fields["created_at"] = created_at
        fields["status"] = status
        fields["deleted_at"] = deleted_at
        fields["last_verified_at"] = last_verified_at
        fields["original_name"] = original_name
        fields["deduplicated"] = deduplicated

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _compared(self) -> tuple[Any, ...]:
        fields = self.__dict__
        return tuple(fields[name] for name in FIELDS[:-1])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())  # a TypeError, as for the dataclass: metadata is a dict

    def __repr__(self) -> str:
        fields = self.__dict__
        shown = ", ".join(f"{name}={fields[name]!r}" for name in FIELDS)
        return f"Record({shown})"

    def replace(self, **changes: Any) -> Record:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        return Record(**{**self.__dict__, **changes})

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
            "original_name": self.original_name,
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
            original_name=data.get("original_name"),
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any], tags: tuple[str, ...]) -> Record:
        data = dict(row)
        data["metadata"] = json.loads(data["metadata"] or "{}")
        data["tags"] = tags
        return cls.from_dict(data)


def dump_metadata(metadata: Mapping[str, Any]) -> str:
    return json.dumps(dict(metadata), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def load_records(conn: sa.Connection, query: sa.Select[Any]) -> list[Record]:
    """The records a ``select`` of ``store_records`` rows finds, in its order, with their tags
    (read 500 records at a time)."""
    import sqlalchemy as sa

    from ita_rules.db import tables as t

    rows = [dict(row._mapping) for row in conn.execute(query)]
    found: dict[str, list[str]] = {}
    file_ids = [row["file_id"] for row in rows]
    for start in range(0, len(file_ids), 500):
        chunk = file_ids[start : start + 500]
        tags = sa.select(t.tags.c.file_id, t.tags.c.tag).where(t.tags.c.file_id.in_(chunk))
        for fid, tag in conn.execute(tags):
            found.setdefault(fid, []).append(tag)
    return [Record.from_row(row, tuple(sorted(found.get(row["file_id"], ())))) for row in rows]


MIN_PREFIX = 8
_ID_CHARS = re.compile(r"[0-9a-fA-F-]+")


def resolve_file_id(conn: sa.Connection, given: str) -> str:
    """The file id a user means: ``given`` itself when it is a whole id, else the one record
    whose id starts with it (at least 8 characters, as ``git`` takes commit prefixes).

    A prefix shorter than 8 characters or matching several records is a usage error (the
    candidates are listed); no match is :class:`NotFound`.
    """
    import sqlalchemy as sa

    from ita_rules.db import tables as t

    ids = t.records.c.file_id
    if len(given) >= 36:
        return given
    if len(given) < MIN_PREFIX:
        raise UsageError(
            f"file id {given!r} is too short: give the whole id or at least "
            f"{MIN_PREFIX} characters of it"
        )
    if not _ID_CHARS.fullmatch(given):  # no LIKE wildcards; such an id cannot exist
        raise NotFound(f"no record {given!r} in the store")
    found = list(
        conn.execute(
            sa.select(ids).where(ids.like(given.lower() + "%")).order_by(ids).limit(11)
        ).scalars()
    )
    if not found:
        raise NotFound(f"no record {given!r} in the store")
    if len(found) > 1:
        more = ", ..." if len(found) > 10 else ""
        raise UsageError(f"file id {given!r} is ambiguous: {', '.join(found[:10])}{more}")
    return str(found[0])

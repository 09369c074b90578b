"""The ``remote_copies`` table, same code on SQLite and Postgres. It is part of the database's
one schema version: created and migrated with the other tables by :mod:`ita_rules.db.migrations`
(its DDL history is in ``ita_rules/db/steps.py``; until schema version 4 it kept a version of
its own).

One row per (stored content, remote): where the copy is (``remote_path`` under the remote),
what was checked (``size`` and ``remote_hash``, e.g. ``md5:...`` or ``sha256:...``; None when
the copy was verified by downloading it and re-computing its SHA-256) and when it was last found
intact (``verified_at``). ``verified_at`` is None while a copy is not known to be intact: never
verified, or found missing or different by a later check (``problem`` says which).

Every saved row is also appended to the store's journal (``{"op": "remote", "copy": {...}}``,
before the database commits), so :func:`restore` rebuilds the table after the database is lost:
the last entry of each (content, remote) wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ita_rules.db.engine import Database
from ita_rules.db.migrations import ensure_schema

metadata = sa.MetaData()

remote_copies = sa.Table(
    "remote_copies",
    metadata,
    sa.Column("hash", sa.String(71), primary_key=True),  # the stored content: "sha256:" + hex
    sa.Column("remote", sa.String(512), primary_key=True),  # remote.name (secrets redacted)
    sa.Column("remote_path", sa.String(1024), nullable=False),  # relative to the remote
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("remote_hash", sa.String(160)),  # "md5:..." as the remote reported and we matched
    sa.Column("verified_at", sa.String(32), index=True),
    sa.Column("checked_at", sa.String(32), nullable=False),
    sa.Column("problem", sa.String(500)),
)


JOURNAL_OP = "remote"
_FIELDS = (
    "hash", "remote", "remote_path", "size", "remote_hash", "verified_at", "checked_at", "problem",
)  # fmt: skip
_REQUIRED: dict[str, type] = {
    "hash": str, "remote": str, "remote_path": str, "size": int, "checked_at": str,
}  # fmt: skip
_SHOWN = {"verified_at": "remote_verified_at"}  # the name in printed documents


@dataclass(frozen=True)
class RemoteCopy:
    hash: str
    remote: str
    remote_path: str
    size: int
    remote_hash: str | None
    verified_at: str | None
    checked_at: str
    problem: str | None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    def row(self) -> dict[str, Any]:
        """The ``remote_copies`` row (also what the journal keeps)."""
        return {name: getattr(self, name) for name in _FIELDS}

    def journal_entry(self) -> dict[str, Any]:
        return {"op": JOURNAL_OP, "at": self.checked_at, "copy": self.row()}

    @classmethod
    def from_row(cls, data: Mapping[str, Any]) -> RemoteCopy:
        """A copy from a row or a journal entry's ``copy`` (KeyError, TypeError or ValueError
        when a required field is missing or not of its type)."""
        values: dict[str, Any] = {name: data.get(name) for name in _FIELDS}
        for name, kind in _REQUIRED.items():
            values[name] = kind(data[name])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        """The copy as ``remote`` commands print it (``verified_at`` named for the record)."""
        return {_SHOWN.get(name, name): value for name, value in self.row().items()}


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def copies(
    db: Database, hashes: Sequence[str], remote: str | None = None
) -> dict[str, list[RemoteCopy]]:
    """The remote copies of each content hash (on ``remote`` only, when given)."""
    c = remote_copies.c
    out: dict[str, list[RemoteCopy]] = {}
    with db.read() as conn:
        if not sa.inspect(conn).has_table(remote_copies.name):
            return out  # nothing was ever pushed from this database
        for chunk in _chunks(sorted(set(hashes))):
            query = sa.select(remote_copies).where(c.hash.in_(list(chunk)))
            if remote is not None:
                query = query.where(c.remote == remote)
            for row in conn.execute(query):
                copy = RemoteCopy(**dict(row._mapping))
                out.setdefault(copy.hash, []).append(copy)
    return out


def all_copies(db: Database, remote: str) -> list[RemoteCopy]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(remote_copies)
            .where(remote_copies.c.remote == remote)
            .order_by(remote_copies.c.remote_path)
        )
        return [RemoteCopy(**dict(row._mapping)) for row in rows]


def save(db: Database, rows: Sequence[RemoteCopy]) -> None:
    """Insert or replace rows (one transaction)."""
    if not rows:
        return
    c = remote_copies.c
    with db.write() as conn:
        for row in rows:
            conn.execute(remote_copies.delete().where(c.hash == row.hash, c.remote == row.remote))
        conn.execute(remote_copies.insert(), [r.row() for r in rows])


def restore(db: Database, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert the remote copies of the journal's ``remote`` entries (the data of each entry)
    that the table lacks, each as its last entry left it; return how many. Idempotent."""
    last: dict[tuple[str, str], RemoteCopy] = {}
    for data in entries:
        if data.get("op") != JOURNAL_OP or not isinstance(data.get("copy"), dict):
            continue
        try:
            copy = RemoteCopy.from_row(data["copy"])
        except (KeyError, TypeError, ValueError):
            continue  # a line of another format: nothing this version can restore
        last[(copy.hash, copy.remote)] = copy
    if not last:
        return 0
    ensure_schema(db)
    c = remote_copies.c
    with db.write() as conn:
        present = {(h, r) for h, r in conn.execute(sa.select(c.hash, c.remote))}
        rows = [copy.row() for key, copy in last.items() if key not in present]
        if rows:
            conn.execute(remote_copies.insert(), rows)
    return len(rows)

"""Replay journal entries into the database: the records the database lacks, with their tags,
statuses and stored files (:func:`replay`; ``store fsck --repair`` and the rebuild of a lost
database, :func:`ita_rules.recovery.rebuild.rebuild_database`, use it).

Only what the files on disk support is restored (see :func:`replay`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store.batch import insert_many
from ita_rules.store.journal import Entry
from ita_rules.store.records import LIVE, Record


class Replayed(NamedTuple):
    records: int  # inserted
    skipped: tuple[str, ...]  # file ids of journaled records whose file is not on disk


def replay(
    conn: sa.Connection,
    entries: Iterable[Entry],
    only: set[str] | None = None,
    *,
    root: Path | None = None,
) -> Replayed:
    """Apply put/tag/status/verified entries for records the database lacks (or those in
    ``only``).

    With ``root`` (the store root) only what the files on disk support is restored: a record
    that still needs its file (live or deleted) whose own name and stored file are both
    missing is skipped and its file id returned in ``skipped`` (a put whose commit never
    happened, or a file lost since). Records marked purged, missing or corrupt are restored
    as they are. Idempotent: what exists is left alone. The
    restored records are rebuilt in memory, entry after entry, and inserted at the end with
    one ``executemany`` per table (a journal of a million puts replays in seconds, not in a
    million round trips).
    """
    plan = _restore(conn, entries, only, root)
    insert_many(conn, t.blobs, plan.blobs)
    insert_many(conn, t.records, list(plan.rows.values()))
    insert_many(
        conn,
        t.tags,
        [{"file_id": fid, "tag": tag} for fid, names in plan.tags.items() for tag in names],
    )
    return Replayed(len(plan.rows), plan.skipped)


def unbacked(
    conn: sa.Connection, entries: Iterable[Entry], only: set[str], root: Path
) -> tuple[str, ...]:
    """The file ids (of ``only``) that :func:`replay` would skip: journaled records that need
    a file no longer on disk. Writes nothing."""
    return _restore(conn, entries, only, root).skipped


def _restore(
    conn: sa.Connection, entries: Iterable[Entry], only: set[str] | None, root: Path | None
) -> _Restore:
    """What :func:`replay` inserts (read from the database, written nowhere)."""
    present = {row[0] for row in conn.execute(sa.select(t.records.c.file_id))}
    stored_at = {h: p for h, p in conn.execute(sa.select(t.blobs.c.hash, t.blobs.c.path))}
    plan = _Restore(present=present, known_blobs=set(stored_at), only=only)
    for entry in entries:
        plan.apply(entry.data)
    if root is not None:
        plan.keep_backed(root, stored_at)
    return plan


@dataclass
class _Restore:
    """The rows of the records the database lacks, rebuilt entry after entry."""

    present: set[str]  # file ids in the database, or restored already
    known_blobs: set[str]  # hashes stored in the database, or restored already
    only: set[str] | None
    blobs: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # file_id -> its row
    tags: dict[str, dict[str, None]] = field(default_factory=dict)  # file_id -> ordered set
    skipped: tuple[str, ...] = ()
    moved_to: dict[str, dict[str, Any]] = field(default_factory=dict)  # hash -> its blob row

    def apply(self, data: dict[str, Any]) -> None:
        """One journal entry: a put of a record to restore, or a change to one restored."""
        op = data.get("op")
        if op == "put":
            self._put(data)
        elif op == "blob" and data.get("hash") in self.moved_to:  # kept by another name
            self.moved_to[data["hash"]]["path"] = data["path"]
        elif op == "verified":  # store verify found these records' files intact
            for fid in data.get("file_ids") or ():
                row = self.rows.get(fid)
                if row is not None and row["status"] in LIVE:
                    row["last_verified_at"] = data.get("at")
        elif op == "tag" and data.get("file_id") in self.rows:
            self.tags[data["file_id"]].update(dict.fromkeys(data.get("tags", [])))
        elif op == "status" and data.get("file_id") in self.rows:
            row = self.rows[data["file_id"]]
            row["status"] = data["status"]
            if data["status"] == "deleted":
                row["deleted_at"] = data.get("at")
            elif data["status"] == "live":
                row["deleted_at"] = None

    def _put(self, data: dict[str, Any]) -> None:
        record = Record.from_dict(data["record"])
        fid = record.file_id
        if fid in self.present or (self.only is not None and fid not in self.only):
            return
        if record.hash not in self.known_blobs:
            blob = data.get("blob") or {}
            row = {
                "hash": record.hash,
                "path": blob.get("path", record.path),
                "size": int(blob.get("size", record.size)),
                "created_at": record.created_at,
            }
            self.blobs.append(self.moved_to.setdefault(record.hash, row))
            self.known_blobs.add(record.hash)
        self.rows[fid] = record.row()
        self.tags[fid] = dict.fromkeys(record.tags)
        self.present.add(fid)

    def keep_backed(self, root: Path, stored_at: dict[str, str]) -> None:
        """Drop the records that need a file (live or deleted) when neither their own name
        nor their stored file is on disk under ``root``; their ids go to ``skipped``."""
        stored_at = {**stored_at, **{b["hash"]: b["path"] for b in self.blobs}}  # moves applied
        on_disk: dict[str, bool] = {}
        skipped: list[str] = []
        for fid, row in list(self.rows.items()):
            if row["status"] not in LIVE or os.path.lexists(root / row["path"]):
                continue
            hash_ = row["hash"]
            if hash_ not in on_disk:
                on_disk[hash_] = os.path.lexists(root / stored_at[hash_])
            if on_disk[hash_]:
                continue
            skipped.append(fid)
            del self.rows[fid], self.tags[fid]
        needed = {row["hash"] for row in self.rows.values()}
        self.blobs = [b for b in self.blobs if b["hash"] in needed or on_disk.get(b["hash"], True)]
        self.skipped = tuple(sorted(skipped))

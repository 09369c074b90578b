"""Replay journal entries into the database (:func:`replay`, also used by fsck), and rebuild
every table after the database was lost (:func:`rebuild_database`).

The disk is the source of truth: the store's records, tags and status changes and the remote
copies are in the journal under the store root, each run is in its snapshot file under
``archive/provenance/``. A rebuild restores what the database lacks and leaves the rest alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store.batch import insert_many
from ita_rules.store.journal import Entry
from ita_rules.store.records import LIVE, Record

if TYPE_CHECKING:
    from ita_rules.workspace import Workspace


@dataclass(frozen=True)
class Rebuilt:
    """What :func:`rebuild_database` restored."""

    records: int
    runs: tuple[str, ...]
    remote_copies: int
    unreadable: tuple[str, ...] = ()  # snapshot files that are not a run's snapshot
    set_aside: str | None = None  # a damaged SQLite file, renamed before the rebuild
    skipped: tuple[str, ...] = ()  # journaled records whose file is not on disk: not restored

    @property
    def ok(self) -> bool:
        return not self.unreadable

    def warnings(self) -> list[str]:
        """One line per thing the disk could not give back (for the CLI to print)."""
        return [
            *(
                f"{path}: not a run's snapshot file; its run was not restored"
                for path in self.unreadable
            ),
            *(
                f"record {file_id}: its file is not on disk; not restored"
                for file_id in self.skipped
            ),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "restored": self.records,
            "records": self.records,
            "runs": len(self.runs),
            "remote_copies": self.remote_copies,
            "unreadable": list(self.unreadable),
            "set_aside": self.set_aside,
            "skipped": list(self.skipped),
        }

    def __str__(self) -> str:
        aside = f" (the damaged database was moved to {self.set_aside})" if self.set_aside else ""
        return (
            f"{self.records} record(s), {len(self.runs)} run(s), "
            f"{self.remote_copies} remote copy(ies){aside}"
        )


def rebuild_database(workspace: Workspace) -> Rebuilt:
    """Restore what the metadata database lacks from the disk: the store's records (with
    their tags and statuses) and the remote copies from the journal, the runs from their
    snapshot files. Idempotent; used by ``store rebuild`` and ``index --rebuild``.

    A SQLite file that SQLite cannot read (truncated, overwritten) is renamed first
    (:func:`~ita_rules.db.engine.set_aside_broken_sqlite`: kept beside, never deleted) and
    the database is rebuilt from nothing."""
    from ita_rules.db.engine import set_aside_broken_sqlite
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.tables import ensure_runs_schema
    from ita_rules.remote import tables as remote_tables
    from ita_rules.store import open_store

    aside = set_aside_broken_sqlite(workspace.settings.database_url, workspace.root)
    store = open_store(workspace)
    try:
        with store.locked():
            entries, _damaged = store.journal.read()
            with store.db.write() as conn:
                records, skipped = replay(conn, entries, root=store.root)
            copies = remote_tables.restore(store.db, (e.data for e in entries))
            ensure_runs_schema(store.db)
            runs, unreadable = RunStore(workspace.settings, store.db, owned=False).restore()
    finally:
        store.close()
    shown = None
    if aside is not None:
        try:
            shown = aside.relative_to(workspace.root).as_posix()
        except ValueError:
            shown = str(aside)
    return Rebuilt(records, tuple(runs), copies, tuple(unreadable), shown, skipped)


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


@dataclass
class _Restore:
    blobs: list[dict[str, Any]]
    rows: dict[str, dict[str, Any]]  # file_id -> its store_records row
    tags: dict[str, dict[str, None]]  # file_id -> its tags (an ordered set)
    skipped: tuple[str, ...]


def _restore(
    conn: sa.Connection, entries: Iterable[Entry], only: set[str] | None, root: Path | None
) -> _Restore:
    """What :func:`replay` inserts (read from the database, written nowhere)."""
    present = {row[0] for row in conn.execute(sa.select(t.records.c.file_id))}
    stored_at = {h: p for h, p in conn.execute(sa.select(t.blobs.c.hash, t.blobs.c.path))}
    known_blobs = set(stored_at)
    blobs: list[dict[str, Any]] = []
    moved_to: dict[str, dict[str, Any]] = {}  # hash -> its row in ``blobs``
    rows: dict[str, dict[str, Any]] = {}  # file_id -> its store_records row, as restored
    tags: dict[str, dict[str, None]] = {}  # file_id -> its tags (an ordered set)
    for entry in entries:
        data = entry.data
        op = data.get("op")
        if op == "put":
            record = Record.from_dict(data["record"])
            fid = record.file_id
            if fid in present or (only is not None and fid not in only):
                continue
            if record.hash not in known_blobs:
                blob = data.get("blob") or {}
                blobs.append(
                    moved_to.setdefault(
                        record.hash,
                        {
                            "hash": record.hash,
                            "path": blob.get("path", record.path),
                            "size": int(blob.get("size", record.size)),
                            "created_at": record.created_at,
                        },
                    )
                )
                known_blobs.add(record.hash)
            rows[fid] = record.row()
            tags[fid] = dict.fromkeys(record.tags)
            present.add(fid)
        elif op == "blob" and data.get("hash") in moved_to:  # its bytes kept by another name
            moved_to[data["hash"]]["path"] = data["path"]
        elif op == "verified":  # store verify found these records' files intact
            for fid in data.get("file_ids") or ():
                row = rows.get(fid)
                if row is not None and row["status"] == "live":
                    row["last_verified_at"] = data.get("at")
        elif op == "tag" and data.get("file_id") in rows:
            tags[data["file_id"]].update(dict.fromkeys(data.get("tags", [])))
        elif op == "status" and data.get("file_id") in rows:
            row = rows[data["file_id"]]
            row["status"] = data["status"]
            if data["status"] == "deleted":
                row["deleted_at"] = data.get("at")
            elif data["status"] == "live":
                row["deleted_at"] = None
    skipped: list[str] = []
    if root is not None:
        stored_at.update({b["hash"]: b["path"] for b in blobs})  # blob moves applied
        on_disk: dict[str, bool] = {}
        for fid, row in list(rows.items()):
            if row["status"] not in LIVE or os.path.lexists(root / row["path"]):
                continue
            hash_ = row["hash"]
            if hash_ not in on_disk:
                on_disk[hash_] = os.path.lexists(root / stored_at[hash_])
            if on_disk[hash_]:
                continue
            skipped.append(fid)
            del rows[fid], tags[fid]
        needed = {row["hash"] for row in rows.values()}
        blobs = [b for b in blobs if b["hash"] in needed or on_disk.get(b["hash"], True)]
    return _Restore(blobs, rows, tags, tuple(sorted(skipped)))

"""Replay journal entries into the database: used by ``rebuild_from_journal`` and fsck."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store.batch import insert_many
from ita_rules.store.journal import Entry
from ita_rules.store.records import Record


def replay(conn: sa.Connection, entries: Iterable[Entry], only: set[str] | None = None) -> int:
    """Apply put/tag/status entries for records the database lacks (or those in ``only``).

    Returns the number of records inserted. Idempotent: what exists is left alone. The
    restored records are rebuilt in memory, entry after entry, and inserted at the end with
    one ``executemany`` per table (a journal of a million puts replays in seconds, not in a
    million round trips).
    """
    present = {row[0] for row in conn.execute(sa.select(t.records.c.file_id))}
    known_blobs = {row[0] for row in conn.execute(sa.select(t.blobs.c.hash))}
    blobs: list[dict[str, Any]] = []
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
                    {
                        "hash": record.hash,
                        "path": blob.get("path", record.path),
                        "size": int(blob.get("size", record.size)),
                        "created_at": record.created_at,
                    }
                )
                known_blobs.add(record.hash)
            rows[fid] = record.row()
            tags[fid] = dict.fromkeys(record.tags)
            present.add(fid)
        elif op == "tag" and data.get("file_id") in rows:
            tags[data["file_id"]].update(dict.fromkeys(data.get("tags", [])))
        elif op == "status" and data.get("file_id") in rows:
            row = rows[data["file_id"]]
            row["status"] = data["status"]
            if data["status"] == "deleted":
                row["deleted_at"] = data.get("at")
            elif data["status"] == "live":
                row["deleted_at"] = None
    insert_many(conn, t.blobs, blobs)
    insert_many(conn, t.records, list(rows.values()))
    insert_many(
        conn, t.tags, [{"file_id": fid, "tag": tag} for fid, names in tags.items() for tag in names]
    )
    return len(rows)

"""Replay journal entries into the database: used by ``rebuild_from_journal`` and fsck."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store.journal import Entry
from ita_rules.store.records import Record


def replay(conn: sa.Connection, entries: Iterable[Entry], only: set[str] | None = None) -> int:
    """Apply put/tag/status entries for records the database lacks (or those in ``only``).

    Returns the number of records inserted. Idempotent: what exists is left alone.
    """
    present = {row[0] for row in conn.execute(sa.select(t.records.c.file_id))}
    known_blobs = {row[0] for row in conn.execute(sa.select(t.blobs.c.hash))}
    restored: set[str] = set()
    inserted = 0
    for entry in entries:
        data = entry.data
        op = data.get("op")
        if op == "put":
            record = Record.from_dict(data["record"])
            if record.file_id in present or (only is not None and record.file_id not in only):
                continue
            if record.hash not in known_blobs:
                blob = data.get("blob") or {}
                conn.execute(
                    t.blobs.insert().values(
                        hash=record.hash,
                        path=blob.get("path", record.path),
                        size=int(blob.get("size", record.size)),
                        created_at=record.created_at,
                    )
                )
                known_blobs.add(record.hash)
            conn.execute(t.records.insert().values(**record.row()))
            if record.tags:
                conn.execute(
                    t.tags.insert(),
                    [{"file_id": record.file_id, "tag": tag} for tag in record.tags],
                )
            present.add(record.file_id)
            restored.add(record.file_id)
            inserted += 1
        elif op == "tag" and data.get("file_id") in restored:
            have = {
                row[0]
                for row in conn.execute(
                    sa.select(t.tags.c.tag).where(t.tags.c.file_id == data["file_id"])
                )
            }
            new = [tag for tag in data.get("tags", []) if tag not in have]
            if new:
                conn.execute(
                    t.tags.insert(), [{"file_id": data["file_id"], "tag": tag} for tag in new]
                )
        elif op == "status" and data.get("file_id") in restored:
            values = {"status": data["status"]}
            if data["status"] == "deleted":
                values["deleted_at"] = data.get("at")
            elif data["status"] == "live":
                values["deleted_at"] = None
            conn.execute(
                t.records.update().where(t.records.c.file_id == data["file_id"]).values(**values)
            )
    return inserted

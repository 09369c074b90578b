"""The records' own names of stored bytes: each record has its name in its type's folder, a
hard link to the stored file (a copy where the file system cannot link). Giving them back
(:func:`relink`) and taking one away with its record (:func:`remove`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.db import tables as t
from ita_rules.store import batch, blobs
from ita_rules.store.errors import RemovalVetoed
from ita_rules.store.records import LIVE, Record

if TYPE_CHECKING:
    from ita_rules.store.core import Store


def relink(store: Store, hash_: str) -> list[str]:
    """Give back their names to the live records of a content whose stored file is on
    disk (e.g. after a pull restored it): a hard link each, or a copy. Returns the names
    made."""
    r = t.records.c
    made: list[str] = []
    with store.locked():
        with store.db.read() as conn:
            stored = batch.stored_paths(conn, [hash_]).get(hash_)
            paths = set(
                conn.execute(sa.select(r.path).where(r.hash == hash_, r.status.in_(LIVE))).scalars()
            )
        if stored is None or not store.abspath(stored).is_file():
            return made
        for rel in sorted(paths - {stored}):
            target = store.abspath(rel)
            if not os.path.lexists(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                blobs.link_or_copy(os.fspath(store.abspath(stored)), os.fspath(target), None)
                made.append(rel)
        for parent in {os.path.dirname(os.fspath(store.abspath(m))) for m in made}:
            blobs.sync_dir(parent)
    return made


def remove(
    store: Store, file_id: str, unless: Callable[[Record], str | None] | None = None
) -> bool:
    """Purge one record; delete its name from disk when no live record needs that name,
    and the stored bytes when no live record needs them any more.

    A record's path may be its own hard link to bytes stored under another name: that
    link goes with the record, while the stored file stays as long as a live record of
    the same content remains. ``unless`` is asked under the store lock with the record as
    it is now: a reason it returns vetoes the removal (:class:`RemovalVetoed`), so a
    protection gained, or a restore made, by another process a moment earlier is
    honoured. Returns True when the stored bytes were deleted from disk.
    """
    with store.disk_errors("nothing was removed"), store.locked():
        record = store.get(file_id)
        reason = unless(record) if unless is not None else None
        if reason:
            raise RemovalVetoed(reason)
        store._set_status([record.file_id], "purged", times.iso(times.now()))
        r = t.records.c
        with store.db.read() as conn:
            users = conn.execute(
                sa.select(r.path).where(r.hash == record.hash, r.status.in_(LIVE))
            ).scalars()
            needed = set(users)
            stored = conn.execute(
                sa.select(t.blobs.c.path).where(t.blobs.c.hash == record.hash)
            ).scalar_one_or_none()
        if record.path in needed:
            return False  # another live record has this very name
        if needed and record.path == stored:
            # the bytes stay under another live record's name: it becomes the stored file
            keep = next((p for p in sorted(needed) if store.abspath(p).is_file()), None)
            if keep is None:
                return False
            moved = {"op": "blob", "at": times.iso(times.now()), "hash": record.hash}
            with store.write_ahead([{**moved, "path": keep}]) as conn:
                conn.execute(
                    t.blobs.update().where(t.blobs.c.hash == record.hash).values(path=keep)
                )
        store.abspath(record.path).unlink(missing_ok=True)
        return not needed

"""The records' own names of stored bytes: each record has its name in its type's folder, a
hard link to the stored file (a copy where the file system cannot link). Giving them back
(:func:`relink`) and taking one away with its record (:func:`remove`); a free name in a
folder (:func:`free_name`) and a second name for stored bytes (:func:`link_or_copy`)."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Container
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core import times
from ita_rules.store import blobs
from ita_rules.store.errors import RemovalVetoed
from ita_rules.store.records import CLAIMING, LIVE, Record

if TYPE_CHECKING:
    import sqlalchemy as sa

    from ita_rules.store.core import Store


def _stored_path(hash_: str) -> sa.Select[Any]:
    import sqlalchemy as sa

    from ita_rules.db import tables as t

    return sa.select(t.blobs.c.path).where(t.blobs.c.hash == hash_)


def relink(store: Store, hash_: str) -> list[str]:
    """Give back their names to the live records of a content whose stored file is on
    disk (e.g. after a pull restored it): a hard link each, or a copy. Returns the names
    made."""
    import sqlalchemy as sa

    from ita_rules.db import tables as t

    r = t.records.c
    made: list[str] = []
    with store.locked():
        with store.db.read() as conn:
            stored = conn.execute(_stored_path(hash_)).scalar_one_or_none()
            paths = set(
                conn.execute(sa.select(r.path).where(r.hash == hash_, r.status.in_(LIVE))).scalars()
            )
        if stored is None or not store.abspath(stored).is_file():
            return made
        for rel in sorted(paths - {stored}):
            target = store.abspath(rel)
            if not os.path.lexists(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                link_or_copy(os.fspath(store.abspath(stored)), os.fspath(target), None)
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
    import sqlalchemy as sa

    from ita_rules.db import tables as t

    with store.disk_errors("nothing was removed"), store.locked():
        record = store.get(file_id)
        reason = unless(record) if unless is not None else None
        if reason:
            raise RemovalVetoed(reason)
        store._set_status([record.file_id], "purged", times.iso(times.now()))
        r = t.records.c
        with store.db.read() as conn:
            users = conn.execute(  # a record marked missing/corrupt still names its file
                sa.select(r.path).where(r.hash == record.hash, r.status.in_(CLAIMING))
            ).scalars()
            needed = set(users)
            stored = conn.execute(_stored_path(record.hash)).scalar_one_or_none()
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


def free_name(
    hash_: str,
    folder: str | Path,
    name: str,
    taken: set[str] | None = None,
    present: Container[str] | None = None,
) -> str:
    """A free name in ``folder`` for a staged file: ``name``, or ``{stem}-{hash[:8]}.{ext}``
    (then ``-2``, ``-3``...) when that exists or this batch took it (``taken`` gets the name).
    ``present``: the folder's names listed under the store lock, lowercased (:func:`listing`),
    asked instead of the file system.

    Call it under the store lock and rename before unlocking: the existence check and the
    rename are then race-free between ita-rules processes.
    """
    taken = taken if taken is not None else set()
    base = os.fspath(folder)
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    short = hash_[7:15]
    # the first two candidates before the others: a batch's files share ``name``, so all but
    # its first take the second one
    for candidate in (name, f"{stem}-{short}{dot}{ext}"):
        if _free(candidate, base, taken, present):
            return candidate
    for i in range(2, 1000):
        candidate = f"{stem}-{short}-{i}{dot}{ext}"
        if _free(candidate, base, taken, present):
            return candidate
    raise OSError(errno.EEXIST, f"no free name for {name} in {folder}")


def _free(candidate: str, base: str, taken: set[str], present: Container[str] | None) -> bool:
    """Whether ``candidate`` is free (see :func:`free_name`); it is then ``taken``."""
    if candidate in taken:
        return False
    if present is not None:
        if candidate.lower() in present:
            return False
    elif os.path.lexists(f"{base}{os.sep}{candidate}"):
        return False
    taken.add(candidate)
    return True


LIST_FROM = 256  # names a batch looks for, from which listing their folder once is cheaper
LIST_BYTES_PER_NAME = 256  # ... unless the folder is larger than that many bytes a name
LIST_ANYWAY_BYTES = 1 << 16  # a folder this small (~1,600 names) is listed in any case


def listing(folder: str, wanted: int) -> set[str] | None:
    """The names in ``folder`` when a batch is about to look ``wanted`` names up there and the
    folder is not much larger than that (its size in bytes tells, ~40 a name on ext4): one
    listing instead of one ``lstat`` a name. None: look each name up (:func:`free_name`).
    Call under the store lock (other ita-rules processes then add no names meanwhile). The
    names are lowercased, and so is each candidate (our names are ASCII): on a file system
    that ignores case a name that differs only in case is taken too, as lstat would say."""
    if wanted < LIST_FROM:
        return None
    try:
        if os.stat(folder).st_size > max(wanted * LIST_BYTES_PER_NAME, LIST_ANYWAY_BYTES):
            return None
        return {name.lower() for name in os.listdir(folder)}
    except OSError:
        return None


_NO_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def link_or_copy(stored: str, target: str, spare: str | None) -> bool:
    """Give stored bytes a second name: a hard link ``target`` -> ``stored`` (the content stays
    stored once). Where the file system cannot link (another device, too many links, no
    support) ``target`` becomes a copy instead: ``spare`` (a temp file with the same bytes in
    the target's folder) is renamed, or the stored file is copied. True when ``spare`` was
    used. Call under the store lock with a free ``target``."""
    try:
        os.link(stored, target, follow_symlinks=False)
        return False
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    if spare:
        os.replace(spare, target)
        return True
    fd = blobs.open_source(stored)
    try:
        copy = blobs.stage(fd, os.path.dirname(target), stored)
    finally:
        os.close(fd)
    os.replace(copy.path, target)
    return False

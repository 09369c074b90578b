"""``store fsck``, the files: temp leftovers, the records' names, the stored files, and files
nothing accounts for (moved to ``.ita-store/lost+found/`` with ``repair``, never deleted).

A record marked missing or corrupt still names its file: the file may come back (a drive
mounted again, good bytes copied back from a backup). Such a file is never deleted; found again
with its SHA-256, ``repair`` makes its records live again (soft-deleted again when they were)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.db import tables as t
from ita_rules.store import blobs, names
from ita_rules.store.core import HOUSEKEEPING, Store
from ita_rules.store.fsck.report import FsckReport, Problem
from ita_rules.store.naming import TMP_PREFIX
from ita_rules.store.records import LIVE, MARKED

STALE_TEMP_S = 3600.0


@dataclass
class Scan:
    """The files under the store root and what the database says of them (read once)."""

    files: set[str]  # every file but housekeeping and temp files, "/"-separated
    stored: dict[str, tuple[str, int]]  # hash -> (its stored file, size)
    live: dict[str, list[str]]  # hash -> the file ids of its live records
    linked: set[str]  # records' own names of stored bytes that are on disk
    named: dict[str, list[str]] = field(default_factory=dict)  # hash -> its names on disk
    marked: dict[str, list[Marked]] = field(default_factory=dict)  # hash -> missing/corrupt

    @property
    def unaccounted(self) -> set[str]:
        """Files that are neither stored bytes nor a record's name: another part's own files
        (the runs' snapshots), or orphans."""
        return self.files - {path for path, _ in self.stored.values()} - self.linked


def scan(store: Store, report: FsckReport, *, repair: bool, hashes: bool) -> Scan:
    """Walk the store root (stale temp files reported, and deleted with ``repair``), read the
    stored files and live records, and check the records' own names (:func:`_check_names`)."""
    files, temps = _walk(store.root)
    report.files = len(files)
    for rel in temps:
        if _temp_is_stale(store.root / rel, Path(rel).name):
            if repair:
                (store.root / rel).unlink(missing_ok=True)
            message = "temporary file left by an interrupted put"
            report.problems.append(Problem("temp", rel, message, repaired=repair))
    r = t.records.c
    with store.db.read() as conn:
        stored = {row.hash: (row.path, int(row.size)) for row in conn.execute(sa.select(t.blobs))}
        live: dict[str, list[str]] = {}
        for fid, hash_ in conn.execute(sa.select(r.file_id, r.hash).where(r.status.in_(LIVE))):
            live.setdefault(hash_, []).append(fid)
        marked: dict[str, list[Marked]] = {}
        query = sa.select(r.file_id, r.hash, r.status, r.deleted_at, r.path)
        for fid, hash_, status, deleted_at, path in conn.execute(query.where(r.status.in_(MARKED))):
            marked.setdefault(hash_, []).append(Marked(fid, status, deleted_at, path))
        count = sa.select(sa.func.count()).select_from(t.records)
        report.records = int(conn.execute(count).scalar_one())
    found = Scan(files, stored, live, set(), marked=marked)
    found.linked = _check_names(store, found, report, repair=repair, hashes=hashes)
    return found


def _walk(root: Path) -> tuple[set[str], list[str]]:
    """Every file under the store root (but housekeeping) as a ``/``-separated relative path,
    and the temp files apart (plain strings: a store holds many thousands of files)."""
    files: set[str] = set()
    temps: list[str] = []
    top = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top:
            prefix = ""
            if HOUSEKEEPING in dirnames:
                dirnames.remove(HOUSEKEEPING)
        else:
            prefix = os.path.relpath(dirpath, top).replace(os.sep, "/") + "/"
        for name in filenames:
            if name.startswith(TMP_PREFIX):
                temps.append(prefix + name)
            else:
                files.add(prefix + name)
    return files, sorted(temps)


def _temp_is_stale(path: Path, name: str) -> bool:
    try:
        pid = int(name[len(TMP_PREFIX) :].split("-", 1)[0])
    except ValueError:
        return True
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_TEMP_S:
        return True
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False  # its process is still running: a put in progress


def _check_names(
    store: Store, scan: Scan, report: FsckReport, *, repair: bool, hashes: bool
) -> set[str]:
    """Check the records' own names of stored bytes (hard links, or copies where the file
    system cannot link; see :mod:`ita_rules.store.batch`); return the files they account
    for. A live record's missing name is linked again (``repair``) when its bytes are still
    stored; a name only purged records had is unneeded (a name of a record marked missing or
    corrupt is not: it is left as it is); a copy is hashed like a stored file."""
    r = t.records.c
    with store.db.read() as conn:
        rows = conn.execute(sa.select(r.path, r.hash, r.file_id, r.status)).all()
    stored_files = {path for path, _ in scan.stored.values()}
    names: dict[str, tuple[str, list[str], list[str]]] = {}  # path -> (hash, live, marked)
    for path, hash_, fid, status in rows:
        if path not in stored_files:
            name = names.setdefault(path, (hash_, [], []))
            if status in LIVE:
                name[1].append(fid)
            elif status in MARKED:
                name[2].append(fid)
    for rel, (hash_, ids, marked) in sorted(names.items()):
        stored = scan.stored.get(hash_, ("", 0))[0]
        if rel in scan.files and (ids or marked):  # a name a record marked missing names too
            scan.named.setdefault(hash_, []).append(rel)
        if rel in scan.files and not ids and not marked:
            if repair:
                (store.root / rel).unlink(missing_ok=True)
            report.problems.append(
                Problem("unneeded", rel, "name no live record needs", (), repair)
            )
        elif rel not in scan.files and ids:
            _missing_name(store, report, repair, rel, tuple(ids), stored, stored in scan.files)
        elif (
            rel in scan.files
            and ids
            and hashes
            and stored in scan.files
            and _is_bad_copy(store, rel, stored, hash_)
        ):
            message = f"content does not match {hash_}"
            _corrupt(store, report, Problem("mismatch", rel, message, tuple(ids), repair))
    return set(names) & scan.files


def _missing_name(
    store: Store,
    report: FsckReport,
    repair: bool,
    rel: str,
    ids: tuple[str, ...],
    stored: str,
    stored_on_disk: bool,
) -> None:
    """A live record's own name is not on disk: linked again to its stored bytes when they
    are (``repair``), else its records are marked missing (``repair``)."""
    relink = repair and stored_on_disk
    if relink:
        (store.root / rel).parent.mkdir(parents=True, exist_ok=True)
        names.link_or_copy(os.fspath(store.root / stored), os.fspath(store.root / rel), None)
    message = f"name missing; {len(ids)} record(s) point to it" + (
        f" (linked again to {stored})" if relink else ""
    )
    problem = Problem("missing", rel, message, ids, repair)
    if relink:
        report.problems.append(problem)
    else:
        _mark(store, report, problem, "missing")


def _is_bad_copy(store: Store, rel: str, stored: str, hash_: str) -> bool:
    """``rel`` is a copy of the stored file (not a hard link to it) whose bytes differ."""
    if os.path.samefile(store.root / rel, store.root / stored):
        return False
    return blobs.hash_file(store.root / rel)[0] != hash_


def _mark(store: Store, report: FsckReport, problem: Problem, status: str) -> None:
    """Report ``problem``; when it is being repaired, mark its records ``status`` first."""
    if problem.repaired:
        store._set_status(problem.file_ids, status, times.iso(times.now()))
    report.problems.append(problem)


def _corrupt(store: Store, report: FsckReport, problem: Problem) -> None:
    """A file whose content does not match: with repair, its records are marked corrupt and
    the file goes to lost+found."""
    _mark(store, report, problem, "corrupt")
    if problem.repaired:
        lost_and_found(store, problem.path)


def lost_and_found(store: Store, rel: str) -> None:
    """Move a file out of the way, never deleting it: ``.ita-store/lost+found/{rel}``."""
    target = store.housekeeping / "lost+found" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{Path(rel).name}.{n}")
    os.replace(store.root / rel, target)


def _lost_stored(
    store: Store,
    scan: Scan,
    report: FsckReport,
    repair: bool,
    lost: tuple[str, str, tuple[str, ...]],
) -> None:
    """A stored file is missing. When a live record's own name still holds the same bytes (a
    put killed between the two, or the file deleted by hand), ``repair`` brings the stored file
    back from it; only without such a copy are the records marked missing."""
    hash_, rel, ids = lost
    message = f"stored file missing; {len(ids)} record(s) point to it"
    source = next(
        (n for n in scan.named.get(hash_, ()) if blobs.hash_file(store.root / n)[0] == hash_),
        None,
    )
    if source is None:
        _mark(store, report, Problem("missing", rel, message, ids, repair), "missing")
        return
    if repair:
        (store.root / rel).parent.mkdir(parents=True, exist_ok=True)
        names.link_or_copy(os.fspath(store.root / source), os.fspath(store.root / rel), None)
        message += f" (brought back from {source}, same SHA-256)"
    else:
        message += f" ({source} holds the same bytes: --repair brings it back)"
    report.problems.append(Problem("missing", rel, message, ids, repair))


def check_orphans(store: Store, orphans: set[str], report: FsckReport, repair: bool) -> None:
    """Files nothing accounts for: moved to lost+found with ``repair``."""
    moved = " (moved to .ita-store/lost+found)" if repair else ""
    for rel in sorted(orphans):
        if repair:
            lost_and_found(store, rel)
        report.problems.append(Problem("orphan", rel, "file without a record" + moved, (), repair))


def check_stored(
    store: Store, scan: Scan, report: FsckReport, *, repair: bool, hashes: bool
) -> None:
    """Each stored file: unneeded when no record needs or names it (deleted with ``repair``),
    missing, or not matching its hash and size (re-hashed unless ``hashes`` is false). The
    file of records marked missing or corrupt is never deleted: when it is on disk with its
    SHA-256 (always re-hashed), ``repair`` makes them live again (:func:`_found_again`)."""
    for hash_, (rel, size) in sorted(scan.stored.items(), key=lambda kv: kv[1][0]):
        ids = tuple(sorted(scan.live.get(hash_, ())))
        marked = scan.marked.get(hash_, [])
        present = rel in scan.files
        if not ids and not marked:
            if present:
                if repair:
                    (store.root / rel).unlink(missing_ok=True)
                message = "stored file that no live record needs"
                report.problems.append(Problem("unneeded", rel, message, repaired=repair))
        elif not present:
            if ids:
                _lost_stored(store, scan, report, repair, (hash_, rel, ids))
        else:
            actual_size = (store.root / rel).stat().st_size
            rehash = hashes or bool(marked)
            actual_hash = blobs.hash_file(store.root / rel)[0] if rehash else hash_
            if actual_size != size or actual_hash != hash_:
                if ids:  # marked records only: known, and their file is left as it is
                    message = (
                        f"content does not match {hash_} ({actual_size} bytes, expected {size})"
                    )
                    _corrupt(store, report, Problem("mismatch", rel, message, ids, repair))
            elif marked:
                _found_again(store, report, repair, (hash_, rel), marked)


class Marked(NamedTuple):
    """A record marked missing or corrupt, as fsck needs it to bring it back."""

    file_id: str
    status: str
    deleted_at: str | None
    path: str


def _found_again(
    store: Store,
    report: FsckReport,
    repair: bool,
    found: tuple[str, str],
    marked: list[Marked],
) -> None:
    """The stored file ``found`` (its hash, its path) of records marked missing or corrupt is
    on disk with its SHA-256: with ``repair`` they are live again (soft-deleted again, with
    their ``deleted_at``, when they were), and their own names that are not on disk are
    linked to it again. A record whose own name holds other bytes stays as it is marked."""
    hash_, rel = found
    back = [m for m in marked if _name_is_intact(store, m.path, rel, hash_)]
    if not back:
        return
    what = " or ".join(s for s in MARKED if any(m.status == s for m in back))
    soft = {m.deleted_at is not None for m in back}
    again = (
        "live"
        if soft == {False}
        else "soft-deleted"
        if soft == {True}
        else ("live or soft-deleted, as they were,")
    )
    ids = tuple(sorted(m.file_id for m in back))
    message = f"stored file on disk again with its SHA-256; {len(ids)} record(s) marked {what} "
    if repair:
        message += f"point to it (marked {again} again)"
        live = [m.file_id for m in back if m.deleted_at is None]
        if live:
            store._set_status(live, "live", times.iso(times.now()))
        for m in back:
            if m.deleted_at is not None:  # its own deleted_at, kept
                store._set_status([m.file_id], "deleted", m.deleted_at)
            target = store.root / m.path
            if not os.path.lexists(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                names.link_or_copy(os.fspath(store.root / rel), os.fspath(target), None)
    else:
        message += f"point to it (--repair marks them {again} again)"
    report.problems.append(Problem("back", rel, message, ids, repair))


def _name_is_intact(store: Store, name: str, stored: str, hash_: str) -> bool:
    """A marked record's own name is the stored file, is not on disk (linked again with the
    record), or holds the same bytes."""
    if name == stored or not os.path.lexists(store.root / name):
        return True
    if not (store.root / name).is_file() or (store.root / name).is_symlink():
        return False
    if os.path.samefile(store.root / name, store.root / stored):
        return True
    return blobs.hash_file(store.root / name)[0] == hash_

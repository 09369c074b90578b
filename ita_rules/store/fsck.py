"""``store fsck``: compare the files under the store root, the database and the journal.

Finds temp leftovers, files without records, files no live record needs, records without
files, hash mismatches, records missing from the journal or from the database, and damaged
journal lines. ``repair=True`` fixes each: stale temp files and unneeded files are deleted,
unknown files move to ``.ita-store/lost+found/`` (never deleted), records of missing or
corrupt files get the status ``missing``/``corrupt``, and database and journal are reconciled.

The runs' snapshot files (``{provenance folder}/{run_id}_snapshot.json``) are the tool's own:
they are accounted for by the ``runs`` table, not by records. A snapshot whose run the database
lacks is restored by ``--repair``; one that cannot be read is reported and never moved (its
name keeps its run id taken).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store import blobs
from ita_rules.store.core import HOUSEKEEPING, Store, now_utc
from ita_rules.store.naming import TMP_PREFIX, iso
from ita_rules.store.records import LIVE, Record
from ita_rules.store.replay import replay, unbacked

STALE_TEMP_S = 3600.0


@dataclass(frozen=True)
class Problem:
    kind: str  # temp | orphan | unneeded | missing | mismatch | unjournaled | unrecorded | journal
    # | unbacked (a journaled record the database lacks whose file is not on disk)
    # | run (a snapshot file whose run the database lacks) | snapshot (an unreadable one)
    path: str
    message: str
    file_ids: tuple[str, ...] = ()
    repaired: bool = False

    def __str__(self) -> str:
        done = " (repaired)" if self.repaired else ""
        return f"{self.path}: {self.message}{done}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "message": self.message,
            "file_ids": list(self.file_ids),
            "repaired": self.repaired,
        }


@dataclass
class FsckReport:
    files: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return all(p.repaired for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "clean": self.clean,
            "problems": [p.as_dict() for p in self.problems],
        }


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


def _lost_and_found(store: Store, rel: str) -> None:
    target = store.housekeeping / "lost+found" / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{Path(rel).name}.{n}")
    os.replace(store.root / rel, target)


def fsck(store: Store, *, repair: bool = False, hashes: bool = True) -> FsckReport:
    """Check (and with ``repair`` fix) the whole store under the store lock."""
    report = FsckReport()
    with store.locked():
        _journal(store, report, repair)
        files, temps = _walk(store.root)
        report.files = len(files)
        for rel in temps:
            if _temp_is_stale(store.root / rel, Path(rel).name):
                if repair:
                    (store.root / rel).unlink(missing_ok=True)
                report.problems.append(
                    Problem(
                        "temp", rel, "temporary file left by an interrupted put", repaired=repair
                    )
                )
        with store.db.read() as conn:
            blob_rows = {
                row.hash: (row.path, int(row.size)) for row in conn.execute(sa.select(t.blobs))
            }
            live: dict[str, list[str]] = {}
            query = sa.select(t.records.c.file_id, t.records.c.hash).where(
                t.records.c.status.in_(LIVE)
            )
            for fid, hash_ in conn.execute(query):
                live.setdefault(hash_, []).append(fid)
            report.records = int(
                conn.execute(sa.select(sa.func.count()).select_from(t.records)).scalar_one()
            )
        blob_paths = {path for path, _ in blob_rows.values()}
        linked = _links(store, files, blob_rows, report, repair=repair, hashes=hashes)
        snapshots, kept = _run_files(store, files - blob_paths - linked)
        _runs(store, snapshots, report, repair)
        for rel in sorted(files - blob_paths - linked - set(snapshots) - kept):
            if repair:
                _lost_and_found(store, rel)
            report.problems.append(
                Problem(
                    "orphan",
                    rel,
                    "file without a record"
                    + (" (moved to .ita-store/lost+found)" if repair else ""),
                    repaired=repair,
                )
            )
        for hash_, (rel, size) in sorted(blob_rows.items(), key=lambda kv: kv[1][0]):
            ids = tuple(sorted(live.get(hash_, ())))
            present = rel in files
            if not ids:
                if present:
                    if repair:
                        (store.root / rel).unlink(missing_ok=True)
                    report.problems.append(
                        Problem(
                            "unneeded",
                            rel,
                            "stored file that no live record needs",
                            repaired=repair,
                        )
                    )
                continue
            if not present:
                if repair:
                    store._set_status(ids, "missing", iso(now_utc()))
                report.problems.append(
                    Problem(
                        "missing",
                        rel,
                        f"stored file missing; {len(ids)} record(s) point to it",
                        ids,
                        repair,
                    )
                )
                continue
            actual_size = (store.root / rel).stat().st_size
            actual_hash = blobs.hash_file(store.root / rel)[0] if hashes else hash_
            if actual_size != size or actual_hash != hash_:
                if repair:
                    store._set_status(ids, "corrupt", iso(now_utc()))
                    _lost_and_found(store, rel)
                report.problems.append(
                    Problem(
                        "mismatch",
                        rel,
                        f"content does not match {hash_} ({actual_size} bytes, expected {size})",
                        ids,
                        repair,
                    )
                )
    return report


def _links(
    store: Store,
    files: set[str],
    blob_rows: dict[str, tuple[str, int]],
    report: FsckReport,
    *,
    repair: bool,
    hashes: bool,
) -> set[str]:
    """Check the records' own names of stored bytes (hard links, or copies where the file
    system cannot link; see :mod:`ita_rules.store.batch`); return the files they account
    for. A live record's missing name is linked again (``repair``) when its bytes are still
    stored; a name only purged records had is unneeded; a copy is hashed like a stored file."""
    r = t.records.c
    with store.db.read() as conn:
        rows = conn.execute(sa.select(r.path, r.hash, r.file_id, r.status)).all()
    stored_files = {path for path, _ in blob_rows.values()}
    names: dict[str, tuple[str, list[str]]] = {}  # path -> (hash, its live records)
    for path, hash_, fid, status in rows:
        if path not in stored_files:
            names.setdefault(path, (hash_, []))[1].extend([fid] if status in LIVE else [])
    for rel, (hash_, ids) in sorted(names.items()):
        stored = blob_rows.get(hash_, ("", 0))[0]
        if rel in files and not ids:
            if repair:
                (store.root / rel).unlink(missing_ok=True)
            report.problems.append(
                Problem("unneeded", rel, "name no live record needs", (), repair)
            )
        elif rel not in files and ids:
            fixed = repair and stored in files
            if fixed:
                (store.root / rel).parent.mkdir(parents=True, exist_ok=True)
                blobs.link_or_copy(
                    os.fspath(store.root / stored), os.fspath(store.root / rel), None
                )
            elif repair:
                store._set_status(ids, "missing", iso(now_utc()))
            report.problems.append(
                Problem(
                    "missing",
                    rel,
                    f"name missing; {len(ids)} record(s) point to it"
                    + (f" (linked again to {stored})" if fixed else ""),
                    tuple(ids),
                    repair,
                )
            )
        elif (
            rel in files
            and hashes
            and stored in files
            and not os.path.samefile(store.root / rel, store.root / stored)  # a copy
            and blobs.hash_file(store.root / rel)[0] != hash_
        ):
            if repair:
                store._set_status(ids, "corrupt", iso(now_utc()))
                _lost_and_found(store, rel)
            report.problems.append(
                Problem("mismatch", rel, f"content does not match {hash_}", tuple(ids), repair)
            )
    return set(names) & files


_KEPT_RESULT = re.compile(
    r"(run_[0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{3,})_result_rejected(_[0-9]+)?\.json"
)


def _run_files(store: Store, candidates: set[str]) -> tuple[dict[str, str], set[str]]:
    """The runs' own files among ``candidates`` (relative paths) in the provenance folder:
    their snapshot files (path -> run id), and the results a run kept after the store refused
    them (``{run_id}_result_rejected.json``)."""
    from ita_rules.provenance.snapfiles import RUN_ID_RE, SNAPSHOT_SUFFIX

    folder = store.settings.folder_for("provenance").strip("/")
    snapshots: dict[str, str] = {}
    kept: set[str] = set()
    for rel in candidates:
        parent, _, name = rel.rpartition("/")
        if parent != folder:
            continue
        run_id = name[: -len(SNAPSHOT_SUFFIX)] if name.endswith(SNAPSHOT_SUFFIX) else ""
        if RUN_ID_RE.fullmatch(run_id):
            snapshots[rel] = run_id
        elif _KEPT_RESULT.fullmatch(name):
            kept.add(rel)
    return snapshots, kept


def _runs(store: Store, snapshots: dict[str, str], report: FsckReport, repair: bool) -> None:
    """Snapshot files whose run the database lacks (restored with ``repair``), snapshot files
    that are not a run's snapshot (reported, left in place), and runs of the database whose
    snapshot file is missing (written again from the database with ``repair``, never over a
    file that appeared meanwhile)."""
    from ita_rules.provenance import snapfiles
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.tables import ensure_runs_schema, runs

    with store.db.read() as conn:
        known: set[str] = set()
        if sa.inspect(conn).has_table(runs.name):
            known = {row[0] for row in conn.execute(sa.select(runs.c.run_id))}
    missing = {rel: run_id for rel, run_id in snapshots.items() if run_id not in known}
    readable = {
        rel
        for rel, run_id in missing.items()
        if snapfiles.read_snapshot(store.root / rel, run_id) is not None
    }
    run_store = RunStore(store.settings, store.db, owned=False)
    if repair and readable:
        ensure_runs_schema(store.db)
        run_store.restore()
    for rel in sorted(missing):
        if rel in readable:
            message = f"run {missing[rel]} has a snapshot file but is not in the database"
            report.problems.append(
                Problem("run", rel, message + (" (restored)" if repair else ""), (), repair)
            )
        else:
            report.problems.append(
                Problem("snapshot", rel, "not a run's snapshot file (left in place)")
            )
    for run_id in sorted(known - set(snapshots.values())):
        path = run_store.snapshot_path(run_id)
        if path.exists():  # written since the walk (a run that just started)
            continue
        if repair:
            snapfiles.claim(path, snapfiles.text(run_store.get(run_id)))
        report.problems.append(
            Problem(
                "run",
                path.relative_to(store.root).as_posix(),
                f"run {run_id} is in the database but its snapshot file is missing"
                + (" (written again from the database)" if repair else ""),
                (),
                repair,
            )
        )


def _journal(store: Store, report: FsckReport, repair: bool) -> None:
    entries, damaged = store.journal.read()
    journal_name = f"{HOUSEKEEPING}/{store.journal.path.name}"
    for number in damaged:
        report.problems.append(
            Problem(
                "journal",
                f"{journal_name}:{number}",
                "damaged journal line (an interrupted append)",
                repaired=repair,
            )
        )
    journaled = {
        e.data["record"]["file_id"]
        for e in entries
        if e.data.get("op") == "put" and "record" in e.data
    }
    with store.db.read() as conn:
        in_db = {row[0] for row in conn.execute(sa.select(t.records.c.file_id))}
    unrecorded = journaled - in_db
    gone: set[str] = set()  # of those, the ones whose file is not on disk: never restored
    if unrecorded:
        with store.db.read() as conn:
            gone = set(unbacked(conn, entries, unrecorded, store.root))
    if repair and unrecorded - gone:
        with store.db.write() as conn:
            replay(conn, entries, only=unrecorded - gone, root=store.root)
    if repair:  # damaged lines and the entries of gone files in one rewrite (lines as read)
        store.journal.drop_lines(
            [
                *damaged,
                *(
                    e.line
                    for e in entries
                    if e.data.get("op") == "put" and e.data.get("record", {}).get("file_id") in gone
                ),
            ]
        )
    for fid in sorted(unrecorded):
        if fid in gone:
            message = (
                f"record {fid} is in the journal but not in the database, and its file is not "
                "on disk (a put whose commit never happened, or a file lost since)"
            )
            report.problems.append(Problem("unbacked", journal_name, message, (fid,), repair))
        else:
            message = f"record {fid} is in the journal but not in the database"
            report.problems.append(Problem("unrecorded", journal_name, message, (fid,), repair))
    unjournaled = sorted(in_db - journaled)
    for fid in unjournaled:
        report.problems.append(
            Problem(
                "unjournaled",
                journal_name,
                f"record {fid} is in the database but not in the journal",
                (fid,),
                repair,
            )
        )
    if repair and unjournaled:
        records = store.find(status=None)
        wanted = set(unjournaled)
        add: list[dict[str, Any]] = []
        for record in records:
            if record.file_id in wanted:
                live = Record.from_dict({**record.as_dict(), "status": "live"})
                add.append(
                    {
                        "op": "put",
                        "at": record.created_at,
                        "record": live.as_dict(),
                        "blob": {"path": record.path, "size": record.size},
                    }
                )
                if record.status != "live":
                    add.append(
                        {
                            "op": "status",
                            "at": record.deleted_at or record.created_at,
                            "file_id": record.file_id,
                            "status": record.status,
                        }
                    )
        store.journal.append(add)
    _remote_copies(store, [e.data for e in entries], journal_name, report, repair)


def _remote_copies(
    store: Store, entries: list[dict[str, Any]], journal_name: str, report: FsckReport, repair: bool
) -> None:
    """Remote copies the journal lacks (recorded before copies were journaled: appended with
    ``repair``) and copies the database lacks (restored with ``repair``)."""
    from ita_rules.remote import tables as remote_tables

    journaled = {
        (e["copy"].get("hash"), e["copy"].get("remote"))
        for e in entries
        if e.get("op") == remote_tables.JOURNAL_OP and isinstance(e.get("copy"), dict)
    }
    with store.db.read() as conn:
        if not sa.inspect(conn).has_table(remote_tables.remote_copies.name):
            rows: list[remote_tables.RemoteCopy] = []
        else:
            query = sa.select(remote_tables.remote_copies)
            rows = [
                remote_tables.RemoteCopy.from_row(dict(r._mapping)) for r in conn.execute(query)
            ]
    in_db = {(r.hash, r.remote) for r in rows}
    unjournaled = [r for r in rows if (r.hash, r.remote) not in journaled]
    unrecorded = sorted(journaled - in_db)
    for copy in unjournaled:
        report.problems.append(
            Problem(
                "unjournaled",
                journal_name,
                f"the copy of {copy.hash} on {copy.remote} is in the database but not in the "
                "journal",
                (),
                repair,
            )
        )
    for hash_, remote in unrecorded:
        report.problems.append(
            Problem(
                "unrecorded",
                journal_name,
                f"the copy of {hash_} on {remote} is in the journal but not in the database",
                (),
                repair,
            )
        )
    if repair and unjournaled:
        store.journal.append([copy.journal_entry() for copy in unjournaled])
    if repair and unrecorded:
        remote_tables.restore(store.db, entries)

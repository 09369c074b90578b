"""``store fsck``: the whole store root and the journal, checked (and with ``repair`` fixed)
under the store lock.

Three parts share them: the store (records, stored files, their journal entries:
:mod:`ita_rules.store.fsck`), the runs (each run's snapshot file in the provenance folder,
accounted for by the ``runs`` table, not by records) and the remote copies (journaled beside
the records). A snapshot whose run the database lacks is restored by ``--repair``; one that
cannot be read is reported and never moved (its name keeps its run id taken).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from ita_rules.store import fsck as store_fsck
from ita_rules.store import rootcheck
from ita_rules.store.core import Store
from ita_rules.store.fsck import FsckReport, Problem

__all__ = ["FsckReport", "Problem", "fsck"]


def fsck(store: Store, *, repair: bool = False, hashes: bool = True) -> FsckReport:
    """Check (and with ``repair`` fix) the whole store under the store lock: the journal,
    the remote copies' entries, temp files, the records' names, the runs' files, files
    nothing accounts for, and the stored files (re-hashed unless ``hashes`` is false)."""
    report = FsckReport()
    rootcheck.check(store, "nothing was checked or changed")  # not every record marked missing
    with store.locked():
        entries = store_fsck.check_journal(store, report, repair)
        _remote_copies(store, [e.data for e in entries], report, repair)
        scan = store_fsck.scan(store, report, repair=repair, hashes=hashes)
        snapshots, kept = _run_files(store, scan.unaccounted)
        _runs(store, snapshots, report, repair)
        orphans = scan.unaccounted - set(snapshots) - kept
        store_fsck.check_orphans(store, orphans, report, repair)
        store_fsck.check_stored(store, scan, report, repair=repair, hashes=hashes)
    return report


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
    from ita_rules.db.migrations import ensure_schema
    from ita_rules.provenance import snapfiles
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.tables import runs

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
        ensure_schema(store.db)
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


def _remote_copies(
    store: Store, entries: list[dict[str, Any]], report: FsckReport, repair: bool
) -> None:
    """Remote copies the journal lacks (recorded before copies were journaled: appended with
    ``repair``) and copies the database lacks (restored with ``repair``)."""
    from ita_rules.remote import tables as remote_tables

    name = store_fsck.journal_name(store)
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
        message = (
            f"the copy of {copy.hash} on {copy.remote} is in the database but not in the journal"
        )
        report.problems.append(Problem("unjournaled", name, message, (), repair))
    for hash_, remote in unrecorded:
        message = f"the copy of {hash_} on {remote} is in the journal but not in the database"
        report.problems.append(Problem("unrecorded", name, message, (), repair))
    if repair and unjournaled:
        store.journal.append([copy.journal_entry() for copy in unjournaled])
    if repair and unrecorded:
        remote_tables.restore(store.db, entries)

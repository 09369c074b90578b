"""``store fsck``, the journal: damaged lines, and records the journal and the database do not
both hold (reconciled with ``repair``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ita_rules.db import tables as t
from ita_rules.store.core import Store
from ita_rules.store.fsck.report import FsckReport, Problem, journal_name
from ita_rules.store.journal import Entry
from ita_rules.store.records import Record
from ita_rules.store.replay import replay, unbacked


def check_journal(store: Store, report: FsckReport, repair: bool) -> list[Entry]:
    """Damaged lines, records the journal has and the database lacks (restored with
    ``repair`` when their file is on disk, dropped from the journal when it is not), and
    records the database has and the journal lacks (appended with ``repair``). Returns the
    readable entries."""
    entries, damaged = store.journal.read()
    name = journal_name(store)
    report.problems += [
        Problem(
            "journal", f"{name}:{n}", "damaged journal line (an interrupted append)", (), repair
        )
        for n in damaged
    ]
    puts = [e for e in entries if e.data.get("op") == "put" and "record" in e.data]
    journaled = {e.data["record"]["file_id"] for e in puts}
    with store.db.read() as conn:
        in_db = {row[0] for row in conn.execute(sa.select(t.records.c.file_id))}
    gone = _unrecorded(store, report, repair, entries, journaled - in_db)
    if repair:  # damaged lines and the entries of gone files in one rewrite (lines as read)
        store.journal.drop_lines(
            [*damaged, *(e.line for e in puts if e.data["record"].get("file_id") in gone)]
        )
    _unjournaled(store, report, repair, sorted(in_db - journaled))
    return entries


def _unrecorded(
    store: Store, report: FsckReport, repair: bool, entries: list[Entry], unrecorded: set[str]
) -> set[str]:
    """Report (and with ``repair`` restore) the journaled records the database lacks; return
    those whose file is not on disk, which are never restored."""
    gone: set[str] = set()
    if unrecorded:
        with store.db.read() as conn:
            gone = set(unbacked(conn, entries, unrecorded, store.root))
    if repair and unrecorded - gone:
        with store.db.write() as conn:
            replay(conn, entries, only=unrecorded - gone, root=store.root)
    name = journal_name(store)
    for fid in sorted(unrecorded):
        if fid in gone:
            message = (
                f"record {fid} is in the journal but not in the database, and its file is not "
                "on disk (a put whose commit never happened, or a file lost since)"
            )
            report.problems.append(Problem("unbacked", name, message, (fid,), repair))
        else:
            message = f"record {fid} is in the journal but not in the database"
            report.problems.append(Problem("unrecorded", name, message, (fid,), repair))
    return gone


def _unjournaled(store: Store, report: FsckReport, repair: bool, file_ids: list[str]) -> None:
    """Report (and with ``repair`` journal) the records the journal lacks: a put entry each,
    and a status entry when the record is no longer live."""
    name = journal_name(store)
    for fid in file_ids:
        message = f"record {fid} is in the database but not in the journal"
        report.problems.append(Problem("unjournaled", name, message, (fid,), repair))
    if not (repair and file_ids):
        return
    wanted = set(file_ids)
    add: list[dict[str, Any]] = []
    for record in store.find(status=None):
        if record.file_id not in wanted:
            continue
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
            at = record.deleted_at or record.created_at
            add.append(
                {"op": "status", "at": at, "file_id": record.file_id, "status": record.status}
            )
    store.journal.append(add)

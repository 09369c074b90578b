"""``store fsck``, the store's part: compare the files under the store root, the records and
stored files of the database, and the journal's record entries.

Finds temp leftovers, files without records, files no live record needs, records without
files, hash mismatches, records missing from the journal or from the database, and damaged
journal lines. ``repair=True`` fixes each: stale temp files and unneeded files are deleted,
unknown files move to ``.ita-store/lost+found/`` (never deleted), records of missing or
corrupt files get the status ``missing``/``corrupt``, and database and journal are reconciled.

The steps are put together, with the runs' snapshot files and the remote copies that share
the store root and the journal, by :func:`ita_rules.recovery.fsck.fsck`: call them in its
order, under the store lock.
"""

from __future__ import annotations

from ita_rules.store.fsck.files import Scan, check_orphans, check_stored, lost_and_found, scan
from ita_rules.store.fsck.journal import check_journal
from ita_rules.store.fsck.report import FsckReport, Problem, journal_name

__all__ = [
    "FsckReport",
    "Problem",
    "Scan",
    "check_journal",
    "check_orphans",
    "check_stored",
    "journal_name",
    "lost_and_found",
    "scan",
]

"""Rebuild the metadata database from the disk after it was lost (:func:`rebuild_database`).

The disk is the source of truth: the store's records, tags and status changes and the remote
copies and the outcomes of ``runs verify`` are in the journal under the store root (replayed by
:func:`ita_rules.store.replay.replay`, :func:`ita_rules.remote.tables.restore` and
:func:`ita_rules.provenance.verifications.restore`), each run is
in its snapshot file under ``archive/provenance/`` (:meth:`RunStore.restore
<ita_rules.provenance.runstore.RunStore.restore>`). A rebuild restores what the database lacks
and leaves the rest alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    verifications: int = 0  # outcomes of `runs verify` restored from the journal

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
            "verifications": self.verifications,
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
    from ita_rules.db.migrations import ensure_schema
    from ita_rules.provenance import verifications
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.remote import tables as remote_tables
    from ita_rules.store import open_store
    from ita_rules.store.replay import replay

    aside = set_aside_broken_sqlite(workspace.settings.database_url, workspace.root)
    with open_store(workspace) as store, store.locked():
        entries, _damaged = store.journal.read()
        with store.db.write() as conn:
            records, skipped = replay(conn, entries, root=store.root)
        copies = remote_tables.restore(store.db, (e.data for e in entries))
        ensure_schema(store.db)
        runs, unreadable = RunStore(workspace.settings, store.db, owned=False).restore()
        verified = verifications.restore(store.db, (e.data for e in entries))
    shown = None
    if aside is not None:
        try:
            shown = aside.relative_to(workspace.root).as_posix()
        except ValueError:
            shown = str(aside)
    return Rebuilt(records, tuple(runs), copies, tuple(unreadable), shown, skipped, verified)


def rebuild_from_journal(workspace: Workspace) -> int:
    """Restore everything the database lacks after it was lost (records, runs, remote copies:
    :func:`rebuild_database`); return how many records were restored. Idempotent."""
    return rebuild_database(workspace).records

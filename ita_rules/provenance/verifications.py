"""The stored outcome of every ``runs verify`` (docs/architecture.md#runs).

Each verify is kept: the run, when, the outcome (``reproducible``, ``drifted``, or
``unverifiable`` when a part could not be recomputed at all) and each difference, so that
``runs show`` and the report can show the last one. One row per verify in the
``run_verifications`` table (schema step 6), and, written first, one ``run_verify`` entry in the
store's journal under the store lock, as every table's change is: the disk is the source of
truth, so :func:`restore` brings the rows back after the database was lost
(:func:`ita_rules.recovery.rebuild.rebuild_database`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.core.canonical import canonical_json
from ita_rules.db.engine import Database
from ita_rules.db.migrations import ensure_schema

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.provenance.desk import Desk
    from ita_rules.provenance.verify import Verification

metadata = sa.MetaData()

verifications = sa.Table(
    "run_verifications",
    metadata,
    sa.Column("run_id", sa.String(40), primary_key=True),
    sa.Column("verified_at", sa.String(32), primary_key=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # reproducible | drifted | unverifiable
    sa.Column("differences", sa.Text, nullable=False),  # canonical JSON list of differences
    sa.Column("notes", sa.Text, nullable=False),  # canonical JSON list of strings
)

JOURNAL_OP = "run_verify"
OUTCOMES = ("reproducible", "drifted", "unverifiable")
_CHUNK = 500


def _row(outcome: Verification, at: str) -> dict[str, Any]:
    return {
        "run_id": outcome.run_id,
        "verified_at": at,
        "outcome": outcome.outcome,
        "differences": _text([d.as_dict() for d in outcome.differences]),
        "notes": _text(list(outcome.notes)),
    }


def _text(value: Any) -> str:
    return canonical_json(value).decode("utf-8")


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as documents show it: its JSON columns read back."""
    return {
        "run_id": row["run_id"],
        "verified_at": row["verified_at"],
        "outcome": row["outcome"],
        "differences": json.loads(row["differences"]),
        "notes": json.loads(row["notes"]),
    }


def record(settings: Settings, outcome: Verification) -> dict[str, Any]:
    """Keep one verify's outcome (journal first, then the row); return it as
    :func:`last_verification` shows it."""
    from ita_rules.provenance.runstore import RunStore

    row = _row(outcome, times.iso(times.now()))
    with RunStore.open(settings) as runs, runs.store.locked():
        journal = runs.store.journal
        before = journal.append([{"op": JOURNAL_OP, "at": row["verified_at"], "row": row}])
        try:
            with runs.db.write() as conn:
                conn.execute(verifications.insert().values(**row))
        except BaseException:
            journal.rollback(before)
            raise
    return _shown(row)


def last_verifications(
    desk: Desk, run_ids: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The last verify of each run that was verified (of ``run_ids``; None: every run). The
    rows come ordered by run and time, the last of each run wins (no GROUP BY per chunk)."""
    from ita_rules.provenance.rundb import database

    c = verifications.c
    query = sa.select(verifications).order_by(c.run_id, c.verified_at)
    if run_ids is None:
        chunks: list[list[str] | None] = [None]
    else:
        ids = sorted(set(run_ids))
        chunks = [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    last: dict[str, dict[str, Any]] = {}
    with database(desk.settings).read() as conn:
        for chunk in chunks:
            selected = query if chunk is None else query.where(c.run_id.in_(chunk))
            for found in conn.execute(selected):
                last[found.run_id] = dict(found._mapping)
    return {run_id: _shown(row) for run_id, row in last.items()}


def last_verification(desk: Desk, run_id: str) -> dict[str, Any] | None:
    """The last verify of ``run_id`` (``run_id``, ``verified_at``, ``outcome``,
    ``differences``, ``notes``), or None when it was never verified."""
    return last_verifications(desk, [run_id]).get(run_id)


def restore(db: Database, entries: Iterable[Mapping[str, Any]]) -> int:
    """Insert the verifies of the journal's ``run_verify`` entries (the data of each entry)
    that the table lacks; return how many. Idempotent."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for data in entries:
        row = data.get("row") if data.get("op") == JOURNAL_OP else None
        if isinstance(row, dict) and _valid(row):
            rows[(row["run_id"], row["verified_at"])] = {k: row[k] for k in _COLUMNS}
    if not rows:
        return 0
    ensure_schema(db)
    c = verifications.c
    with db.write() as conn:
        present = {(a, b) for a, b in conn.execute(sa.select(c.run_id, c.verified_at))}
        missing = [row for key, row in rows.items() if key not in present]
        if missing:
            conn.execute(verifications.insert(), missing)
    return len(missing)


_COLUMNS = ("run_id", "verified_at", "outcome", "differences", "notes")


def _valid(row: Mapping[str, Any]) -> bool:
    """A journal row this version can restore (a line of another format is skipped)."""
    return all(isinstance(row.get(k), str) for k in _COLUMNS) and row["outcome"] in OUTCOMES

"""Retention's verbs on vectors, called by :mod:`ita_rules.retention` for the ``embedding``
type: the sweep's part (:func:`sweep_vectors`: check every protection again, log each decision,
then delete by id in batches) and the restore's (:func:`restore_vectors`). The plan reads the
vectors through :meth:`.side.Vectors.rows`; apply soft-deletes through
:meth:`.side.Vectors.set_deleted`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ita_rules.core import times
from ita_rules.core.errors import UsageError
from ita_rules.retention import audit
from ita_rules.retention.protect import now_protected
from ita_rules.vectors.ids import is_vector
from ita_rules.vectors.side import Vectors

if TYPE_CHECKING:
    from ita_rules.retention.audit import Report
    from ita_rules.retention.engine import Retention


def sweep_vectors(
    vectors: Vectors,
    retention: Retention,
    report: Report,
    now: _dt.datetime,
    max_delete: int | None,
) -> None:
    """Delete the vectors soft-deleted at least the safety window ago, unless a protection
    holds now; every decision is in the audit log before the deletes start. A sweep killed
    half-way is completed by the next one (:meth:`.side.Vectors.finish_interrupted`)."""
    protections = retention.lineage().protections(retention.policy)
    finished = vectors.finish_interrupted()
    cutoff = now - _dt.timedelta(days=retention.policy.safety_window_days)
    due = vectors.due(cutoff)
    due = due if max_delete is None else due[:max_delete]
    at = times.iso(now)
    entries, going = [], []
    for item, row in due:
        reason = protections.reason(item.type, item.tags, item.run_id, item.hash, item.file_id)
        why = None if reason is None else now_protected(reason)
        entries.append(
            {
                "at": at, "phase": "sweep", "file_id": item.file_id, "type": item.type,
                "path": row["path"], "size": 0, "action": "kept" if why else "purge",
                "reason": why or f"soft-deleted at {row['deleted_at']}, past the safety window",
            }
        )  # fmt: skip
        if why is None:
            going.append(item.file_id)
        else:
            report.kept.append((item.file_id, why))
    if entries:
        retention.log(report, now, entries)
    if finished:
        retention.log(
            report,
            now,
            [
                {"at": at, "phase": "sweep", "file_id": f, "action": "remove",
                 "reason": "vector purged by an interrupted sweep"}
                for f in finished
            ],
        )  # fmt: skip
    vectors.purge(going, at)
    report.vectors += going + finished


def restore_vectors(retention: Retention, vecs: Sequence[str], run_id: str | None) -> list[str]:
    """Make the soft-deleted vectors named (or those of ``run_id``) live again, logged like
    files; return them. A vector id when no collection is managed is an error."""
    vectors = retention.vectors() if vecs or run_id is not None else None
    if vectors is None:
        if vecs:
            raise UsageError(f"no such vector: {vecs[0]} (no collection is managed)")
        return []
    named = [f for f in vecs if is_vector(f)] if run_id is None else vectors.of_run(run_id)
    back = vectors.deleted_among(named)
    vectors.set_deleted(back, 0)
    if back:
        now = retention.now()
        entries = [{"at": times.iso(now), "phase": "restore", "file_id": f} for f in back]
        audit.append(retention.workspace.root / "logs", now, entries)
    return back

"""The retention verbs, one call each, put together from a workspace: the store opened and
closed, the policy read, the verified remote copy wired in when a remote is configured, the
Telegram notice of a large purge from the settings. ``ita-rules retention ...`` parses its
options, calls one of these and prints what it returns (docs/architecture.md#packages).

The daily job, what cron runs (:func:`daily`): apply, then sweep; each saves its report beside
the audit log in ``logs/`` when it did something.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from ita_rules.retention.audit import Report
from ita_rules.retention.decisions import Plan
from ita_rules.retention.engine import RemoteCopy, Retention
from ita_rules.retention.notify import Telegram
from ita_rules.retention.stream import StreamedPlan
from ita_rules.vectors.ids import is_vector

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.provenance.desk import Desk


@dataclass
class DailyRun:
    """What the daily job did: the apply's report, then the sweep's."""

    applied: Report
    swept: Report

    def as_dict(self) -> dict[str, Any]:
        return {"apply": self.applied.as_dict(), "sweep": self.swept.as_dict()}


@contextmanager
def opened(desk: Desk, as_of: _dt.datetime | None = None) -> Iterator[Retention]:
    """The retention of ``desk`` planning for ``as_of`` (default: now), its store open until
    the block ends."""
    from ita_rules.store import open_store

    with open_store(desk) as store:
        retention = Retention.open(desk, store, as_of)
        retention.remote_copy = remote_copy(desk.settings)
        yield retention


def remote_copy(settings: Settings) -> RemoteCopy | None:
    """The verified-copy check the sweep needs before deleting archive_to_remote files (or any
    file under ``backup_before_delete``); None without a remote, and such files then stay."""
    if not settings.remote_name:
        return None
    from ita_rules.remote import ensure_remote_copy

    return ensure_remote_copy


def telegram(settings: Settings) -> Telegram:
    """The Telegram notice of a large purge, as ``ita.toml`` configures it."""
    s = settings
    return Telegram(s.telegram_base_url, s.telegram_token_env, s.telegram_chat_id)


def plan(
    desk: Desk, *, as_of: _dt.datetime | None = None, max_delete: int | None = None
) -> StreamedPlan:
    """What apply would do on the day ``as_of``: every file with its reason. Changes nothing."""
    with opened(desk, as_of) as retention:
        return retention.plan(max_delete=max_delete)


class ApplyOptions(TypedDict, total=False):
    """What apply, and so the daily job, may be told: the day to plan for (default: now), the
    plan id that confirms a large purge, at most how many files this run (oldest first)."""

    as_of: _dt.datetime | None
    confirm: str | None
    max_delete: int | None


def apply(desk: Desk, **options: Unpack[ApplyOptions]) -> Report:
    """Soft-delete what the policy selects; a large purge sends its Telegram notice and waits
    for ``confirm`` (see :meth:`Retention.apply`)."""
    with opened(desk, options.get("as_of")) as retention:
        return _apply(retention, options)


def sweep(desk: Desk, *, max_delete: int | None = None) -> Report:
    """Remove from disk what was soft-deleted longer than the safety window ago (real clock)."""
    with opened(desk) as retention:
        return retention.sweep(max_delete=max_delete)


def daily(desk: Desk, **options: Unpack[ApplyOptions]) -> DailyRun:
    """The daily job: apply (planned for ``as_of``), then sweep (on the real clock, at most
    ``max_delete`` files too). A large purge that waits for its confirmation stops the job
    before the sweep."""
    with opened(desk, options.get("as_of")) as retention:
        applied = _apply(retention, options)
        return DailyRun(applied, retention.sweep(max_delete=options.get("max_delete")))


def restore(desk: Desk, *, file_ids: Sequence[str] = (), run_id: str | None = None) -> list[str]:
    """Undo soft deletes, of the named files (whole ids or their first 8+ characters) or of
    every file of ``run_id``; return the file_ids made live again."""
    with opened(desk) as retention:
        whole = [f if is_vector(f) else retention.store.resolve(f) for f in file_ids]
        return retention.restore(file_ids=whole, run_id=run_id)


def admin_purge(
    desk: Desk, *, type_: str, before: _dt.datetime, confirm: str | None = None
) -> tuple[Plan, Report | None]:
    """The administrator's purge (see :meth:`Retention.admin_purge`): without ``confirm`` a
    dry run, its plan and no report."""
    with opened(desk) as retention:
        return retention.admin_purge(type_=type_, before=before, confirm=confirm)


def _apply(retention: Retention, options: ApplyOptions) -> Report:
    notice = telegram(retention.workspace.settings)
    return retention.apply(
        confirm=options.get("confirm"), max_delete=options.get("max_delete"), telegram=notice
    )

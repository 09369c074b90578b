"""What a purge plan is: the live records as retention sees them (:class:`Item`), one
:class:`Decision` per record, and the :class:`Plan` that holds them with its id, its totals and
its warnings. :mod:`.plan` makes it; apply and the admin purge act on it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from ita_rules.core.errors import ItaRulesError
from ita_rules.retention.protect import unknown_run_reason

KEEP, DELETE, ARCHIVE, RESTORE = "keep", "delete", "archive", "restore"
RESTORE_HINT = "`ita-rules index --rebuild` restores runs lost with the database"


class ConfirmationNeeded(ItaRulesError):
    """A purge waits for ``--confirm PLAN_ID``: the id of the plan as it is now."""


def created_moment(text: str) -> datetime:
    """A record's stored ``created_at`` as the plan reads it: a naive time is UTC, and the
    offset it was written with is kept, for the plan shows the time as written (the store writes
    UTC, :func:`ita_rules.core.times.iso`)."""
    moment = datetime.fromisoformat(text)  # Python 3.11 reads the trailing "Z" itself
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Item(NamedTuple):
    """One live store record as retention sees it."""

    file_id: str
    type: str
    size: int
    created_at: datetime
    hash: str
    tags: frozenset[str] = frozenset()
    run_id: str | None = None
    symbol: str | None = None
    timeframe: str | None = None


class Decision(NamedTuple):
    file_id: str
    type: str
    size: int
    created_at: str
    action: str  # keep | delete | archive
    reason: str
    protected: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "file_id": self.file_id,
            "type": self.type,
            "size": self.size,
            "created_at": self.created_at,
            "action": self.action,
            "reason": self.reason,
            "protected": self.protected,
        }


class Restore(NamedTuple):
    """A soft-deleted record that is protected again (tagged, or touched by a run that protects
    since apply soft-deleted it): apply makes it live again, for its reason, before anything is
    soft-deleted."""

    file_id: str
    type: str
    size: int
    path: str
    deleted_at: str
    reason: str
    hash: str = ""  # its content: a live record holding it stays, as with any protected record

    def as_dict(self) -> dict[str, object]:
        return {
            "file_id": self.file_id,
            "type": self.type,
            "size": self.size,
            "path": self.path,
            "deleted_at": self.deleted_at,
            "action": RESTORE,
            "reason": self.reason,
        }


@dataclass
class Plan:
    """Every decision, in record order. ``selected``, ``kept``, ``plan_id`` and the totals are
    computed once and cached (the decisions are not changed after the plan is made; a list that
    is replaced or grows is noticed)."""

    as_of: str
    decisions: list[Decision] = field(default_factory=list)
    unknown_runs: dict[str, list[str]] = field(default_factory=dict)  # run id -> its file_ids
    restores: list[Restore] = field(default_factory=list)  # soft-deleted, protected again
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def _memo_of(self, name: str, compute: Callable[[], Any]) -> Any:
        memo = self._memo
        if memo.get("list") is not self.decisions or memo.get("len") != len(self.decisions):
            memo.clear()
            memo["list"], memo["len"] = self.decisions, len(self.decisions)
        if name not in memo:
            memo[name] = compute()
        return memo[name]

    def _selected(self) -> list[Decision]:
        selected: list[Decision] = self._memo_of(
            "selected", lambda: [d for d in self.decisions if d.action != KEEP]
        )
        return selected

    @property
    def selected(self) -> list[Decision]:
        return list(self._selected())  # a copy: the caller may change it

    @property
    def kept(self) -> list[Decision]:
        kept = self._memo_of("kept", lambda: [d for d in self.decisions if d.action == KEEP])
        return list(kept)

    @property
    def plan_id(self) -> str:
        """Bound to the exact set of selected files and actions: a changed set, a new id."""

        def compute() -> str:
            selected = sorted(self._selected(), key=itemgetter(0))  # by file_id, stable
            digest = hashlib.sha256()
            for start in range(0, len(selected), 65536):
                chunk = selected[start : start + 65536]
                digest.update("".join([f"{d[0]}:{d[4]}\n" for d in chunk]).encode())
            return "plan_" + digest.hexdigest()[:16]

        return str(self._memo_of("plan_id", compute))

    @property
    def bytes_selected(self) -> int:
        total: int = self._memo_of("bytes", lambda: sum(d.size for d in self._selected()))
        return total

    @property
    def n_selected(self) -> int:
        return len(self._selected())

    def by_type(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = self._memo_of("by_type", self._by_type)
        return {type_: dict(numbers) for type_, numbers in counts.items()}

    def _by_type(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for d in self.decisions:
            counts = out.get(d.type)
            if counts is None:
                counts = out[d.type] = dict.fromkeys(
                    ("selected", "selected_bytes", "kept", "kept_bytes"), 0
                )
            if d.action != KEEP:
                counts["selected"] += 1
                counts["selected_bytes"] += d.size
            else:
                counts["kept"] += 1
                counts["kept_bytes"] += d.size
        return dict(sorted(out.items()))

    @property
    def warnings(self) -> list[str]:
        """One line per run that records name but the metadata does not know: their files are
        kept, and the user should know why (a lost database, a mistyped ``--run-id``)."""
        return warning_lines(self.unknown_runs)

    def summary(self) -> dict[str, object]:
        """What :meth:`as_dict` says after the decisions (they are counted first)."""
        return summary_of(self)

    def as_dict(self) -> dict[str, object]:
        return document_of(self)


class PlanLike(Protocol):
    """What a plan tells, kept in memory (:class:`Plan`) or streamed
    (:class:`ita_rules.retention.stream.StreamedPlan`)."""

    @property
    def as_of(self) -> str: ...
    @property
    def warnings(self) -> list[str]: ...
    @property
    def restores(self) -> list[Restore]: ...
    @property
    def decisions(self) -> Iterable[Decision]: ...
    @property
    def plan_id(self) -> str: ...
    @property
    def n_selected(self) -> int: ...
    @property
    def bytes_selected(self) -> int: ...
    def by_type(self) -> dict[str, dict[str, int]]: ...


def summary_of(plan: PlanLike) -> dict[str, object]:
    """The totals a plan's document ends with."""
    return {
        "plan_id": plan.plan_id,
        "selected": plan.n_selected,
        "selected_bytes": plan.bytes_selected,
        "by_type": plan.by_type(),
    }


def document_of(plan: PlanLike) -> dict[str, object]:
    """A plan as ``retention plan --json`` prints it: the soft-deleted records apply restores,
    the decisions, then the totals (a streamed plan counts them while its decisions are read)."""
    head = head_of(plan)
    decisions = [d.as_dict() for d in plan.decisions]
    return {**head, "decisions": decisions, **summary_of(plan)}


def head_of(plan: PlanLike) -> dict[str, object]:
    """What a plan's document starts with, before its decisions."""
    restores = [r.as_dict() for r in plan.restores]
    return {"as_of": plan.as_of, "warnings": plan.warnings, "restore": restores}


def warning_lines(unknown_runs: dict[str, list[str]]) -> list[str]:
    """One line per run that records name but the metadata does not know (run id -> the
    file_ids kept for it)."""
    out = []
    for run_id, file_ids in sorted(unknown_runs.items()):
        more = len(file_ids) - 3
        shown = ", ".join(file_ids[:3]) + (f" and {more} more" if more > 0 else "")
        out.append(
            f"{unknown_run_reason(run_id)}; kept {len(file_ids)} record(s): {shown} "
            f"({RESTORE_HINT})"
        )
    return out

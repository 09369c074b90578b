"""Each record's decision from what its type's query (:mod:`.query`) read: its protection, the
newest ``keep_last`` of its group, the protected record holding the same content. The rest is
the policy of the type and the record's age, decided here row by row as the rows stream.

The checks, first match wins (as :mod:`.plan` decides them for the vectors): protected; no
policy for the type, or keep_forever; ``created_at`` not a time as the store writes it
(``2026-01-15T10:30:00.123456Z``: its age cannot be judged, so it is kept); inside
``retain_days``; prune_old's newest ``keep_last``; content a protected record holds; over
``max_delete`` (the :data:`Cap`); then the type's action.

The store's times sort as time, so ``retain_days`` is one comparison of the text with a cutoff
written the same way; the age in whole days, which only a reason shows, is the days between
the dates (computed once per date) corrected by one comparison of the times of day
(:class:`Ages`). A text that looks like a store time but names no moment (February 30, a leap
second) is kept, as any other time the store does not write. A reason is made once per type
and number of days.

The protections are looked up in dictionaries (:class:`.query.Lookups`) and the totals counted
in the loop that decides, one flat chain of the checks above (a million records are a million
turns of it: each call, generator layer or tuple saved there is measured in tenths of a
second). Deciding in SQL instead (the checks as CASE expressions, the protections as outer
joins) was measured slower on SQLite: its expressions over text cost more per row than these
dictionary lookups and string comparisons (docs/architecture.md#speed-budgets).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from ita_rules.core import times
from ita_rules.retention.decisions import ARCHIVE, DELETE, KEEP, Decision, created_moment
from ita_rules.retention.policy import TypeRule
from ita_rules.retention.protect import RESULT_REASON, shared_reason

if TYPE_CHECKING:
    from ita_rules.retention.query import Lookups

# A time as the store writes it (times.iso): ASCII digits, each field in its range.
STORE_TIME = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z"
)
UNJUDGED = "created_at is not a time as the store writes it: its age cannot be judged"
KEEP_FOREVER = "strategy keep_forever"


class Cap(NamedTuple):
    """``max_delete`` and the last candidate that goes under it (created_at as stored, file_id):
    newer candidates wait. ``last`` None: every candidate waits (``max_delete`` 0)."""

    max_delete: int
    last: tuple[str, str] | None


def no_policy_reason(type_: str) -> str:
    return f"no policy for type '{type_}'"


def over_reason(max_delete: int) -> str:
    return f"over --max-delete {max_delete} (newer candidates wait for the next run)"


def newest_reason(keep_last: int, symbol: str | None, timeframe: str | None) -> str:
    return f"one of the newest {keep_last} of {symbol or '-'}/{timeframe or '-'}"


def shown(text: str) -> str:
    """A time as the plan shows it: ``datetime.isoformat()`` of the moment (no fraction when it
    is zero, ``+00:00``), the offset it was written with kept; a naive time is UTC; text that is
    no time is shown as it is."""
    if STORE_TIME.fullmatch(text):
        return shown_stored(text)
    try:
        return created_moment(text).isoformat()
    except ValueError:
        return text


def shown_stored(text: str) -> str:
    """:func:`shown` of a time as the store writes it: its ``Z`` is ``+00:00``, and a zero
    fraction is not shown."""
    return text.removesuffix("Z").removesuffix(".000000") + "+00:00"


class Ages:
    """Whole days from a time as the store writes it to ``as_of``, as ``int()`` of the age in
    days (a time in the future counts toward zero): the days between the two dates, one less
    when the record's time of day is later than ``as_of``'s (one more when it is earlier, for
    a record in the future). The days between the dates are computed once per date (a million
    records fall on a few hundred days); None when the date names no day (February 30): its age
    cannot be judged."""

    def __init__(self, as_of: _dt.datetime) -> None:
        as_of = times.utc(as_of)
        self.as_of = as_of
        self.stored = times.iso(as_of)  # as the store writes it
        self.clock = self.stored[11:26]  # the time of day, HH:MM:SS.ffffff
        self.dates: dict[str, int | None] = {}  # YYYY-MM-DD -> days between the dates

    def days_old(self, created: str) -> int | None:
        """The days of ``created``, a text :data:`STORE_TIME` matches."""
        date = created[:10]
        days = self.dates[date] if date in self.dates else self._days(date)
        if days is None:
            return None
        if created <= self.stored:  # the times sort as text; past (or now)
            return days - 1 if created[11:26] > self.clock else days
        return days + 1 if created[11:26] < self.clock else days

    def _days(self, date: str) -> int | None:
        try:
            days: int | None = (self.as_of.date() - _dt.date.fromisoformat(date)).days
        except ValueError:
            days = None
        self.dates[date] = days
        return days


class Reasons(dict[Any, str]):
    """Reason texts made when first asked for (``reasons[key]``), then looked up."""

    def __init__(self, make: Callable[[Any], str]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> str:
        text = self[key] = self.make(key)
        return text


class TypeJudge:
    """The decisions of the records of one type, on the day ``as_of``, and their totals: what
    :meth:`decisions` kept and selected (files and bytes) and the selected (file_id, action).
    ``newest``: the newest ``keep_last`` of each group (prune_old), file_id -> reason."""

    def __init__(
        self, type_: str, rule: TypeRule | None, as_of: _dt.datetime, cap: Cap | None
    ) -> None:
        self.type = type_
        self.fixed: str | None = None  # the reason when nothing of the type is ever selected
        if rule is None:
            self.fixed = no_policy_reason(type_)
        elif rule.strategy == "keep_forever" or rule.retain_days is None:
            self.fixed = KEEP_FOREVER
        rule = self.rule = rule or TypeRule("keep_forever")
        prune = rule.strategy == "prune_old"
        self.keep_last = (rule.keep_last or 0) if prune else 0
        # prune_old's newest keep_last (file_id -> reason), read by read_newest before the
        # decisions: until then None, and deciding fails rather than protecting nothing
        self.newest: dict[str, str] | None = None if self.needs_newest else {}
        self.action = ARCHIVE if rule.strategy == "archive_to_remote" else DELETE
        as_of = times.utc(as_of)
        self.ages = Ages(as_of)
        self.cutoff = times.iso(as_of - _dt.timedelta(days=rule.retain_days or 0))
        self.cap = cap
        self.young = Reasons(self._young_reason)  # days old -> reason
        self.old = Reasons(self._old_reason)
        self.over = over_reason(cap.max_delete) if cap is not None else ""
        self.kept = self.kept_bytes = self.selected_bytes = 0
        self.selected: list[tuple[str, str]] = []  # (file_id, action)

    @property
    def needs_newest(self) -> bool:
        """Whether prune_old's newest ``keep_last`` must be read (:meth:`read_newest`) first."""
        return self.keep_last > 0 and self.fixed is None

    def read_newest(self, rows: Iterable[tuple[str, str | None, str | None]]) -> None:
        """The rows of :meth:`.query.Query.newest`: (file_id, symbol, timeframe)."""
        reason = Reasons(lambda group: newest_reason(self.keep_last, *group))
        self.newest = {fid: reason[symbol, timeframe] for fid, symbol, timeframe in rows}

    def decisions(self, rows: Iterable[tuple[Any, ...]], lookups: Lookups) -> Iterator[Decision]:
        """One decision per row of :meth:`.query.Query.of_type`, counted as it goes: the checks
        of the module, in their order (the protections as :meth:`.query.Lookups.protection`
        orders them)."""
        tag, run, output, input_, holders = (
            lookups.tags.get, lookups.runs.get, lookups.outputs.get, lookups.inputs.get,
            lookups.holders.get,
        )  # fmt: skip
        is_store_time, days_old, cutoff = STORE_TIME.fullmatch, self.ages.days_old, self.cutoff
        type_, fixed, cap, young, old = self.type, self.fixed, self.cap, self.young, self.old
        newest = self._newest() if fixed is None else {}
        result = type_ == "result"
        kept = kept_bytes = selected_bytes = 0
        selected = self.selected
        for fid, size, created, run_id, hash_ in rows:
            if is_store_time(created) is None:  # its age cannot be judged (rare)
                time = shown(created)
                action, reason, protected = self._unjudged(fid, run_id, hash_, lookups)
            else:
                time = shown_stored(created)
                protection = (
                    RESULT_REASON
                    if result
                    else tag(fid) or run(run_id) or output(fid) or input_(hash_)
                )
                if protection is not None:
                    action, reason, protected = KEEP, protection, True
                elif fixed is not None:
                    action, reason, protected = KEEP, fixed, False
                elif (days := days_old(created)) is None:  # February 30, say: no moment
                    action, reason, protected = KEEP, UNJUDGED, False
                elif created > cutoff:
                    action, reason, protected = KEEP, young[days], False
                elif fid in newest:
                    action, reason, protected = KEEP, newest[fid], False
                elif (holder := holders(hash_)) is not None:
                    action, reason, protected = KEEP, shared_reason(holder), True
                elif cap is not None and (cap.last is None or (created, fid) > cap.last):
                    action, reason, protected = KEEP, self.over, False
                else:
                    action, reason, protected = self.action, old[days], False
            if action == KEEP:
                kept += 1
                kept_bytes += size
            else:
                selected_bytes += size
                selected.append((fid, action))
            yield Decision(fid, type_, size, time, action, reason, protected)
        self.kept += kept
        self.kept_bytes += kept_bytes
        self.selected_bytes += selected_bytes

    def _young_reason(self, days: int) -> str:
        return f"inside retain_days ({days} < {self.rule.retain_days} days old)"

    def _old_reason(self, days: int) -> str:
        rule = self.rule
        return f"older than {rule.retain_days} days ({days} days old), strategy {rule.strategy}"

    def _unjudged(
        self, fid: str, run_id: str | None, hash_: str, lookups: Lookups
    ) -> tuple[str, str, bool]:
        """The decision of a record whose created_at is not a time as the store writes it."""
        protection = RESULT_REASON if self.type == "result" else None
        protection = protection or lookups.protection(fid, run_id, hash_)
        if protection is not None:
            return KEEP, protection, True
        return KEEP, self.fixed or UNJUDGED, False

    def candidate(self, fid: str, created: str, holder: str | None) -> bool:
        """Whether a record nothing protects goes before any cap."""
        if self.fixed is not None or not STORE_TIME.fullmatch(created) or created > self.cutoff:
            return False
        if fid in self._newest() or holder is not None:
            return False
        return self.ages.days_old(created) is not None

    def _newest(self) -> dict[str, str]:
        if self.newest is None:  # a protection that was not evaluated must not protect nothing
            raise RuntimeError(f"{self.type}: the newest keep_last were not read (read_newest)")
        return self.newest

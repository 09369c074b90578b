"""Each record's decision from what its type's query (:mod:`.query`) read: its protection, its
rank among the newest of its group, the protected record holding the same content. The rest
is the policy of the type and the record's age, decided here row by row as the rows stream.

The checks, first match wins (as :mod:`.plan` decides them for the vectors): protected; no
policy for the type, or keep_forever; ``created_at`` not a time as the store writes it
(``2026-01-15T10:30:00.123456Z``: its age cannot be judged, so it is kept); inside
``retain_days``; prune_old's newest ``keep_last``; content a protected record holds; over
``max_delete`` (the :data:`Cap`); then the type's action.

The store's times are read as text: they sort as time, so ``retain_days`` is one comparison
with a cutoff written the same way, and the age in whole days is the days between the dates,
less one when the time of day has not come round yet (more one for a time in the future:
Python's ``int()`` of the age). A reason is made once per type and number of days, and looked
up once per date and whether the time of day has come round.

The protections are looked up in dictionaries (:class:`.query.Lookups`) and the totals counted
in the loop that decides (a million records are a million turns of it: each call, generator
layer or tuple saved there is measured in tenths of a second).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from ita_rules.core import times
from ita_rules.retention.decisions import ARCHIVE, DELETE, KEEP, Decision
from ita_rules.retention.policy import TypeRule
from ita_rules.retention.protect import RESULT_REASON, shared_reason

if TYPE_CHECKING:
    from ita_rules.retention.query import Lookups

STORE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
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


def shown(text: str, stored: bool) -> str:
    """A time as the plan shows it: ``datetime.isoformat()`` of the moment (no fraction when it
    is zero, ``+00:00``), the offset it was written with kept; a naive time is UTC. ``stored``:
    ``text`` is a time as the store writes it."""
    if stored:
        return text[: 19 if text[20:26] == "000000" else 26] + "+00:00"
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    return (moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)).isoformat()


class TypeJudge:
    """The decisions of the records of one type, on the day ``as_of``, and their totals: what
    :meth:`decisions` kept and selected (files and bytes) and the selected (file_id, action)."""

    def __init__(
        self, type_: str, rule: TypeRule | None, as_of: _dt.datetime, cap: Cap | None
    ) -> None:
        self.type = type_
        self.fixed: str | None = None  # the reason when nothing of the type is ever selected
        if rule is None:
            self.fixed = no_policy_reason(type_)
        elif rule.strategy == "keep_forever" or rule.retain_days is None:
            self.fixed = KEEP_FOREVER
        self.rule = rule or TypeRule("keep_forever")
        prune = self.rule.strategy == "prune_old"
        self.keep_last = (self.rule.keep_last or 0) if prune else 0
        self.action = ARCHIVE if self.rule.strategy == "archive_to_remote" else DELETE
        as_of = times.utc(as_of)
        self.now = times.iso(as_of)
        self.today = as_of.date()
        self.cutoff = times.iso(as_of - _dt.timedelta(days=self.rule.retain_days or 0))
        self.cap = cap
        self._days: dict[str, int] = {}  # a date -> days from it to as_of's date
        self._reasons: dict[Any, str] = {}
        self._ages: dict[tuple[str, bool], tuple[str, str]] = {}  # see _age_reasons
        self.kept = self.kept_bytes = self.selected_bytes = 0
        self.selected: list[tuple[str, str]] = []  # (file_id, action)

    def decisions(self, rows: Iterable[tuple[Any, ...]], lookups: Lookups) -> Iterator[Decision]:
        """One decision per row of :meth:`.query.Query.of_type`, counted as it goes. The common
        case, a time as the store writes it, takes the shortest path: the time shown by slicing,
        the protections looked up inline (the order of :meth:`.query.Lookups.protection`), the
        policy applied by :meth:`_judged`."""
        tag, run, output, input_ = (
            lookups.tags.get, lookups.runs.get, lookups.outputs.get, lookups.inputs.get
        )  # fmt: skip
        fullmatch, type_, fixed = STORE_TIME.fullmatch, self.type, self.fixed
        result = type_ == "result"
        kept = kept_bytes = selected_bytes = 0
        selected = self.selected
        for fid, size, created, symbol, timeframe, run_id, hash_, rank in rows:
            if fullmatch(created) is None:  # its age cannot be judged (rare)
                time = shown(created, False)
                action, reason, protected = self._unjudged(fid, run_id, hash_, lookups)
            else:
                time = created[: 19 if created[20:26] == "000000" else 26] + "+00:00"
                protection = (
                    RESULT_REASON
                    if result
                    else tag(fid) or run(run_id) or output(fid) or input_(hash_)
                )
                if protection is not None:
                    action, reason, protected = KEEP, protection, True
                elif fixed is not None:
                    action, reason, protected = KEEP, fixed, False
                else:
                    holder = lookups.holders.get(hash_)
                    action, reason, protected = self._judged(
                        fid, created, rank, symbol, timeframe, holder
                    )
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

    def _unjudged(
        self, fid: str, run_id: str | None, hash_: str, lookups: Lookups
    ) -> tuple[str, str, bool]:
        """The decision of a record whose created_at is not a time as the store writes it."""
        protection = RESULT_REASON if self.type == "result" else None
        protection = protection or lookups.protection(fid, run_id, hash_)
        if protection is not None:
            return KEEP, protection, True
        return KEEP, self.fixed or UNJUDGED, False

    def candidate(self, fid: str, created: str, rank: int | None, holder: str | None) -> bool:
        """Whether a record nothing protects goes before any cap."""
        if self.fixed is not None or not STORE_TIME.fullmatch(created) or created > self.cutoff:
            return False
        return not (rank is not None and rank <= self.keep_last) and holder is None

    def _judged(
        self,
        fid: str,
        created: str,
        rank: int | None,
        symbol: str | None,
        timeframe: str | None,
        holder: str | None,
    ) -> tuple[str, str, bool]:
        """The action, reason and protection of a record nothing protects, of a type with a
        policy, its time as the store writes it."""
        young, old = self._age_reasons(created)
        if created > self.cutoff:
            return KEEP, young, False
        if rank is not None and rank <= self.keep_last:
            return KEEP, self._reason("newest", symbol or "-", timeframe or "-"), False
        if holder is not None:
            return KEEP, shared_reason(holder), True
        cap = self.cap
        if cap is not None and (cap.last is None or (created, fid) > cap.last):
            return KEEP, self._reason("over", cap.max_delete), False
        return self.action, old, False

    def _age_reasons(self, created: str) -> tuple[str, str]:
        """The reasons of a record so old (inside retain_days, older): made once per date and
        whether the time of day has come round (one lookup per record)."""
        if created > self.now:  # in the future (rare): not kept
            days = self._days_old(created)
            return self._reason("young", days), self._reason("old", days)
        key = (created[:10], created[11:26] > self.now[11:26])
        reasons = self._ages.get(key)
        if reasons is None:
            days = self._days_old(created)
            reasons = self._ages[key] = (self._reason("young", days), self._reason("old", days))
        return reasons

    def _days_old(self, created: str) -> int:
        day = created[:10]
        between = self._days.get(day)
        if between is None:
            between = self._days[day] = (self.today - _dt.date.fromisoformat(day)).days
        clock, now = created[11:26], self.now[11:26]
        if created <= self.now:
            return between - 1 if clock > now else between
        return between + 1 if clock < now else between

    def _reason(self, kind: str, *values: Any) -> str:
        text = self._reasons.get((kind, *values))
        if text is None:
            text = self._reasons[(kind, *values)] = self._make(kind, *values)
        return text

    def _make(self, kind: str, *values: Any) -> str:
        rule = self.rule
        if kind == "young":
            return f"inside retain_days ({values[0]} < {rule.retain_days} days old)"
        if kind == "newest":
            return f"one of the newest {self.keep_last} of {values[0]}/{values[1]}"
        if kind == "over":
            return over_reason(values[0])
        return (
            f"older than {rule.retain_days} days ({values[0]} days old), strategy {rule.strategy}"
        )

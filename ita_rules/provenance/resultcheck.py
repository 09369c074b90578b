"""``store verify``'s question for backtest results: does what a stored result claims still
hold? A result names a setup and a rule version; it must resolve to that version as it was
when the result was put.

A result put for no run of this desk, of a version not released yet, has its record stamped
``rule_released: false`` with the params_hash of the rule file at put time
(:func:`ita_rules.provenance.putcheck.for_desk`). When that version is later committed with
other parameters, or deleted, the stored result claims a version that did not produce it:
:func:`stale_results` names it. A record without the stamp (a result of a released version,
a run's result, one stored before the stamp existed) is compared by the params_hash its file
states, when it states one; and any result whose version is no longer in the registry is
named (it resolves to nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from ita_rules.core.errors import ItaRulesError

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.rules.model import Version
    from ita_rules.store import Store
    from ita_rules.store.records import Record
    from ita_rules.store.verify import VerifyReport


class Stale(NamedTuple):
    """A stored result whose rule version no longer is what it was put with."""

    record: Record
    rule: str  # SETUP_ID@VERSION, as the result names it
    recorded: str | None  # the params_hash stamped at put time (or the result's own)
    now: str | None  # the version's params_hash now; None when it is not in the registry
    released: bool | None  # whether the version is released now (None: not in the registry)
    stamped: bool  # ``recorded`` is the put's stamp (else what the result file states)
    why: str = ""  # why the registry has no such version, or how its file left its release

    def message(self) -> str:
        """One line: the record, its version, both hashes, and what to do."""
        record = self.record
        origin = "stamped at put time, not released then" if self.stamped else "as it states"
        put = f"put with params_hash {self.recorded} ({origin})" if self.recorded else "put"
        if self.now is None:
            return (
                f"{record.path}: result of {self.rule} {put}, but {self.rule} is not in the "
                f"registry now ({self.why}): the result names no rule version (record "
                f"{record.file_id})"
            )
        if self.why:
            return (
                f"{record.path}: result of {self.rule} {put}, which cannot be checked now (record "
                f"{record.file_id}): {self.why}"
            )
        state = "is now released with" if self.released else "now has (not released)"
        return (
            f"{record.path}: result of {self.rule} {put}, but {self.rule} {state} params_hash "
            f"{self.now}: it is not that version's result (record {record.file_id}); run the "
            f"backtest again on {self.rule}"
        )

    def as_dict(self) -> dict[str, Any]:
        setup_id, _, version = self.rule.partition("@")
        return {
            "file_id": self.record.file_id,
            "path": self.record.path,
            "setup_id": setup_id,
            "rule_version": version,
            "recorded_params_hash": self.recorded,
            "params_hash_now": self.now,
            "released_now": self.released,
            "stamped": self.stamped,
            "message": self.message(),
        }


def stale_results(
    desk: Desk, store: Store, report: VerifyReport, records: Iterable[Record]
) -> list[Stale]:
    """The results among ``records`` (those ``store verify`` just checked: ``report``) whose
    files are intact and whose rule version no longer resolves to what they were put with:
    see the module. Each content is read once, each version looked up once."""
    from ita_rules.store.records import LIVE

    skip = {r.file_id for r in (*report.corrupt, *report.missing, *report.still)}
    fields: dict[str, dict[str, Any]] = {}  # by content hash
    now: dict[tuple[str, Version], tuple[str | None, str]] = {}  # -> params_hash, why not
    released: dict[tuple[str, Version], bool | str] = {}
    found: list[Stale] = []
    for record in records:
        if record.type != "result" or record.file_id in skip:
            continue
        if record.status not in LIVE and record not in report.back:
            continue
        if record.hash not in fields:
            fields[record.hash] = _read(store, record)
        stale = _stale(desk, record, fields[record.hash], now, released)
        if stale is not None:
            found.append(stale)
    return found


def _read(store: Store, record: Record) -> dict[str, Any]:
    """The result's top-level fields ({} when it cannot be read as a JSON object)."""
    from ita_rules.provenance.putcheck import fields_of
    from ita_rules.store.results import MAX_BYTES

    if record.size > MAX_BYTES:
        return {}
    try:
        return fields_of(store.abspath(record.path).read_bytes())
    except (OSError, ItaRulesError):
        return {}


def _stale(
    desk: Desk,
    record: Record,
    value: dict[str, Any],
    now: dict[tuple[str, Version], tuple[str | None, str]],
    released: dict[tuple[str, Version], bool | str],
) -> Stale | None:
    from ita_rules.provenance.putcheck import named_version

    version = named_version(value)
    if version is None:
        return None
    meta = record.metadata
    stamped = meta.get("rule_released") is False and isinstance(meta.get("params_hash"), str)
    recorded = meta["params_hash"] if stamped else value.get("params_hash")
    if not isinstance(recorded, str):
        recorded = None
    if version not in now:
        try:
            now[version] = (desk.registry.get(*version).params_hash, "")
        except ItaRulesError as exc:
            now[version] = (None, exc.message)
    params_hash, why = now[version]
    rule = f"{version[0]}@v{version[1]}"
    if params_hash is None:
        return Stale(record, rule, recorded, None, None, stamped, why)
    if recorded is None or recorded == params_hash:
        return None
    if version not in released:
        released[version] = _released(desk, *version)
    state = released[version]
    if isinstance(state, str):  # a released version whose file was changed on disk
        return Stale(record, rule, recorded, params_hash, True, stamped, state)
    return Stale(record, rule, recorded, params_hash, state, stamped)


def _released(desk: Desk, setup_id: str, version: Version) -> bool | str:
    """Whether the version is released (decided as for a run:
    :func:`~ita_rules.provenance.release.refuse_changed_release`); the first line of what is
    wrong when it is released and its file was changed since (then the registry's params_hash
    is not the release's)."""
    from ita_rules.provenance.release import ReleasedRuleModified, refuse_changed_release

    full = desk.registry.path_of(setup_id, version)
    try:
        return refuse_changed_release(desk, full, setup_id, str(version))
    except ReleasedRuleModified as exc:
        return str(exc).splitlines()[0].removesuffix(":")  # the diff follows on its lines

"""The protections: why a record can never be selected, written once and used by the plan
(and so by apply), by the sweep when it checks a soft-deleted record again, by the store's
last-moment veto and, for protected tags, by the admin purge.

First match wins: a backtest result, a protected tag, a run of an active rule version, a run the
metadata does not know (its lineage cannot be checked), a record a run of an active rule version
declared as its output, content such a run read as an input. Then content shared with a
protected record keeps a candidate too (:meth:`Protections.shared`). A run whose rule version is
not in the registry (its file deleted, broken, or never committed) protects as a run of an
active rule version does: its lifecycle is unknown (:func:`unregistered`).

A protection that cannot be evaluated protects: an error while checking a record is a reason to
keep it, never to let it go.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from ita_rules.retention.policy import Policy

RESULT_REASON = "backtest result: never deleted automatically"

Runs = Mapping[str, "str | None"]
"""Every run the metadata knows -> the active rule version it used (``IB_raid_v1@1.2``), or the
rule version not in the registry it used (:func:`unregistered`), or None when its rule version is
not active (or it used no rule). A run id absent from it is unknown."""

Inputs = Mapping[str, tuple[str, str]]
"""Stored content (``sha256:...``) a run that protects read -> (run id, rule as in :data:`Runs`)."""

Outputs = Mapping[str, tuple[str, str]]
"""Records (file_id) a run that protects declared as its outputs -> (run id, rule as in
:data:`Runs`)."""

Reason = Callable[
    [str, "Collection[str] | None", "str | None", "str | None", "str | None"], "str | None"
]
"""Why a record (type, tags, run id, content hash, file_id) can never be selected, or None."""

_UNKNOWN = "\0unknown run"  # runs.get's default: a run the metadata does not know
NOT_REGISTERED = " (not in the registry)"  # ends a rule of :data:`Runs` the registry lacks


def unregistered(rule: str) -> str:
    """The rule of :data:`Runs` for a run whose rule version ``rule`` (``IB_raid_v1@9.9``) is
    not in the registry: its runs protect as runs of active rule versions do."""
    return rule + NOT_REGISTERED


def rule_text(rule: str) -> str:
    """A rule of :data:`Runs` as the reasons say it."""
    if rule.endswith(NOT_REGISTERED):
        return (
            f"rule version {rule.removesuffix(NOT_REGISTERED)}, which is not in the registry: "
            "kept until its lifecycle is known"
        )
    return f"active rule version {rule}"


def tag_reason(tag: str) -> str:
    return f"protected tag '{tag}'"


def run_reason(run_id: str, rule: str) -> str:
    return f"run {run_id} of {rule_text(rule)}"


def unknown_run_reason(run_id: str) -> str:
    return f"run {run_id} unknown: lineage cannot be checked"


def input_reason(run_id: str, rule: str) -> str:
    return f"input of run {run_id} of {rule_text(rule)}"


def output_reason(run_id: str, rule: str) -> str:
    return f"output of run {run_id} of {rule_text(rule)}"


def shared_reason(holder: str) -> str:
    return f"content shared with protected record {holder}"


def now_protected(reason: str) -> str:
    """A protection found when a soft-deleted record is checked again before it leaves the
    disk, as the audit log says it."""
    return "now protected: " + reason.removeprefix("protected ")


class Protections:
    """The protections of one policy over what the runs say (:data:`Runs`, :data:`Inputs`,
    :data:`Outputs`). Reasons are made once per tag, run and lineage entry (a million records
    share a few hundred texts). ``unknown`` collects the records seen naming a run the metadata
    does not know (run id -> file_ids); ``holders`` the content protected records hold (hash ->
    the first such record), for :meth:`shared`."""

    __slots__ = (
        "_reasons",
        "holders",
        "inputs",
        "lineage",
        "outputs",
        "reason",
        "runs",
        "tags",
        "unknown",
    )

    def __init__(
        self,
        policy: Policy,
        runs: Runs,
        inputs: Inputs | None = None,
        outputs: Outputs | None = None,
    ) -> None:
        self.tags = policy.protect_tags
        self.lineage = policy.protect_active_rules  # runs protect their records, inputs, outputs
        self.runs = runs
        self.inputs: Inputs = (inputs or {}) if self.lineage else {}
        self.outputs: Outputs = (outputs or {}) if self.lineage else {}
        self.unknown: dict[str, list[str]] = {}
        self.holders: dict[str, str] = {}
        self._reasons: dict[object, str] = {}
        self.reason: Reason = self._reasoner()
        """Why a record (type, tags, run id, content hash, file_id) can never be selected, or
        None."""

    def _reasoner(self) -> Reason:
        """:attr:`reason`, with what it reads bound once (it runs once per record of a plan)."""
        protect_tags, lineage, runs = self.tags, self.lineage, self.runs
        inputs, outputs, unknown, text = self.inputs, self.outputs, self.unknown, self._text
        by_run: dict[str, str] = {}  # run id -> its reason (a run's records share one text)

        def reason(
            type_: str,
            tags: Collection[str] | None,
            run_id: str | None,
            hash_: str | None,
            file_id: str | None,
        ) -> str | None:
            try:
                if type_ == "result":
                    return RESULT_REASON
                if tags and (hit := protect_tags.intersection(tags)):
                    return text(("t", min(hit)), tag_reason, min(hit))
                if not lineage:
                    return None
                if run_id is not None and (rule := runs.get(run_id, _UNKNOWN)) is not None:
                    if rule is not _UNKNOWN:
                        return by_run.get(run_id) or by_run.setdefault(
                            run_id, run_reason(run_id, rule)
                        )
                    if file_id is not None:
                        unknown.setdefault(run_id, []).append(file_id)
                    return text(("u", run_id), unknown_run_reason, run_id)
                if outputs and file_id is not None and file_id in outputs:
                    return text(("o", *outputs[file_id]), output_reason, *outputs[file_id])
                if inputs and hash_ is not None and hash_ in inputs:
                    return text(("i", *inputs[hash_]), input_reason, *inputs[hash_])
                return None
            except Exception as exc:  # a protection that cannot be evaluated protects
                return f"protection cannot be evaluated ({type(exc).__name__}: {exc}): kept"

        return reason

    def tagged(self, tags: Collection[str] | None) -> str | None:
        """The protected tag a record carries (the first by name), or None: the one protection
        that also holds against an administrator's purge."""
        hit = self.tags.intersection(tags or ())
        return self._text(("t", min(hit)), tag_reason, min(hit)) if hit else None

    def hold(self, hash_: str, file_id: str) -> None:
        """``file_id`` is protected and holds ``hash_``: a candidate with that content stays."""
        if hash_ not in self.holders:
            self.holders[hash_] = file_id

    def shared(self, hash_: str) -> str | None:
        """Why a candidate stays although nothing protects it: its content is a protected
        record's (the first one seen)."""
        holder = self.holders.get(hash_)
        return None if holder is None else shared_reason(holder)

    def _text(self, key: object, make: Callable[..., str], *args: str) -> str:
        return self._reasons.get(key) or self._reasons.setdefault(key, make(*args))


def protection(
    type_: str,
    tags: Collection[str],
    run_id: str | None,
    policy: Policy,
    runs: Runs,
    hash_: str | None = None,
    inputs: Inputs | None = None,
    *,
    file_id: str | None = None,
    outputs: Outputs | None = None,
) -> str | None:
    """Why one record can never be selected (:meth:`Protections.reason`), or None."""
    return Protections(policy, runs, inputs, outputs).reason(type_, tags, run_id, hash_, file_id)

"""``store put RESULT --run-id RUN``: a result stored for a run agrees with that run; and any
result put names a rule version as it was released, and agrees with the run its own ``run_id``
names (:func:`for_desk`, what every put of a desk's store calls:
:class:`~ita_rules.provenance.desk.DeskStore`, which ``store put``, ``ws.store`` and a run's
``save_result`` / ``save_file`` use).

``Run.save_result`` stamps the run's id, rule version and params_hash into the result and
refuses a result that says otherwise (:func:`~ita_rules.provenance.stamp.stamped`). A flow
that is not written in Python stores its result file with ``store put --run-id``: the same
contract holds there, checked before anything is stored. A result whose ``run_id`` is not the
``--run-id`` is refused; a result for a run of this desk must name its rule version (and its
params_hash, when it gives one), and the run must still be running (a result stored after
the run ended would change its metrics but not its outputs). A ``--run-id`` of the form this
desk gives its runs (``run_YYYY_MM_DD_NNN``) must name one of its runs: the id of a run not
started yet would be given later to another run, which would inherit the records as its
outputs (another setup's metrics under its version). Any other ``--run-id`` (an orchestrator's
or another desk's) is stored as before: retention keeps such records, ``retention plan`` names
them. A run that used no rule version (started without ``--rule``: a training, a screenshot
job) has no backtest result: a result names a rule version, so none is stored for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError, Location, NotFound

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.store.spec import PutSpec


def for_desk(
    workspace: Desk, spec: PutSpec, files: Sequence[str], *, data: bytes | None = None
) -> PutSpec:
    """What ``store put FILES`` stores, checked against the desk before anything is stored:
    with ``--run-id``, :func:`for_run`; results, with or without it, must name a rule version
    as it was released (:func:`check_results_released`) and agree with the run of this desk
    they name in their own ``run_id`` (as ``--run-id`` would make them). With ``data``,
    ``files`` is the one name of those bytes (a put from memory)."""
    if spec.type == "result":
        stated = {shown: _fields(_content(shown, data)) for shown in files}
        check_results_released(workspace, stated.values())
        if spec.run_id is None:
            for shown, value in stated.items():
                _check_named_run(workspace, shown, value.get("run_id"), data)
    return for_run(workspace, spec, files, data=data) if spec.run_id is not None else spec


def _check_named_run(workspace: Desk, shown: str, run_id: Any, data: bytes | None) -> None:
    """A result stored without ``--run-id`` that names a run of the desk's form in its own
    ``run_id``: that run must exist and the result agree with it (it is stored as it is)."""
    if not isinstance(run_id, str) or not _desk_form(run_id):
        return
    snapshot = _known_run(workspace, run_id)
    if snapshot is None:
        raise NotFound(
            f"run_id: the result names run {run_id}, which this desk does not have: nothing "
            "was stored",
            Location(shown),
        )
    _check_one(workspace, shown, run_id, snapshot, data)


def check_results_released(workspace: Desk, results: Iterable[Mapping[str, Any]]) -> None:
    """Raise :class:`~ita_rules.provenance.release.ReleasedRuleModified` (with the diff) when a
    result (its top-level fields) names a released rule version whose file differs from its
    release (edited on disk, or changed by a commit: see :mod:`.release`): its params_hash
    would be another version's. Each version is looked at once; what is wrong otherwise with a
    result the store names."""
    from ita_rules.core.errors import UsageError
    from ita_rules.provenance.release import refuse_changed_release
    from ita_rules.rules.model import Version, check_setup_id

    seen: set[tuple[str, Version]] = set()
    for value in results:
        setup_id, version = value.get("setup_id"), value.get("rule_version")
        if not isinstance(setup_id, str) or not isinstance(version, str):
            continue
        try:
            check_setup_id(setup_id)
            parsed = Version.parse(version)
        except UsageError:
            continue
        if (setup_id, parsed) not in seen:
            seen.add((setup_id, parsed))
            full = workspace.registry.path_of(setup_id, parsed)
            refuse_changed_release(workspace, full, setup_id, str(parsed))


def _content(shown: str, data: bytes | None) -> bytes | None:
    """The bytes of a result to check: ``data`` when put from memory, else the file's; None
    when it cannot be read or is over the store's limit (the store then says what is wrong)."""
    from ita_rules.store.results import MAX_BYTES

    if data is not None:
        return data if len(data) <= MAX_BYTES else None
    path = Path(shown)
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _fields(data: bytes | None) -> dict[str, Any]:
    """A result's top-level fields, or {} when it cannot be read as a JSON object (the store
    then says what is wrong with it)."""
    import json

    if data is None:
        return {}
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):  # a 100,000-deep list, say
        return {}
    return value if isinstance(value, dict) else {}


def for_run(
    workspace: Desk, spec: PutSpec, files: Sequence[str], *, data: bytes | None = None
) -> PutSpec:
    """What ``store put FILES --run-id RUN`` stores: results checked against the run (see
    :func:`check_results_for_run`), and, for a run of this desk, its symbol and timeframe on the
    records that name none, as ``Run.save_file`` records them (retention's ``keep_last`` groups
    by them). ``data``: see :func:`for_desk`."""
    assert spec.run_id is not None
    snapshot = _known_run(workspace, spec.run_id)
    _refuse_unknown(spec.run_id, snapshot)
    if spec.type == "result":
        check_results_for_run(workspace, spec.run_id, files, snapshot, data=data)
    if snapshot is None:
        return spec
    return replace(
        spec,
        symbol=spec.symbol if spec.symbol is not None else snapshot.get("symbol"),
        timeframe=spec.timeframe if spec.timeframe is not None else snapshot.get("timeframe"),
    ).checked()


def _refuse_unknown(run_id: str, snapshot: Mapping[str, Any] | None) -> None:
    """A run id of the desk's own form must name one of its runs (see the module)."""
    if snapshot is None and _desk_form(run_id):
        raise NotFound(
            f"--run-id: this desk has no run {run_id} (ids of this form are given by "
            "`ita-rules runs start`, which would give this one to another run later): nothing "
            "was stored"
        )


def check_results_for_run(
    workspace: Desk,
    run_id: str,
    files: Sequence[str],
    snapshot: Mapping[str, Any] | None,
    *,
    data: bytes | None = None,
) -> None:
    """Raise when a result in ``files`` (paths as the user gave them) disagrees with run
    ``run_id`` (``snapshot``: the run of this desk, None for a run it does not know), or when
    that run is a run of this desk that used no rule version or is no longer running.
    ``data``: see :func:`for_desk`."""
    from ita_rules.provenance.runstore import RunStateError

    if snapshot is not None and not snapshot.get("rule_id"):
        from ita_rules.provenance.stamp import NO_RULE, RULE_ADVICE

        raise RunStateError(f"--run-id: run {run_id} {NO_RULE}; {RULE_ADVICE}: nothing was stored")
    if snapshot is not None and snapshot.get("status") != "running":
        raise RunStateError(
            f"--run-id: run {run_id} is {snapshot.get('status')}; a run's result is stored "
            "while it runs (before `ita-rules runs finish`): nothing was stored"
        )
    for shown in files:
        _check_one(workspace, shown, run_id, snapshot, data)


def _desk_form(run_id: str) -> bool:
    """Whether ``run_id`` has the form ``runs start`` gives (``run_2026_11_27_001``)."""
    from ita_rules.provenance.snapfiles import RUN_ID_RE

    return RUN_ID_RE.fullmatch(run_id) is not None


def _known_run(workspace: Desk, run_id: str) -> dict[str, Any] | None:
    """The run's snapshot (abandoned runs marked first), or None when this desk has no such
    run. A database that lost its runs says so (:class:`RunsLost`)."""
    from ita_rules.provenance import show_run

    if not _desk_form(run_id):
        return None
    try:
        return show_run(workspace, run_id)
    except NotFound:
        return None


def _check_one(
    workspace: Desk,
    shown: str,
    run_id: str,
    snapshot: Mapping[str, Any] | None,
    given: bytes | None,
) -> None:
    """Raise when the result ``shown`` (``given``, or the file) states another run, rule
    version or params_hash than run ``run_id``'s, or names a run that used no rule version."""
    from ita_rules.store.results import check_result

    data = _content(shown, given)
    if data is None:
        return  # the store names what is wrong with the file (or the limit it is over)
    from ita_rules.provenance.stamp import NO_RULE, RULE_ADVICE, agrees, claims

    value = check_result(data, shown, workspace.registry)
    if snapshot is not None and not snapshot.get("rule_id"):  # named by the result's run_id
        why = f"the result names run {run_id}, which {NO_RULE}; {RULE_ADVICE}"
        raise _refused(data, shown, value, "run_id", why)
    for key, want in claims(run_id, snapshot).items():
        if key in value and not agrees(key, value[key], want):
            raise _refused(data, shown, value, key, _why(key, value[key], want, run_id, snapshot))


def _why(key: str, given: Any, want: Any, run_id: str, snapshot: Mapping[str, Any] | None) -> str:
    if key == "run_id":
        return f"the result says {given!r} but it is stored with --run-id {run_id}"
    assert snapshot is not None
    rule = f"{snapshot['rule_id']}@{snapshot['rule_version']}"
    if key == "params_hash":
        return f"the result says {given} but run {run_id} ran {rule} ({want})"
    return f"the result says {given!r} but run {run_id} ran {rule}"


def _refused(
    data: bytes, shown: str, value: Mapping[str, Any], key: str, why: str
) -> ItaRulesError:
    from ita_rules.core.yamlio import loads
    from ita_rules.store.errors import ResultRejected

    line: int | None = None
    col: int | None = None
    doc, _problems = loads(data.decode("utf-8").removeprefix("\ufeff"), shown)
    if doc is not None and doc.data == value:
        line, col = doc.position((key,))
    return ResultRejected(f"{key}: {why}; nothing was stored", Location(shown, line, col))

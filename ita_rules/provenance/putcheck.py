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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError, Location, NotFound

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.rules.model import Version
    from ita_rules.store.spec import PutSpec


def for_desk(
    workspace: Desk, spec: PutSpec, files: Sequence[str], *, data: bytes | None = None
) -> PutSpec:
    """What ``store put FILES`` stores, checked against the desk before anything is stored:
    with ``--run-id``, :func:`for_run`; results, with or without it, must name a rule version
    as it was released (:func:`check_results_released`) and agree with the run of this desk
    they name in their own ``run_id`` (as ``--run-id`` would make them); stored for no run of
    this desk, a result of a version not released yet is stamped (:func:`_stamped`). With
    ``data``, ``files`` is the one name of those bytes (a put from memory)."""
    if spec.type == "result":
        _refuse_own_stamp(spec)
        stated = {shown: fields_of(_content(shown, data)) for shown in files}
        released = check_results_released(workspace, stated.values())
        if spec.run_id is None:
            for shown, value in stated.items():
                _check_named_run(workspace, shown, value.get("run_id"), data)
        if spec.run_id is None or not _desk_form(spec.run_id):  # not for a run of this desk
            spec = _stamped(workspace, spec, stated, released)
    return for_run(workspace, spec, files, data=data) if spec.run_id is not None else spec


STAMP = ("rule_released", "params_hash")  # what a result put's record metadata is stamped with


def _stamped(
    workspace: Desk,
    spec: PutSpec,
    stated: Mapping[str, Mapping[str, Any]],
    released: Mapping[tuple[str, Version], bool],
) -> PutSpec:
    """``spec`` with the stamp of the results it puts, stored for no run of this desk: a result
    of a rule version not released yet (``released``, from :func:`check_results_released`,
    decided as for a run) records ``rule_released: false`` and the params_hash of the rule
    file at put time in its metadata, as ``Run.save_result`` stamps a run's result (whose run
    records them), so that ``store verify`` finds it when the version is released with other
    content (:mod:`ita_rules.provenance.resultcheck`). A result of a released version is
    stored as before (its params_hash was checked against the release). One put records one
    stamp: results of another version in the same put are refused."""
    from ita_rules.core.errors import UsageError

    stamps: dict[str, tuple[str, dict[str, Any]]] = {}  # shown -> (its version, its stamp)
    for shown, value in stated.items():
        version = named_version(value)
        if version is None:
            continue  # the store says what is wrong with it
        if released.get(version, True):
            stamps[shown] = (f"{version[0]}@v{version[1]} (released)", {})
            continue
        try:
            rule = workspace.registry.get(*version)
        except ItaRulesError:
            continue  # not in the registry: the store says so
        shown_version = f"{version[0]}@{rule.rule_version} (not released)"
        stamps[shown] = (shown_version, {"rule_released": False, "params_hash": rule.params_hash})
    if not stamps:
        return spec
    first, (first_version, stamp) = next(iter(stamps.items()))
    for shown, (other_version, other) in stamps.items():
        if other != stamp:
            raise UsageError(
                f"names {other_version} and {first} names {first_version}: a result of a "
                "version not released yet is stamped with its params_hash, and one put records "
                "one stamp; put the results of each version on their own: nothing was stored",
                Location(shown),
            )
    if not stamp:
        return spec
    return spec._replace(metadata={**(spec.metadata or {}), **stamp})


def _refuse_own_stamp(spec: PutSpec) -> None:
    """A result put's metadata may not hold the stamp's keys: ``store verify`` trusts them."""
    from ita_rules.core.errors import UsageError

    for key in STAMP:
        if key in (spec.metadata or {}):
            raise UsageError(
                f"metadata: {key} is what ita-rules stamps on a result of a rule version not "
                "released yet; leave it out: nothing was stored"
            )


def named_version(value: Mapping[str, Any]) -> tuple[str, Version] | None:
    """The (setup_id, version) a result's top-level fields name, or None when they name none
    the registry could hold (the store then says what is wrong)."""
    from ita_rules.core.errors import UsageError
    from ita_rules.rules.model import Version, check_setup_id

    setup_id, version = value.get("setup_id"), value.get("rule_version")
    if not isinstance(setup_id, str) or not isinstance(version, str):
        return None
    try:
        check_setup_id(setup_id)
        return setup_id, Version.parse(version)
    except UsageError:
        return None


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


def check_results_released(
    workspace: Desk, results: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, Version], bool]:
    """Raise :class:`~ita_rules.provenance.release.ReleasedRuleModified` (with the diff) when a
    result (its top-level fields) names a released rule version whose file differs from its
    release (edited on disk, or changed by a commit: see :mod:`.release`): its params_hash
    would be another version's. Return whether each version named is released. Each version
    is looked at once; what is wrong otherwise with a result the store names."""
    from ita_rules.provenance.release import refuse_changed_release

    released: dict[tuple[str, Version], bool] = {}
    for value in results:
        version = named_version(value)
        if version is not None and version not in released:
            setup_id, parsed = version
            full = workspace.registry.path_of(setup_id, parsed)
            released[version] = refuse_changed_release(workspace, full, setup_id, str(parsed))
    return released


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


def fields_of(data: bytes | None) -> dict[str, Any]:
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
    return spec._replace(
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

"""Build the snapshot of a run before it starts (schemas/provenance.schema.json).

The draft holds everything but the run id, status and times, which the allocation adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ita_rules.core.errors import UsageError
from ita_rules.provenance import capture
from ita_rules.provenance.datahash import DataRange, as_input_spec, hash_inputs

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.rules.model import Rule, Version

RuleRef = Union["Rule", str, None]
SCHEMA_ID = "urn:ita-rules:schema:provenance:1"
RULE_FIELDS = ("rule_id", "rule_version", "params_hash", "rule_path", "rule_blob", "rule_active")


def resolve_rule(workspace: Desk, rule: RuleRef) -> Rule | None:
    """A :class:`Rule`, ``"SETUP_ID@VERSION"`` (or ``SETUP_ID``: the latest active) or None."""
    if rule is None:
        return None
    if isinstance(rule, str):
        from ita_rules.rules.model import parse_ref

        setup_id, version = parse_ref(rule)
        if version is None:
            return workspace.registry.get(setup_id, version, active_only=True)
        return _get_version(workspace, setup_id, version)
    # a Rule from any registry: load it again from this workspace so that what is recorded is
    # what is on disk now
    return _get_version(workspace, rule.setup_id, rule.version)


def _get_version(workspace: Desk, setup_id: str, version: Version) -> Rule:
    """The rule version; a released one whose file was edited (so the registry refuses it,
    e.g. for a stale params_hash) is refused with the release's diff and what to do."""
    from ita_rules.core.errors import RuleError
    from ita_rules.provenance.release import refuse_changed_release

    try:
        return workspace.registry.get(setup_id, version)
    except RuleError as exc:
        refused = exc
    # outside the except: the release's diff replaces the registry's error, not chained to it
    refuse_changed_release(
        workspace, workspace.registry.path_of(setup_id, version), setup_id, str(version)
    )
    raise refused


def build_snapshot(
    workspace: Desk,
    flow_type: str,
    *,
    rule: RuleRef,
    symbol: str | None,
    timeframe: str | None,
    inputs: Sequence[Any],
    data_range: Sequence[str] | None,
    strict: bool,
    flow_run_id: str | None = None,
    flow_name: str | None = None,
) -> tuple[dict[str, Any], capture.GitState]:
    """The draft snapshot and the git state (whose diff the run stores)."""
    from ita_rules import __version__

    settings = workspace.settings
    _check_names(settings.flow_types, flow_type, symbol, timeframe)
    resolved = resolve_rule(workspace, rule)
    rng = DataRange.parse(data_range) if data_range is not None else None
    entries, data_hash = hash_inputs([as_input_spec(i) for i in inputs], workspace.root, rng)
    data = [workspace.root / e["path"] for e in entries]  # hashed above: data, not code
    git = capture.git_state(workspace.root, skip=[settings.store_root, *data])
    deny = (settings.telegram_token_env,)
    env = capture.environment(settings.env_allowlist, deny)
    draft: dict[str, Any] = {
        "$schema": SCHEMA_ID,
        "flow_type": flow_type,
        "flow_run_id": flow_run_id,
        "flow_name": flow_name,
        "symbol": symbol,
        "timeframe": timeframe,
        "data_range": list(rng.given) if rng is not None else None,
        "data_hash": data_hash,
        "inputs": entries,
        **_rule_fields(workspace.root, resolved),
        **git.as_dict(),
        "git_diff_file_id": None,
        "strict": strict,
        "env": env,
        "host": capture.host(),
        "ita_rules_version": __version__,
        "outputs": [],
        "error": None,
    }
    return draft, git


def _check_names(
    flow_types: Sequence[str], flow_type: str, symbol: str | None, timeframe: str | None
) -> None:
    """Refuse a flow type that is not configured, and a symbol or timeframe that cannot be
    part of a stored file's name."""
    if flow_type not in flow_types:
        raise UsageError(
            f"flow type {flow_type!r} is not configured (runs.flow_types: {', '.join(flow_types)})"
        )
    for name, value in (("symbol", symbol), ("timeframe", timeframe)):
        if value is not None:
            from ita_rules.store.naming import check_part

            check_part(name, value)


def _rule_fields(root: Path, rule: Rule | None) -> dict[str, Any]:
    """What the snapshot says of the rule version (all None for a run without one)."""
    if rule is None:
        return dict.fromkeys(RULE_FIELDS)
    return {
        "rule_id": rule.setup_id,
        "rule_version": rule.rule_version,
        "params_hash": rule.params_hash,
        "rule_path": rule.path,
        "rule_blob": capture.blob_id(root, root / rule.path),
        "rule_active": rule.active,
    }

"""Build the snapshot of a run before it starts (schemas/provenance.schema.json).

The draft holds everything but the run id, status and times, which the allocation adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

from ita_rules.core.errors import UsageError
from ita_rules.provenance import capture
from ita_rules.provenance.datahash import DataRange, as_input_spec, hash_inputs

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.rules.model import Rule

RuleRef = Union["Rule", str, None]
SCHEMA_ID = "urn:ita-rules:schema:provenance:1"


def resolve_rule(workspace: Desk, rule: RuleRef) -> Rule | None:
    """A :class:`Rule`, ``"SETUP_ID@VERSION"`` (or ``SETUP_ID``: the latest active) or None."""
    if rule is None:
        return None
    if isinstance(rule, str):
        from ita_rules.rules.model import parse_ref

        setup_id, version = parse_ref(rule)
        return workspace.registry.get(setup_id, version, active_only=version is None)
    # a Rule from any registry: load it again from this workspace so that what is recorded is
    # what is on disk now
    return workspace.registry.get(rule.setup_id, rule.version)


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
    if flow_type not in settings.flow_types:
        raise UsageError(
            f"flow type {flow_type!r} is not configured (runs.flow_types: "
            f"{', '.join(settings.flow_types)})"
        )
    for name, value in (("symbol", symbol), ("timeframe", timeframe)):
        if value is not None:
            from ita_rules.store.naming import check_part

            check_part(name, value)
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
        "rule_id": resolved.setup_id if resolved else None,
        "rule_version": resolved.rule_version if resolved else None,
        "params_hash": resolved.params_hash if resolved else None,
        "rule_path": resolved.path if resolved else None,
        "rule_blob": (
            capture.blob_id(workspace.root, workspace.root / resolved.path) if resolved else None
        ),
        "rule_active": resolved.active if resolved else None,
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

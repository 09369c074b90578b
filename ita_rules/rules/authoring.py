"""Writing rule files: new, new-version, lifecycle edits and hash fixes.

Edits are round-trips (:mod:`ita_rules.rules.roundtrip`) so that comments, key order, flow
style and quoting survive; only the fields we set change. Files are replaced atomically.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ita_rules.core import canonical, yamlio
from ita_rules.core.errors import ItaRulesError, Location, RuleError, UsageError
from ita_rules.core.fsutil import atomic_write_text
from ita_rules.rules.diffing import Change, classify
from ita_rules.rules.model import LIFECYCLE_FIELDS, Version, check_setup_id
from ita_rules.rules.registry import Registry
from ita_rules.rules.roundtrip import (
    apply_set,
    dump,
    like,
    parse_set,
    plain,
    quoted,
    round_trip,
    set_after,
)

SCHEMA_MODELINE = "# yaml-language-server: $schema={}\n"


def with_hash(text: str) -> str:
    """The text of a rule file round-tripped with its params_hash computed and set (ruamel
    keeps comments, order and quoting, in its own layout; see :mod:`ita_rules.rules.hashfix`
    for the line edit ``validate --fix`` tries first)."""
    rt, data = round_trip(text)
    value = canonical.params_hash(plain(data))
    data["params_hash"] = like(data.get("params_hash"), value)
    return dump(rt, data)


@dataclass(frozen=True)
class NewVersion:
    path: Path
    version: Version
    source: Version | None
    bump: str
    changes: tuple[Change, ...]
    params_hash: str


def new_version(
    registry: Registry,
    setup_id: str,
    *,
    author: str,
    today: _dt.date,
    major: bool = False,
    source: Version | None = None,
    sets: Sequence[str] = (),
) -> NewVersion:
    """Copy the latest (or ``source``) version of a setup to the next version."""
    check_setup_id(setup_id)
    versions = registry.versions(setup_id)
    if not versions:
        raise UsageError(f"no setup {setup_id!r}; create it with `ita-rules new {setup_id}`")
    src = source or versions[-1]
    if src not in versions:
        known = ", ".join(map(str, versions))
        raise UsageError(f"{setup_id} has no version {src} (versions: {known})")
    target = versions[-1].next(major=major)
    src_path = registry.path_of(setup_id, src)
    dst_path = registry.path_of(setup_id, target)
    if dst_path.exists() or dst_path.is_symlink():
        raise UsageError(f"{registry.display(dst_path)} already exists")
    checked = registry.validate_file(src_path)
    if checked.doc is None:
        raise RuleError("; ".join(str(f) for f in checked.findings))
    old_plain = checked.doc.data
    edits = [parse_set(e) for e in sets]
    rt, data = round_trip(src_path.read_text(encoding="utf-8"))
    data["version"] = like(data.get("version"), str(target))
    old_created = data.get("created")
    data["created"] = (
        like(old_created, today.isoformat()) if isinstance(old_created, str) else today
    )
    data["author"] = like(data.get("author"), author)
    if "active" in data:
        data["active"] = True
    if data.get("deprecation_reason") is not None:
        del data["deprecation_reason"]
    for path, value in edits:
        apply_set(data, path, value)
    new_plain = plain(data)
    bump, changes = classify(old_plain, new_plain)
    if bump == "major" and target.major == versions[-1].major:
        lines = "\n  ".join(str(c) for c in changes)
        raise ItaRulesError(
            f"these changes add or remove a key or a component, which needs a major bump "
            f"(use --major for v{versions[-1].next(major=True)}):\n  {lines}"
        )
    value = canonical.params_hash(new_plain)
    data["params_hash"] = like(data.get("params_hash"), value)
    text = dump(rt, data)
    _refuse_invalid(text, dst_path, registry.display(dst_path))
    atomic_write_text(dst_path, text)
    return NewVersion(dst_path, target, src, bump, tuple(changes), value)


def _refuse_invalid(text: str, path: Path, shown: str) -> None:
    """Validate a rule file before it is written (``--set targets.tp=abc`` must not leave an
    invalid file behind): raise with every problem, the first one as the error's location."""
    from ita_rules.rules.load import validate_document

    doc, findings = yamlio.loads(text, shown, raw_scalars=("version",))
    if doc is not None:
        findings, _ = validate_document(doc, path)
    if not findings:
        return
    first, *rest = findings
    message = (f"{first.field}: " if first.field else "") + first.message
    message += "".join(f"\n{f}" for f in rest)
    raise RuleError(message, Location(first.path, first.line, first.col))


def template(setup_id: str, author: str, today: _dt.date, schema_ref: str) -> str:
    """The text of a first version ``v1.0`` (hash filled in by the caller)."""
    return (
        SCHEMA_MODELINE.format(schema_ref)
        + f"""setup_id: {setup_id}
version: "1.0"
author: "{author}"
created: "{today.isoformat()}"
description: "Describe the setup: market, session, idea."
components: [Detect_Sessions]
rules:
  entry:
    session: london
    condition: "describe the entry condition"
  exit:
    condition: "describe the exit condition"
params:
  risk_per_trade: 0.01
targets:
  tp: 2.0
  sl: 1.0
active: true
tags: []
"""
    )


def new_rule(
    registry: Registry, setup_id: str, *, author: str, today: _dt.date, schema: Path
) -> Path:
    """Create ``rules/{setup_id}/v1.0.yaml`` from the template; its modeline names the JSON
    Schema file ``schema`` relative to the setup folder (for editors)."""
    check_setup_id(setup_id)
    schema_ref = Path(os.path.relpath(schema, registry.rules_dir / setup_id)).as_posix()
    folder = registry.rules_dir / setup_id
    if folder.is_symlink():
        raise UsageError(f"{registry.display(folder)} is a symbolic link")
    if registry.versions(setup_id):
        raise UsageError(
            f"setup {setup_id!r} exists already; use `ita-rules new-version {setup_id}`"
        )
    path = registry.path_of(setup_id, Version(1, 0))
    text = template(setup_id, author.replace('"', "'"), today, schema_ref)
    doc, findings = yamlio.loads(text, str(path), raw_scalars=("version",))
    if doc is None:  # pragma: no cover - the template is ours
        raise RuleError(str(findings[0]))
    text += f'params_hash: "{canonical.params_hash(doc.data)}"\n'
    atomic_write_text(path, text)
    return path


def set_lifecycle(
    registry: Registry, setup_id: str, version: Version, *, active: bool, reason: str | None
) -> Path:
    """Deprecate (``active=False`` with a reason) or re-activate a version in place."""
    path = registry.path_of(setup_id, version)
    if not path.exists():
        registry.load(setup_id, version)  # raises NotFound with the known versions
    if not active and not (reason and reason.strip()):
        raise UsageError("deprecating needs --reason TEXT: say why this version was retired")
    checked = registry.validate_file(path)
    if checked.doc is None:
        raise RuleError("; ".join(str(f) for f in checked.findings))
    rt, data = round_trip(path.read_text(encoding="utf-8"))
    data["active"] = active
    if active:
        if "deprecation_reason" in data:
            del data["deprecation_reason"]
    else:
        set_after(data, "deprecation_reason", quoted(reason or ""), after="active")
    before = {k: v for k, v in checked.doc.data.items() if k not in LIFECYCLE_FIELDS}
    after = {k: v for k, v in plain(data).items() if k not in LIFECYCLE_FIELDS}
    if before != after:  # pragma: no cover - guards the invariant that only lifecycle changes
        raise ItaRulesError("internal error: a lifecycle edit changed more than lifecycle fields")
    atomic_write_text(path, dump(rt, data))
    registry.forget(path)
    return path

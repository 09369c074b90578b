"""Writing rule files: new, new-version, lifecycle edits and hash fixes.

Edits are round-trips with ruamel.yaml so that comments, key order, flow style and quoting
survive; only the fields we set change. Files are replaced atomically.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ita_rules.core import canonical, yamlio
from ita_rules.core.errors import ItaRulesError, Location, RuleError, UsageError
from ita_rules.core.fsutil import atomic_write_text
from ita_rules.rules.diffing import Change, classify
from ita_rules.rules.model import LIFECYCLE_FIELDS, Version, check_setup_id
from ita_rules.rules.registry import Registry

SCHEMA_MODELINE = "# yaml-language-server: $schema={}\n"
SETTABLE = ("components", "rules", "params", "targets", "description", "tags")


def _mapping_indent(text: str) -> int:
    """The smallest indentation of a nested mapping key (2 when there is none)."""
    indents = [
        len(line) - len(line.lstrip(" "))
        for line in text.splitlines()
        if line.startswith(" ") and not line.lstrip(" ").startswith(("-", "#")) and line.strip()
    ]
    return min(indents, default=2)


def _yaml(text: str) -> tuple[Any, Any]:
    """A round-trip loader/dumper set up to write the file back in its own indentation."""
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    _, _, block_seq_indent = load_yaml_guess_indent(text)
    offset = block_seq_indent or 0
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=_mapping_indent(text), sequence=offset + 2, offset=offset)
    return rt, rt.load(text)


def _dump(rt: Any, data: Any) -> str:
    buf = io.StringIO()
    rt.dump(data, buf)
    return buf.getvalue()


def _quoted(value: str) -> Any:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(value)


def _like(old: Any, value: str) -> Any:
    """``value`` written in the same style as ``old`` (a quoted string stays quoted)."""
    if isinstance(old, str) and type(old) is not str:
        return type(old)(value)
    return _quoted(value)


def _set_after(data: Any, key: str, value: Any, after: str) -> None:
    """Set ``data[key]``; a new key goes right after ``after`` (or at the end)."""
    if key in data or after not in data:
        data[key] = value
        return
    data.insert(list(data).index(after) + 1, key, value)


def _plain(data: Any) -> Any:
    """ruamel's round-trip objects -> the plain JSON-compatible data params_hash covers."""
    text = _dump_plain(data)
    doc, findings = yamlio.loads(text, "<edited>", raw_scalars=("version",))
    if doc is None:
        raise RuleError("; ".join(str(f) for f in findings))
    return doc.data


def _dump_plain(data: Any) -> str:
    from ruamel.yaml import YAML

    buf = io.StringIO()
    YAML(typ="rt").dump(data, buf)
    return buf.getvalue()


def write_hash(path: Path) -> str:
    """Compute the params_hash of a rule file and write it in place; return the hash."""
    text = path.read_text(encoding="utf-8")
    rt, data = _yaml(text)
    value = canonical.params_hash(_plain(data))
    data["params_hash"] = _like(data.get("params_hash"), value)
    atomic_write_text(path, _dump(rt, data))
    return value


@dataclass(frozen=True)
class NewVersion:
    path: Path
    version: Version
    source: Version | None
    bump: str
    changes: tuple[Change, ...]
    params_hash: str


def parse_set(expr: str) -> tuple[tuple[str | int, ...], Any]:
    """``params.atr_mult=1.5`` -> (("params", "atr_mult"), 1.5); the value is read as YAML."""
    path_text, sep, value_text = expr.partition("=")
    if not sep or not path_text:
        raise UsageError(f"--set {expr!r}: expected PATH=VALUE, e.g. params.atr_mult=1.5")
    parts: list[str | int] = []
    for piece in path_text.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        if not name and not parts:
            raise UsageError(f"--set {expr!r}: the path must start with a field name")
        if name:
            parts.append(name)
        for index in indexes:
            if not index.isdigit():
                raise UsageError(f"--set {expr!r}: list index {index!r} is not a number")
            parts.append(int(index))
    if parts[0] not in SETTABLE:
        raise UsageError(
            f"--set {expr!r}: {parts[0]!r} cannot be set (settable: {', '.join(SETTABLE)}; "
            "version, created, author and params_hash are written by the tool)"
        )
    doc, findings = yamlio.loads(value_text or "null", f"--set {path_text}")
    if doc is None:
        raise UsageError(f"--set {expr!r}: {findings[0].message}")
    return tuple(parts), doc.data


def _quote_ambiguous(value: Any) -> Any:
    """``value`` with every string that would not read back unquoted (``"NO"``, ``"010"``)
    marked to be written in double quotes: ruamel (YAML 1.2) would write them plain."""
    if isinstance(value, str):
        return _quoted(value) if yamlio.needs_quotes(value) else value
    if isinstance(value, list):
        return [_quote_ambiguous(v) for v in value]
    if isinstance(value, dict):
        return {k: _quote_ambiguous(v) for k, v in value.items()}
    return value


def _apply_set(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    value = _quote_ambiguous(value)

    node = data
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise UsageError(f"--set: index {part} is out of range")
            node = node[part]
            continue
        if part not in node or node[part] is None:
            node[part] = [] if isinstance(nxt, int) else CommentedMap()
        node = node[part]
        if not isinstance(node, dict | list):
            raise UsageError(f"--set: {'.'.join(map(str, path[: i + 1]))} is not a mapping or list")
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list):
            raise UsageError("--set: indexing something that is not a list")
        if last == len(node):
            node.append(value)
        elif last < len(node):
            node[last] = value
        else:
            raise UsageError(f"--set: index {last} is out of range")
    else:
        node[last] = value


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
    rt, data = _yaml(src_path.read_text(encoding="utf-8"))
    data["version"] = _like(data.get("version"), str(target))
    old_created = data.get("created")
    data["created"] = (
        _like(old_created, today.isoformat()) if isinstance(old_created, str) else today
    )
    data["author"] = _like(data.get("author"), author)
    if "active" in data:
        data["active"] = True
    if data.get("deprecation_reason") is not None:
        del data["deprecation_reason"]
    for path, value in edits:
        _apply_set(data, path, value)
    new_plain = _plain(data)
    bump, changes = classify(old_plain, new_plain)
    if bump == "major" and target.major == versions[-1].major:
        lines = "\n  ".join(str(c) for c in changes)
        raise ItaRulesError(
            f"these changes add or remove a key or a component, which needs a major bump "
            f"(use --major for v{versions[-1].next(major=True)}):\n  {lines}"
        )
    value = canonical.params_hash(new_plain)
    data["params_hash"] = _like(data.get("params_hash"), value)
    text = _dump(rt, data)
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
    registry: Registry, setup_id: str, *, author: str, today: _dt.date, schema_ref: str
) -> Path:
    """Create ``rules/{setup_id}/v1.0.yaml`` from the template."""
    check_setup_id(setup_id)
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
    rt, data = _yaml(path.read_text(encoding="utf-8"))
    data["active"] = active
    if active:
        if "deprecation_reason" in data:
            del data["deprecation_reason"]
    else:
        _set_after(data, "deprecation_reason", _quoted(reason or ""), after="active")
    before = {k: v for k, v in checked.doc.data.items() if k not in LIFECYCLE_FIELDS}
    after = {k: v for k, v in _plain(data).items() if k not in LIFECYCLE_FIELDS}
    if before != after:  # pragma: no cover - guards the invariant that only lifecycle changes
        raise ItaRulesError("internal error: a lifecycle edit changed more than lifecycle fields")
    atomic_write_text(path, _dump(rt, data))
    registry.forget(path)
    return path

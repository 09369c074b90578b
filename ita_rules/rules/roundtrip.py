"""Round-trip editing of rule files with ruamel.yaml: comments, key order, flow style and
quoting survive, only the fields set change; ``--set PATH=VALUE`` parsed and applied.

ruamel.yaml is imported only here and only when a file is edited (never on the hook path).
"""

from __future__ import annotations

import io
from typing import Any

from ita_rules.core import yamlio
from ita_rules.core.errors import RuleError, UsageError

SETTABLE = ("components", "rules", "params", "targets", "description", "tags")


def _mapping_indent(text: str) -> int:
    """The smallest indentation of a nested mapping key (2 when there is none)."""
    indents = [
        len(line) - len(line.lstrip(" "))
        for line in text.splitlines()
        if line.startswith(" ") and not line.lstrip(" ").startswith(("-", "#")) and line.strip()
    ]
    return min(indents, default=2)


def round_trip(text: str) -> tuple[Any, Any]:
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


def dump(rt: Any, data: Any) -> str:
    buf = io.StringIO()
    rt.dump(data, buf)
    return buf.getvalue()


def quoted(value: str) -> Any:
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    return DoubleQuotedScalarString(value)


def like(old: Any, value: str) -> Any:
    """``value`` written in the same style as ``old`` (a quoted string stays quoted)."""
    if isinstance(old, str) and type(old) is not str:
        return type(old)(value)
    return quoted(value)


def set_after(data: Any, key: str, value: Any, after: str) -> None:
    """Set ``data[key]``; a new key goes right after ``after`` (or at the end)."""
    if key in data or after not in data:
        data[key] = value
        return
    data.insert(list(data).index(after) + 1, key, value)


def plain(data: Any) -> Any:
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
        return quoted(value) if yamlio.needs_quotes(value) else value
    if isinstance(value, list):
        return [_quote_ambiguous(v) for v in value]
    if isinstance(value, dict):
        return {k: _quote_ambiguous(v) for k, v in value.items()}
    return value


def apply_set(data: Any, path: tuple[str | int, ...], value: Any) -> None:
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

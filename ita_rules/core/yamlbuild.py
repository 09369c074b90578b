"""From composed YAML nodes to JSON-compatible data, keeping every value's line and column.

PyYAML composes the file into nodes; :class:`Builder` builds the Python data from them itself,
so that it can refuse duplicate keys (naming both lines), every tag that is not plain data,
alias expansion beyond :data:`MAX_NODES` values and nesting beyond :data:`MAX_DEPTH`; read
selected scalars as written (``version: 1.10`` is ``"1.10"``); turn dates into ISO-8601 strings
and refuse values JSON cannot hold exactly (NaN, infinities, integers beyond 2**53 - 1); refuse
base-60 numbers (``1:30``); and report the plain scalars and keys of
:mod:`ita_rules.core.yamlscalars`. The marks it keeps map a JSON Schema error back to
``line:col``.

PyYAML and the standard library only; used through :mod:`ita_rules.core.yamlloader` for the
texts that :mod:`ita_rules.core.blockyaml` leaves to PyYAML. :class:`Document` and the limits
live in :mod:`ita_rules.core.yamldoc` (no PyYAML).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import yaml

from ita_rules.core.findings import FieldPath, Finding, dotted
from ita_rules.core.yamldoc import MAX_DEPTH, MAX_NODES, SAFE_INT, Document
from ita_rules.core.yamlscalars import ambiguous, escape, key_characters

_T = "tag:yaml.org,2002:"
NULL_TAG = _T + "null"
_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_constructor = yaml.constructor.SafeConstructor()
_KIND = {  # what a plain key was read as, for "quote it" messages
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "null": "null",
    "timestamp": "a date",
}


class Stop(Exception):
    """Loading stops here: one finding that makes the rest meaningless."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding


class Builder:
    """Builds one document's data from its nodes (see the module docstring)."""

    def __init__(self, doc: Document, raw_scalars: frozenset[str]) -> None:
        self.doc = doc
        self.raw = raw_scalars
        self.count = 0
        self.active: set[int] = set()
        self.findings: list[Finding] = []

    def _at(self, node: yaml.Node) -> tuple[int, int]:
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def _stop(
        self, node: yaml.Node, path: FieldPath, message: str, code: str, *, field: str | None = None
    ) -> Stop:
        line, col = self._at(node)
        shown = dotted(path) if field is None else field
        return Stop(Finding(self.doc.path, message, line, col, shown, code))

    def _tagged(self, node: yaml.Node) -> bool:
        """True when the node is written with an explicit tag (``!!str y``, ``&a !!bool yes``):
        its type is then not guessed from its text. Marks count characters, in both parsers."""
        source = self.doc.text[node.start_mark.index : node.end_mark.index]
        if source.startswith("&"):  # an anchor comes first, or after the tag
            source = source.partition(" ")[2].lstrip()
        return source.startswith("!")

    def _note(self, node: yaml.Node, path: FieldPath, message: str, code: str) -> None:
        """Record a finding and go on loading (so every such problem is reported at once)."""
        line, col = self._at(node)
        self.findings.append(Finding(self.doc.path, message, line, col, dotted(path), code))

    def build(self, node: yaml.Node, path: FieldPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            # An alias's mark is its anchor's, deep inside the bomb: name the field it blew up in.
            top = path[:2]
            line, col = self.doc.key_marks.get(top, self._at(node))
            message = f"anchors/aliases expand to more than {MAX_NODES} values (an alias bomb?)"
            field = dotted(top) + ("..." if len(path) > len(top) else "")
            raise Stop(Finding(self.doc.path, message, line, col, field, "alias-bomb"))
        if depth > MAX_DEPTH:  # the field path would be MAX_DEPTH parts long: show its start
            field = dotted(path[:3]) + "..."
            raise self._stop(
                node, path, f"nesting deeper than {MAX_DEPTH} levels", "too-deep", field=field
            )
        if id(node) in self.active:
            raise self._stop(node, path, "recursive alias: a value contains itself", "recursive")
        if path not in self.doc.marks:
            self.doc.marks[path] = self._at(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != _T + "seq":
                    raise self._tag(node, path)
                return [
                    self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
                ]
            if isinstance(node, yaml.MappingNode):
                if node.tag != _T + "map":
                    raise self._tag(node, path)
                return self._mapping(node, path, depth)
        finally:
            self.active.discard(id(node))
        raise self._stop(node, path, "unsupported YAML node", "yaml")  # pragma: no cover

    def _tag(self, node: yaml.Node, path: FieldPath) -> Stop:
        tag = node.tag.replace(_T, "!!")
        return self._stop(
            node, path, f"tag {tag} is not allowed; only plain YAML data is accepted", "tag"
        )

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self._tag(node, path)
        kind = node.tag[len(_T) :]
        if kind in ("int", "float") and len(path) == 1 and path[0] in self.raw:
            return node.value  # version: 1.10 is "1.10", never the float 1.1
        try:
            value = _constructor.construct_object(node)
        except (ValueError, KeyError, AttributeError, TypeError, yaml.YAMLError) as exc:
            raise self._stop(node, path, _bad_scalar(node.value, kind, exc), "value") from None
        finally:  # the shared constructor caches every node it built: keep nothing alive
            _constructor.constructed_objects.clear()
            _constructor.recursive_objects.clear()
        if kind in ("int", "float") and not node.style and ":" in node.value:  # plain scalar
            raise self._stop(
                node,
                path,
                f"{node.value} is read by YAML 1.1 as the base-60 number {value}; "
                f'quote it ("{node.value}") if it is a time or a ratio',
                "number",
            )
        if not node.style and kind in ("str", "int", "float", "bool"):
            problem = ambiguous(node.value, value)
            if problem is not None and not self._tagged(node):
                self._note(
                    node,
                    path,
                    f"ambiguous plain scalar {node.value} ({problem[0]}): write {problem[1]}",
                    "ambiguous",
                )
        if isinstance(value, _dt.datetime | _dt.date):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            raise self._stop(
                node, path, f"{node.value} is not a finite number; JSON cannot hold it", "number"
            )
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INT:
            raise self._stop(
                node,
                path,
                f"integer {value} is beyond 2**53 - 1 and cannot be hashed exactly; "
                "quote it as a string",
                "number",
            )
        return value

    def _key(self, node: yaml.Node, path: FieldPath) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self._stop(
                node, path, "mapping keys must be plain strings, not lists or mappings", "key"
            )
        if node.tag not in _SCALAR_TAGS:
            raise self._tag(node, path)
        if node.tag == _T + "str":
            key = str(node.value)
            problem = key_characters(key)
            if problem is not None:
                self._note(node, (*path, escape(key)), problem, "key-characters")
            elif not node.style:
                reads = ambiguous(key, key)
                if reads is not None and not self._tagged(node):
                    message = f'key {key} is ambiguous ({reads[0]}); quote it ("{key}")'
                    self._note(node, (*path, key), message, "ambiguous")
            return key
        kind = _KIND.get(node.tag[len(_T) :], node.tag)
        raise self._stop(
            node,
            (*path, node.value),
            f'key {node.value} is read as {kind}; keys must be strings: quote it ("{node.value}")',
            "key",
        )

    def _mapping(self, node: yaml.MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge":
                merges.append((key_node, value_node))
                continue
            key = self._key(key_node, path)
            sub = (*path, key)
            if key in first_line:
                line, col = self._at(key_node)
                self.findings.append(
                    Finding(
                        self.doc.path,
                        f"duplicate key '{key}' (first defined at line {first_line[key]})",
                        line,
                        col,
                        dotted(sub),
                        "duplicate-key",
                    )
                )
                continue
            first_line[key] = key_node.start_mark.line + 1
            self.doc.key_marks.setdefault(sub, self._at(key_node))  # explicit keys beat merged ones
            out[key] = self.build(value_node, sub, depth + 1)
        for merge_key, merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                value = self.build(source, path, depth + 1)
                if not isinstance(value, dict):  # an alias's mark is its anchor's: point at <<
                    got = "a list" if isinstance(value, list) else f"{node_text(source)!r}"
                    raise self._stop(
                        merge_key,
                        path,
                        f"a merge key (<<) needs a mapping or a list of mappings, got {got}",
                        "merge",
                    )
                for k, v in value.items():
                    out.setdefault(k, v)
        return out


def node_text(node: yaml.Node) -> str:
    """The text of a scalar node as written (for messages)."""
    return str(node.value) if isinstance(node, yaml.ScalarNode) else node.tag.replace(_T, "!!")


def _bad_scalar(text: str, kind: str, exc: BaseException) -> str:
    if kind == "timestamp":
        reason = f" ({exc})" if isinstance(exc, ValueError) else ""
        return (
            f"{text} is not a valid date{reason}; write YYYY-MM-DD, or quote it if it is not a date"
        )
    return f"{text!r} is not a valid !!{kind} value"

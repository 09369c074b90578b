"""Safe YAML loading that keeps every value's line and column.

PyYAML composes the file into nodes (libyaml when available); we build the Python data from
the nodes ourselves so that we can:

* refuse duplicate keys, naming both lines (PyYAML silently keeps the last one);
* refuse every tag that is not plain data (``!!python/object``, ``!!binary``, custom tags);
* bound alias expansion (a "billion laughs" file is an error, not a hang) and nesting depth;
* read selected scalars as written (``version: 1.10`` is ``"1.10"``, never the float 1.1);
* turn dates and timestamps into ISO-8601 strings and refuse values JSON cannot hold exactly
  (NaN, infinities, integers beyond 2**53), so that what we load can be hashed canonically;
* remember the mark of every value and key, so a JSON Schema error maps back to ``line:col``.

Files over :data:`MAX_BYTES`, non-UTF-8 files and symbolic links are refused before parsing.
This module is on the pre-commit hook path: it imports only PyYAML and the standard library.
"""

from __future__ import annotations

import datetime as _dt
import math
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ita_rules.findings import FieldPath, Finding, dotted

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64
SAFE_INT = 2**53

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]
_constructor = yaml.constructor.SafeConstructor()


@dataclass
class Document:
    """A loaded YAML file: JSON-compatible ``data`` plus the marks of every value and key."""

    path: str
    data: Any
    marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[FieldPath, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def position(self, path: FieldPath, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, col) of the value at ``path`` (or of its key), else the nearest parent."""
        p = tuple(path)
        while True:
            if key and p in self.key_marks:
                return self.key_marks[p]
            if p in self.marks:
                return self.marks[p]
            if not p:
                return (1, 1)
            p = p[:-1]
            key = False

    def finding(self, path: FieldPath, message: str, *, key: bool = False, code: str = "invalid") -> Finding:
        line, col = self.position(path, key=key)
        return Finding(self.path, message, line, col, dotted(path), code)


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def read_text(path: Path, display: str, *, max_bytes: int = MAX_BYTES) -> tuple[str | None, list[Finding]]:
    """Read a file as UTF-8 text, refusing links, non-files, huge files and bad encodings."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None, [Finding(display, "no such file", code="missing")]
    except OSError as exc:
        return None, [Finding(display, f"cannot read: {exc.strerror}", code="unreadable")]
    if stat.S_ISLNK(st.st_mode):
        return None, [Finding(display, "is a symbolic link; rule files must be regular files", code="symlink")]
    if not stat.S_ISREG(st.st_mode):
        return None, [Finding(display, "is not a regular file", code="not-a-file")]
    if st.st_size > max_bytes:
        return None, [
            Finding(
                display,
                f"file is {st.st_size} bytes; the limit is {max_bytes} bytes (1 MiB)",
                code="too-large",
            )
        ]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Finding(display, f"cannot read: {exc.strerror}", code="unreadable")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        return None, [
            Finding(
                display,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                line,
                col,
                code="encoding",
            )
        ]
    return text.removeprefix("\ufeff"), []


def load(
    path: Path,
    display: str | None = None,
    *,
    raw_scalars: Iterable[str] = (),
    max_bytes: int = MAX_BYTES,
) -> tuple[Document | None, list[Finding]]:
    """Load one YAML file safely. ``raw_scalars`` names top-level keys read as written."""
    shown = display if display is not None else str(path)
    text, findings = read_text(path, shown, max_bytes=max_bytes)
    if text is None:
        return None, findings
    return loads(text, shown, raw_scalars=raw_scalars)


def loads(text: str, display: str, *, raw_scalars: Iterable[str] = ()) -> tuple[Document | None, list[Finding]]:
    """Load YAML text (see :func:`load`)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context and exc.context not in problem:
            problem = f"{problem} ({exc.context})"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return None, [Finding(display, f"invalid YAML: {problem}", line, col, code="yaml")]
    except yaml.YAMLError as exc:
        return None, [Finding(display, f"invalid YAML: {exc}", code="yaml")]
    except RecursionError:
        return None, [Finding(display, f"nesting deeper than {MAX_DEPTH} levels", code="too-deep")]
    if node is None:
        return None, [Finding(display, "file is empty; expected a mapping of fields", 1, 1, code="empty")]
    doc = Document(display, None, text=text)
    builder = _Builder(doc, frozenset(raw_scalars))
    try:
        doc.data = builder.build(node, (), 0)
    except _Stop as stop:
        return None, [stop.finding]
    if builder.findings:
        return None, builder.findings
    return doc, []


class _Builder:
    def __init__(self, doc: Document, raw_scalars: frozenset[str]) -> None:
        self.doc = doc
        self.raw = raw_scalars
        self.count = 0
        self.active: set[int] = set()
        self.findings: list[Finding] = []

    def _at(self, node: yaml.Node) -> tuple[int, int]:
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def _stop(self, node: yaml.Node, path: FieldPath, message: str, code: str) -> _Stop:
        line, col = self._at(node)
        return _Stop(Finding(self.doc.path, message, line, col, dotted(path), code))

    def build(self, node: yaml.Node, path: FieldPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self._stop(
                node, path, f"anchors/aliases expand to more than {MAX_NODES} values (an alias bomb?)", "alias-bomb"
            )
        if depth > MAX_DEPTH:
            raise self._stop(node, path, f"nesting deeper than {MAX_DEPTH} levels", "too-deep")
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
                return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                if node.tag != _T + "map":
                    raise self._tag(node, path)
                return self._mapping(node, path, depth)
        finally:
            self.active.discard(id(node))
        raise self._stop(node, path, "unsupported YAML node", "yaml")  # pragma: no cover

    def _tag(self, node: yaml.Node, path: FieldPath) -> _Stop:
        tag = node.tag.replace(_T, "!!")
        return self._stop(node, path, f"tag {tag} is not allowed; only plain YAML data is accepted", "tag")

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise self._tag(node, path)
        if len(path) == 1 and path[0] in self.raw:
            return node.value
        value = _constructor.construct_object(node)
        if isinstance(value, _dt.datetime | _dt.date):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            raise self._stop(node, path, f"{node.value} is not a finite number; JSON cannot hold it", "number")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INT:
            raise self._stop(
                node,
                path,
                f"integer {value} is beyond 2**53 and cannot be hashed exactly; quote it as a string",
                "number",
            )
        return value

    def _key(self, node: yaml.Node, path: FieldPath) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _SCALAR_TAGS:
            raise self._stop(node, path, "mapping keys must be plain strings", "key")
        value = _constructor.construct_object(node)
        if not isinstance(value, str):
            raise self._stop(
                node, path, f"key {node.value} is a {type(value).__name__}; quote it to make it a string: \"{node.value}\"", "key"
            )
        return value

    def _mapping(self, node: yaml.MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge":
                merges.append(value_node)
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
            self.doc.key_marks[sub] = self._at(key_node)
            out[key] = self.build(value_node, sub, depth + 1)
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                value = self.build(source, path, depth + 1)
                if not isinstance(value, dict):
                    raise self._stop(source, path, "a merge key (<<) needs a mapping", "merge")
                for k, v in value.items():
                    out.setdefault(k, v)
        return out

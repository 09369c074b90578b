"""Safe YAML loading that keeps every value's line and column.

PyYAML composes the file into nodes (libyaml when available); we build the Python data from
the nodes ourselves so that we can:

* refuse duplicate keys, naming both lines (PyYAML silently keeps the last one);
* refuse every tag that is not plain data (``!!python/object``, ``!!binary``, custom tags);
* bound alias expansion (a "billion laughs" file is an error, not a hang) and nesting depth;
* read selected scalars as written (``version: 1.10`` is ``"1.10"``, never the float 1.1);
* turn dates and timestamps into ISO-8601 strings and refuse values JSON cannot hold exactly
  (NaN, infinities, integers beyond 2**53 - 1), so that what we load can be hashed canonically;
* remember the mark of every value and key, so a JSON Schema error maps back to ``line:col``;
* refuse plain (unquoted) scalars that YAML 1.1 (this loader) and YAML 1.2 (editors, ruamel.yaml,
  most other parsers) read differently, saying how to quote them: the YAML 1.1 booleans
  ``yes no on off y n`` in any case (only ``true``/``false`` are booleans in both), numbers with
  a leading zero (``010`` is octal 8 in YAML 1.1, 10 in YAML 1.2), ``0o17``, ``0b101``, digit
  groups (``1_000``), exponents without a dot or a signed exponent (``1e3``, ``1.0e3`` are strings
  in YAML 1.1) and a sign before a bare fraction (``+.5``); base-60 numbers (``1:30``) too;
* refuse keys that hold invisible, bidirectional-control or non-plain space characters, and keys
  not in Unicode NFC (NFC and NFD spellings look alike but are different keys and hash apart).

Files over :data:`MAX_BYTES`, non-UTF-8 files and symbolic links are refused before parsing.
This module is on the pre-commit hook path: it imports only PyYAML and the standard library.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ita_rules.core.findings import FieldPath, Finding, dotted

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64
SAFE_INT = 2**53 - 1  # the largest integer JSON numbers (IEEE doubles) hold exactly

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_KIND = {  # what a plain key was read as, for "quote it" messages
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "null": "null",
    "timestamp": "a date",
}


# YAML 1.2 (core schema) numbers, to find plain scalars the two YAML versions read differently.
_INT_12 = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_12 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_NUMBER_START = frozenset("0123456789+-.")
_BOOL_WORDS_11 = frozenset({"yes", "no", "on", "off", "y", "n"})  # YAML 1.1 only, any case
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FILLERS = frozenset("\u034f\u115f\u1160\u3164\uffa0")  # invisible, though not format chars
# The type YAML 1.1 gives a plain scalar's text.
_resolve: Callable[[type, str, tuple[bool, bool]], str] = yaml.resolver.Resolver().resolve


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

    def finding(
        self, path: FieldPath, message: str, *, key: bool = False, code: str = "invalid"
    ) -> Finding:
        line, col = self.position(path, key=key)
        return Finding(self.path, message, line, col, dotted(path), code)


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def read_text(
    path: Path, display: str, *, max_bytes: int = MAX_BYTES
) -> tuple[str | None, list[Finding]]:
    """Read a file as UTF-8 text, refusing links, non-files, huge files and bad encodings."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None, [Finding(display, "no such file", code="missing")]
    except OSError as exc:
        return None, [Finding(display, f"cannot read: {exc.strerror}", code="unreadable")]
    if stat.S_ISLNK(st.st_mode):
        return None, [
            Finding(display, "is a symbolic link; rule files must be regular files", code="symlink")
        ]
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
    return decode(raw, display, max_bytes=max_bytes)


def decode(
    raw: bytes, display: str, *, max_bytes: int = MAX_BYTES
) -> tuple[str | None, list[Finding]]:
    """File contents (from disk or a git blob) as text: the size limit, UTF-16/32, bad UTF-8."""
    if len(raw) > max_bytes:
        return None, [
            Finding(
                display,
                f"file is {len(raw)} bytes; the limit is {max_bytes} bytes (1 MiB)",
                code="too-large",
            )
        ]
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return None, [
                Finding(
                    display,
                    f"file is {name} (it starts with a {name} byte-order mark); save it as UTF-8",
                    1,
                    1,
                    code="encoding",
                )
            ]
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


def loads(
    text: str, display: str, *, raw_scalars: Iterable[str] = ()
) -> tuple[Document | None, list[Finding]]:
    """Load YAML text (see :func:`load`)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_finding(exc, text, display)]
    except yaml.reader.ReaderError as exc:
        return None, [_reader_finding(exc, text, display)]
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        return None, [Finding(display, f"invalid YAML: {exc}".replace("\n", " "), code="yaml")]
    except RecursionError:
        return None, [Finding(display, f"nesting deeper than {MAX_DEPTH} levels", code="too-deep")]
    if node is None or (
        isinstance(node, yaml.ScalarNode) and node.tag == _T + "null" and not node.value
    ):
        return None, [
            Finding(display, "file is empty; expected a mapping of fields", 1, 1, code="empty")
        ]
    doc = Document(display, None, text=text)
    builder = _Builder(doc, frozenset(raw_scalars))
    try:
        doc.data = builder.build(node, (), 0)
    except _Stop as stop:
        return None, [stop.finding]
    if builder.findings:
        return None, builder.findings
    return doc, []


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _reader_finding(exc: yaml.reader.ReaderError, text: str, display: str) -> Finding:
    """A character YAML does not allow (NUL, other control characters): where and which."""
    index = exc.position
    if _Loader is not yaml.SafeLoader:  # libyaml counts UTF-8 bytes, not characters
        index = len(text.encode("utf-8")[:index].decode("utf-8", "ignore"))
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    line, col = _line_col(text, index)
    utf16 = code == 0 and text.count("\x00") * 4 >= len(text)  # every other byte is NUL
    hint = "; is it UTF-16 without a byte-order mark? save it as UTF-8" if utf16 else ""
    return Finding(
        display,
        f"invalid YAML: character U+{code:04X} is not allowed in a YAML file "
        f"(control characters must be written as escapes in a double-quoted string){hint}",
        line,
        col,
        code="yaml",
    )


_NOISE_CONTEXTS = ("while scanning for the next token",)


def _syntax_finding(exc: yaml.MarkedYAMLError, text: str, display: str) -> Finding:
    """A YAML syntax error as one line: what was found, where the open construct started, a hint."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    problem = exc.problem or "invalid YAML"
    if "maximum nesting depth" in problem:
        return Finding(
            display, f"nesting deeper than {MAX_DEPTH} levels", line, col, code="too-deep"
        )
    rest = text[mark.index :] if mark is not None else ""  # marks count characters
    hint = ""
    if "cannot start any token" in problem and rest:
        problem = f"found character {rest[0]!r} that cannot start any token"
        hint = "indent with spaces, not tabs" if rest[0] == "\t" else "quote the value"
    elif "undefined alias" in problem:
        m = re.match(r"\*([^\s,\[\]{}]+)", rest)
        name = m.group(1) if m else "?"
        problem = f"found undefined alias *{name}"
        hint = f"no anchor &{name} is defined before it"
    elif problem.startswith("mapping values are not allowed"):
        problem = "mapping values are not allowed here"
        hint = "quote a value that contains ': '"
    elif problem == "did not find expected key" or problem.startswith("expected <block end>"):
        problem = "did not find expected key"
        hint = "check the indentation of this line, and for an unclosed quote above it"
    context = exc.context if exc.context not in (None, *_NOISE_CONTEXTS) else None
    if context and problem.startswith("but "):  # "expected a single document ..., but found ..."
        message = f"{context}, {problem}"
        if "another document" in problem:
            hint = "a rule file holds exactly one YAML document"
    elif context:
        cm = exc.context_mark
        where = ""
        if cm is not None and mark is not None and (cm.line, cm.column) != (mark.line, mark.column):
            where = f" that starts at line {cm.line + 1}, column {cm.column + 1}"
        message = f"{problem} ({context}{where})"
    else:
        message = problem
    if hint:
        message = f"{message}; {hint}"
    return Finding(display, f"invalid YAML: {message}", line, col, code="yaml")


class _Builder:
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
    ) -> _Stop:
        line, col = self._at(node)
        shown = dotted(path) if field is None else field
        return _Stop(Finding(self.doc.path, message, line, col, shown, code))

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
            raise _Stop(Finding(self.doc.path, message, line, col, field, "alias-bomb"))
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

    def _tag(self, node: yaml.Node, path: FieldPath) -> _Stop:
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
            problem = _ambiguous(node.value, value)
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
            problem = _key_characters(key)
            if problem is not None:
                self._note(node, (*path, _escape(key)), problem, "key-characters")
            elif not node.style:
                ambiguous = _ambiguous(key, key)
                if ambiguous is not None and not self._tagged(node):
                    message = f'key {key} is ambiguous ({ambiguous[0]}); quote it ("{key}")'
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


def needs_quotes(text: str) -> bool:
    """True when the string ``text`` written unquoted would not load back as that string: it
    reads as another type, or it is a plain scalar this loader refuses as ambiguous."""
    if _resolve(yaml.ScalarNode, text, (True, False)) != _T + "str":
        return True
    return _ambiguous(text, text) is not None


def _number_12(text: str) -> int | float | None:
    """What YAML 1.2 reads a plain scalar as when it is a number (else None: a string)."""
    if _INT_12.fullmatch(text):
        base = {"0o": 8, "0x": 16}.get(text[:2], 10)
        return int(text[2:] if base != 10 else text, base)
    if _FLOAT_12.fullmatch(text):
        return float(text)
    return None


def _show_number(value: int | float) -> str:
    """A number as written so that YAML 1.1 and 1.2 both read it back as that number."""
    if isinstance(value, int):
        return str(value)
    mantissa, _, exponent = repr(value).partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}" if exponent else mantissa


def _ambiguous(text: str, value: Any) -> tuple[str, str] | None:
    """For a plain scalar read by YAML 1.1 as ``value``: (how the two YAML versions read it,
    what to write instead), or None when YAML 1.1 and YAML 1.2 agree."""
    if isinstance(value, str) and len(text) > 3 and text[0] not in _NUMBER_START:
        return None  # the common case: a word, neither a YAML 1.1 boolean nor a number
    if isinstance(value, float) and not math.isfinite(value):
        return None  # refused as not finite, whatever the YAML version
    quoted = f'"{text}"'
    if isinstance(value, bool) or (isinstance(value, str) and text.lower() in _BOOL_WORDS_11):
        if text.lower() in ("true", "false"):
            return None
        as_bool = "true" if text.lower() in ("yes", "on", "y") else "false"
        return f"YAML 1.1 reads it as {as_bool}", f"{quoted} or {as_bool}"
    v12 = _number_12(text)
    if isinstance(value, str):
        if v12 is None:
            return None
        shown = _show_number(v12)
        return (
            f"YAML 1.1 reads it as the string {quoted}, YAML 1.2 as the number {shown}",
            f"{quoted} or {shown}",
        )
    shown = _show_number(value)
    if v12 is None:
        return (
            f"YAML 1.1 reads it as the number {shown}, YAML 1.2 as the string {quoted}",
            f"{quoted} or {shown}",
        )
    if _LEADING_ZERO.fullmatch(text) or type(v12) is not type(value) or v12 != value:
        shown_12 = _show_number(v12)
        what = "the octal number " if _LEADING_ZERO.fullmatch(text) else ""
        choices = (
            f"{quoted}, {shown} or {shown_12}" if shown != shown_12 else f"{quoted} or {shown}"
        )
        return f"YAML 1.1 reads it as {what}{shown}, YAML 1.2 as {shown_12}", choices
    return None


def _char_kind(ch: str) -> str | None:
    """Why a character has no place in a key (None: it is fine)."""
    if ch in _BIDI:
        return "a bidirectional control character"
    category = unicodedata.category(ch)
    if category in ("Zs", "Zl", "Zp") and ch != " ":
        return "a space that is not a plain space"
    if category == "Cc":
        return "a control character"
    if category == "Cf" or ch in _FILLERS:
        return "an invisible character"
    return None


def _escape(text: str) -> str:
    """``text`` with refused and combining characters written as ``\\uXXXX`` escapes."""
    return "".join(
        (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        if _char_kind(ch) is not None or unicodedata.combining(ch)
        else ch
        for ch in text
    )


def _key_characters(key: str) -> str | None:
    """A message when a key holds characters that make look-alike keys, else None."""
    if key.isascii() and key.isprintable():
        return None  # the common case, and always in NFC
    for ch in key:
        kind = _char_kind(ch)
        if kind is not None:
            name = unicodedata.name(ch, "")
            what = f"U+{ord(ch):04X} {name}".rstrip()
            fix = "use a plain space or _" if kind.startswith("a space") else "delete it"
            return f"key '{_escape(key)}' holds {kind} ({what}); {fix}"
    if not unicodedata.is_normalized("NFC", key):
        nfc = unicodedata.normalize("NFC", key)
        written = "".join(ch if ch.isascii() else f"\\u{ord(ch):04x}" for ch in nfc)
        return (
            f"key '{_escape(key)}' is not in Unicode normal form NFC: it looks like '{nfc}' "
            f'but is a different key and hashes differently; write it as "{written}"'
        )
    return None

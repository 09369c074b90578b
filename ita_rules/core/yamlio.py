"""Safe YAML loading that keeps every value's line and column: the entry point.

* :func:`read_text` / :func:`decode`: files over :data:`MAX_BYTES`, non-UTF-8 files (UTF-16/32
  included) and symbolic links are refused before parsing;
* :func:`load` / :func:`loads`: PyYAML composes the text into nodes (libyaml when available), a
  syntax error becomes one finding at its place with a hint, and
  :class:`~ita_rules.core.yamlbuild.Builder` builds the data: duplicate keys, tags that are not
  plain data, alias bombs and deep nesting refused; selected scalars read as written; dates as
  ISO-8601 strings; values JSON cannot hold exactly refused; every value's mark kept;
* :mod:`ita_rules.core.yamlscalars`: plain scalars that YAML 1.1 (this loader) and YAML 1.2 read
  differently, and keys with invisible or look-alike characters, refused with what to write.

This module is on the pre-commit hook path: it imports only PyYAML and the standard library.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable
from pathlib import Path

import yaml

from ita_rules.core.findings import Finding
from ita_rules.core.yamlbuild import (
    MAX_DEPTH,
    MAX_NODES,
    NULL_TAG,
    SAFE_INT,
    Builder,
    Document,
    Stop,
    node_text,
)
from ita_rules.core.yamlscalars import needs_quotes

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "SAFE_INT",
    "Document",
    "decode",
    "load",
    "loads",
    "needs_quotes",
    "node_text",
    "read_text",
]

MAX_BYTES = 1024 * 1024
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


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
        isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG and not node.value
    ):
        return None, [
            Finding(display, "file is empty; expected a mapping of fields", 1, 1, code="empty")
        ]
    doc = Document(display, None, text=text)
    builder = Builder(doc, frozenset(raw_scalars))
    try:
        doc.data = builder.build(node, (), 0)
    except Stop as stop:
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

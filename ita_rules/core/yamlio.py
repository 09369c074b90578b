"""Safe YAML loading that keeps every value's line and column: the entry point.

* :func:`read_text` / :func:`decode`: files over :data:`MAX_BYTES`, non-UTF-8 files (UTF-16/32
  included) and symbolic links are refused before parsing;
* :func:`load` / :func:`loads`: a text in the usual block layout is read by
  :mod:`ita_rules.core.blockyaml` (exactly as PyYAML would read it, without importing PyYAML);
  any other goes to :mod:`ita_rules.core.yamlloader`: PyYAML composes it into nodes (libyaml
  when available), a syntax error becomes one finding at its place with a hint, and
  :class:`~ita_rules.core.yamlbuild.Builder` builds the data: duplicate keys, tags that are not
  plain data, alias bombs and deep nesting refused; selected scalars read as written; dates as
  ISO-8601 strings; values JSON cannot hold exactly refused; every value's mark kept;
* :mod:`ita_rules.core.yamlscalars`: plain scalars that YAML 1.1 (this loader) and YAML 1.2 read
  differently, and keys with invisible or look-alike characters, refused with what to write.

This module is on the pre-commit hook path: it imports the standard library only (PyYAML,
~10 ms of a commit's CPU, only for a text that blockyaml leaves to it).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from ita_rules.core import blockyaml
from ita_rules.core.findings import Finding
from ita_rules.core.yamldoc import MAX_DEPTH, MAX_NODES, SAFE_INT, Document

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
    "read_text",
]

MAX_BYTES = 1024 * 1024
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
    """Load YAML text (see :func:`load`): read by :mod:`~ita_rules.core.blockyaml` when it is
    in the usual block layout, else by PyYAML, imported only then."""
    raw = frozenset(raw_scalars)
    doc = blockyaml.read(text, display, raw)
    if doc is not None:
        return doc, []
    from ita_rules.core import yamlloader

    return yamlloader.loads(text, display, raw)


def needs_quotes(text: str) -> bool:
    """True when the string ``text`` written unquoted would not load back as that string
    (:func:`ita_rules.core.yamlscalars.needs_quotes`, which imports PyYAML)."""
    from ita_rules.core import yamlscalars

    return yamlscalars.needs_quotes(text)

"""Rule files as git holds them: which paths are rule versions, and a blob read and validated
like ``validate`` reads a file on disk (one code path).

On the hook path: the standard library and :mod:`ita_rules.core` only until a blob is parsed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ita_rules.core.findings import Finding
from ita_rules.rules.model import FILE_RE, Version

if TYPE_CHECKING:
    from ita_rules.core import yamlio

SYMLINK_MODE = "120000"


class Parsed(NamedTuple):
    """One rule file read from git: its document (when it is YAML) and its validation findings."""

    path: str
    doc: yamlio.Document | None
    findings: list[Finding]

    @property
    def data(self) -> dict[str, Any] | None:
        d = self.doc.data if self.doc is not None else None
        return d if isinstance(d, dict) else None


def parse_blob(raw: bytes, display: str, released: str | None = None) -> Parsed:
    """Validate rule file contents read from git, exactly as ``validate`` does a file on disk
    (the same decoding, loader and checks: one code path). ``released``: the ref in which this
    file is a released version (its wrong hash is then not a slip for ``--fix``)."""
    from ita_rules.core import yamlio
    from ita_rules.rules.load import Released, validate_document

    text, findings = yamlio.decode(raw, display)
    if text is None:
        return Parsed(display, None, findings)
    doc, findings = yamlio.loads(text, display, raw_scalars=("version",))
    if doc is None:
        return Parsed(display, None, findings)
    release = Released(released) if released is not None else None
    findings, _computed = validate_document(doc, Path(display), released=release)
    return Parsed(display, doc, findings)


@lru_cache(maxsize=65536)  # called for every path of every commit of a history replay
def is_rule_path(path: str, rules_path: str) -> bool:
    """True for YAML files under the rules folder (what ``validate`` would look at), whatever
    the case of the suffix: ``V1.1.YAML`` is a misnamed version (and the same file as
    ``v1.1.yaml`` on macOS and Windows), not a file to pass over."""
    prefix = "" if rules_path in ("", ".") else rules_path.rstrip("/") + "/"
    name = path.rpartition("/")[2]
    yaml = name.lower().endswith((".yaml", ".yml"))
    return path.startswith(prefix) and yaml and not name.startswith(".")


@lru_cache(maxsize=65536)
def is_nested(path: str, rules_path: str) -> bool:
    """True for a path more than one folder below the rules folder (``rules/X/N/v1.0.yaml``):
    not where a rule version lives, so never one (validate refuses it the same way)."""
    prefix = "" if rules_path in ("", ".") else rules_path.rstrip("/") + "/"
    return path.startswith(prefix) and path.count("/", len(prefix)) > 1


def is_version_path(path: str, rules_path: str) -> bool:
    """A rule file where a version lives: under the rules folder, not nested deeper."""
    return is_rule_path(path, rules_path) and not is_nested(path, rules_path)


@lru_cache(maxsize=65536)
def version_of(path: str) -> tuple[str, Version] | None:
    """``rules/X/v1.2.yaml`` -> ``("X", 1.2)``; None when the name is not a version file."""
    folder, _, name = path.rpartition("/")
    m = FILE_RE.fullmatch(name)
    if m is None or not folder:
        return None
    # FILE_RE took the version as Version.parse would (two numbers, no leading zero):
    # its numbers are read here, not matched against the version pattern a second time
    major, minor = m.group(1).split(".")
    return folder.rpartition("/")[2], Version(int(major), int(minor))

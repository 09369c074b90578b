"""Load one rule file: safe YAML, JSON Schema, naming and params_hash -> Rule or findings.

On the pre-commit hook path: imports PyYAML, rfc8785 and the standard library only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from ita_rules.core import canonical, validation, yamlio
from ita_rules.core.errors import ItaRulesError
from ita_rules.core.findings import Finding
from ita_rules.core.fsutil import printable
from ita_rules.rules.model import FILE_RE, Rule

RULE_SCHEMA = "rule.schema.json"


class Released(NamedTuple):
    """A rule file that exists in the released ref: a released version, whose params_hash no
    tool may rewrite. ``ref`` names that ref as the user knows it (``HEAD``, ``origin/main``);
    ``unchanged`` is true when the file is still exactly what was released."""

    ref: str
    unchanged: bool = False


class Validated(NamedTuple):
    """The outcome of validating one rule file."""

    path: str
    rule: Rule | None
    findings: list[Finding]
    doc: yamlio.Document | None = None
    computed_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def validate_file(
    path: Path, display: str | None = None, *, released: Released | None = None
) -> Validated:
    """Validate one rule file and return every problem found (not only the first); ``released``
    when the file is a released version (it changes what a wrong params_hash means)."""
    shown = display if display is not None else str(path)
    # A file named through a linked setup folder: discovery skips such folders, naming one
    # explicitly (`ita-rules validate rules/Link/v1.0.yaml`) must not get around that.
    if path.parent.is_symlink():
        folder = shown.rsplit("/", 1)[0] if "/" in shown else str(path.parent)
        message = f"the folder {folder} is a symbolic link; rule folders must be real folders"
        return Validated(shown, None, [Finding(shown, message, code="symlink")])
    doc, findings = yamlio.load(path, shown, raw_scalars=("version",))
    if doc is None:
        return Validated(shown, None, findings)
    findings, computed = validate_document(doc, path, released=released)
    rule = Rule.from_data(doc.data, shown) if not findings else None
    return Validated(shown, rule, findings, doc, computed)


def validate_document(
    doc: yamlio.Document, path: Path, *, released: Released | None = None
) -> tuple[list[Finding], str | None]:
    """Schema, naming and params_hash of a loaded rule file (on disk, or a git blob at ``path``):
    the findings, sorted by position, and the computed params_hash (None when not computable)."""
    findings = validation.validate(doc, RULE_SCHEMA)
    data: Any = doc.data
    if not isinstance(data, dict):
        return findings, None
    findings.extend(_naming(doc, path))
    try:
        computed: str | None = canonical.params_hash(data)
    except ItaRulesError as exc:  # the loader refuses what JSON cannot hold; this is a backstop
        findings.append(doc.finding((), f"cannot compute params_hash: {exc}", code="hash"))
        computed = None
    if computed is not None:
        if data.get("params_hash", "") is None:  # "params_hash:" left empty: one line, fixable
            findings = [f for f in findings if f.field != "params_hash"]
        findings.extend(_hash(doc, path, computed, released))
    findings.sort(key=lambda f: (f.line or 0, f.col or 0))
    return findings, computed


def _valid_field(name: str, value: Any) -> bool:
    """True when ``value`` passes the schema of top-level field ``name`` (else already reported)."""
    return validation.field_valid(RULE_SCHEMA, name, value)


def _naming(doc: yamlio.Document, path: Path) -> list[Finding]:
    out = []
    data = doc.data
    setup_id, version = data.get("setup_id"), data.get("version")
    folder = path.parent.name
    if _valid_field("setup_id", setup_id) and setup_id != folder:
        out.append(
            doc.finding(
                ("setup_id",),
                f"is {setup_id!r} but the folder is {folder!r}; they must be equal",
                code="naming",
            )
        )
    m = FILE_RE.fullmatch(path.name)
    if m is None:
        ok = _valid_field("version", version)
        example = f"v{version}.yaml for version {version}" if ok else "v1.2.yaml"
        out.append(
            Finding(
                doc.path,
                f"file name '{printable(path.name)}' must be v{{MAJOR}}.{{MINOR}}.yaml without "
                f"leading zeros, e.g. {example}",
                code="naming",
            )
        )
    elif _valid_field("version", version) and version != m.group(1):
        out.append(
            doc.finding(
                ("version",),
                f"is {version!r} but the file name says {m.group(1)!r}; they must be equal",
                code="naming",
            )
        )
    return out


def _hash(
    doc: yamlio.Document, path: Path, computed: str, released: Released | None
) -> list[Finding]:
    """A missing or wrong params_hash. In a file not released yet it is a slip that
    ``validate --fix`` repairs; in a released version it means the version was changed (or
    released wrong), which no tool may paper over by rewriting the hash."""
    stated = doc.data.get("params_hash")
    if stated is None:
        state = "missing" if "params_hash" not in doc.data else "empty"
        what, code = f"{state}; expected {computed}", "hash-missing"
    elif isinstance(stated, str) and stated != computed and _valid_field("params_hash", stated):
        what, code = f"is {stated} but the content hashes to {computed}", "hash-mismatch"
    else:
        return []
    if released is None:
        return [
            doc.finding(
                ("params_hash",), f"{what} (run `ita-rules validate --fix` to write it)", code=code
            )
        ]
    setup = doc.data.get("setup_id")
    new_version = f"ita-rules new-version {setup if isinstance(setup, str) else path.parent.name}"
    if released.unchanged:
        why = (
            f"this version was released (in {released.ref}) like this, and a released version "
            f"never changes: make a new version ({new_version})"
        )
    else:
        # Where the ref is a name git knows (not a description such as the server's
        # "refs/heads/main before this push"), say how to get the released file back.
        restore = (
            f" and restore this file (git checkout {released.ref} -- {doc.path})"
            if released.ref.split() == [released.ref]
            else ""
        )
        why = (
            f"this version is released (in {released.ref}) and was changed; a released version "
            f"never changes: make a new version for the change ({new_version}){restore}"
        )
    return [doc.finding(("params_hash",), f"{what}: {why}", code=code)]

"""Load one rule file: safe YAML, JSON Schema, naming and params_hash -> Rule or findings.

On the pre-commit hook path: imports PyYAML, rfc8785 and the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ita_rules import canonical, schemacheck, yamlio
from ita_rules.findings import Finding
from ita_rules.rules.model import FILE_RE, Rule

RULE_SCHEMA = "rule.schema.json"


@dataclass
class Checked:
    """The outcome of checking one rule file."""

    path: str
    rule: Rule | None
    findings: list[Finding]
    doc: yamlio.Document | None = None
    computed_hash: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def check_file(path: Path, display: str | None = None) -> Checked:
    """Check one rule file and return every problem found (not only the first)."""
    shown = display if display is not None else str(path)
    doc, findings = yamlio.load(path, shown, raw_scalars=("version",))
    if doc is None:
        return Checked(shown, None, findings)
    findings = schemacheck.validate(doc, RULE_SCHEMA)
    data: Any = doc.data
    if not isinstance(data, dict):
        return Checked(shown, None, findings, doc)
    findings.extend(_naming(doc, path))
    computed = canonical.params_hash(data)
    findings.extend(_hash(doc, computed))
    rule = Rule.from_data(data, shown) if not findings else None
    findings.sort(key=lambda f: (f.line or 0, f.col or 0))
    return Checked(shown, rule, findings, doc, computed)


def _naming(doc: yamlio.Document, path: Path) -> list[Finding]:
    out = []
    data = doc.data
    setup_id, version = data.get("setup_id"), data.get("version")
    folder = path.parent.name
    if isinstance(setup_id, str) and setup_id != folder:
        out.append(
            doc.finding(
                ("setup_id",),
                f"is {setup_id!r} but the folder is {folder!r}; they must be equal",
                code="naming",
            )
        )
    m = FILE_RE.fullmatch(path.name)
    if m is None:
        out.append(
            doc.finding(
                (),
                f"file name {path.name!r} must be v{{MAJOR}}.{{MINOR}}.yaml, e.g. v1.2.yaml",
                code="naming",
            )
        )
    elif isinstance(version, str) and version != m.group(1):
        out.append(
            doc.finding(
                ("version",),
                f"is {version!r} but the file name says {m.group(1)!r}; they must be equal",
                code="naming",
            )
        )
    return out


def _hash(doc: yamlio.Document, computed: str) -> list[Finding]:
    stated = doc.data.get("params_hash")
    if stated is None:
        return [
            doc.finding(
                ("params_hash",),
                f"missing; expected {computed} (run `ita-rules validate --fix` to write it)",
                code="hash-missing",
            )
        ]
    if isinstance(stated, str) and stated != computed and schemacheck.quick_valid(
        schemacheck.load_schema(RULE_SCHEMA)["properties"]["params_hash"], stated
    ):
        return [
            doc.finding(
                ("params_hash",),
                f"is {stated} but the content hashes to {computed} "
                "(a released version must not change; otherwise run `ita-rules validate --fix`)",
                code="hash-mismatch",
            )
        ]
    return []

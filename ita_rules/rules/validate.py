"""``validate``: schema, naming and params_hash of rule files, with ``--fix`` for hashes.

This is the pre-commit hook path: nothing here imports ruamel.yaml, deepdiff, jsonschema or
typer unless a file is invalid or a hash has to be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ita_rules.findings import Finding
from ita_rules.rules.registry import Registry, discover

_FIXABLE = frozenset({"hash-missing", "hash-mismatch"})


@dataclass
class ValidationReport:
    files: int = 0
    findings: list[Finding] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "files": self.files,
            "fixed": self.fixed,
            "findings": [f.as_dict() for f in self.findings],
        }


def validate_paths(
    registry: Registry, paths: Sequence[Path] = (), *, fix: bool = False
) -> ValidationReport:
    """Validate rule files (default: the whole registry); with ``fix`` write correct hashes."""
    found = discover(paths or [registry.rules_dir], registry.root)
    report = ValidationReport(files=len(found.files), findings=list(found.findings))
    for path in found.files:
        checked = registry.check(path)
        # Write a hash only into a file whose sole problem is its hash: never into a broken one.
        fixable = bool(checked.findings) and all(f.code in _FIXABLE for f in checked.findings)
        if fix and fixable:
            from ita_rules.rules.authoring import write_hash

            write_hash(path)
            registry.forget(path)
            report.fixed.append(checked.path)
            checked = registry.check(path)
        report.findings.extend(checked.findings)
    return report

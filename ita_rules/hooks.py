"""pre-commit entry points: ``main(argv) -> int``, importing only what validation needs.

``ita-rules-hook-validate FILE...`` is what the published ``ita-rules-validate`` hook runs:
schema, naming and params_hash of the changed rule files; a wrong or missing hash is fixed in
place and the hook fails, as pre-commit hooks that modify files do. No typer, no jsonschema
(unless a file is invalid), no ruamel.yaml (unless a hash is written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def validate_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ita-rules-hook-validate",
        description="Validate rule files (schema, naming, params_hash); fix wrong hashes.",
    )
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--no-fix", action="store_true", help="report wrong hashes, do not write")
    args = parser.parse_args(argv)

    from ita_rules import report
    from ita_rules.errors import ItaRulesError
    from ita_rules.rules.registry import Registry
    from ita_rules.rules.validate import validate_paths

    if not args.files:
        return 0
    root = Path.cwd()
    try:
        result = validate_paths(Registry(root / "rules", root), args.files, fix=not args.no_fix)
    except ItaRulesError as exc:
        print(f"ita-rules: {exc}", file=sys.stderr)
        return exc.exit_code
    for path in result.fixed:
        print(f"{path}: params_hash written; review and stage the file again")
    report.text(result.findings, sys.stdout)
    return 1 if (result.findings or result.fixed) else 0

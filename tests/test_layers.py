"""The package layers (docs/architecture.md#packages): a module may import its own layer and the
layers below it, never one above — not at module level, not inside a function, not for type
annotations. The order, lowest first, is the one the architecture document draws."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ita_rules"

LAYERS: list[set[str]] = [
    {"core"},  # errors, findings, reporters, YAML, canonical JSON, config, files, git, times
    {"db"},  # the metadata database: engines, tables, migrations
    {"rules"},  # rule files, the registry, checks, history index
    {"store"},  # files by SHA-256, records, journal
    {"provenance"},  # runs, snapshots, data hashes, verification
    {"remote"},  # copies on an rclone remote
    # policies, plans, soft delete, sweep, audit, notification; vectors: the same verbs on a
    # vector store (it reuses retention's protections, and retention's verbs call it)
    {"retention", "vectors"},
    {"workspace", "ci", "recovery"},  # one desk's parts put together
    {"report"},  # the static report site: reads every part of a desk
    {"hooks", "cli", "__main__"},  # entry points
]


def _layer_of(name: str) -> int:
    """``ita_rules.store.core`` -> the layer index of ``store``; the package root is the top."""
    parts = name.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # ita_rules itself: the lazy public facade
    for index, members in enumerate(LAYERS):
        if parts[1] in members:
            return index
    raise AssertionError(f"{name}: not in any layer of tests/test_layers.py; add it")


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("ita_rules")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "ita_rules":
                # `from ita_rules import __version__` reads the version, not the facade
                found += [
                    (node.lineno, f"ita_rules.{a.name}")
                    for a in node.names
                    if a.name != "__version__"
                ]
            elif node.module.startswith("ita_rules."):
                found.append((node.lineno, node.module))
    return found


def _violations() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        if module == "ita_rules":
            continue  # the facade re-exports from every layer, lazily, by design
        source = _layer_of(module)
        for line, target in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if _layer_of(target) > source:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
    return bad


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert _violations() == []


def test_every_module_has_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        if module != "ita_rules":
            _layer_of(module)


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """The scanner itself: an import inside a function and one under TYPE_CHECKING both count."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ita_rules.workspace import Workspace\n"
        "def f():\n    from ita_rules.retention import plan\n"
        "from ita_rules import __version__\n"
    )
    targets = [t for _, t in _imports(tree)]
    assert targets == ["ita_rules.workspace", "ita_rules.retention"]
    assert _layer_of("ita_rules.workspace") > _layer_of("ita_rules.store")

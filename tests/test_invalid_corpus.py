"""The bad-input corpus: every folder under ``tests/cases/invalid/`` is one broken registry.

A case folder holds the rule file(s) at their registry path (``rules/{setup_id}/v{X}.yaml``) and
``expected.txt``: the exact lines ``ita-rules validate`` prints on stdout. An optional
``case.toml`` describes what cannot be stored as a small plain file:

``args``
    paths passed to ``validate`` (default: none, i.e. the whole registry);
``fixable``
    true when the problem *is* the params_hash, so ``validate --fix`` is expected to repair it;
``[[make]]``
    a generated file: ``path``, optional ``encoding`` (default UTF-8) and ``[[make.part]]`` tables
    of ``text`` repeated ``times`` (huge files, deep nesting, non-UTF-8 and control bytes);
``[[symlink]]``
    a symbolic link ``path`` -> ``target`` (git and the corpus hold plain files only).

Each case must exit 1, print exactly ``expected.txt``, write nothing, and write nothing with
``--fix`` either unless the case is ``fixable``.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import snapshot

CASES_DIR = Path(__file__).resolve().parent / "cases" / "invalid"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
# Positive cases (same layout, no expected.txt): near-misses the loader must accept.
VALID_DIR = CASES_DIR.parent / "valid"
VALID = sorted(p.name for p in VALID_DIR.iterdir() if p.is_dir())
META = ("expected.txt", "case.toml")


def case_spec(case: Path) -> dict[str, Any]:
    spec = case / "case.toml"
    return tomllib.loads(spec.read_text(encoding="utf-8")) if spec.exists() else {}


def materialize(case: Path, root: Path) -> dict[str, Any]:
    """Copy a case into the workspace ``root``: its files, generated files and symlinks."""
    spec = case_spec(case)
    for src in sorted(case.rglob("*")):
        rel = src.relative_to(case)
        if src.is_dir() or rel.as_posix() in META:
            continue
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    for item in spec.get("make", []):
        text = "".join(part["text"] * part.get("times", 1) for part in item["part"])
        dest = root / item["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(text.encode(item.get("encoding", "utf-8")))
    for link in spec.get("symlink", []):
        dest = root / link["path"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(
                link["target"], dest, target_is_directory=(dest.parent / link["target"]).is_dir()
            )
        except (
            OSError,
            NotImplementedError,
        ) as exc:  # pragma: no cover - Windows without privilege
            pytest.skip(f"cannot create symbolic links here: {exc}")
    return spec


@pytest.mark.parametrize("name", CASES)
def test_invalid_case(name: str, in_git_repo: Path, cli: Any) -> None:
    case = CASES_DIR / name
    spec = materialize(case, in_git_repo)
    args = list(spec.get("args", []))
    expected = (case / "expected.txt").read_text(encoding="utf-8")
    before = snapshot(in_git_repo)

    r = cli("validate", *args)
    assert r.out == expected, f"{name}: stdout differs\n--- got ---\n{r.out}"
    assert r.code == 1, r.err
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert snapshot(in_git_repo) == before, "validate wrote a file"

    r = cli("validate", "--fix", *args)
    if spec.get("fixable"):
        assert r.code == 0, r.out + r.err
        (fixed,) = [p for p in snapshot(in_git_repo).items() if before.get(p[0]) != p[1]]
        old = before[fixed[0]].decode().splitlines()
        new = fixed[1].decode().splitlines()
        changed = [line for line in new if line not in old]
        assert len(changed) == 1 and changed[0].startswith("params_hash: "), changed
        assert cli("validate", *args).code == 0
    else:
        assert r.code == 1, r.out + r.err
        assert r.out == expected, f"{name}: --fix output differs\n{r.out}"
        assert snapshot(in_git_repo) == before, "validate --fix wrote a file"


@pytest.mark.parametrize("name", VALID)
def test_valid_case(name: str, in_git_repo: Path, cli: Any) -> None:
    """Unquoted ``version: 1.10``, unquoted dates, merge keys, a BOM, CRLF ... are all fine."""
    spec = materialize(VALID_DIR / name, in_git_repo)
    before = snapshot(in_git_repo)
    r = cli("validate", *spec.get("args", []))
    assert (r.code, r.out) == (0, ""), r.out + r.err
    r = cli("validate", "--fix", *spec.get("args", []))
    assert (r.code, r.out) == (0, ""), r.out + r.err
    assert snapshot(in_git_repo) == before


def test_corpus_shape() -> None:
    """At least 35 cases; each has its expectation; no stored file over 100 KB."""
    assert len(CASES) >= 35
    for name in CASES:
        case = CASES_DIR / name
        lines = (case / "expected.txt").read_text(encoding="utf-8").splitlines()
        assert lines, f"{name}: expected.txt is empty"
        assert all(line.startswith("rules/") for line in lines), name
        assert (
            any(p.suffix.lower() in (".yaml", ".yml") for p in case.rglob("*"))
            or (case / "case.toml").exists()
        )
    for path in [*CASES_DIR.rglob("*"), *VALID_DIR.rglob("*")]:
        assert not path.is_symlink(), (
            f"{path}: the corpus holds plain files; links are made by case.toml"
        )
        if path.is_file():
            assert path.stat().st_size < 100_000, f"{path} is too large for the corpus; generate it"

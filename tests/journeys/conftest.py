"""Journeys: the paths a desk walks, end to end, in a workspace made by ``ita-rules init``.

Every journey starts the way a new user does: an empty folder, ``ita-rules init``, the sample
rules committed, commands run as real processes (``ita-rules ...`` on PATH, real git, the real
pre-commit client where hooks are involved). They assert what the user would see: the exact
message, the exit code and what is (or is not) on disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ita_rules.core import canonical, yamlio
from tests.conftest import REPO, SAMPLE_RULES, isolate, write

BIN = Path(sys.executable).parent


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Desk:
    """A desk's workspace: ``root`` made by ``ita-rules init``; ``env`` as a user's shell."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, input: str | None = None, check: bool = False, at: str = "") -> Ran:
        """``ita-rules ARGS`` as a separate process in the workspace (or its folder ``at``)."""
        return self.sh(str(BIN / "ita-rules"), *args, input=input, check=check, at=at)

    def sh(self, *cmd: str, input: str | None = None, check: bool = False, at: str = "") -> Ran:
        """Any command (git, pre-commit, ...) in the workspace (or its folder ``at``), with the
        desk's environment."""
        proc = subprocess.run(
            list(cmd),
            cwd=self.root / at,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )
        ran = Ran(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{ran.out}{ran.err}")
        return ran

    def git(self, *args: str) -> str:
        return self.sh("git", *args, check=True).out.strip()

    def commit(self, message: str, *paths: str) -> Ran:
        """``git add PATHS`` (default: everything) then ``git commit`` (hooks run if installed)."""
        self.git("add", *(paths or ("-A",)))
        return self.sh("git", "commit", "-q", "-m", message)

    def install_hooks(self) -> None:
        """Exactly what README and the generated config say."""
        self.sh(
            "pre-commit",
            "install",
            "--hook-type",
            "pre-commit",
            "--hook-type",
            "pre-push",
            check=True,
        )

    def write(self, relative: str, text: str | bytes) -> Path:
        return write(self.root / relative, text)

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")


def rewrite(desk: Desk, path: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in ``path`` and write the params_hash that matches, the way
    someone forging a released version by hand would (so the validate hook finds nothing)."""
    text = desk.read(path)
    edited = text.replace(old, new)
    assert edited != text
    doc, _ = yamlio.loads(edited, path)
    assert doc is not None
    stated = re.search(r'params_hash: "(sha256:[0-9a-f]{64})"', edited)
    assert stated is not None
    desk.write(path, edited.replace(stated.group(1), canonical.params_hash(doc.data)))


def candles_csv(start_day: int = 1, days: int = 20, symbol_price: float = 100.0) -> str:
    """Daily candles for 2025-05-DD (a CSV as a data vendor or pandas writes it)."""
    lines = ["time,open,high,low,close,volume"]
    for i in range(days):
        day = start_day + i
        p = symbol_price + i
        lines.append(f"2025-05-{day:02d}T00:00:00Z,{p},{p + 2},{p - 1},{p + 1},{1000 + i}")
    return "\n".join(lines) + "\n"


def _desk_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="session")
def desk_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ita-rules init desk`` in an empty folder, the sample rules added and committed: made
    once per session; each journey starts from its own copy (:func:`desk`)."""
    base = tmp_path_factory.mktemp("desk-template")
    with pytest.MonkeyPatch.context() as mp:  # the same isolation each journey runs in
        isolate(mp, tmp_path_factory.mktemp("home"))
        env = _desk_env(base)
    made = subprocess.run(
        [str(BIN / "ita-rules"), "init", "desk"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    d = Desk(base / "desk", env)
    shutil.copytree(SAMPLE_RULES, d.root / "rules", dirs_exist_ok=True)
    d.commit("the desk's rules")
    return d.root


@pytest.fixture
def desk(tmp_path: Path, desk_template: Path) -> Desk:
    """A fresh copy of the desk made by ``ita-rules init desk`` (its sample rules committed),
    with the environment of a user's shell: a git repository is the same wherever it lies."""
    root = tmp_path / "desk"
    shutil.copytree(desk_template, root, symlinks=True)
    return Desk(root, _desk_env(tmp_path))


__all__ = ["REPO", "Desk", "Ran", "candles_csv"]

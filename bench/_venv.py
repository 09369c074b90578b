"""A venv holding this checkout as a user installs it, for the benches that time whole processes.

The development venv holds ita-rules as an editable install, whose ``.pth`` finder runs at
every Python start in it (pathlib, re, importlib.util...: ~12 ms CPU for ``python -c pass``),
so every process of that venv pays a cost no user pays. :func:`user_venv` builds a wheel of
this checkout (``pip wheel --no-deps``, from a copy: nothing is written here) and installs it
into a venv of its own (``pip install --no-deps --no-index``: the console scripts and bytecode
pip makes); the dependencies come from this venv's site-packages through a plain path line in
a ``.pth`` file (so their own ``.pth`` files, the editable finder among them, do not run), and
pre-commit and check-jsonschema run from that venv too (their console scripts, copied with its
interpreter in the first line).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


# Variables of the shell that would change what is timed: git's and ours, another package on
# the path, and bytecode not written (every run would compile the sources again: pip compiled
# the wheel's, as check-jsonschema's) or written elsewhere.
DROPPED = ("GIT_", "ITA_", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


def clean_environ() -> dict[str, str]:
    """This process's environment without the :data:`DROPPED` variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(DROPPED)}


def bench_env(tmp: Path, bindir: Path) -> dict[str, str]:
    """The environment of every timed command: :func:`clean_environ`, ``bindir`` first on
    PATH, the bytecode of every Python process in one folder of the run."""
    return {
        **clean_environ(),
        "PYTHONPYCACHEPREFIX": str(tmp / "pycache"),
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
    }


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``args`` to its end; a failure stops the bench with the command and its output."""
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc


def user_venv(tmp: Path, env: dict[str, str]) -> Path:
    """The bin folder of a venv holding this checkout as a user installs it (see the
    docstring): a wheel built from a copy of the checkout, the dependencies of this venv."""
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("ita_rules", "schemas"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip"]
    sh([*pip, "wheel", "--no-deps", "-q", "-w", str(tmp / "wheel"), str(src)], tmp, env)
    (wheel,) = (tmp / "wheel").glob("ita_rules-*.whl")
    venv = tmp / "user-venv"
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    sh([str(base_python), "-m", "venv", "--without-pip", str(venv)], tmp, env)
    python = venv / "bin" / "python"
    sh(
        [*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        tmp,
        env,
    )
    site = sh(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp, env
    ).stdout.strip()
    here = sh(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp, env
    ).stdout.strip()
    (Path(site) / "zz_dependencies.pth").write_text(here + "\n")
    for tool in ("pre-commit", "check-jsonschema"):
        body = (BIN / tool).read_text().split("\n", 1)[1]
        (venv / "bin" / tool).write_text(f"#!{python}\n{body}")
        (venv / "bin" / tool).chmod(0o755)
    return venv / "bin"

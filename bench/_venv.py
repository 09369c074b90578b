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

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def sh(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True, text=True)


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

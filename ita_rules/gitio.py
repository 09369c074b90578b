"""Every git call of ita-rules goes through this module.

git runs as a subprocess with the inherited ``GIT_*`` variables removed (like pre-commit's
``no_git_env``): inside a hook git exports ``GIT_DIR``, ``GIT_INDEX_FILE`` and friends, and a
nested git would otherwise read the wrong repository. A server hook (pre-receive) must keep the
quarantine variables to see the pushed objects: it passes ``keep_quarantine=True``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ita_rules.errors import GitError

# Variables that describe *how* to run git rather than *which repository*: kept.
_KEEP = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_COUNT",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
    }
)
_QUARANTINE = frozenset(
    {"GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"}
)


def git_env(
    environ: Mapping[str, str] | None = None, *, keep_quarantine: bool = False
) -> dict[str, str]:
    """A copy of the environment without the ``GIT_*`` variables that select a repository."""
    env = dict(os.environ if environ is None else environ)
    for key in list(env):
        if not key.startswith("GIT_") or key in _KEEP or key.startswith("GIT_CONFIG_KEY_"):
            continue
        if key.startswith("GIT_CONFIG_VALUE_") or (keep_quarantine and key in _QUARANTINE):
            continue
        del env[key]
    return env


def git_exe() -> str:
    exe = shutil.which("git")
    if exe is None:
        raise GitError("git is not installed or not on PATH (install it: apt-get install git)")
    return exe


def run(
    args: Sequence[str],
    cwd: Path | str,
    *,
    input: bytes | None = None,
    check: bool = True,
    keep_quarantine: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS`` in ``cwd``; raise :class:`GitError` with git's own message on failure."""
    proc = subprocess.run(
        [git_exe(), *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        env=git_env(keep_quarantine=keep_quarantine),
        check=False,
    )
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = msg[-1] if msg else f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {detail}")
    return proc


def text(args: Sequence[str], cwd: Path | str, **kwargs: bool) -> str:
    """stdout of a git command as text, stripped."""
    return run(args, cwd, **kwargs).stdout.decode("utf-8", "replace").strip()


def toplevel(path: Path) -> Path | None:
    """The work tree root containing ``path``, or None outside a git repository."""
    proc = run(["rev-parse", "--show-toplevel"], path, check=False)
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.decode("utf-8", "replace").strip())


def init(path: Path) -> None:
    run(["init", "--quiet", str(path)], path)


def config_get(key: str, cwd: Path) -> str | None:
    """``git config --get KEY`` or None when unset (or outside a repository)."""
    proc = run(["config", "--get", key], cwd, check=False)
    value = proc.stdout.decode("utf-8", "replace").strip()
    return value or None

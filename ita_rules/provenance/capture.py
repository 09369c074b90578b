"""What a snapshot records about the code and the machine (docs/architecture.md#runs): the git
state of the workspace (full commit, branch, dirty flag, the diff and its hash, hashes of
untracked files) and the environment (Python, platform, every installed distribution,
allow-listed variables).

Every git call goes through :mod:`ita_rules.core.gitio`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ita_rules.core import gitio
from ita_rules.provenance.datahash import file_hash
from ita_rules.provenance.redact import REDACTED, is_secret_name, redact_bytes, redact_text


@dataclass(frozen=True)
class GitState:
    """The code a run used."""

    commit: str | None
    branch: str | None
    dirty: bool
    changed: tuple[str, ...] = ()  # tracked paths that differ from HEAD
    diff: bytes = field(default=b"", repr=False)
    diff_hash: str | None = None
    untracked: Mapping[str, str] = field(default_factory=dict)  # path -> sha256
    redacted: int = 0  # secrets replaced by <redacted> in ``diff`` (and so in ``diff_hash``)

    def as_dict(self) -> dict[str, Any]:
        return {
            "git_commit": self.commit,
            "git_branch": self.branch,
            "git_dirty": self.dirty,
            "git_diff_hash": self.diff_hash,
            "git_changed": list(self.changed),
            "git_untracked": dict(sorted(self.untracked.items())),
            "git_diff_redacted": self.redacted,
        }


def _excludes(root: Path, skip: Iterable[Path]) -> list[str]:
    """Pathspecs that leave out ita-rules' own sidecar, store and logs inside the work tree,
    and the paths in ``skip`` (a symbolic link is left out itself, not what it points to)."""
    out = [":(exclude).ita", ":(exclude)logs"]
    top = root.resolve()
    for path in skip:
        full = path if path.is_absolute() else root / path
        try:
            rel = (full.parent.resolve() / full.name).relative_to(top).as_posix()
        except ValueError:
            continue
        if rel and rel != ".":
            out.append(f":(exclude,literal){rel}")
    return out


def git_state(root: Path, skip: Iterable[Path] = ()) -> GitState:
    """The git state of the work tree at ``root``; ``skip`` holds paths that are data, not code
    (the store root, a run's declared inputs: hashed by the run itself), and never make the
    tree dirty. Untracked files that ``.gitignore`` matches never count (git does not list
    them); a *tracked* file counts when it changed, even if ``.gitignore`` matches it: git
    tracks it, so the commit alone no longer describes what the run read.

    One ``git status --porcelain=v2`` gives the commit, the branch, the changed and untracked
    paths; ``git diff HEAD`` runs only when something tracked changed.
    """
    repo = gitio.Git(root)
    excludes = _excludes(root, [*skip])
    proc = repo.run(
        [
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=all",
            "--no-renames",
            "--",
            ".",
            *excludes,
        ],
        check=False,
    )
    if proc.returncode != 0:
        return GitState(None, None, True, ("(not a git repository)",))
    commit, branch, changed, untracked_paths = _parse_status(proc.stdout)
    top = root
    if (changed or untracked_paths) and not (root / ".git").exists():
        top = gitio.toplevel(root) or root
    diff = b""
    if changed and commit is not None:
        diff = repo.out(
            ["diff", "HEAD", "--binary", "--no-ext-diff", "--no-textconv", "--", ".", *excludes]
        )
    untracked = _hashed(top, untracked_paths)
    dirty = bool(changed or untracked or commit is None)
    diff, redacted = redact_bytes(diff)  # the stored patch and its hash: credentials removed
    diff_hash = "sha256:" + hashlib.sha256(diff).hexdigest() if diff else None
    return GitState(
        commit, branch, dirty, tuple(sorted(changed)), diff, diff_hash, untracked, redacted
    )


def _parse_status(out: bytes) -> tuple[str | None, str | None, list[str], list[str]]:
    """(commit, branch, changed paths, untracked paths) from ``git status --porcelain=v2
    --branch -z``; no commit before the first one, no branch on a detached HEAD."""
    commit = branch = None
    changed: list[str] = []
    untracked: list[str] = []
    for field_ in out.split(b"\0"):
        item = field_.decode("utf-8", "surrogateescape")
        if item.startswith("# branch.oid "):
            oid = item.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif item.startswith("# branch.head "):
            head = item.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif item.startswith("1 "):
            changed.append(item.split(" ", 8)[8])
        elif item.startswith("u "):
            changed.append(item.split(" ", 10)[10])
        elif item.startswith("? "):
            untracked.append(item[2:])
    return commit, branch, changed, untracked


def _hashed(top: Path, paths: Sequence[str]) -> dict[str, str]:
    """The untracked files' hashes (what is not a regular file is named as such)."""
    out: dict[str, str] = {}
    for rel in paths:
        full = top / rel
        if full.is_file() and not full.is_symlink():
            out[rel] = file_hash(full)[0]
        else:
            out[rel] = "(not a regular file)"
    return out


def blob_id(root: Path, path: Path) -> str | None:
    """The git blob id of a file as it is on disk (equal to HEAD's when unchanged)."""
    proc = gitio.run(["hash-object", "--", str(path)], root, check=False)
    out = proc.stdout.decode("ascii", "replace").strip()
    return out if proc.returncode == 0 and out else None


def commit_exists(root: Path, commit: str) -> bool:
    return gitio.Git(root).commit_id(commit) == commit


def commit_reachable(root: Path, commit: str) -> bool:
    """True when a branch, tag or HEAD contains ``commit`` (so gc keeps it)."""
    repo = gitio.Git(root)
    head = repo.commit_id("HEAD")
    if head is not None and repo.is_ancestor(commit, head):
        return True
    proc = repo.run(
        ["for-each-ref", "--count=1", "--contains", commit, "--format=%(refname)"], check=False
    )
    return proc.returncode == 0 and bool(proc.stdout.strip())


# -- environment ------------------------------------------------------------------------------


_PACKAGES: tuple[tuple[tuple[str, int], ...], dict[str, str]] | None = None


def _path_key() -> tuple[tuple[str, int], ...]:
    """``sys.path`` with each folder's mtime: installing, upgrading or removing a distribution
    adds or removes a ``*.dist-info`` folder, which changes its parent's mtime."""
    key = []
    for entry in sys.path:
        try:
            key.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            key.append((entry, -1))
    return tuple(key)


def packages() -> dict[str, str]:
    """Every installed distribution (importlib.metadata) -> its version, names normalised.

    Only the header lines ``Name:`` and ``Version:`` of each METADATA are read (the email
    parser that ``dist.metadata`` uses costs ~3 ms per distribution), and the answer is kept
    until ``sys.path`` or one of its folders changes.
    """
    global _PACKAGES
    key = _path_key()
    if _PACKAGES is not None and _PACKAGES[0] == key:
        return dict(_PACKAGES[1])
    found = _scan_packages()
    _PACKAGES = (key, found)
    return dict(found)


def _scan_packages() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_version(dist)
        if not name or version is None:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        out.setdefault(key, version)  # the first on sys.path wins, as for imports
    return dict(sorted(out.items()))


def _name_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.split("\n\n", 1)[0].splitlines():
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            return name, version
    meta = dist.metadata  # unusual layout: let importlib parse it
    return (meta["Name"] if meta else None), (str(dist.version) if meta else None)


def allowed_env(
    allowlist: Sequence[str], environ: Mapping[str, str] | None = None, deny: Sequence[str] = ()
) -> dict[str, str]:
    """The variables named (or matched by a glob such as ``ITA_*``) in the allow-list, except
    those in ``deny``. A name that looks secret is recorded with the value ``<redacted>``, and
    credentials inside values (URL passwords, token shapes) are redacted
    (:mod:`ita_rules.provenance.redact`)."""
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for name in sorted(env):
        if name in deny:
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in allowlist):
            out[name] = REDACTED if is_secret_name(name) else redact_text(env[name])
    return out


def environment(
    allowlist: Sequence[str] = (),
    deny: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages(),
        "variables": allowed_env(allowlist, environ, deny),
    }


def host() -> str:
    return socket.gethostname()

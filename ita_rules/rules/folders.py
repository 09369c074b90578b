"""The rules folders, as the released side's commits name them: the ``rules.dir`` that
``ita.toml`` sets in a commit, every one it set in that commit's history (all may hold released
versions), and a head that moves the folder or whose ``ita.toml`` does not load.

Read from the commits, never from the work tree or ``ITA_RULES_DIR``: the change being checked
cannot choose what is checked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from ita_rules.core import gitio
from ita_rules.core.config import CONFIG_NAME, RulesConfig, rules_config
from ita_rules.core.errors import ConfigError, Location, UsageError
from ita_rules.core.findings import Finding
from ita_rules.core.gitobjects import GitObject, tree_items, unaskable

_GITLINK = "160000"  # a tree entry that is a submodule's commit


def config_path(prefix: str) -> str:
    """Where the ``ita.toml`` of the workspace at ``prefix`` (in the repository) lives."""
    return f"{prefix}/{CONFIG_NAME}" if prefix not in ("", ".") else CONFIG_NAME


def config_at(git: gitio.Git, commit: str, path: str = CONFIG_NAME) -> RulesConfig:
    """The ``[rules]`` section of ``ita.toml`` in ``commit`` (defaults when there is none);
    a :class:`ConfigError` naming ``COMMIT:PATH`` when it is wrong."""
    proc = git.run(["cat-file", "blob", f"{commit}:{path}"], check=False)
    return rules_config(proc.stdout if proc.returncode == 0 else None, path)


def repo_folder(prefix: str, folder: str) -> str:
    """A rules folder of the workspace at ``prefix`` (relative to the repository root), in the
    spelling ``git ls-tree`` prints (``./setups/`` -> ``setups``; ``.`` for the root)."""
    joined = posixpath.normpath(posixpath.join(prefix, folder.replace("\\", "/")) or ".")
    return "." if joined in ("", ".", "/") else joined.strip("/")


def rules_path_in_repo(git_root: Path, rules_dir: Path) -> str:
    """The rules folder relative to the repository root, ``/``-separated."""
    try:
        return rules_dir.resolve().relative_to(git_root.resolve()).as_posix()
    except ValueError:
        raise UsageError(
            f"the rules folder {rules_dir} is outside the git repository {git_root}"
        ) from None


def folders_in_history(git: gitio.Git, tips: Sequence[str], path: str) -> list[str]:
    """Every ``rules.dir`` that ``path`` (an ``ita.toml``) ever set in the history of ``tips``
    (the default ``rules`` too while there was no file): the folders that may hold released
    versions."""
    blobs, default = _history_blobs(git, tips, path)
    return _history_folders(git.blobs(blobs).values(), default, path)


def _history_blobs(git: gitio.Git, tips: Sequence[str], path: str) -> tuple[set[str], bool]:
    """The blob ids ``path`` had in the history of ``tips``, and whether it was ever absent."""
    if not tips:
        return set(), False
    args = ["log", "--raw", "-z", "--no-abbrev", "--format=", "--full-history", *tips]
    raw = git.out([*args, "--", path])
    blobs: set[str] = set()
    default = False
    for token in raw.split(b"\0"):
        tok = token.lstrip(b"\n")
        if tok.startswith(b":"):
            meta = tok[1:].decode().split(" ")
            for blob in meta[2:4]:
                if set(blob) == {"0"}:
                    default = True
                else:
                    blobs.add(blob)
    return blobs, default


def _history_folders(texts: Iterable[bytes], default: bool, path: str) -> list[str]:
    """The ``rules.dir`` of each ``ita.toml`` text (``rules`` first when ``default``)."""
    found: list[str] = ["rules"] if default else []
    for text in texts:
        try:
            found.append(rules_config(text, path).dir)
        except ConfigError:
            continue  # a file that never loaded never moved the folder
    return list(dict.fromkeys(found))


def named_folders(
    git: gitio.Git, tip: str, prefix: str = ""
) -> tuple[list[str], RulesConfig | ConfigError]:
    """The rules folders ``tip``'s commits name, relative to the repository: the one its
    ``ita.toml`` sets (first), then every other one ``rules.dir`` named in its history, by name;
    and that configuration (the error when it does not load). Read from the commits only."""
    path = config_path(prefix)
    cfg = config_or_error(git, tip, path)
    named = sorted(folders_in_history(git, [tip], path))
    if isinstance(cfg, RulesConfig):
        named.insert(0, cfg.dir)
    return [repo_folder(prefix, f) for f in dict.fromkeys(named or ["rules"])], cfg


def config_or_error(git: gitio.Git, commit: str, path: str) -> RulesConfig | ConfigError:
    """:func:`config_at`, or the error when it does not load (a head's: a finding)."""
    try:
        return config_at(git, commit, path)
    except ConfigError as exc:
        return exc


def rules_dir_findings(
    released: RulesConfig,
    head: RulesConfig | ConfigError,
    *,
    head_label: str,
    base_label: str,
    holds_versions: bool = True,
    path: str = CONFIG_NAME,
) -> list[Finding]:
    """A head whose ``ita.toml`` (at ``path``) does not load, or moves the rules folder away
    from the one the protected side uses (when a folder of the protected side holds files:
    otherwise nothing is released yet): either would let released versions go unchecked."""
    if isinstance(head, ConfigError):
        at = head.location or Location(path)
        msg = f"does not load in {head_label}: {head.message}"
        return [Finding(path, msg, at.line, at.col, code="config")]
    if head.dir == released.dir or not holds_versions:
        return []
    return [
        Finding(
            path,
            f'is "{head.dir}" in {head_label} but "{released.dir}" in {base_label}; the rules '
            "folder cannot be moved (the versions released in it would go unchecked)",
            field="rules.dir",
            code="rules-dir-changed",
        )
    ]


class ReleasedFolders(NamedTuple):
    """The rules folders of a released commit and its history, and the head's ``[rules]``."""

    config_path: str
    config: RulesConfig  # the released commit's
    head_config: RulesConfig | ConfigError
    folders: list[str]  # config.dir first, relative to the repository
    holds_versions: bool  # one of them holds files in the released commit

    def findings(self, *, head_label: str, base_label: str) -> list[Finding]:
        """:func:`rules_dir_findings` of the head against the released commit."""
        return rules_dir_findings(
            self.config,
            self.head_config,
            head_label=head_label,
            base_label=base_label,
            holds_versions=self.holds_versions,
            path=self.config_path,
        )


def released_folders(
    git: gitio.Git, prefix: str, released: str, label: str, head: str, likely: str = ""
) -> ReleasedFolders:
    """The folders that may hold the versions released in ``released`` (shown as ``label``)
    for the workspace at ``prefix``, and the ``[rules]`` of ``head`` ("": the index). The
    released commit's own ``ita.toml`` must load: a :class:`ConfigError` at ``LABEL:PATH``.
    The ``ita.toml`` of both sides and of the history are read by one ``git cat-file``, which
    also answers whether ``likely`` (the folder the work tree configures, usually the released
    one too) exists in ``released``: a ``git cat-file -e`` fewer on a commit. It is looked up
    in the listing of the folder that holds it (the repository's top, a few entries), not read
    itself: the rules folder's own tree lists every setup (76 KB for 2,000)."""
    path = config_path(prefix)
    history, default = _history_blobs(git, [released], path)
    ends = (f"{released}:{path}", f"{head}:{path}")
    parent, _, name = likely.rpartition("/")
    probe = f"{released}:{parent}" if likely not in ("", ".") and not unaskable(parent) else ""
    found_objects = git.objects([*ends, *sorted(history), *([probe] if probe else [])])
    texts = {key: obj.data for key, obj in found_objects.items()}
    try:
        cfg = rules_config(texts.get(ends[0]), path)
    except ConfigError as exc:
        at = exc.location or Location(path)
        raise ConfigError(exc.message, Location(f"{label}:{path}", at.line, at.col)) from None
    try:
        head_cfg: RulesConfig | ConfigError = rules_config(texts.get(ends[1]), path)
    except ConfigError as exc:
        head_cfg = exc
    found = _history_folders((texts[b] for b in sorted(history) if b in texts), default, path)
    folders = [repo_folder(prefix, f) for f in (cfg.dir, *found)]

    def present(folder: str) -> bool:
        if probe and folder == likely:
            listed = _entry_mode(found_objects.get(probe), name)
            if listed != _GITLINK:  # a submodule's commit may or may not be here: git says
                return listed is not None
        return git.has_path(released, folder)

    holds = any(present(f) for f in folders)
    return ReleasedFolders(path, cfg, head_cfg, folders, holds)


def _entry_mode(tree: GitObject | None, name: str) -> str | None:
    """The mode of the entry ``name`` of ``tree`` (a tree object as cat-file gives it), None
    when there is no such entry or ``tree`` is not a tree."""
    if tree is None or tree.kind != "tree":
        return None
    for mode, entry, _oid in tree_items(tree.data, len(tree.oid) // 2):
        if entry == name:
            return mode
    return None

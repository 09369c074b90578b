"""What the server protects before a push (docs/architecture.md#enforcement), read from the
refs themselves, never from the pushed commits: the default branch (the branch HEAD names;
``main`` and ``master`` too when HEAD names a branch that does not exist), every tag, and every
ref (``refs/replace/`` aside) that a ``rules.protected_refs`` pattern names. The patterns are
read from every ref's tip (a pattern can only add protection), the workspaces and their rules
folders from the first protected tip (its root ``ita.toml``, else every ``ita.toml`` in its
tree); an ``ita.toml`` there that does not load refuses every push.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from ita_rules.core import gitio
from ita_rules.core.config import CONFIG_NAME, RulesConfig
from ita_rules.core.errors import ConfigError, Location
from ita_rules.rules.folders import config_at, config_path, folders_in_history, repo_folder

REPLACE_PREFIX = "refs/replace/"


@dataclass(frozen=True)
class Protection:
    """The protected refs and the ``[rules]`` configuration, as they are before the push."""

    tips: dict[str, str]  # protected ref -> the commit it names (default branch first)
    defaults: tuple[str, ...]  # the default branch's possible names
    config: RulesConfig
    config_ref: str  # where config was read ("" when nothing is protected yet)
    folders: tuple[str, ...]  # every folder that held released versions (config.dir first)
    holds_versions: bool  # one of them holds files at config_ref
    # (workspace folder, its [rules]) at config_ref: the root one first, then, when there is
    # no ita.toml at the root, one for every ita.toml in the tree
    workspaces: tuple[tuple[str, RulesConfig], ...] = ()
    holding: tuple[str, ...] = ()  # the workspaces whose folders hold files at config_ref
    patterns: tuple[str, ...] = ()  # rules.protected_refs of every ref's tip, together

    def covers(self, ref: str) -> bool:
        if ref in self.defaults or ref.startswith("refs/tags/"):
            return True
        patterns = (*self.config.protected_refs, *self.patterns)
        return any(fnmatchcase(ref, full_pattern(p)) for p in patterns)


def full_pattern(pattern: str) -> str:
    """``release/*`` -> ``refs/heads/release/*``; full ref patterns are kept."""
    return pattern if pattern.startswith("refs/") else f"refs/heads/{pattern}"


def _default_branches(git: gitio.Git) -> tuple[str, ...]:
    head = git.run(["symbolic-ref", "--quiet", "HEAD"], check=False).stdout.decode().strip()
    if head and git.commit_id(head) is not None:
        return (head,)
    return tuple(
        dict.fromkeys([n for n in (head,) if n] + ["refs/heads/main", "refs/heads/master"])
    )


def _peeled(git: gitio.Git, refs: list[str]) -> dict[str, str]:
    """``{ref: commit}`` for the refs that name a commit (tags peeled), in one git process."""
    if not refs:
        return {}
    request = "".join(f"{r}^{{commit}}\n" for r in refs).encode()
    out = git.run(["cat-file", "--batch-check"], input=request).stdout.decode().splitlines()
    found: dict[str, str] = {}
    for ref, line in zip(refs, out, strict=True):
        parts = line.split()
        if len(parts) == 3 and parts[1] == "commit":
            found[ref] = parts[0]
    return found


def workspaces_at(git: gitio.Git, commit: str) -> list[tuple[str, RulesConfig]]:
    """The workspaces ``commit`` holds, as ``(folder, [rules])``: the one of the root
    ``ita.toml``, or, when there is none at the root, one for every ``ita.toml`` in the tree
    (``ita-rules init desk`` inside a repository), each protecting its own rules folder, and
    the root with the defaults still (a nested ``ita.toml`` added later never unprotects the
    root's ``rules/``). A :class:`ConfigError` naming the file when one does not load."""
    root = [("", config_at(git, commit))]
    if git.has_path(commit, CONFIG_NAME):
        return root
    listed = git.out(["ls-tree", "-r", "-z", "--name-only", commit]).decode(
        "utf-8", "surrogateescape"
    )
    nested = [p for p in listed.split("\0") if p.rpartition("/")[2] == CONFIG_NAME]
    return root + [(p.rpartition("/")[0], config_at(git, commit, p)) for p in sorted(nested)]


def _workspaces_of(git: gitio.Git, ref: str, commit: str) -> list[tuple[str, RulesConfig]]:
    """:func:`workspaces_at` for a ref before the push: a file that does not load means what
    is protected cannot be told, so every push is refused (naming ``REF:PATH``)."""
    try:
        return workspaces_at(git, commit)
    except ConfigError as exc:
        at = exc.location
        path = at.path if at else CONFIG_NAME
        where = Location(f"{ref}:{path}", at.line if at else None, at.col if at else None)
        raise ConfigError(exc.message, where) from None


def protection(git: gitio.Git) -> Protection:
    """What is protected before the push, read from the refs themselves: the
    ``rules.protected_refs`` patterns of every ref's tip (a pattern can only add protection),
    and the workspaces and rules folders of the first protected tip."""
    defaults = _default_branches(git)
    listed = git.out(["for-each-ref", "--format=%(refname)"])
    refs = [
        r
        for r in listed.decode("utf-8", "surrogateescape").split()
        if not r.startswith(REPLACE_PREFIX)
    ]
    heads = _peeled(git, refs)
    order = sorted(heads, key=lambda r: (r not in defaults, not r.startswith("refs/tags/"), r))
    seen: dict[str, list[tuple[str, RulesConfig]]] = {}
    for ref in order:  # the default branch and tags first: their file is named when it is wrong
        commit = heads[ref]
        if commit not in seen:
            seen[commit] = _workspaces_of(git, ref, commit)
    union = tuple(
        dict.fromkeys(
            p for spaces in seen.values() for _, cfg in spaces for p in cfg.protected_refs
        )
    )
    patterns = [full_pattern(p) for p in union]
    chosen = [
        r
        for r in refs
        if r in defaults or r.startswith("refs/tags/") or any(fnmatchcase(r, p) for p in patterns)
    ]
    chosen.sort(key=lambda r: (r not in defaults, r.startswith("refs/tags/"), r))
    tips = {r: heads[r] for r in chosen if r in heads}
    config, config_ref, config_commit = RulesConfig("rules", ()), "", ""
    spaces: list[tuple[str, RulesConfig]] = [("", config)]
    for ref, commit in tips.items():
        spaces, config_ref, config_commit = seen[commit], ref, commit
        config = spaces[0][1]
        break
    history = list(dict.fromkeys(tips.values()))
    folders: list[str] = []
    holding: list[str] = []
    for prefix, cfg in spaces:  # the root first: its folder is config.dir
        found = folders_in_history(git, history, config_path(prefix))
        own = [repo_folder(prefix, f) for f in (cfg.dir, *found)]
        folders += own
        if config_commit and any(git.has_path(config_commit, f) for f in own):
            holding.append(prefix)
    folders = list(dict.fromkeys(folders))
    return Protection(
        tips,
        defaults,
        config,
        config_ref,
        tuple(folders),
        bool(holding),
        workspaces=tuple(spaces),
        holding=tuple(holding),
        patterns=union,
    )

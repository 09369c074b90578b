"""What the server protects before a push (docs/architecture.md#enforcement), read from the
refs themselves, never from the pushed commits: the default branch (the branch HEAD names;
``main`` and ``master`` too when HEAD names a branch that does not exist), every tag, and every
ref (``refs/replace/`` aside) that a ``rules.protected_refs`` pattern names. The patterns are
read from every ref's tip (a pattern can only add protection), the workspaces and their rules
folders from the protected tips (a tip's root ``ita.toml``, else every ``ita.toml`` in its
tree) and from their history: a workspace that any commit of a protected ref had stays
protected whatever later commits do to the ``ita.toml`` files (a root one added, the nested
one deleted or renamed), so a push cannot switch protection off for the next one. An
``ita.toml`` that does not load at a protected tip refuses every push.
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
    # (workspace folder, its [rules]) at the protected tips (config_ref's first): the root one
    # first, then, for a tip with no ita.toml at the root, one for every ita.toml in its tree
    workspaces: tuple[tuple[str, RulesConfig], ...] = ()
    holding: tuple[str, ...] = ()  # the workspaces whose folders hold files at config_ref
    # the workspaces that only the protected history had (their folders are in ``folders``)
    former: tuple[str, ...] = ()
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


def _present(git: gitio.Git, names: list[str]) -> set[str]:
    """Which ``COMMIT:PATH`` of ``names`` exist, in one git process."""
    if not names:
        return set()
    request = "".join(f"{n}\n" for n in names).encode("utf-8", "surrogateescape")
    out = git.run(["cat-file", "--batch-check=%(objecttype)"], input=request).stdout
    answers = out.decode("utf-8", "surrogateescape").splitlines()
    return {n for n, a in zip(names, answers, strict=True) if not a.endswith(" missing")}


def former_workspaces(git: gitio.Git, tips: list[str]) -> list[str]:
    """The folders of the nested ``ita.toml`` files that were a workspace in some commit of the
    history of ``tips`` (one with no ``ita.toml`` at the root, see :func:`workspaces_at`). The
    commits that changed an ``ita.toml`` (merges against their first parent) and the tips are
    every state the files had, so each of them is asked, in one ``git log`` and one
    ``git cat-file``."""
    if not tips:
        return []
    args = ["log", "--full-history", "--diff-merges=first-parent", "--name-only", "-z"]
    args += ["--format=%x01%H", *tips, "--", f":(glob)**/{CONFIG_NAME}"]
    raw = git.out(args).decode("utf-8", "surrogateescape")
    commits: dict[str, None] = dict.fromkeys(tips)
    nested: dict[str, None] = {}
    for chunk in raw.split("\x01")[1:]:
        cid, *paths = chunk.split("\0")
        commits[cid] = None
        for path in (p.lstrip("\n") for p in paths):
            if path.rpartition("/")[2] == CONFIG_NAME and "/" in path and "\n" not in path:
                nested[path] = None
    if not nested:
        return []
    rooted = _present(git, [f"{c}:{CONFIG_NAME}" for c in commits])
    rootless = [c for c in commits if f"{c}:{CONFIG_NAME}" not in rooted]
    found = _present(git, [f"{c}:{p}" for c in rootless for p in nested])
    held = {name.partition(":")[2] for name in found}
    return [p.rpartition("/")[0] for p in nested if p in held]


def protection(git: gitio.Git) -> Protection:
    """What is protected before the push, read from the refs themselves: the
    ``rules.protected_refs`` patterns of every ref's tip (a pattern can only add protection),
    the workspaces of every protected tip (the first one's ``[rules]`` first), and those
    their history had (:func:`former_workspaces`), with every rules folder each ever set."""
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
    spaces: dict[str, RulesConfig] = {"": config}
    for ref, commit in tips.items():
        if not config_ref:
            config_ref, config_commit, config = ref, commit, seen[commit][0][1]
            spaces = {}
        for prefix, cfg in seen[commit]:
            spaces.setdefault(prefix, cfg)
    history = list(dict.fromkeys(tips.values()))
    former = [p for p in former_workspaces(git, history) if p not in spaces]
    folders: list[str] = []
    holding: list[str] = []
    for prefix in (*spaces, *former):  # the root first: its folder is config.dir
        found = folders_in_history(git, history, config_path(prefix))
        named = (spaces[prefix].dir,) if prefix in spaces else ()
        own = [repo_folder(prefix, f) for f in (*named, *found)]
        folders += own
        if prefix in spaces and config_commit and any(git.has_path(config_commit, f) for f in own):
            holding.append(prefix)
    folders = list(dict.fromkeys(folders))
    return Protection(
        tips,
        defaults,
        config,
        config_ref,
        tuple(folders),
        bool(holding),
        workspaces=tuple(spaces.items()),
        holding=tuple(holding),
        patterns=union,
        former=tuple(former),
    )

"""The server side: what a git ``pre-receive`` hook checks for each pushed ref
(``hooks/pre-receive`` runs ``ita-rules-hook-check --pre-receive``).

The server trusts nothing the push carries. A version is *released* once it is reachable from
a protected ref, as :mod:`ita_rules.rules.protection` reads them before the push.

Every pushed ref is checked, whatever its name: branches, tags, new, orphan and deleted ones.
A new tip is compared with its merge bases with the protected refs (every rule applies) and
with the protected tips themselves (a released file it holds with other content; for an
orphan, which shares no history, only that), so versions that only a feature branch holds
stay editable until they are merged. Deleting or rewinding a protected ref is refused, and so is
any new ``refs/replace/*`` ref: a replace ref changes what every reader of the repository sees
(every read runs with replace objects disabled anyway, see :mod:`ita_rules.core.gitio`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ita_rules.core import gitio
from ita_rules.core.config import CONFIG_NAME, RulesConfig
from ita_rules.core.errors import ConfigError, Location
from ita_rules.core.findings import Finding
from ita_rules.rules.compare import Between, CheckResult, compare_folders
from ita_rules.rules.folders import config_or_error, config_path, repo_folder, rules_dir_findings
from ita_rules.rules.protection import REPLACE_PREFIX, Protection, protection, workspaces_at
from ita_rules.rules.ranges import sent_audit

__all__ = ["Protection", "RefUpdate", "check_update", "pre_receive", "protection"]

# an orphan tip never held the protected files: their absence is no deletion
_ABSENT_CODES = frozenset({"released-deleted", "released-renamed"})


@dataclass
class RefUpdate:
    """One line of a pre-receive hook's input and its outcome."""

    ref: str
    old: str
    new: str
    result: CheckResult | None = None
    refused: list[str] = field(default_factory=list)


def _is_zero(oid: str) -> bool:
    return set(oid) == {"0"}


def _independent(git: gitio.Git, commits: dict[str, str]) -> dict[str, str]:
    """``commits`` without those that are an ancestor of another one."""
    if len(commits) < 2:
        return commits
    kept = set(git.out(["merge-base", "--independent", *commits]).decode().split())
    return {c: ref for c, ref in commits.items() if c in kept}


def _bases(git: gitio.Git, prot: Protection, new: str) -> list[tuple[str, str, str]]:
    """``(commit, protected ref, kind)`` to compare ``new`` with. ``base``: a merge base with a
    protected tip (everything in it is released: every rule applies); ``tip``: the protected
    tip itself, for released files that ``new`` holds with other content; ``orphan``: a tip
    ``new`` shares no history with (changed files only: an orphan never had the others)."""
    heads: dict[str, str] = {}
    for ref, tip in prot.tips.items():
        heads.setdefault(tip, ref)
    heads = _independent(git, heads)  # a tag behind the default branch adds nothing
    bases: dict[str, str] = {}
    out: list[tuple[str, str, str]] = []
    for tip, ref in heads.items():
        found = git.run(["merge-base", "--all", new, tip], check=False).stdout.decode().split()
        for base in found:
            bases.setdefault(base, ref)
        out.append((tip, ref, "tip" if found else "orphan"))
    kept = _independent(git, bases)
    tips = [t for t in out if t[0] not in kept]  # a tip that is a base is compared as one
    return [(c, ref, "base") for c, ref in kept.items()] + tips


def _config_findings(git: gitio.Git, prot: Protection, upd: RefUpdate, new: str) -> list[Finding]:
    """The pushed tip's ``ita.toml`` files may not move a rules folder, nor (on a protected
    ref) drop a protected pattern; each must load."""
    if not prot.config_ref:  # the first push: only whether its ita.toml files load
        try:
            workspaces_at(git, new)
        except ConfigError as exc:
            at = exc.location or Location(CONFIG_NAME)
            msg = f"does not load in this push: {exc.message}"
            return [Finding(at.path, msg, at.line, at.col, code="config")]
        return []
    out: list[Finding] = []
    try:  # every workspace it holds must load: they become the protected side's
        workspaces_at(git, new)
    except ConfigError as exc:
        at = exc.location or Location(CONFIG_NAME)
        if at.path not in (config_path(prefix) for prefix, _ in prot.workspaces):
            msg = f"does not load in this push: {exc.message}"
            out.append(Finding(at.path, msg, at.line, at.col, code="config"))
    for prefix, released in prot.workspaces or (("", prot.config),):
        path = config_path(prefix)
        head = config_or_error(git, new, path)
        out += rules_dir_findings(
            released,
            head,
            head_label="this push",
            base_label=prot.config_ref,
            holds_versions=prefix in prot.holding if prot.workspaces else prot.holds_versions,
            path=path,
        )
        if isinstance(head, RulesConfig) and prot.covers(upd.ref):
            for pattern in released.protected_refs:
                if pattern not in head.protected_refs:
                    out.append(
                        Finding(
                            path,
                            f'drops "{pattern}", protected in {prot.config_ref}; a push cannot '
                            "remove a protection (change it on the server)",
                            field="rules.protected_refs",
                            code="protection-dropped",
                        )
                    )
    return out


def check_update(git: gitio.Git, prot: Protection, upd: RefUpdate) -> None:
    """Fill in ``upd.refused`` and ``upd.result`` for one pushed ref."""
    ref = upd.ref
    if ref.startswith(REPLACE_PREFIX) and not _is_zero(upd.new):  # deleting one is welcome
        upd.refused.append(
            f"{ref}: replace refs change what every reader of the repository sees; "
            "they are refused here"
        )
        return
    protected = prot.covers(ref)
    if _is_zero(upd.new):
        if protected and not _is_zero(upd.old):
            upd.refused.append(f"{ref} is protected; deleting it would delete released versions")
        return
    new = git.commit_id(upd.new)
    if new is None:  # a tag of a tree or a blob: no rules to check
        return
    old = None if _is_zero(upd.old) else git.commit_id(upd.old)
    if protected and old is not None and not git.is_ancestor(old, new):
        upd.refused.append(
            f"{ref} is protected; a push that drops commits from it (a rewind or a force-push) "
            "is refused"
        )
    result = CheckResult("push", "", new[:12])
    result.findings.extend(_config_findings(git, prot, upd, new))
    # the protected side's folders (every one its workspaces ever had) and the pushed side's:
    # while nothing is released the push may say where its rules are (its folders first)
    pushed = _pushed_dirs(git, new)
    ends = (prot.folders, pushed) if prot.holds_versions else (pushed, prot.folders)
    folders = tuple(dict.fromkeys(f for side in ends for f in side))
    bases: list[tuple[str | None, str, str]] = []
    bases += _bases(git, prot, new) if prot.tips else [(None, "", "base")]
    for base, owner, kind in bases:
        label = f"{owner} before this push" if owner == ref else owner or "nothing released"
        part = compare_folders(git, folders, Between(base, new, label, new[:12], "push"))
        result.files = max(result.files, part.files)
        for f in part.findings:
            if (kind == "tip" and f.code != "released-changed") or (
                kind == "orphan" and f.code in _ABSENT_CODES
            ):
                continue
            key = (f.path, f.code, f.field)
            if not any(key == (g.path, g.code, g.field) for g in result.findings):
                result.findings.append(f)
    if protected:  # what it adds becomes released: the commits in between are audited too
        known = list(dict.fromkeys(prot.tips.values()))
        result.findings += sent_audit(git, new, folders, known, result.findings)
    result.findings.sort(key=lambda f: (f.path != CONFIG_NAME, f.path, f.line or 0, f.col or 0))
    result.released = ", ".join(dict.fromkeys(owner for _, owner, _ in bases))
    upd.result = result


def _pushed_dirs(git: gitio.Git, new: str) -> list[str]:
    """The rules folders the pushed commit names (an ``ita.toml`` that does not load is a
    finding of :func:`_config_findings`)."""
    try:
        return [repo_folder(prefix, cfg.dir) for prefix, cfg in workspaces_at(git, new)]
    except ConfigError:
        return ["rules"]


def pre_receive(git: gitio.Git, lines: Iterable[str]) -> list[RefUpdate]:
    """Check every pushed ref update (``old new ref`` lines on a pre-receive hook's stdin)."""
    updates = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            updates.append(RefUpdate(parts[2], parts[0], parts[1]))
    if not updates:
        return updates
    prot = protection(git)
    for upd in updates:
        check_update(git, prot, upd)
    return updates

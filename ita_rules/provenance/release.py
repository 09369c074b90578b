"""Whether the rule version a run uses is released, and what it may claim.

A version is *released* once its file is in the protected ref (``rules.protected_ref``; "" is
HEAD). A run records ``rule_released``:

* the file is not in the protected ref (a new version not committed or merged yet): the run
  goes ahead and its snapshot and result say ``rule_released: false``;
* the file is there and the one on disk has the same content, lifecycle fields (``active``,
  ``deprecation_reason``, ``tags``) aside: ``rule_released: true``;
* the file is there but its content was changed on disk: the run is refused, strict or not,
  with the diff — its result would carry the released version's name and another params_hash.

"There" is the content the version was released with. A commit that changed a released
version (made without the hooks: a fresh clone, ``--no-verify``, a host without the server
hook) does not make the change released: when the registry index (``.ita/index.sqlite``,
derived from git history) has seen such a change, the file is compared with the version as it
was introduced, so a run of it is refused as an edit on disk is, until the file is restored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ita_rules.core import gitio
from ita_rules.core.errors import Location, RuleError
from ita_rules.core.findings import dotted

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk


class ReleasedRuleModified(RuleError):
    """A run was asked to use a released rule version whose file differs from the release."""


def rule_released(workspace: Desk, snapshot: dict[str, Any]) -> bool | None:
    """``rule_released`` for a draft snapshot (None when the run has no rule); raise
    :class:`ReleasedRuleModified` when the file differs from its released blob."""
    rule_path, blob = snapshot.get("rule_path"), snapshot.get("rule_blob")
    if not rule_path:
        return None
    released = _released(workspace, workspace.root / rule_path)
    if released is None:
        return False
    if released.blob == blob:
        return True
    _compare(released, workspace.root / rule_path, rule_path, snapshot)
    return True


def refuse_changed_release(workspace: Desk, full: Path, setup_id: str, version: str) -> bool:
    """Raise :class:`ReleasedRuleModified` (with the diff) when ``full``, a rule file the
    registry refused (an edit that left its params_hash stale, say), is a released version
    whose content was changed; return otherwise (the registry's own error then stands: its
    advice, ``validate --fix``, is wrong for a released version): whether the version is
    released (``rule_released``, decided as for a run)."""
    released = _released(workspace, full)
    if released is None or not full.is_file():
        return released is not None
    try:
        shown = full.relative_to(workspace.root).as_posix()
    except ValueError:
        shown = str(full)
    snapshot = {"rule_id": setup_id, "rule_version": f"v{version}"}
    _compare(released, full, shown, snapshot)
    return True


class Released(NamedTuple):
    """A released version's file as released: the git access, its ``blob``, the ``ref`` to
    restore it from, and whether a later commit changed it (``changed_later``)."""

    git: gitio.Git
    blob: str
    ref: str
    changed_later: bool = False


def _released(workspace: Desk, full: Path) -> Released | None:
    """``full`` as released; None when the file is not in the protected ref (not committed or
    merged yet, or outside the repository). The released blob is the protected ref's, unless
    the history changed the version after its release (see the module): then the one it was
    introduced with."""
    top = gitio.toplevel(workspace.root)
    if top is None:
        return None
    git = gitio.Git(top)
    ref = workspace.settings.protected_ref
    if ref:
        commit: str | None = git.require_commit(ref, "protected ref (rules.protected_ref)")
    else:
        commit = git.commit_id("HEAD")
    if commit is None:
        return None
    try:
        in_repo = (full.parent.resolve() / full.name).relative_to(top.resolve()).as_posix()
    except ValueError:  # a rules folder outside the repository is never released
        return None
    entry = git.tree_entries(commit, in_repo).get(in_repo)
    if entry is None:
        return None
    introduced = _changed_since_introduced(workspace, in_repo)
    if introduced is not None:
        first = git.tree_entries(introduced, in_repo).get(in_repo)
        if first is not None:
            return Released(git, first[1], introduced[:12], changed_later=True)
    return Released(git, entry[1], ref or "HEAD")


def _changed_since_introduced(workspace: Desk, in_repo: str) -> str | None:
    """The commit that introduced the version at ``in_repo`` (its path in the repository) when
    a later commit of the indexed history changed it beyond its lifecycle fields, else None."""
    from ita_rules.rules.index import opened, source
    from ita_rules.rules.queries import introduced_if_changed

    settings = workspace.settings
    with opened(source(workspace.root, settings.rules_dir, settings.protected_ref)) as conn:
        return introduced_if_changed(conn, in_repo)


def _compare(released: Released, full: Path, shown: str, snapshot: dict[str, Any]) -> None:
    """Refuse when the file on disk changes the released one outside its lifecycle fields."""
    from ita_rules.rules.check import diff_lines, mutation, parse_blob

    blob = released.blob
    original, current = released.git.blobs([blob])[blob], full.read_bytes()
    if original == current:  # unchanged: whatever the registry refused, it was released so
        return
    old = parse_blob(original, shown)
    new = parse_blob(current, shown)
    if old.data is None or new.data is None or new.doc is None:
        changes: list[Any] = []
        where = Location(shown)
        field = ""
    else:
        changes = mutation(old.data, new.data)
        if not changes:
            return
        shown_changes = [c for c in changes if c.path[:1] != ("params_hash",)]
        changes = shown_changes or changes  # the hash follows the content: show the content
        first = changes[0].path
        where = Location(shown, *new.doc.position(first))
        field = f"{dotted(first)}: "
    setup_id, version = snapshot["rule_id"], snapshot["rule_version"]
    released_in = released.ref
    if released.changed_later:
        released_in = f"commit {released.ref}; a later commit changed it, which no commit may do"
    raise ReleasedRuleModified(
        f"{field}{setup_id}@{version} is released (in {released_in}) and this file differs from "
        "it: "
        f"a result would claim {version} without being it; restore the file "
        f"(git checkout {released.ref} -- {shown}) or make a new version "
        f"(ita-rules new-version {setup_id})" + (":" + diff_lines(changes) if changes else ""),
        where,
    )

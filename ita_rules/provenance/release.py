"""Whether the rule version a run uses is released, and what it may claim.

A version is *released* once its file is in the protected ref (``rules.protected_ref``; "" is
HEAD). A run records ``rule_released``:

* the file is not in the protected ref (a new version not committed or merged yet): the run
  goes ahead and its snapshot and result say ``rule_released: false``;
* the file is there and the one on disk has the same content, lifecycle fields (``active``,
  ``deprecation_reason``, ``tags``) aside: ``rule_released: true``;
* the file is there but its content was changed on disk: the run is refused, strict or not,
  with the diff — its result would carry the released version's name and another params_hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    git, entry_blob, label = released
    if entry_blob == blob:
        return True
    _compare(git, entry_blob, workspace.root / rule_path, rule_path, snapshot, label)
    return True


def refuse_changed_release(workspace: Desk, full: Path, setup_id: str, version: str) -> None:
    """Raise :class:`ReleasedRuleModified` (with the diff) when ``full``, a rule file the
    registry refused (an edit that left its params_hash stale, say), is a released version
    whose content was changed; return otherwise (the registry's own error then stands: its
    advice, ``validate --fix``, is wrong for a released version)."""
    released = _released(workspace, full)
    if released is None or not full.is_file():
        return
    git, entry_blob, label = released
    try:
        shown = full.relative_to(workspace.root).as_posix()
    except ValueError:
        shown = str(full)
    snapshot = {"rule_id": setup_id, "rule_version": f"v{version}"}
    _compare(git, entry_blob, full, shown, snapshot, label)


def _released(workspace: Desk, full: Path) -> tuple[gitio.Git, str, str] | None:
    """The git access, the released blob of ``full`` and the ref's label; None when the file
    is not in the protected ref (not committed or merged yet, or outside the repository)."""
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
    return git, entry[1], ref or "HEAD"


def _compare(
    git: gitio.Git, blob: str, full: Path, shown: str, snapshot: dict[str, Any], label: str
) -> None:
    """Refuse when the file on disk changes the released one outside its lifecycle fields."""
    from ita_rules.rules.check import diff_lines, mutation, parse_blob

    released, current = git.blobs([blob])[blob], full.read_bytes()
    if released == current:  # unchanged: whatever the registry refused, it was released so
        return
    old = parse_blob(released, shown)
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
    raise ReleasedRuleModified(
        f"{field}{setup_id}@{version} is released (in {label}) and this file differs from it: "
        f"a result would claim {version} without being it; restore the file "
        f"(git checkout {label} -- {shown}) or make a new version "
        f"(ita-rules new-version {setup_id})" + (":" + diff_lines(changes) if changes else ""),
        where,
    )

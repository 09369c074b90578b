"""The pre-commit check: the staged index against the released commit (``rules.protected_ref``,
by default HEAD), like a range whose head is the index."""

from __future__ import annotations

from ita_rules.core import gitio
from ita_rules.rules.compare import Between, CheckResult, compare, compare_folders
from ita_rules.rules.folders import released_folders


def staged(
    git: gitio.Git, rules_path: str, protected_ref: str = "", prefix: str | None = None
) -> CheckResult:
    """The staged index against the released ref (``protected_ref``, or HEAD). With ``prefix``
    (the workspace's folder in the repository) the rules folders are those of the released
    commit, as for a range: the ``rules.dir`` its ``ita.toml`` sets and every one its history
    named (``rules_path``, the configured one, only while none of them holds files), and an
    index whose ``ita.toml`` moves the folder is a finding: the file being committed cannot
    choose what is checked."""
    released: str | None
    if protected_ref:
        released = git.require_commit(protected_ref, "protected ref (rules.protected_ref)")
        label = protected_ref
    else:
        released = git.commit_id("HEAD")
        label = "HEAD"
    between = Between(released, None, label, "the index", "staged")
    with git.reading():  # one git cat-file answers every read of objects below
        if prefix is None or released is None:
            return compare(git, rules_path, between)
        side = released_folders(git, prefix, released, label, "", likely=rules_path)
        folders = list(side.folders)
        if not side.holds_versions:  # nothing released: the configured folder is the one
            folders.insert(0, rules_path)
        result = compare_folders(git, folders, between)
    result.findings[:0] = side.findings(head_label="the index", base_label=label)
    return result

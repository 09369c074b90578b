"""``check --base BASE [--head HEAD]``: a commit range (CI, pre-push, the server hook), and the
audit of the commits in between (:func:`sent_audit`): trees that compare equal can hide a
released version changed and changed back on the way."""

from __future__ import annotations

from collections.abc import Sequence

from ita_rules.core import gitio
from ita_rules.core.config import RulesConfig
from ita_rules.core.findings import Finding
from ita_rules.rules.compare import Between, CheckResult, compare_folders
from ita_rules.rules.folders import released_folders, repo_folder


def range_check(
    git: gitio.Git, prefix: str, base: str, head: str = "HEAD", known: Sequence[str] = ()
) -> CheckResult:
    """``check --base``: the rules folder is the one ``ita.toml`` sets in ``base`` (never the
    head's, nor the environment's), and every folder that held versions in ``base``'s history
    is checked too; a head that moves the folder is a finding. The commits between (those of
    ``head`` not in ``base``, nor in ``known``) are audited like ``check --history`` does."""
    base_id = git.require_commit(base, "base")
    head_id = git.require_commit(head, "head")
    prefix = "" if prefix in ("", ".") else prefix
    side = released_folders(git, prefix, base_id, base, head_id)
    folders = list(side.folders)
    head_cfg = side.head_config
    if not side.holds_versions and isinstance(head_cfg, RulesConfig):  # the head may say
        folders.insert(0, repo_folder(prefix, head_cfg.dir))
    result = compare_folders(git, folders, Between(base_id, head_id, base, head, "range"))
    result.findings[:0] = side.findings(head_label=head, base_label=base)
    result.findings += sent_audit(git, head_id, folders, [base_id, *known], result.findings)
    return result


def sent_audit(
    git: gitio.Git,
    tip: str,
    folders: Sequence[str],
    known: Sequence[str],
    already: Sequence[Finding] = (),
) -> list[Finding]:
    """The history audit of the commits ``tip`` adds to ``known`` (``git rev-list TIP --not
    KNOWN``): a released version changed and changed back, or deleted and restored, by commits
    in between leaves the compared trees equal but the history wrong, and ``check --history``
    would fail on it for ever. A single commit has nothing in between (comparing the trees says
    all), so the replay only runs for two commits or more; findings about a file and rule that
    ``already`` reports are left out."""
    listed = git.out(["rev-list", "--max-count=2", tip, "--not", *known]).split()
    if len(listed) < 2:
        return []
    sent = set(git.out(["rev-list", tip, "--not", *known]).decode().split())
    from ita_rules.rules.history import audit_folders

    reported = {(f.path, f.code) for f in already}
    kinds = {"history-changed": "released-changed", "history-deleted": "released-deleted"}
    kinds.update({"history-renamed": "released-renamed", "history-order": "version-order"})
    kinds["history-skip"] = "version-skip"
    found = audit_folders(git, tip, folders, sent)
    return [f for f in found if (f.path, kinds.get(f.code, f.code)) not in reported]

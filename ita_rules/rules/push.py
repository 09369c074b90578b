"""A push that names no range (pre-commit's pre-push stage gives none when the pushed commits
reach a root commit, e.g. the first push to an empty remote): exactly the commits it sends."""

from __future__ import annotations

from dataclasses import dataclass

from ita_rules.core import gitio
from ita_rules.core.config import RulesConfig
from ita_rules.rules.compare import Between, CheckResult, compare_folders
from ita_rules.rules.folders import config_path, named_folders, rules_dir_findings
from ita_rules.rules.ranges import range_check


@dataclass(frozen=True)
class Unpushed:
    """The commits a push sends: those reachable from its tip that the remote does not have."""

    commits: tuple[str, ...]
    bases: tuple[str, ...]  # their parents on the remote's side
    reaches_root: bool  # one of them has no parent: its history starts in this push


def unpushed(git: gitio.Git, tip: str, remote: str | None) -> Unpushed:
    """What pushing ``tip`` to ``remote`` sends, as far as the remote-tracking refs tell:
    ``git rev-list TIP --not --remotes=REMOTE`` (every remote's refs when the name is not a
    configured remote, e.g. a URL)."""
    names = git.out(["remote"]).decode("utf-8", "surrogateescape").split()
    scope = f"--remotes={remote}" if remote and remote in names else "--remotes"
    listed = git.out(["rev-list", "--parents", tip, "--not", scope]).decode().splitlines()
    commits = [line.split()[0] for line in listed]
    sent = set(commits)
    bases: dict[str, None] = {}
    root = False
    for line in listed:
        parents = line.split()[1:]
        root = root or not parents
        bases.update((p, None) for p in parents if p not in sent)
    return Unpushed(tuple(commits), tuple(bases), root)


def push_check(git: gitio.Git, prefix: str, tip_ref: str, remote: str | None) -> CheckResult:
    """A push that names no range (pre-commit's pre-push stage gives none when the pushed
    commits reach a root commit, e.g. the first push to an empty remote): check exactly the
    commits it sends (see :func:`unpushed`).

    * commits whose parents are on the remote: the range from each such parent, like
      ``check --base`` (the parent's versions are released);
    * commits that reach a root (nothing of their history is on the remote): the pushed tip
      against nothing released (every file validated, the version order) and the history audit
      of ``check --history`` restricted to these commits (a version file that an earlier commit
      made, changed outside its lifecycle fields, deleted or renamed by a later one), in every
      folder ``rules.dir`` named in the tip's history.
    """
    from ita_rules.rules.history import audit_folders

    tip = git.require_commit(tip_ref, "pushed ref")
    prefix = "" if prefix in ("", ".") else prefix
    sent = unpushed(git, tip, remote)
    result = CheckResult("push", "", tip_ref)
    parts = [range_check(git, prefix, base, tip, sent.bases) for base in sent.bases]
    released = list(sent.bases)
    if sent.reaches_root:
        released.append("nothing on the remote")
        folders, tip_cfg = named_folders(git, tip, prefix)
        between = Between(None, tip, "nothing on the remote", tip_ref, "push")
        part = compare_folders(git, folders, between)
        part.findings[:0] = rules_dir_findings(
            RulesConfig("rules", ()),
            tip_cfg,
            head_label=tip_ref,
            base_label="",
            holds_versions=False,
            path=config_path(prefix),
        )
        part.findings += audit_folders(git, tip, folders, set(sent.commits))
        parts.append(part)
    seen: set[tuple[str, str]] = set()
    for part in parts:
        result.files = max(result.files, part.files)
        for f in part.findings:
            if (str(f), f.code) not in seen:
                seen.add((str(f), f.code))
                result.findings.append(f)
    result.released = ", ".join(released)
    return result

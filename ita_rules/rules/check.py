"""``check``: a change compared with the released history, against git (docs/architecture.md
#released-versions). One entry point, :func:`run_check`, over the modules that do the work:

* :mod:`~ita_rules.rules.compare`: one comparison, the head's rules folder against the versions
  released in a base (deleted, renamed or changed released files; the order and the bump of new
  versions; every new or changed file validated like ``validate``);
* :mod:`~ita_rules.rules.staged`: the staged index against the released ref (pre-commit);
* :mod:`~ita_rules.rules.ranges`: ``--base REF [--head REF]`` (CI, pre-push, the pre-receive
  server hook) and the audit of the commits in between;
* :mod:`~ita_rules.rules.push`: a push that names no range (its commits reach a root commit);
* :mod:`~ita_rules.rules.folders`: the rules folders as the released side's commits name them;
* :mod:`~ita_rules.rules.blobs` and :mod:`~ita_rules.rules.diffing`: rule files read from git,
  and what changed between two versions.

The whole history (``--history``) is audited by :mod:`ita_rules.rules.history` through the
registry index. A version file is *released* once it is in the released ref
(``rules.protected_ref``, by default HEAD; ``--base`` in a range). The contents are read from
git (``git cat-file --batch``), never from the work tree, so what is checked is what is
committed or staged. On the hook path: no typer, and deepdiff only when a readable diff has to
be shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ita_rules.core import gitio
from ita_rules.core.errors import UsageError
from ita_rules.core.findings import Finding
from ita_rules.core.fsutil import printable
from ita_rules.rules.blobs import parse_blob
from ita_rules.rules.compare import CheckResult
from ita_rules.rules.diffing import diff_lines, mutation
from ita_rules.rules.folders import repo_folder, rules_path_in_repo
from ita_rules.rules.staged import staged

if TYPE_CHECKING:
    from ita_rules.rules.validate import ValidationReport

_HASH_CODES = frozenset({"hash-missing", "hash-mismatch"})  # what --fix may write away

# imported from here by provenance/release.py and tests/test_config.py
__all__ = [
    "CheckResult",
    "diff_lines",
    "fix_hashes",
    "mutation",
    "parse_blob",
    "printable_finding",
    "repo_folder",
    "rules_path_in_repo",
    "run_check",
]


def run_check(
    root: Path,
    rules_dir: Path,
    protected_ref: str = "",
    *,
    base: str | None = None,
    head: str | None = None,
    pushed: str | None = None,
    remote: str | None = None,
    history: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CheckResult:
    """``ita-rules check`` for the workspace at ``root``: staged changes, or ``base..head``,
    or (``pushed``: the ref a push sends, with the ``remote`` it goes to) the commits of a push
    that names no range (see :func:`~ita_rules.rules.push.push_check`), or (``history``) the
    whole history through the registry index (``progress`` follows its refresh)."""
    if history:
        if base or head:
            raise UsageError("--history audits the whole history; it takes no --base/--head")
        from ita_rules.rules.index import source
        from ita_rules.rules.queries import history_check

        return history_check(source(root, rules_dir, protected_ref), progress)
    staged_check = base is None and pushed is None
    if staged_check:  # HEAD is read with the work tree's top: one git process for both
        top, head_commit = gitio.toplevel_and_head(root)
    else:
        top, head_commit = gitio.toplevel(root), None
    if top is None:
        raise UsageError(f"{root} is not inside a git repository; `check` compares against git")
    git = gitio.Git(top)
    if staged_check:
        git.known_commit("HEAD", head_commit)
    rules_path = rules_path_in_repo(top, rules_dir)
    if head is not None and base is None:
        raise UsageError("--head needs --base (the ref whose versions count as released)")
    if base is not None:  # (ranges and pushes imported only here: not on the commit's path)
        from ita_rules.rules.ranges import range_check

        result = range_check(git, rules_path_in_repo(top, root), base, head or "HEAD")
    elif pushed is not None:
        from ita_rules.rules.push import push_check

        result = push_check(git, rules_path_in_repo(top, root), pushed, remote)
    else:
        result = staged(git, rules_path, protected_ref, rules_path_in_repo(top, root))
        if (top / ".git" / "MERGE_HEAD").exists() or not (top / ".git").is_dir():
            result.findings += made_twice(git, rules_path)
    result.findings = [printable_finding(f) for f in result.findings]
    return result


def made_twice(git: gitio.Git, rules_path: str) -> list[Finding]:
    """A merge being committed (``MERGE_HEAD``) whose two sides each made a version file
    that their merge bases lack, with other content (lifecycle fields aside): whichever the
    index keeps, both are in its history then, and the version has two contents (a run of
    either may name it). Found at commit time, before a push or the history audit refuses
    it for good."""
    merging = git.commit_id("MERGE_HEAD")
    if merging is None:
        return []
    from ita_rules.rules.blobs import is_rule_path, version_of
    from ita_rules.rules.scan import strip_lifecycle

    ours, theirs = git.tree_entries("HEAD", rules_path), git.tree_entries(merging, rules_path)
    both = [p for p in ours if p in theirs and ours[p][1] != theirs[p][1]]
    both = [p for p in both if is_rule_path(p, rules_path)]
    if not both:
        return []
    bases = git.run(["merge-base", "--all", "HEAD", merging], check=False).stdout.decode()
    for base in bases.split():
        known = git.tree_entries(base, *both)
        both = [p for p in both if p not in known]
    out: list[Finding] = []
    for path in both:
        texts = git.blobs([ours[path][1], theirs[path][1]])
        a, b = (texts.get(side[path][1], b"").decode("utf-8", "replace") for side in (ours, theirs))
        plain_a, plain_b = strip_lifecycle(a), strip_lifecycle(b)
        if (a == b) if plain_a is None or plain_b is None else (plain_a == plain_b):
            continue
        made = [
            git.out(["log", "-1", "--format=%H", "--diff-filter=A", rev, "--", path])
            .decode()
            .strip()[:12]
            for rev in ("HEAD", merging)
        ]
        setup, version = version_of(path) or ("", "")
        out.append(
            Finding(
                path,
                f"version {version} was made twice: the merged branch (commit {made[1]}) made it "
                f"with other content than this one (commit {made[0]}); a released version has "
                "one content: abort the merge (git merge --abort), renumber the merged branch's "
                f"version (rebase it on this one, `ita-rules new-version {setup}`) and merge again",
                code="version-twice",
            )
        )
    return out


def printable_finding(f: Finding) -> Finding:
    """``f`` with a path that is not UTF-8 (a file name git gives as bytes) shown escaped, in
    its place and in its message: one line that can be printed, not an internal error."""
    path, message = printable(f.path), printable(f.message)
    if path == f.path and message == f.message:
        return f
    return f._replace(path=path, message=message)


def unless_written(findings: Sequence[Finding], written: Sequence[str]) -> list[Finding]:
    """``findings`` without the missing or wrong hashes of the files whose hash was just
    ``written`` (by :func:`fix_hashes`): the hook says it wrote them, not how to."""
    done = set(written)
    return [f for f in findings if not (f.code in _HASH_CODES and f.path in done)]


def fix_hashes(
    top: Path, rules_dir: Path, protected_ref: str, findings: Sequence[Finding]
) -> ValidationReport | None:
    """The pre-commit hook's ``validate --fix`` after the staged check: the work-tree files of
    ``findings`` (repository paths, as the check gives them, under ``top``) with a missing or
    wrong params_hash, validated again as :func:`~ita_rules.rules.validate.validate_paths`
    does with ``fix``: the hash of a version not released yet is written, a released one's is
    never. None (nothing read, nothing imported) when no finding is about a hash."""
    names = dict.fromkeys(f.path for f in findings if f.code in _HASH_CODES)
    paths = [top / name for name in names if (top / name).is_file()]
    if not paths:
        return None
    from ita_rules.rules.registry import Registry
    from ita_rules.rules.validate import validate_paths

    registry = Registry(rules_dir, top)
    return validate_paths(registry, paths, fix=True, released_in=protected_ref or "HEAD")

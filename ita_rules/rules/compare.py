"""One comparison: the rules folder of a head (a commit, or the staged index) against the
versions released in a base, file by file (docs/architecture.md#released-versions).

* a released file deleted or renamed -> error;
* a released file changed outside ``active``, ``deprecation_reason`` and ``tags`` -> error
  with the diff;
* a new version must be greater than every released version of its setup, follow its
  predecessor without a skip, differ from it (``params_hash``) and use a major bump when a key
  or a component is added or removed (:mod:`ita_rules.rules.ordering`);
* every new or changed file is validated like ``ita-rules validate`` (schema, naming, hash).

The contents are read from git (``git cat-file --batch``), never from the work tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ita_rules.core import gitio
from ita_rules.core.findings import Finding, dotted
from ita_rules.rules.blobs import (
    SYMLINK_MODE,
    Parsed,
    is_nested,
    is_rule_path,
    is_version_path,
    parse_blob,
    version_of,
)
from ita_rules.rules.diffing import diff_lines, mutation
from ita_rules.rules.ordering import order_findings, predecessors
from ita_rules.rules.outcome import Outcome


class CheckResult(Outcome):
    """What one check looked at and every problem it found (a plain class, filled in as the
    check goes: see :class:`~ita_rules.core.errors.Location`)."""

    FIELDS = ("mode", "released", "head", "files", "findings")

    def __init__(
        self,
        mode: str,
        released: str,
        head: str,
        files: int = 0,
        findings: list[Finding] | None = None,
    ) -> None:
        self.mode = mode  # "staged", "range", "history" or "push"
        self.released = released  # the ref whose versions count as released, as named
        self.head = head  # "the index" or a ref
        self.files = files
        self.findings: list[Finding] = [] if findings is None else findings


class Between(NamedTuple):
    """What a comparison compares: the released commit (None: nothing released yet) and the
    head (None: the staged index), the names they are shown by, and the check's mode."""

    released: str | None
    head: str | None
    released_label: str
    head_label: str
    mode: str

    def result(self) -> CheckResult:
        return CheckResult(self.mode, self.released_label, self.head_label)


class _Side(NamedTuple):
    """One tree (a commit's or the index's) restricted to the rules folder."""

    label: str
    entries: dict[str, tuple[str, str]]  # path -> (mode, blob)


class _Changed(NamedTuple):
    """The rule files of a comparison that are new or changed in the head."""

    changed: list[str]  # to validate
    added: list[str]
    modified: list[str]


def compare(git: gitio.Git, rules_path: str, between: Between) -> CheckResult:
    """Check the rules folder of ``between.head`` against the versions released in
    ``between.released``."""
    result = between.result()
    label = between.released_label
    changes = git.changes(between.released or git.empty_tree(), between.head, rules_path)
    if not changes:
        return result
    released_entries = _released_entries(git, between.released, changes, rules_path)
    released = _Side(label, released_entries)
    head_entries = _head_entries(git, between.head, released_entries, changes, rules_path)
    head = _Side(between.head_label, head_entries)
    files = _classify(changes, rules_path, released, result)
    result.files += len(files.changed)
    if not files.changed:
        return result
    new_blobs = {p: head.entries[p][1] for p in files.changed if p in head.entries}
    old_blobs = {p: released.entries[p][1] for p in files.modified if p in released.entries}
    preds = predecessors(files.added, released.entries, head.entries)
    pred_blobs = {p: (head.entries.get(p) or released.entries[p])[1] for p in preds.values() if p}
    contents = git.blobs([*new_blobs.values(), *old_blobs.values(), *pred_blobs.values()])
    parsed: dict[str, Parsed] = {}
    for path in files.changed:
        mode, blob = head.entries.get(path, ("", ""))
        if mode == SYMLINK_MODE:
            message = "is a symbolic link; rule files must be regular files"
            result.findings.append(Finding(path, message, code="symlink"))
            continue
        was_released = label if path in old_blobs else None
        parsed[path] = parse_blob(contents.get(blob, b""), path, was_released)
        result.findings.extend(parsed[path].findings)
    for path in files.modified:
        if path in parsed and path in old_blobs:
            before = parse_blob(contents.get(old_blobs[path], b""), path)
            result.findings.extend(_mutation_findings(before, parsed[path], label))

    def read(path: str) -> Parsed:
        return parse_blob(contents.get(pred_blobs.get(path, ""), b""), path)

    result.findings.extend(order_findings(files.added, parsed, preds, read, released.entries))
    result.findings.sort(key=lambda f: (f.path, f.line or 0, f.col or 0))
    return result


_MAX_FOLDERS = 1000  # more changes than this: the whole rules folder in one listing


def _folders(changes: Sequence[gitio.DiffEntry], rules_path: str) -> list[str]:
    """The folders holding the old and new paths of ``changes`` (pathspecs for git), or the
    whole rules folder when there are many."""
    if len(changes) > _MAX_FOLDERS:
        return [rules_path]
    return list(dict.fromkeys(p.rpartition("/")[0] or "." for c in changes for p in c[1:3]))


def _released_entries(
    git: gitio.Git, released: str | None, changes: Sequence[gitio.DiffEntry], rules_path: str
) -> dict[str, tuple[str, str]]:
    """The released side of a comparison. Only the folders of the changed files matter (the
    changed files' released versions, the setup's released versions, the predecessors), and
    only the files directly in them: reading those, not the whole registry, keeps a commit's
    check small in a large one."""
    if released is None:
        return {}
    if len(changes) > _MAX_FOLDERS:
        return git.tree_entries(released, rules_path)
    return git.files_in(released, _folders(changes, rules_path))


def _head_entries(
    git: gitio.Git,
    head: str | None,
    released: dict[str, tuple[str, str]],
    changes: Sequence[gitio.DiffEntry],
    rules_path: str,
) -> dict[str, tuple[str, str]]:
    """The head side, where the released side was read: those files as the diff leaves them
    (what it deletes or renames gone, what it adds or changes with its new mode and blob),
    not listed again. An unmerged file (status ``U``) has no blob in the diff: then the head
    is listed (the index's stages, as ``git ls-files -s`` gives them)."""
    if any(c.status == "U" for c in changes):
        return git.tree_entries(head, *_folders(changes, rules_path))
    entries = dict(released)
    for c in changes:
        if c.status in "DR":
            entries.pop(c.old, None)
        if c.status != "D":
            entries[c.new] = (c.new_mode, c.new_blob)
    return entries


def _classify(
    changes: Iterable[gitio.DiffEntry], rules_path: str, released: _Side, result: CheckResult
) -> _Changed:
    """Sort the changes (``git diff --raw``) into the files to check; a deleted, renamed,
    misplaced or unmerged file is a finding in ``result`` right away."""
    out = _Changed([], [], [])
    label = released.label
    for change in changes:
        status, old, new = change.status, change.old, change.new
        was_version = old in released.entries and is_version_path(old, rules_path)
        if (
            status in "ACMTR"
            and change.new_mode == SYMLINK_MODE
            and _linked_folder(new, rules_path)
        ):
            message = "is a symbolic link; rule folders must be real folders"
            result.findings.append(Finding(new, message, code="symlink"))
            result.files += 1
            if status == "R" and was_version:
                result.findings.append(_renamed(old, new, label))
        elif status in "ACMTR" and is_rule_path(new, rules_path) and is_nested(new, rules_path):
            result.findings.append(_misplaced(new, rules_path))
            result.files += 1
            if status == "R" and was_version:
                result.findings.append(_renamed(old, new, label))
        elif status == "D" and was_version:
            result.findings.append(_deleted(old, label))
        elif status == "R":
            if was_version:
                result.findings.append(_renamed(old, new, label))
            if is_rule_path(new, rules_path):
                out.changed.append(new)
                out.added.append(new)
        elif status in "MT" and is_rule_path(new, rules_path):
            out.changed.append(new)
            out.modified.append(new)
        elif status in "AC" and is_rule_path(new, rules_path):
            out.changed.append(new)
            out.added.append(new)
        elif status == "U" and is_rule_path(new, rules_path):
            message = "is unmerged; resolve the conflict first"
            result.findings.append(Finding(new, message, code="unmerged"))
    return out


def _linked_folder(path: str, rules_path: str) -> bool:
    """Whether a symbolic link at ``path`` may stand for a folder of the rules folder, which
    ``validate`` refuses (``rules/London_FVG_v1`` -> a folder elsewhere): git does not say what
    a link points to, so any link under the rules folder that is not a rule file (those are
    refused as files) and not hidden."""
    prefix = "" if rules_path in ("", ".") else rules_path.rstrip("/") + "/"
    name = path.rpartition("/")[2]
    return (
        path.startswith(prefix) and not is_rule_path(path, rules_path) and not name.startswith(".")
    )


def _misplaced(path: str, rules_path: str) -> Finding:
    """The refusal ``validate`` gives a file that is not directly in its setup folder."""
    where = "." if rules_path in ("", ".") else rules_path.rstrip("/")
    folder, _, name = path.rpartition("/")
    message = (
        f"rule files sit directly in their setup folder ({where}/{{setup_id}}/"
        f"v{{MAJOR}}.{{MINOR}}.yaml); move it to {where}/{folder.rpartition('/')[2]}/{name}"
    )
    return Finding(path, message, code="layout")


def _deleted(path: str, label: str) -> Finding:
    sv = version_of(path)
    ref = f"{sv[0]}@{sv[1]}" if sv else "SETUP@VERSION"
    return Finding(
        path,
        f"is released (in {label}) and was deleted; a released version is never deleted: "
        f"restore it and deprecate it instead (ita-rules deprecate {ref} --reason TEXT)",
        code="released-deleted",
    )


def _renamed(old: str, new: str, label: str) -> Finding:
    return Finding(
        old,
        f"is released (in {label}) and was renamed to {new}; a released version is never "
        "renamed: restore it and add a new version instead",
        code="released-renamed",
    )


def _mutation_findings(old: Parsed, new: Parsed, label: str) -> list[Finding]:
    if old.data is None or new.data is None or new.doc is None:
        return []
    changes = mutation(old.data, new.data)
    if not changes:
        return []
    first = changes[0].path
    line, col = new.doc.position(first)
    setup = old.data.get("setup_id", "SETUP")
    return [
        Finding(
            new.path,
            f"is released (in {label}): only active, deprecation_reason and tags may change; "
            f"make a new version for this change (ita-rules new-version {setup}):"
            + diff_lines(changes),
            line,
            col,
            dotted(first),
            code="released-changed",
        )
    ]


def compare_folders(git: gitio.Git, folders: Sequence[str], between: Between) -> CheckResult:
    """:func:`compare` for the configured folder (``folders[0]``) and every other folder that
    holds files in ``between.released``; the findings of all of them."""
    result = between.result()
    seen: set[tuple[str, str, str, int, int]] = set()
    for n, folder in enumerate(dict.fromkeys(folders)):
        if n and (between.released is None or not git.has_path(between.released, folder)):
            continue
        part = compare(git, folder, between)
        result.files += part.files
        for f in part.findings:
            key = (f.path, f.code, f.field, f.line or 0, f.col or 0)
            if key not in seen:
                seen.add(key)
                result.findings.append(f)
    return result

"""``check``: the immutability and versioning rules of released rule versions, against git.

Three inputs, one code path: the staged index vs the released ref (pre-commit), a commit range
``--base REF [--head REF]`` (CI, pre-push, the pre-receive server hook), and the whole history
(``--history``, via the registry index in :mod:`ita_rules.rules.history`). A push that names no
range (pre-push, when the pushed commits reach a root commit) combines them: see
:func:`push_check`.

A version file is *released* once it is in the released ref (``rules.protected_ref``, by
default HEAD; ``--base`` in a range). The check compares the released tree with the new one:

* a released file deleted or renamed -> error;
* a released file changed outside ``active``, ``deprecation_reason`` and ``tags`` -> error
  with the diff;
* a new version must be greater than every released version of its setup, follow its
  predecessor without a skip, differ from it (``params_hash``) and use a major bump when a key
  or a component is added or removed;
* every new or changed file is validated like ``ita-rules validate`` (schema, naming, hash).

A range takes nothing from its head: the rules folder is ``rules.dir`` of ``ita.toml`` in the
base (not the head's, not ``ITA_RULES_DIR``), every folder that ``rules.dir`` named in the
base's history is checked too, and a head that moves the folder is a finding. The staged check
does the same with the released commit (HEAD) as the base and the index as the head. A range
of two commits or more is also audited commit by commit (:func:`sent_audit`): trees that
compare equal can hide a released version changed and changed back in between.

The contents are read from git (``git cat-file --batch``), never from the work tree, so what is
checked is what is committed or staged. On the hook path: no typer, and deepdiff only when a
readable diff has to be shown.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core import canonical, gitio
from ita_rules.core.config import CONFIG_NAME, RulesConfig, rules_config
from ita_rules.core.errors import ConfigError, Location
from ita_rules.core.findings import Finding, dotted
from ita_rules.core.fsutil import printable
from ita_rules.rules.model import FILE_RE, LIFECYCLE_FIELDS, Version

if TYPE_CHECKING:
    from ita_rules.core import yamlio


MAX_DIFF_LINES = 8
SYMLINK_MODE = "120000"


@dataclass
class CheckResult:
    """What one check looked at and every problem it found."""

    mode: str  # "staged", "range" or "history"
    released: str  # the ref whose versions count as released, as the user named it
    head: str  # "the index" or a ref
    files: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "released": self.released,
            "head": self.head,
            "files": self.files,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass
class Parsed:
    """One rule file read from git: its document (when it is YAML) and its validation findings."""

    path: str
    doc: yamlio.Document | None
    findings: list[Finding]

    @property
    def data(self) -> dict[str, Any] | None:
        d = self.doc.data if self.doc is not None else None
        return d if isinstance(d, dict) else None


def parse_blob(raw: bytes, display: str, released: str | None = None) -> Parsed:
    """Validate rule file contents read from git, exactly as ``validate`` does a file on disk
    (the same decoding, loader and checks: one code path). ``released``: the ref in which this
    file is a released version (its wrong hash is then not a slip for ``--fix``)."""
    from ita_rules.core import yamlio
    from ita_rules.rules.load import Released, check_document

    text, findings = yamlio.decode(raw, display)
    if text is None:
        return Parsed(display, None, findings)
    doc, findings = yamlio.loads(text, display, raw_scalars=("version",))
    if doc is None:
        return Parsed(display, None, findings)
    release = Released(released) if released is not None else None
    findings, _computed = check_document(doc, Path(display), released=release)
    return Parsed(display, doc, findings)


@lru_cache(maxsize=65536)  # called for every path of every commit of a history replay
def is_rule_path(path: str, rules_path: str) -> bool:
    """True for YAML files under the rules folder (what ``validate`` would look at)."""
    prefix = "" if rules_path in ("", ".") else rules_path.rstrip("/") + "/"
    name = path.rpartition("/")[2]
    return path.startswith(prefix) and name.endswith((".yaml", ".yml")) and not name.startswith(".")


@lru_cache(maxsize=65536)
def is_nested(path: str, rules_path: str) -> bool:
    """True for a path more than one folder below the rules folder (``rules/X/N/v1.0.yaml``):
    not where a rule version lives, so never one (validate refuses it the same way)."""
    prefix = "" if rules_path in ("", ".") else rules_path.rstrip("/") + "/"
    return path.startswith(prefix) and path.count("/", len(prefix)) > 1


def is_version_path(path: str, rules_path: str) -> bool:
    """A rule file where a version lives: under the rules folder, not nested deeper."""
    return is_rule_path(path, rules_path) and not is_nested(path, rules_path)


@lru_cache(maxsize=65536)
def version_of(path: str) -> tuple[str, Version] | None:
    """``rules/X/v1.2.yaml`` -> ``("X", 1.2)``; None when the name is not a version file."""
    folder, _, name = path.rpartition("/")
    m = FILE_RE.fullmatch(name)
    if m is None or not folder:
        return None
    return folder.rpartition("/")[2], Version.parse(m.group(1))


def diff_lines(changes: Iterable[Any]) -> str:
    """A few readable diff lines (``~ params.x: 1 -> 2``) to append to a message."""
    items = [str(c) for c in changes]
    shown = items[:MAX_DIFF_LINES]
    if len(items) > MAX_DIFF_LINES:
        shown.append(f"... and {len(items) - MAX_DIFF_LINES} more")
    return "".join(f"\n    {line}" for line in shown)


def _strip(data: Mapping[str, Any], drop: Iterable[str]) -> bytes:
    dropped = set(drop)
    return canonical.canonical_json({k: v for k, v in data.items() if k not in dropped})


def mutation(old: dict[str, Any], new: dict[str, Any]) -> list[Any]:
    """The changes of a released version outside its lifecycle fields (empty: allowed)."""
    if _strip(old, LIFECYCLE_FIELDS) == _strip(new, LIFECYCLE_FIELDS):
        return []
    from ita_rules.rules.diffing import diff

    return [c for c in diff(old, new) if c.path and c.path[0] not in LIFECYCLE_FIELDS]


def _walk_bump(a: Any, b: Any) -> str | None:
    """ "major" when a key is added/removed anywhere, "minor" for values only, None: unsure."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return "major"
        verdict = "minor"
        for key in a:
            sub = _walk_bump(a[key], b[key])
            if sub is None or sub == "major":
                return sub
        return verdict
    if isinstance(a, dict) or isinstance(b, dict):
        return "major"
    if isinstance(a, list) and isinstance(b, list):
        nested = any(isinstance(x, (dict, list)) for x in (*a, *b))
        return None if nested else "minor"
    if isinstance(a, list) or isinstance(b, list):
        return None
    return "minor"


def bump_needed(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, list[Any]]:
    """The bump ``new`` needs over ``old`` (``none``/``minor``/``major``) and the deciding
    changes. A quick structural walk answers the common cases; deepdiff (via
    :func:`ita_rules.rules.diffing.required_bump`) decides the rest and renders the diff."""
    a, b = canonical.hashed_content(old), canonical.hashed_content(new)
    if canonical.canonical_json(a) == canonical.canonical_json(b):
        return "none", []
    quick: str | None
    if set(a.get("components") or []) != set(b.get("components") or []):
        quick = "major"
    else:
        rest_a = {k: v for k, v in a.items() if k != "components"}
        rest_b = {k: v for k, v in b.items() if k != "components"}
        quick = _walk_bump(rest_a, rest_b)
    if quick == "minor":
        return "minor", []
    from ita_rules.rules.diffing import required_bump

    level, changes = required_bump(old, new)
    return level, list(changes)


@dataclass(frozen=True)
class _Side:
    """One tree (a commit's or the index's) restricted to the rules folder."""

    label: str
    entries: dict[str, tuple[str, str]]  # path -> (mode, blob)


def compare(
    git: gitio.Git,
    rules_path: str,
    released_commit: str | None,
    head_commit: str | None,
    *,
    released_label: str,
    head_label: str,
    mode: str,
) -> CheckResult:
    """Check the rules folder of ``head_commit`` (None: the staged index) against the
    versions released in ``released_commit`` (None: nothing released yet)."""
    result = CheckResult(mode, released_label, head_label)
    released = _Side(
        released_label, git.tree_entries(released_commit, rules_path) if released_commit else {}
    )
    head = _Side(head_label, git.tree_entries(head_commit, rules_path))
    statuses = git.name_status(released_commit or git.empty_tree(), head_commit, rules_path)
    changed: list[str] = []  # new paths to validate
    added: list[str] = []
    modified: list[str] = []
    for status, old, new in statuses:
        was_version = old in released.entries and is_version_path(old, rules_path)
        if status in "ACMTR" and is_rule_path(new, rules_path) and is_nested(new, rules_path):
            result.findings.append(_misplaced(new, rules_path))
            result.files += 1
            if status == "R" and was_version:
                result.findings.append(_renamed(old, new, released_label))
        elif status == "D" and was_version:
            result.findings.append(_deleted(old, released_label))
        elif status == "R":
            if was_version:
                result.findings.append(_renamed(old, new, released_label))
            if is_rule_path(new, rules_path):
                changed.append(new)
                added.append(new)
        elif status in "MT" and is_rule_path(new, rules_path):
            changed.append(new)
            modified.append(new)
        elif status in "AC" and is_rule_path(new, rules_path):
            changed.append(new)
            added.append(new)
        elif status == "U" and is_rule_path(new, rules_path):
            result.findings.append(
                Finding(new, "is unmerged; resolve the conflict first", code="unmerged")
            )
    result.files += len(changed)
    if not changed:
        return result
    new_blobs = {p: head.entries[p][1] for p in changed if p in head.entries}
    old_blobs = {p: released.entries[p][1] for p in modified if p in released.entries}
    preds = _predecessors(added, released, head)
    pred_blobs = {p: (head.entries.get(p) or released.entries[p])[1] for p in preds.values() if p}
    contents = git.blobs([*new_blobs.values(), *old_blobs.values(), *pred_blobs.values()])
    parsed: dict[str, Parsed] = {}
    for path in changed:
        mode_, blob = head.entries.get(path, ("", ""))
        if mode_ == SYMLINK_MODE:
            result.findings.append(
                Finding(
                    path, "is a symbolic link; rule files must be regular files", code="symlink"
                )
            )
            continue
        was_released = released_label if path in old_blobs else None
        parsed[path] = parse_blob(contents.get(blob, b""), path, was_released)
        result.findings.extend(parsed[path].findings)
    for path in modified:
        if path in parsed and path in old_blobs:
            before = parse_blob(contents.get(old_blobs[path], b""), path)
            result.findings.extend(_mutation_findings(before, parsed[path], released_label))
    result.findings.extend(_order_findings(added, parsed, preds, pred_blobs, contents, released))
    result.findings.sort(key=lambda f: (f.path, f.line or 0, f.col or 0))
    return result


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def _predecessors(added: list[str], released: _Side, head: _Side) -> dict[str, str | None]:
    """For each added version file, the file of the version just below it (None: the first)."""
    folders = {_folder(p) for p in added}
    known: dict[str, dict[Version, str]] = {}
    for path in (*released.entries, *head.entries):
        folder = _folder(path)
        sv = version_of(path) if folder in folders else None
        if sv is not None:
            known.setdefault(folder, {}).setdefault(sv[1], path)
    out: dict[str, str | None] = {}
    for path in added:
        sv = version_of(path)
        if sv is None:
            continue
        versions = known.get(_folder(path), {})
        lower = [v for v in versions if v < sv[1]]
        out[path] = versions[max(lower)] if lower else None
    return out


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


def _order_findings(
    added: list[str],
    parsed: Mapping[str, Parsed],
    preds: Mapping[str, str | None],
    pred_blobs: Mapping[str, str],
    contents: Mapping[str, bytes],
    released: _Side,
) -> list[Finding]:
    out: list[Finding] = []
    released_versions: dict[str, list[Version]] = {}
    folders = {_folder(p) for p in added}
    for path in released.entries:
        sv = version_of(path) if _folder(path) in folders else None
        if sv is not None:
            released_versions.setdefault(_folder(path), []).append(sv[1])
    for path in sorted(added, key=lambda p: (_folder(p), version_of(p) or ("", Version(0, 0)))):
        sv = version_of(path)
        if sv is None or path not in parsed:
            continue
        setup, version = sv
        new = parsed[path]
        line, col = new.doc.position(("version",)) if new.doc is not None else (None, None)
        latest = max(released_versions.get(_folder(path), []), default=None)
        pred_path = preds.get(path)
        if latest is not None and version < latest:
            out.append(
                Finding(
                    path,
                    f"version {version} is lower than {latest}, the latest released version of "
                    f"{setup}; a new version must be greater than every existing version",
                    line,
                    col,
                    "version",
                    code="version-order",
                )
            )
            continue
        if pred_path is None:
            if version not in (Version(1, 0), Version(0, 1)):
                out.append(
                    Finding(
                        path,
                        f"version {version} is the first version of {setup}; "
                        "the first version must be 1.0",
                        line,
                        col,
                        "version",
                        code="version-skip",
                    )
                )
            continue
        pred_version = version_of(pred_path)
        assert pred_version is not None
        pv = pred_version[1]
        if not version.follows(pv):
            out.append(
                Finding(
                    path,
                    f"version {version} skips versions: after {pv} comes {pv.next()} or "
                    f"{pv.next(major=True)}",
                    line,
                    col,
                    "version",
                    code="version-skip",
                )
            )
            continue
        pred = parse_blob(contents.get(pred_blobs.get(pred_path, ""), b""), pred_path)
        if new.data is None or pred.data is None or new.findings:
            continue
        level, changes = bump_needed(pred.data, new.data)
        if level == "none":
            h = canonical.params_hash(new.data)
            hl, hc = new.doc.position(("params_hash",)) if new.doc is not None else (line, col)
            out.append(
                Finding(
                    path,
                    f"has the same params_hash as {pv} ({h}); a new version must change "
                    "components, rules, params or targets",
                    hl,
                    hc,
                    "params_hash",
                    code="version-unchanged",
                )
            )
        elif level == "major" and version.major == pv.major:
            out.append(
                Finding(
                    path,
                    f"adds or removes a key or a component, which needs a major bump: "
                    f"{pv.next(major=True)}, not {version}:" + diff_lines(changes),
                    line,
                    col,
                    "version",
                    code="version-bump",
                )
            )
    return out


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
    if prefix is None or released is None:
        return compare(
            git,
            rules_path,
            released,
            None,
            released_label=label,
            head_label="the index",
            mode="staged",
        )
    prefix = "" if prefix in ("", ".") else prefix
    config_path = f"{prefix}/{CONFIG_NAME}" if prefix else CONFIG_NAME
    try:
        released_cfg = config_at(git, released, config_path)
    except ConfigError as exc:
        at = exc.location or Location(config_path)
        raise ConfigError(
            exc.message, Location(f"{label}:{config_path}", at.line, at.col)
        ) from None
    try:
        index_cfg: RulesConfig | ConfigError = config_at(git, "", config_path)
    except ConfigError as exc:
        index_cfg = exc
    history = folders_in_history(git, [released], config_path)
    folders = [repo_folder(prefix, f) for f in (released_cfg.dir, *history)]
    holds = any(git.has_path(released, f) for f in folders)
    if not holds:  # nothing released: the configured folder is the one
        folders.insert(0, rules_path)
    result = compare_folders(
        git, folders, released, None, released_label=label, head_label="the index", mode="staged"
    )
    found = rules_dir_findings(
        released_cfg, index_cfg, head_label="the index", base_label=label, holds_versions=holds
    )
    result.findings[:0] = [
        Finding(config_path, f.message, f.line, f.col, f.field, f.code) for f in found
    ]
    return result


# --- the rules folder, as the protected side holds it --------------------------------------


def config_at(git: gitio.Git, commit: str, config_path: str = CONFIG_NAME) -> RulesConfig:
    """The ``[rules]`` section of ``ita.toml`` in ``commit`` (defaults when there is none);
    a :class:`ConfigError` naming ``COMMIT:PATH`` when it is wrong."""
    proc = git.run(["cat-file", "blob", f"{commit}:{config_path}"], check=False)
    return rules_config(proc.stdout if proc.returncode == 0 else None, config_path)


def repo_folder(prefix: str, folder: str) -> str:
    """A rules folder of the workspace at ``prefix`` (relative to the repository root), in the
    spelling ``git ls-tree`` prints (``./setups/`` -> ``setups``; ``.`` for the root)."""
    joined = posixpath.normpath(posixpath.join(prefix, folder.replace("\\", "/")) or ".")
    return "." if joined in ("", ".", "/") else joined.strip("/")


def folders_in_history(git: gitio.Git, tips: Sequence[str], config_path: str) -> list[str]:
    """Every ``rules.dir`` that ``config_path`` ever set in the history of ``tips`` (the default
    ``rules`` too while there was no file): the folders that may hold released versions."""
    if not tips:
        return []
    args = ["log", "--raw", "-z", "--no-abbrev", "--format=", "--full-history", *tips]
    raw = git.out([*args, "--", config_path])
    blobs: set[str] = set()
    default = False
    for token in raw.split(b"\0"):
        tok = token.lstrip(b"\n")
        if tok.startswith(b":"):
            meta = tok[1:].decode().split(" ")
            for blob in meta[2:4]:
                if set(blob) == {"0"}:
                    default = True
                else:
                    blobs.add(blob)
    found: list[str] = ["rules"] if default else []
    for text in git.blobs(blobs).values():
        try:
            found.append(rules_config(text, config_path).dir)
        except ConfigError:
            continue  # a file that never loaded never moved the folder
    return list(dict.fromkeys(found))


def named_folders(
    git: gitio.Git, tip: str, prefix: str = ""
) -> tuple[list[str], RulesConfig | ConfigError]:
    """The rules folders ``tip``'s commits name, relative to the repository: the one its
    ``ita.toml`` sets (first), then every other one ``rules.dir`` named in its history, by name;
    and that configuration (the error when it does not load). Read from the commits only."""
    config_path = f"{prefix}/{CONFIG_NAME}" if prefix else CONFIG_NAME
    try:
        cfg: RulesConfig | ConfigError = config_at(git, tip, config_path)
    except ConfigError as exc:
        cfg = exc
    named = sorted(folders_in_history(git, [tip], config_path))
    if isinstance(cfg, RulesConfig):
        named.insert(0, cfg.dir)
    return [repo_folder(prefix, f) for f in dict.fromkeys(named or ["rules"])], cfg


def rules_dir_findings(
    released: RulesConfig,
    head: RulesConfig | ConfigError,
    *,
    head_label: str,
    base_label: str,
    holds_versions: bool = True,
) -> list[Finding]:
    """A head whose ``ita.toml`` does not load, or moves the rules folder away from the one
    the protected side uses (when a folder of the protected side holds files: otherwise
    nothing is released yet): either would let released versions go unchecked."""
    path = CONFIG_NAME
    if isinstance(head, ConfigError):
        at = head.location or Location(path)
        msg = f"does not load in {head_label}: {head.message}"
        return [Finding(path, msg, at.line, at.col, code="config")]
    if head.dir == released.dir or not holds_versions:
        return []
    return [
        Finding(
            path,
            f'is "{head.dir}" in {head_label} but "{released.dir}" in {base_label}; the rules '
            "folder cannot be moved (the versions released in it would go unchecked)",
            field="rules.dir",
            code="rules-dir-changed",
        )
    ]


def compare_folders(
    git: gitio.Git,
    folders: Sequence[str],
    released_commit: str | None,
    head_commit: str | None,
    *,
    released_label: str,
    head_label: str,
    mode: str,
) -> CheckResult:
    """:func:`compare` for the configured folder (``folders[0]``) and every other folder that
    holds files in ``released_commit``; the findings of all of them."""
    result = CheckResult(mode, released_label, head_label)
    seen: set[tuple[str, str, str, int, int]] = set()
    for n, folder in enumerate(dict.fromkeys(folders)):
        if n and (released_commit is None or not git.has_path(released_commit, folder)):
            continue
        part = compare(
            git,
            folder,
            released_commit,
            head_commit,
            released_label=released_label,
            head_label=head_label,
            mode=mode,
        )
        result.files += part.files
        for f in part.findings:
            key = (f.path, f.code, f.field, f.line or 0, f.col or 0)
            if key not in seen:
                seen.add(key)
                result.findings.append(f)
    return result


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
    config_path = f"{prefix}/{CONFIG_NAME}" if prefix else CONFIG_NAME
    try:
        released = config_at(git, base_id, config_path)
    except ConfigError as exc:  # the base's own configuration: nothing can be checked
        at = exc.location or Location(config_path)
        raise ConfigError(exc.message, Location(f"{base}:{config_path}", at.line, at.col)) from None
    try:
        head_cfg: RulesConfig | ConfigError = config_at(git, head_id, config_path)
    except ConfigError as exc:
        head_cfg = exc
    history = folders_in_history(git, [base_id], config_path)
    folders = [repo_folder(prefix, f) for f in (released.dir, *history)]
    holds = any(git.has_path(base_id, f) for f in folders)
    if not holds and isinstance(head_cfg, RulesConfig):  # nothing released: the head may say
        folders.insert(0, repo_folder(prefix, head_cfg.dir))
    result = compare_folders(
        git,
        folders,
        base_id,
        head_id,
        released_label=base,
        head_label=head,
        mode="range",
    )
    found = rules_dir_findings(
        released, head_cfg, head_label=head, base_label=base, holds_versions=holds
    )
    result.findings[:0] = [
        Finding(config_path, f.message, f.line, f.col, f.field, f.code) for f in found
    ]
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
        config_path = f"{prefix}/{CONFIG_NAME}" if prefix else CONFIG_NAME
        folders, tip_cfg = named_folders(git, tip, prefix)
        part = compare_folders(
            git,
            folders,
            None,
            tip,
            released_label="nothing on the remote",
            head_label=tip_ref,
            mode="push",
        )
        found = rules_dir_findings(
            RulesConfig("rules", ()),
            tip_cfg,
            head_label=tip_ref,
            base_label="",
            holds_versions=False,
        )
        part.findings[:0] = [
            Finding(config_path, f.message, f.line, f.col, f.field, f.code) for f in found
        ]
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


def rules_path_in_repo(git_root: Path, rules_dir: Path) -> str:
    """The rules folder relative to the repository root, ``/``-separated."""
    try:
        return rules_dir.resolve().relative_to(git_root.resolve()).as_posix()
    except ValueError:
        from ita_rules.core.errors import UsageError

        raise UsageError(
            f"the rules folder {rules_dir} is outside the git repository {git_root}"
        ) from None


def run_check(
    root: Path,
    rules_dir: Path,
    protected_ref: str = "",
    *,
    base: str | None = None,
    head: str | None = None,
    pushed: str | None = None,
    remote: str | None = None,
) -> CheckResult:
    """``ita-rules check`` for the workspace at ``root``: staged changes, or ``base..head``,
    or (``pushed``: the ref a push sends, with the ``remote`` it goes to) the commits of a push
    that names no range (see :func:`push_check`)."""
    from ita_rules.core.errors import UsageError

    top = gitio.toplevel(root)
    if top is None:
        raise UsageError(f"{root} is not inside a git repository; `check` compares against git")
    git = gitio.Git(top)
    rules_path = rules_path_in_repo(top, rules_dir)
    if head is not None and base is None:
        raise UsageError("--head needs --base (the ref whose versions count as released)")
    if base is not None:
        result = range_check(git, rules_path_in_repo(top, root), base, head or "HEAD")
    elif pushed is not None:
        result = push_check(git, rules_path_in_repo(top, root), pushed, remote)
    else:
        result = staged(git, rules_path, protected_ref, rules_path_in_repo(top, root))
    result.findings = [printable_finding(f) for f in result.findings]
    return result


def printable_finding(f: Finding) -> Finding:
    """``f`` with a path that is not UTF-8 (a file name git gives as bytes) shown escaped, in
    its place and in its message: one line that can be printed, not an internal error."""
    path, message = printable(f.path), printable(f.message)
    if path == f.path and message == f.message:
        return f
    return replace(f, path=path, message=message)

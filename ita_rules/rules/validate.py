"""``validate``: schema, naming and params_hash of rule files, with ``--fix`` for hashes.

A version is *released* once it is in the released ref (HEAD by default: once committed). Its
params_hash is never rewritten: a wrong hash there means the released version was changed, and
the change belongs in a new version. Only files not released yet get their hash fixed.

This is the pre-commit hook path: nothing here imports ruamel.yaml, deepdiff, jsonschema or
typer unless a file is invalid (or a hash cannot be written by editing its line, see
:mod:`ita_rules.rules.hashfix`); one ``git ls-tree`` tells which of the files are released.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ita_rules.core.findings import Finding
from ita_rules.core.fsutil import relative_path, replace_all
from ita_rules.rules.load import Released, validate_file
from ita_rules.rules.outcome import Outcome
from ita_rules.rules.registry import Registry, discover

_FIXABLE = frozenset({"hash-missing", "hash-mismatch"})


@dataclass
class ValidationReport(Outcome):
    """What ``validate`` looked at, the files whose hash it wrote, and every finding."""

    FIELDS = ("files", "fixed", "findings")
    files: int = 0
    fixed: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def validate_paths(
    registry: Registry,
    paths: Sequence[Path] = (),
    *,
    fix: bool = False,
    released_in: str | Callable[[], str] | None = "HEAD",
) -> ValidationReport:
    """Validate rule files (default: the whole registry); with ``fix`` write correct hashes
    into the files that are not released. ``released_in`` is the ref whose files are released
    (``rules.protected_ref``, by default HEAD; None: none is), or a function returning it:
    git is asked (and the function called) only when a file has a wrong or missing hash."""
    found = discover(paths or [registry.rules_dir], registry.root)
    report = ValidationReport(files=len(found.files), findings=list(found.findings))
    checked = {path: registry.validate_file(path) for path in found.files}
    suspects = {p for p, c in checked.items() if any(f.code in _FIXABLE for f in c.findings)}
    released: dict[Path, Released] = {}
    if suspects and released_in is not None:
        ref = released_in if isinstance(released_in, str) else released_in()
        released = released_files(registry.root, sorted(suspects), ref)
    fixes: dict[Path, bytes] = {}
    for path in found.files:
        result = checked[path]
        if path in released:  # a released version: its hash is never rewritten, only reported
            result = validate_file(path, result.path, released=released[path])
        elif fix and all(f.code in _FIXABLE for f in result.findings) and path in suspects:
            # Written only into a file whose sole problem is its hash: never into a broken one.
            from ita_rules.rules.hashfix import fixed

            fixes[path], result = fixed(path, result)
            report.fixed.append(result.path)
        report.findings.extend(result.findings)
    if fixes:
        replace_all(fixes)  # one sync for all the files, not an fsync each
        for path in fixes:
            registry.forget(path)
    return report


def released_files(root: Path | None, files: Sequence[Path], ref: str) -> dict[Path, Released]:
    """Which of ``files`` (in the git work tree at ``root``) exist in commit ``ref``: one
    ``git ls-tree``. No repository, or HEAD without a commit yet: none. A ``ref`` other than
    HEAD that does not exist is a usage error, as for ``check``."""
    if root is None:
        return {}
    from ita_rules.core import gitio

    inside: dict[str, Path] = {}
    for path in files:
        shown = relative_path(path, root)  # a name git can take, not escaped
        if not Path(shown).is_absolute():
            inside[shown] = path
    if not inside:
        return {}
    proc = gitio.run(
        ["--literal-pathspecs", "ls-tree", "-r", "-z", ref, "--", *inside], root, check=False
    )
    if proc.returncode != 0:
        if ref != "HEAD" and gitio.toplevel(root) is not None:
            gitio.Git(root).require_commit(ref, "protected ref (rules.protected_ref)")
        return {}
    label = ref[:12] if _is_object_id(ref) else ref
    out: dict[Path, Released] = {}
    for item in proc.stdout.split(b"\0"):
        meta, _, name = item.partition(b"\t")
        file = inside.get(name.decode("utf-8", "surrogateescape"))
        if file is not None:
            blob = meta.split(b" ")[-1].decode("ascii")
            out[file] = Released(label, unchanged=_blob_id(file, len(blob)) == blob)
    return out


def _is_object_id(ref: str) -> bool:
    return len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref)


def _blob_id(path: Path, length: int) -> str | None:
    """The id git gives the file's contents (sha1, or sha256 in a sha256 repository)."""
    import hashlib

    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha1 if length == 40 else hashlib.sha256
    return digest(b"blob %d\0" % len(data) + data).hexdigest()

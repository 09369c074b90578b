"""The registry: every rule version under ``rules/``, found by walking the folder."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ita_rules.core.errors import NotFound, RuleError, UsageError
from ita_rules.core.findings import Finding
from ita_rules.core.fsutil import display_path, printable, relative_path
from ita_rules.rules.load import Validated, validate_file
from ita_rules.rules.model import FILE_RE, Rule, Version, check_setup_id

if TYPE_CHECKING:  # the cache serves scan() only, never the pre-commit hook's path
    from ita_rules.rules.scancache import ScanCache

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class Discovery:
    """Rule files found under some paths, and the problems met while finding them."""

    files: list[Path] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def linked_folder(path: Path, root: Path | None) -> Path | None:
    """The first folder on the way to ``path`` that is a symbolic link, else None.

    The folders between the workspace ``root`` and ``path`` are looked at (the rules folder
    included), or without a root those named in ``path`` as given: a file reached through a
    link must not be read as a rule file, nor written by ``validate --fix``.
    """
    here = Path(os.path.abspath(path))
    top = Path(os.path.abspath(root)) if root is not None else None
    if top is not None and top in here.parents:
        folders = here.parents[: here.parents.index(top)]
    elif not path.is_absolute():
        folders = [Path(*path.parts[:i]) for i in range(len(path.parts) - 1, 0, -1)]
    else:
        folders = [path.parent]
    return next((f for f in folders if f.is_symlink()), None)


def _link_finding(shown: str, folder: str) -> Finding:
    message = f"the folder {folder} is a symbolic link; rule folders must be real folders"
    return Finding(shown, message, code="symlink")


def discover(paths: Iterable[Path], root: Path | None) -> Discovery:
    """Expand files and folders into rule files. Symbolic links are refused, not followed."""
    out = Discovery()
    for path in paths:
        shown = display_path(path, root)
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            out.findings.append(Finding(shown, "no such file or folder", code="missing"))
            continue
        link = linked_folder(path, root)
        if link is not None:
            out.findings.append(_link_finding(shown, display_path(link, root)))
            continue
        if stat.S_ISLNK(mode):
            what = (
                "rule folders must be real folders"
                if path.is_dir()
                else "rule files must be regular files"
            )
            out.findings.append(Finding(shown, f"is a symbolic link; {what}", code="symlink"))
        elif stat.S_ISDIR(mode):
            _walk(path, root, out)
        else:
            out.files.append(path)
    return out


def _walk(folder: Path, root: Path | None, out: Discovery) -> None:
    out.files.extend(Path(name) for name in _walk_names(str(folder), root, out.findings))


def _walk_names(folder: str, root: Path | None, findings: list[Finding]) -> list[str]:
    """The rule files under ``folder`` in :func:`os.walk`'s top-down order (each folder's
    files, sorted, then its sub-folders, sorted), as path strings; a linked folder or file is
    a finding, never followed. ``os.scandir`` entries tell links apart without a stat per
    file."""
    out: list[str] = []
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError:  # as os.walk: a folder that cannot be listed is skipped
        return out
    dirs: dict[str, os.DirEntry[str]] = {}
    files: dict[str, os.DirEntry[str]] = {}
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        (dirs if is_dir else files)[entry.name] = entry
    real = []
    for name in sorted(d for d in dirs if not d.startswith(".")):
        if dirs[name].is_symlink():
            findings.append(
                Finding(
                    display_path(Path(folder, name), root),
                    "is a symbolic link; rule folders must be real folders",
                    code="symlink",
                )
            )
        else:
            real.append(name)
    for name in sorted(files):
        if name.startswith(".") or not name.lower().endswith(YAML_SUFFIXES):
            continue
        if files[name].is_symlink():
            findings.append(
                Finding(
                    display_path(Path(folder, name), root),
                    "is a symbolic link; rule files must be regular files",
                    code="symlink",
                )
            )
        else:
            out.append(os.path.join(folder, name))
    for name in real:
        out.extend(_walk_names(os.path.join(folder, name), root, findings))
    return out


class Registry:
    """Read access to ``rules/{setup_id}/v{X}.yaml``. Loaded rules are cached per instance."""

    def __init__(self, rules_dir: Path, root: Path | None = None) -> None:
        self.rules_dir = rules_dir
        self.root = root
        self._cache: dict[Path, Validated] = {}
        # what scan found, by the path string its walk made (from the scan cache: no document)
        self._scanned: dict[str, Validated] = {}

    def display(self, path: Path) -> str:
        return display_path(path, self.root)

    def path_of(self, setup_id: str, version: Version) -> Path:
        return self.rules_dir / check_setup_id(setup_id) / version.filename

    def validate_file(self, path: Path) -> Validated:
        if path not in self._cache:
            refused = self._misplaced(path)
            self._cache[path] = refused or validate_file(path, self.display(path))
        return self._cache[path]

    def _misplaced(self, path: Path) -> Validated | None:
        """A refusal when ``path`` is not where a rule version lives: reached through a linked
        folder (see :func:`linked_folder`), or not directly in a setup folder of the rules
        folder (``rules/X/N/v1.0.yaml`` validated as setup N but could never be shown)."""
        shown = self.display(path)
        link = linked_folder(path, self.root)
        if link is not None:
            return Validated(shown, None, [_link_finding(shown, display_path(link, self.root))])
        try:
            parts = Path(os.path.abspath(path)).relative_to(os.path.abspath(self.rules_dir)).parts
        except ValueError:
            return None  # a file named outside the registry is checked on its own
        return self._too_deep(shown, parts)

    def _too_deep(self, shown: str, parts: Sequence[str]) -> Validated | None:
        """The refusal of a file deeper than ``{setup_id}/`` in the rules folder, else None."""
        if len(parts) <= 2:
            return None
        where = self.display(self.rules_dir)
        message = (
            f"rule files sit directly in their setup folder ({where}/{{setup_id}}/"
            f"v{{MAJOR}}.{{MINOR}}.yaml); move it to {where}/{parts[-2]}/{parts[-1]}"
        )
        return Validated(shown, None, [Finding(shown, message, code="layout")])

    def _found(
        self, path: str, top: str, cached: ScanCache | None, prefix: str | None
    ) -> Validated:
        """:meth:`validate_file` for a file the walk of the rules folder (``top``, absolute)
        found: the walk already refused every linked folder on the way, so only the depth is
        left to check, on the path's text (the pathlib checks of :meth:`_misplaced` cost a
        tenth of a 10,000-file scan). With ``cached``, a valid file whose bytes did not change
        since it was last validated is taken from the scan cache
        (:mod:`ita_rules.rules.scancache`). ``prefix``: the rules folder as displayed, when the
        files' displayed paths are that and their path in it."""
        parts = os.path.abspath(path)[len(top) + 1 :].split(os.sep)
        key = "/".join(parts)
        if cached is not None:
            cached.seen.add(key)
        if path in self._scanned:
            return self._scanned[path]
        shown = printable(f"{prefix}{key}") if prefix is not None else self.display(Path(path))
        refused = self._too_deep(shown, parts)
        if refused is not None or cached is None:
            checked = self._scanned[path] = refused or validate_file(Path(path), shown)
            return checked
        data, digest, text = cached.lookup(key, Path(path))
        if data is not None:
            try:
                checked = Validated(shown, Rule.from_data(data, shown), [])
            except (KeyError, TypeError, ValueError, UsageError):  # not what was stored
                cached.drop(key)
            else:
                self._scanned[path] = checked
                return checked
        checked = self._scanned[path] = validate_file(Path(path), shown)
        if checked.rule is not None and checked.doc is not None and text is not None:
            cached.store(key, digest, text, checked.doc)
        else:
            cached.drop(key)
        return checked

    def forget(self, path: Path) -> None:
        """Drop a cached check after the file was rewritten."""
        self._cache.pop(path, None)
        self._scanned.clear()

    def setups(self) -> list[str]:
        if not self.rules_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.rules_dir.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        )

    def versions(self, setup_id: str) -> list[Version]:
        """The versions of a setup, by file name, in ascending order."""
        folder = self.rules_dir / check_setup_id(setup_id)
        if not folder.is_dir() or folder.is_symlink():
            return []
        found = []
        for p in folder.iterdir():
            m = FILE_RE.fullmatch(p.name)
            if m and not p.is_symlink():
                found.append(Version.parse(m.group(1)))
        return sorted(found)

    def load(self, setup_id: str, version: Version) -> Rule:
        """One version; :class:`RuleError` listing every finding when the file is invalid."""
        path = self.path_of(setup_id, version)
        if not path.exists() and not path.is_symlink():
            known = ", ".join(str(v) for v in self.versions(setup_id)) or "none"
            raise NotFound(f"no rule {setup_id}@{version} (versions: {known})")
        checked = self.validate_file(path)
        if checked.rule is None:
            raise RuleError("; ".join(str(f) for f in checked.findings) or f"{path}: invalid")
        return checked.rule

    def get(
        self, setup_id: str, version: str | Version | None = None, active_only: bool = False
    ) -> Rule:
        """A rule version; the latest (active, with ``active_only``) when ``version`` is None."""
        if version is not None:
            v = version if isinstance(version, Version) else Version.parse(version)
            rule = self.load(setup_id, v)
            if active_only and not rule.active:
                raise RuleError(
                    f"{setup_id}@{v} is deprecated ({rule.deprecation_reason}); "
                    "only active versions may be used here"
                )
            return rule
        versions = self.versions(setup_id)
        if not versions:
            raise NotFound(f"no setup {setup_id!r} in {self.display(self.rules_dir)}")
        for v in reversed(versions):
            rule = self.load(setup_id, v)
            if rule.active or not active_only:
                return rule
        raise NotFound(f"{setup_id} has no active version (all {len(versions)} are deprecated)")

    def scan(self) -> tuple[list[Rule], list[Finding]]:
        """Every valid rule version (sorted) and the findings of every invalid file."""
        files, findings = self._discover()
        rules: list[Rule] = []
        top = os.path.abspath(self.rules_dir)
        cached = None
        if self.root is not None and any(f not in self._scanned for f in files):
            from ita_rules.rules.scancache import INDEX_DIR, ScanCache

            cached = ScanCache.open(self.root / INDEX_DIR)
        prefix = self._prefix()
        for path in files:
            checked = self._found(path, top, cached, prefix)
            if checked.rule is not None:
                rules.append(checked.rule)
            findings.extend(checked.findings)
        if cached is not None:
            cached.save()
        rules.sort(key=lambda r: (r.setup_id, r.version.major, r.version.minor))
        return rules, findings

    def _discover(self) -> tuple[list[str], list[Finding]]:
        """:func:`discover` of the rules folder, as path strings."""
        if not self.rules_dir.exists():
            return [], []
        plain = not self.rules_dir.is_symlink() and self.rules_dir.is_dir()
        if plain and linked_folder(self.rules_dir, self.root) is None:
            findings: list[Finding] = []
            return _walk_names(str(self.rules_dir), self.root, findings), findings
        found = discover([self.rules_dir], self.root)
        return [str(p) for p in found.files], found.findings

    def _prefix(self) -> str | None:
        """How the files of the rules folder are displayed: this, then their path in it (None
        when the rules folder is not inside the workspace root: :meth:`display` then)."""
        if self.root is None:
            return None
        shown = relative_path(self.rules_dir, self.root)
        if shown == str(self.rules_dir) and self.rules_dir != self.root:
            return None
        return "" if shown == "." else f"{shown}/"

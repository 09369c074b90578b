"""The registry: every rule version under ``rules/``, found by walking the folder."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ita_rules.core.errors import NotFound, RuleError
from ita_rules.core.findings import Finding
from ita_rules.core.fsutil import display_path
from ita_rules.rules.load import Validated, validate_file
from ita_rules.rules.model import FILE_RE, Rule, Version, check_setup_id

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
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)
                out.findings.append(
                    Finding(
                        display_path(base / name, root),
                        "is a symbolic link; rule folders must be real folders",
                        code="symlink",
                    )
                )
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(YAML_SUFFIXES):
                continue
            path = base / name
            if path.is_symlink():
                out.findings.append(
                    Finding(
                        display_path(path, root),
                        "is a symbolic link; rule files must be regular files",
                        code="symlink",
                    )
                )
            else:
                out.files.append(path)


class Registry:
    """Read access to ``rules/{setup_id}/v{X}.yaml``. Loaded rules are cached per instance."""

    def __init__(self, rules_dir: Path, root: Path | None = None) -> None:
        self.rules_dir = rules_dir
        self.root = root
        self._cache: dict[Path, Validated] = {}

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

    def _found(self, path: Path, top: str) -> Validated:
        """:meth:`validate_file` for a file :func:`discover` found walking the rules folder
        (``top``, absolute): the walk already refused every linked folder on the way, so only
        the depth is left to check, on the path's text (the pathlib checks of
        :meth:`_misplaced` cost a tenth of a 10,000-file scan)."""
        if path not in self._cache:
            shown = self.display(path)
            parts = os.path.abspath(path)[len(top) + 1 :].split(os.sep)
            refused = self._too_deep(shown, parts)
            self._cache[path] = refused or validate_file(path, shown)
        return self._cache[path]

    def forget(self, path: Path) -> None:
        """Drop a cached check after the file was rewritten."""
        self._cache.pop(path, None)

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
        found = discover([self.rules_dir], self.root) if self.rules_dir.exists() else Discovery()
        rules: list[Rule] = []
        findings = list(found.findings)
        top = os.path.abspath(self.rules_dir)
        for path in found.files:
            checked = self._found(path, top)
            if checked.rule is not None:
                rules.append(checked.rule)
            findings.extend(checked.findings)
        rules.sort(key=lambda r: (r.setup_id, r.version))
        return rules, findings

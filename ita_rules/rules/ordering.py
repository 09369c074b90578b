"""New versions among their setup's versions: greater than every released one, the first one
1.0, no skip after the predecessor, a different ``params_hash`` from it, and a major bump when a
key or a component is added or removed (docs/architecture.md#released-versions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ita_rules.core import canonical
from ita_rules.core.findings import Finding
from ita_rules.rules.blobs import Parsed, version_of
from ita_rules.rules.diffing import diff_lines, required_bump
from ita_rules.rules.model import Version


def _folder(path: str) -> str:
    return path.rpartition("/")[0]


def predecessors(
    added: list[str], released: Iterable[str], head: Iterable[str]
) -> dict[str, str | None]:
    """For each added version file, the file of the version just below it (None: the first)."""
    folders = {_folder(p) for p in added}
    known: dict[str, dict[Version, str]] = {}
    for path in (*released, *head):
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


def _released_versions(added: list[str], released: Iterable[str]) -> dict[str, list[Version]]:
    """The released versions in the folders of ``added``, by folder."""
    out: dict[str, list[Version]] = {}
    folders = {_folder(p) for p in added}
    for path in released:
        sv = version_of(path) if _folder(path) in folders else None
        if sv is not None:
            out.setdefault(_folder(path), []).append(sv[1])
    return out


def order_findings(
    added: list[str],
    parsed: Mapping[str, Parsed],
    preds: Mapping[str, str | None],
    read: Callable[[str], Parsed],
    released: Iterable[str],
) -> list[Finding]:
    """The place of each added version among its setup's versions (greater than every
    released one, no skip after its predecessor), then the bump over that predecessor.
    ``preds``: the file of the version below each (see :func:`predecessors`); ``read``: reads
    such a file, parsed only when the bump is weighed; ``released``: the released paths."""
    out: list[Finding] = []
    released_versions = _released_versions(added, released)
    for path in sorted(added, key=lambda p: (_folder(p), version_of(p) or ("", Version(0, 0)))):
        sv = version_of(path)
        if sv is None or path not in parsed:
            continue
        new = parsed[path]
        latest = max(released_versions.get(_folder(path), []), default=None)
        pred_path = preds.get(path)
        pred_version = version_of(pred_path) if pred_path is not None else None
        found = _place_finding(new, sv, latest, pred_version[1] if pred_version else None)
        if found is not None:
            out.append(found)
        elif pred_path is not None and pred_version is not None:
            out.extend(_bump_findings(new, sv[1], read(pred_path), pred_version[1]))
    return out


def _version_at(new: Parsed) -> tuple[int | None, int | None]:
    return new.doc.position(("version",)) if new.doc is not None else (None, None)


def _place_finding(
    new: Parsed, sv: tuple[str, Version], latest: Version | None, pred: Version | None
) -> Finding | None:
    """A new version lower than the latest released one, a first version that is not 1.0, or
    one that skips versions after its predecessor ``pred``."""
    setup, version = sv
    line, col = _version_at(new)
    if latest is not None and version < latest:
        message = (
            f"version {version} is lower than {latest}, the latest released version of "
            f"{setup}; a new version must be greater than every existing version"
        )
        return Finding(new.path, message, line, col, "version", code="version-order")
    if pred is None:
        if version in (Version(1, 0), Version(0, 1)):
            return None
        message = (
            f"version {version} is the first version of {setup}; the first version must be 1.0"
        )
        return Finding(new.path, message, line, col, "version", code="version-skip")
    if version.follows(pred):
        return None
    message = (
        f"version {version} skips versions: after {pred} comes {pred.next()} or "
        f"{pred.next(major=True)}"
    )
    return Finding(new.path, message, line, col, "version", code="version-skip")


def _bump_findings(new: Parsed, version: Version, pred: Parsed, pv: Version) -> list[Finding]:
    """A new version equal to its predecessor ``pv``, or one adding or removing a key or a
    component without a major bump."""
    if new.data is None or pred.data is None or new.findings:
        return []
    line, col = _version_at(new)
    level, changes = required_bump(pred.data, new.data)
    if level == "none":
        h = canonical.params_hash(new.data)
        hl, hc = new.doc.position(("params_hash",)) if new.doc is not None else (line, col)
        message = (
            f"has the same params_hash as {pv} ({h}); a new version must change "
            "components, rules, params or targets"
        )
        return [Finding(new.path, message, hl, hc, "params_hash", code="version-unchanged")]
    if level == "major" and version.major == pv.major:
        message = (
            f"adds or removes a key or a component, which needs a major bump: "
            f"{pv.next(major=True)}, not {version}:" + diff_lines(changes)
        )
        return [Finding(new.path, message, line, col, "version", code="version-bump")]
    return []

"""The registry scan's cache (.ita/rules-scan.json): a valid file whose bytes did not change
gives the same Rule as validating it; any change of bytes, a file turning invalid, a cache of
other code, are validated again; validate_file still gives the document."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ita_rules.core.findings import Finding
from ita_rules.core.fsutil import display_path
from ita_rules.rules.model import Rule
from ita_rules.rules.registry import Registry, _walk_names
from ita_rules.rules.scancache import CACHE_NAME, code_digest


def _scan(root: Path) -> tuple[Registry, list[Rule], list[str]]:
    registry = Registry(root / "rules", root)
    rules, findings = registry.scan()
    return registry, list(rules), [str(f) for f in findings]


def _from_cache(registry: Registry) -> int:
    """How many files the last scan took from the cache (they carry no loaded document)."""
    return sum(1 for v in registry._scanned.values() if v.rule is not None and v.doc is None)


def _cache(root: Path) -> dict[str, list[object]]:
    doc = json.loads((root / ".ita" / CACHE_NAME).read_text())
    assert doc["code"] == code_digest()
    entries: dict[str, list[object]] = doc["entries"]
    return entries


def test_a_second_scan_reads_the_cache_and_gives_the_same_rules(sample_ws: Path) -> None:
    (sample_ws / ".ita").mkdir()
    first, rules, findings = _scan(sample_ws)
    assert rules and not _from_cache(first)  # nothing cached yet: every file validated
    entries = _cache(sample_ws)
    assert sorted(entries) == sorted(r.path.removeprefix("rules/") for r in rules)
    assert (sample_ws / ".ita" / CACHE_NAME).stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
    second, again, findings2 = _scan(sample_ws)
    assert _from_cache(second) == len(rules)
    assert again == rules and findings2 == findings
    assert [repr(r.data) for r in again] == [repr(r.data) for r in rules]
    assert [r.path for r in again] == [r.path for r in rules]
    # the authoring path still gets the loaded document
    path = sample_ws / rules[0].path
    assert second.validate_file(path).doc is not None


def test_changed_bytes_are_validated_again_whatever_the_mtime(sample_ws: Path) -> None:
    (sample_ws / ".ita").mkdir()
    _, rules, _ = _scan(sample_ws)
    path = sample_ws / rules[0].path
    st = path.stat()
    text = path.read_text()
    assert "params_hash:" in text
    # the same size and mtime, another params_hash: the stated hash is now wrong
    stated = rules[0].params_hash
    wrong = stated[:-1] + ("0" if stated[-1] != "0" else "1")
    broken = text.replace(stated, wrong)
    assert broken != text and len(broken) == len(text)
    path.write_text(broken)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    _, again, findings = _scan(sample_ws)
    assert len(again) == len(rules) - 1
    assert any("params_hash" in f for f in findings)
    assert rules[0].path.removeprefix("rules/") not in _cache(sample_ws)
    path.write_text(text)  # back as it was: valid again, cached again
    _, restored, findings = _scan(sample_ws)
    assert restored == rules and not findings
    assert rules[0].path.removeprefix("rules/") in _cache(sample_ws)


def test_a_cache_of_other_code_or_unreadable_is_ignored(sample_ws: Path) -> None:
    (sample_ws / ".ita").mkdir()
    _, rules, _ = _scan(sample_ws)
    file = sample_ws / ".ita" / CACHE_NAME
    doc = json.loads(file.read_text())
    doc["code"] = "0" * 64
    file.write_text(json.dumps(doc))
    registry, again, _ = _scan(sample_ws)
    assert again == rules and not _from_cache(registry)  # validated again, then cached anew
    assert _cache(sample_ws)
    file.write_text("{not json")
    registry, again, _ = _scan(sample_ws)
    assert again == rules and not _from_cache(registry)


def test_files_gone_leave_the_cache_and_no_sidecar_means_no_cache(sample_ws: Path) -> None:
    _, rules, _ = _scan(sample_ws)
    assert not (sample_ws / ".ita").exists()  # never created by a scan
    (sample_ws / ".ita").mkdir()
    _scan(sample_ws)
    gone = sample_ws / rules[-1].path
    gone.unlink()
    _, left, _ = _scan(sample_ws)
    assert len(left) == len(rules) - 1
    assert rules[-1].path.removeprefix("rules/") not in _cache(sample_ws)


def _os_walk(folder: Path, root: Path) -> tuple[list[str], list[str]]:
    """The rules folder's walk as it was written with os.walk (the reference)."""
    files, findings = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            if (base / name).is_symlink():
                dirnames.remove(name)
                findings.append(f"{display_path(base / name, root)}: folder link")
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith((".yaml", ".yml")):
                continue
            if (base / name).is_symlink():
                findings.append(f"{display_path(base / name, root)}: file link")
            else:
                files.append(str(base / name))
    return files, findings


def test_the_walk_finds_what_os_walk_finds_in_its_order(sample_ws: Path) -> None:
    rules = sample_ws / "rules"
    setups = sorted(p for p in rules.iterdir() if p.is_dir())
    (rules / "Linked").symlink_to(setups[0], target_is_directory=True)
    (rules / ".hidden").mkdir()
    (rules / ".hidden" / "v1.0.yaml").write_text("x: 1\n")
    deep = setups[0] / "nested" / "more"
    deep.mkdir(parents=True)
    (deep / "v1.0.yaml").write_text("x: 1\n")
    (setups[0] / "notes.txt").write_text("not a rule\n")
    (setups[0] / "v9.9.yml").write_text("x: [\n")
    (setups[0] / ".v1.0.yaml").write_text("x: 1\n")
    (setups[-1] / "v7.0.yaml").symlink_to(next(setups[-1].glob("v*.yaml")))
    (setups[-1] / "v8.0.yaml").symlink_to(setups[-1] / "gone.yaml")  # broken
    findings: list[Finding] = []
    names = _walk_names(str(rules), sample_ws, findings)
    files, expected = _os_walk(rules, sample_ws)
    assert names == files and len(files) > 3
    assert [
        f"{f.path}: {'folder' if 'folder' in f.message else 'file'} link" for f in findings
    ] == (expected)
    assert len(expected) == 3
    (sample_ws / ".ita").mkdir()
    cold = Registry(rules, sample_ws).scan()
    warm = Registry(rules, sample_ws).scan()
    assert warm[0] == cold[0] and [str(f) for f in warm[1]] == [str(f) for f in cold[1]]
    assert any("nested/more" in str(f) for f in cold[1])  # too deep: refused, not cached

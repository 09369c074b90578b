"""``validate --fix`` writes the params_hash by editing its one line (``rules/hashfix.py``), and
writes many files with one sync (``core/fsutil.replace_all``).

Where ruamel's round trip keeps a file's layout, the line edit writes the very bytes it wrote;
where ruamel would re-lay the file, only the hash line changes; shapes the line edit refuses
are still round-tripped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ita_rules.core import canonical, fsutil, yamlio
from ita_rules.rules.authoring import with_hash
from ita_rules.rules.hashfix import edit_hash_line, fixed
from ita_rules.rules.load import validate_file
from tests.conftest import snapshot, write

HEAD = """\
setup_id: Setup_A
version: "1.0"
author: "trader_1"
created: "2025-10-15"
components: [Detect_Sessions]
rules:
  entry: london
params:
  x: 1
targets:
  tp: 2.0
"""
DATA = yamlio.loads(HEAD, "head", raw_scalars=("version",))[0].data  # type: ignore[union-attr]
HASH = canonical.params_hash(DATA)
ZERO = "sha256:" + "0" * 64

SAME_AS_RUAMEL = {
    "double": HEAD + f'params_hash: "{ZERO}"\n',
    "single, comment": HEAD + f"params_hash: '{ZERO}'  # keep me\n",
    "plain": HEAD + f"params_hash: {ZERO}\n",
    "empty": HEAD + "params_hash:\n",
    "empty, comment": HEAD + "params_hash:   # fill me\n",
    "null": HEAD + "params_hash: null\n",
    "empty, comment far right": HEAD + "params_hash:" + " " * 80 + "# far\n",
    "trailing spaces": HEAD + f'params_hash: "{ZERO}"   \n',
    "missing": HEAD,
    "missing, no newline": HEAD.rstrip("\n"),
    "missing, comment at the end": HEAD + "\n# the end\n",
    "first key": f'params_hash: "{ZERO}"\n' + HEAD,
    "indented by four": HEAD.replace("\n  ", "\n    ")
    + "tags:\n- a\n"
    + f'params_hash: "{ZERO}"\n',
}

RUAMEL_RELAYS = {
    "extra spaces": HEAD.replace('version: "1.0"', 'version:    "1.0"')
    + f'params_hash: "{ZERO}"\n',
    "flow spacing": HEAD + "tags: [ a,b ]\n" + f'params_hash: "{ZERO}"\n',
    "document start": "---\n" + HEAD + f'params_hash: "{ZERO}"\n',
    "CRLF": (HEAD + f'params_hash: "{ZERO}"\n').replace("\n", "\r\n"),
}

REFUSED = {
    "quoted key": HEAD + f'"params_hash": "{ZERO}"\n',
    "value over two lines": HEAD + f'params_hash: "{ZERO[:40]}\\\n  {ZERO[40:]}"\n',
    "an escape": HEAD + f'params_hash: "\\x73{ZERO[1:]}"\n',
    "flow mapping": "{"
    + ", ".join(f"{k}: {v!r}" for k, v in DATA.items())
    + f', params_hash: "{ZERO}"}}\n',
}


def _file(root: Path, text: str) -> Path:
    return write(root / "rules" / "Setup_A" / "v1.0.yaml", text.encode("utf-8"))


def _fix(path: Path) -> bytes:
    checked = validate_file(path)
    assert checked.findings and all(f.code.startswith("hash-") for f in checked.findings)
    data, result = fixed(path, checked)
    assert result.ok, result.findings
    return data


@pytest.mark.parametrize("name", SAME_AS_RUAMEL)
def test_the_line_edit_writes_what_the_round_trip_wrote(name: str, tmp_path: Path) -> None:
    text = SAME_AS_RUAMEL[name]
    assert edit_hash_line(text, HASH) == with_hash(text)
    assert _fix(_file(tmp_path, text)) == with_hash(text).encode("utf-8")


@pytest.mark.parametrize("name", RUAMEL_RELAYS)
def test_where_ruamel_relays_the_file_only_the_hash_line_changes(name: str, tmp_path: Path) -> None:
    text = RUAMEL_RELAYS[name]
    new = _fix(_file(tmp_path, text)).decode("utf-8")
    assert new != with_hash(text.replace("\r\n", "\n"))
    assert new == text.replace(f'params_hash: "{ZERO}"', f'params_hash: "{HASH}"')


@pytest.mark.parametrize("name", REFUSED)
def test_shapes_the_line_edit_refuses_are_round_tripped(name: str, tmp_path: Path) -> None:
    text = REFUSED[name]
    assert _fix(_file(tmp_path, text)) == with_hash(text).encode("utf-8")


def test_two_hash_lines_are_not_guessed() -> None:
    """A second ``params_hash:`` line at the left margin (a block scalar's text cannot be
    there, but a broken file can): no line edit, the caller round-trips."""
    assert edit_hash_line(HEAD + "params_hash: a\nparams_hash: b\n", HASH) is None


def test_fixing_hashes_imports_no_ruamel(tmp_path: Path) -> None:
    """The pre-commit hook fixes a wrong hash without ruamel (the round trip is a fallback)."""
    path = _file(tmp_path, SAME_AS_RUAMEL["double"])
    code = (
        "import sys; from pathlib import Path; from ita_rules.rules.registry import Registry; "
        "from ita_rules.rules.validate import validate_paths; "
        f"r = validate_paths(Registry(Path({str(tmp_path / 'rules')!r})), fix=True, "
        "released_in=None); "
        "print(r.fixed, [str(f) for f in r.findings], 'ruamel' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"['{path}'] [] False"
    assert path.read_text() == HEAD + f'params_hash: "{HASH}"\n'


def test_fix_of_many_files_writes_each_once_and_keeps_modes(in_git_repo: Path, cli: Any) -> None:
    """More files than are fsynced one by one: one sync, the renames from threads; every file
    gets its hash, keeps its permissions, and no temporary file is left behind."""
    paths = []
    for i in range(fsutil.SYNC_EACH_UP_TO + 6):
        setup = f"Setup_{i:03d}"
        text = (
            HEAD.replace("Setup_A", setup).replace("x: 1", f"x: {i}") + f'params_hash: "{ZERO}"\n'
        )
        paths.append(write(in_git_repo / "rules" / setup / "v1.0.yaml", text))
    os.chmod(paths[0], 0o600)
    r = cli("validate", "--fix")
    assert r.code == 0, r.out + r.err
    assert r.err == f"{len(paths)} file(s) checked, 0 problem(s), {len(paths)} fixed\n"
    assert r.out.splitlines() == [
        f"{p.relative_to(in_git_repo).as_posix()}: params_hash written" for p in paths
    ]
    assert paths[0].stat().st_mode & 0o777 == 0o600
    assert all(ZERO not in p.read_text() for p in paths)
    assert sorted(snapshot(in_git_repo)) == sorted(
        ["ita.toml", *(p.relative_to(in_git_repo).as_posix() for p in paths)]
    )
    assert cli("validate").code == 0


@pytest.mark.parametrize("count", [2, fsutil.SYNC_EACH_UP_TO + 2])
def test_replace_all_changes_nothing_when_one_file_cannot_be_staged(
    tmp_path: Path, count: int
) -> None:
    """A target whose folder is gone: no file is replaced and no temporary file is left."""
    files = {write(tmp_path / f"f{i}", b"old"): b"new" for i in range(count)}
    files[tmp_path / "gone" / "f"] = b"new"
    with pytest.raises(FileNotFoundError):
        fsutil.replace_all(files)
    assert snapshot(tmp_path) == {f"f{i}": b"old" for i in range(count)}

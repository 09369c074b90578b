"""``ita-rules report`` as a user meets it: what it prints (text and ``--json``), where it writes,
``--open``, the bad outputs it refuses (one line, the exit code, nothing written), a build that
fails leaving the previous report whole, and the message without Jinja2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import snapshot
from tests.report.fixtures_site import rules_desk


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample rules with history (5 setups' pages: no runs), as the current directory."""
    root = rules_desk(tmp_path / "desk")
    monkeypatch.chdir(root)
    return root


PAGES = 3 + 4  # registry, runs, storage + one page per setup


def test_text_output_names_the_pages_and_the_index(desk: Path, cli: Any) -> None:
    r = cli("report")
    assert r.code == 0, r.err
    out = desk / ".ita" / "report"
    assert r.out == f"wrote {PAGES} page(s) to {out}\n{out / 'index.html'}\n"
    assert (out / "index.html").is_file() and (out / "setup" / "IB_raid_v1.html").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=desk, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""  # in the git-ignored sidecar: the tree stays clean for runs


def test_json_output(desk: Path, cli: Any, tmp_path: Path) -> None:
    r = cli("report", "-o", str(tmp_path / "site"), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {
        "out": str(tmp_path / "site"),
        "pages": PAGES,
        "setups": 4,
        "runs": 0,
    }


def test_open_opens_the_index_as_a_file_url(
    desk: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import webbrowser

    opened: list[str] = []

    def open_url(url: str) -> bool:
        opened.append(url)
        return True

    monkeypatch.setattr(webbrowser, "open", open_url)
    r = cli("report", "--open")
    assert r.code == 0, r.err
    assert opened == [(desk / ".ita" / "report" / "index.html").as_uri()]


def test_a_second_report_replaces_the_first_whole(desk: Path, cli: Any) -> None:
    assert cli("report").code == 0
    stale = desk / ".ita" / "report" / "setup" / "Gone_v1.html"
    stale.write_text("from an older report")
    assert cli("report").code == 0
    assert not stale.exists()
    assert [p.name for p in (desk / ".ita").iterdir() if p.name.startswith(".report")] == []


@pytest.mark.parametrize(
    ("target", "message", "code"),
    [
        ("ita.toml", "-o ita.toml: is a file; give a folder for the report", 2),
        ("rules/site", "-o rules/site: inside the rules folder; write the report elsewhere", 2),
        ("exchange", "-o exchange: inside the store folder; write the report elsewhere", 2),
        (
            "rules/..",
            "-o rules/..: the folder holds files that are not a report; give an empty or new "
            "folder",
            2,
        ),
    ],
)
def test_bad_outputs_are_one_line_and_write_nothing(
    desk: Path, cli: Any, target: str, message: str, code: int
) -> None:
    before = snapshot(desk)
    r = cli("report", "-o", target)
    assert (r.code, r.out, r.err) == (code, "", f"ita-rules: {message}\n")
    assert snapshot(desk) == before


def test_a_folder_of_other_files_is_never_emptied(desk: Path, cli: Any, tmp_path: Path) -> None:
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    r = cli("report", "-o", str(mine))
    assert r.code == 2
    assert r.err == (
        f"ita-rules: -o {mine}: the folder holds files that are not a report; give an empty or "
        "new folder\n"
    )
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_a_failed_build_leaves_the_previous_report_whole(
    desk: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ita_rules.report.pages import Pages

    assert cli("report").code == 0
    before = snapshot(desk / ".ita" / "report")

    def broken(self: Pages, setup: object) -> str:
        raise KeyError("boom")

    monkeypatch.setattr(Pages, "setup", broken)
    r = cli("report")
    assert (r.code, r.out) == (1, "")
    assert r.err == "ita-rules: report: a page could not be rendered: KeyError: 'boom'\n"
    assert snapshot(desk / ".ita" / "report") == before
    assert [p.name for p in (desk / ".ita").iterdir() if p.name.startswith(".report")] == []


def test_without_jinja2_one_line_exit_1_nothing_written(desk: Path) -> None:
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "from ita_rules.cli import main\n"
        "main(['report'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=desk, capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert (
        proc.stderr == "ita-rules: ita-rules report needs Jinja2: pip install 'ita-rules[report]'\n"
    )
    assert not (desk / ".ita" / "report").exists()


def test_a_replaced_report_of_many_files_is_removed_whole_links_unfollowed(
    tmp_path: Path,
) -> None:
    from ita_rules.report.site import REMOVERS, _remove

    old = tmp_path / "old"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.html").write_text("not the report's")
    for sub in ("setup", "run", "assets"):
        (old / sub).mkdir(parents=True)
        for i in range(4 * REMOVERS):
            (old / sub / f"{i}.html").write_text("x")
    (old / "run" / "linked").symlink_to(outside, target_is_directory=True)
    (old / "index.html").symlink_to(outside / "keep.html")
    _remove(old)
    assert not old.exists() and not old.is_symlink()
    assert (outside / "keep.html").read_text() == "not the report's"

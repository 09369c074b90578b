"""Journey: a desk writes its report, opens it, writes it again after a run.

``ita-rules report`` writes the static site into ``.ita/report/`` (git-ignored: a derived
folder, like the index), replaces it as a whole on the next call, refuses a folder that holds
anything but a report, and ``--open`` hands the index page to the desk's browser (``$BROWSER``,
as Python's webbrowser reads it). The pages in a real browser: tests/report/test_browser.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.journeys.conftest import Desk, candles_csv

SAMPLE_PAGES = [
    ".ita-report",
    "assets/site.css",
    "assets/site.js",
    "index.html",
    "runs.html",
    "setup/Frank_raid_v1.html",
    "setup/IB_raid_v1.html",
    "setup/London_FVG_v1.html",
    "storage.html",
]
# what would make a page reach past the machine: a URL in src/href/action/url()/@import, or
# script that asks the network
OFF_MACHINE = re.compile(
    r"""(?i:(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import)"""
    r"""|\bfetch\s*\(|XMLHttpRequest|new\s+(?:WebSocket|EventSource)\b|sendBeacon|\bimport\s*\("""
)


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def a_backtest(desk: Desk, *data_range: str) -> str:
    """``runs start`` on a candle file (``data_range``: ``--from X --to Y`` or none), the result
    stored with ``--run-id``, ``runs finish``."""
    desk.write("data/GER40_M15.csv", candles_csv())
    start = desk.run(
        "runs",
        "start",
        "backtest_flow",
        "--rule",
        "IB_raid_v1@1.2",
        "--symbol",
        "GER40",
        "--input",
        "data/GER40_M15.csv",
        *data_range,
    )
    assert start.code == 0, start.err
    run_id = start.out.strip()
    result = {"setup_id": "IB_raid_v1", "rule_version": "1.2", "metrics": {"Sharpe Ratio": 1.4}}
    desk.write("data/result.json", json.dumps(result))
    put = desk.run("store", "put", "data/result.json", "--type", "result", "--run-id", run_id)
    assert put.code == 0, put.err
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    return run_id


def test_a_desk_writes_its_report_then_writes_it_again_after_a_run(desk: Desk) -> None:
    site = desk.root / ".ita" / "report"
    ran = desk.run("report")
    assert (ran.code, ran.err) == (0, "")
    assert ran.out == f"wrote 6 page(s) to {site}\n{site / 'index.html'}\n"
    assert files(site) == SAMPLE_PAGES
    assert desk.git("status", "--porcelain") == ""  # derived, git-ignored: nothing to commit

    # a run happens; the next report has its page, and the folder is replaced as a whole
    run_id = a_backtest(desk, "--from", "2025-05-01", "--to", "2025-05-10")
    (site / "notes.html").write_text("left here by hand", encoding="utf-8")
    ran = desk.run("report", "--json")
    assert (ran.code, ran.err) == (0, "")
    assert ran.json() == {"out": str(site), "pages": 7, "setups": 3, "runs": 1}
    assert files(site) == sorted([*SAMPLE_PAGES, f"run/{run_id}.html"])
    assert run_id in (site / "runs.html").read_text(encoding="utf-8")
    assert desk.git("status", "--porcelain") == ""


def test_a_folder_holding_something_else_is_never_replaced(desk: Desk, tmp_path: Path) -> None:
    mine = tmp_path / "Documents"
    (mine / "letter.txt").parent.mkdir()
    (mine / "letter.txt").write_text("mine", encoding="utf-8")
    ran = desk.run("report", "-o", str(mine))
    assert (ran.code, ran.out) == (2, "")
    assert ran.err == (
        f"ita-rules: -o {mine}: the folder holds files that are not a report; "
        "give an empty or new folder\n"
    )
    assert files(mine) == ["letter.txt"]
    # an empty folder, or a new one, is fine; a report may be written over again
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "empty", tmp_path / "new" / "report", tmp_path / "new" / "report"):
        ran = desk.run("report", "-o", str(target))
        assert (ran.code, ran.err) == (0, ""), ran.err
        assert files(target) == SAMPLE_PAGES


def test_open_hands_the_index_page_to_the_desks_browser(desk: Desk, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = desk.write("bin/browser", f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    browser.chmod(0o755)
    desk.env["BROWSER"] = f"{browser} %s"
    out = tmp_path / "public" / "report"
    ran = desk.run("report", "-o", str(out), "--open")
    assert (ran.code, ran.err) == (0, "")
    assert ran.out == f"wrote 6 page(s) to {out}\n{out / 'index.html'}\n"
    assert opened.read_text(encoding="utf-8") == (out / "index.html").as_uri()


def test_no_page_reaches_past_the_machine(desk: Desk, tmp_path: Path) -> None:
    """Static half of the browser tests' request log: no URL off the machine in any page, style
    or script, and no script that asks the network."""
    a_backtest(desk, "--from", "2025-05-01", "--to", "2025-05-10")
    out = tmp_path / "site"
    assert desk.run("report", "-o", str(out)).code == 0
    found = {
        name: OFF_MACHINE.findall((out / name).read_text(encoding="utf-8"))
        for name in files(out)
        if name != ".ita-report"
    }
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_a_run_whose_flow_names_no_data_range_has_its_page(desk: Desk) -> None:
    run_id = a_backtest(desk)  # runs start --input FILE without --from/--to
    ran = desk.run("report")
    assert (ran.code, ran.err) == (0, "")
    page = (desk.root / ".ita" / "report" / "run" / f"{run_id}.html").read_text(encoding="utf-8")
    assert "data/GER40_M15.csv" in page


def test_a_run_whose_range_holds_no_candle_says_so_on_its_page(desk: Desk) -> None:
    run_id = a_backtest(desk, "--from", "2020-01-01", "--to", "2020-01-02")
    ran = desk.run("report")
    assert (ran.code, ran.err) == (0, "")
    page = (desk.root / ".ita" / "report" / "run" / f"{run_id}.html").read_text(encoding="utf-8")
    row = re.search(r"<tr><td>data/GER40_M15\.csv</td>.*?</tr>", page)
    assert row is not None, page
    assert row.group(0).endswith("<td>no candle in the range</td></tr>"), row.group(0)
    assert "None" not in row.group(0)

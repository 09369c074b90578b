"""The report site in a real browser: desks built the way a user builds one (``ita-rules init``,
``new``, ``new-version``, ``deprecate``, ``runs start``/``store put``/``runs finish``, ``runs
verify``, a retention policy), ``ita-rules report -o OUT`` run on them, and the pages opened
over ``file://`` in Debian's headless Chromium (``/usr/bin/chromium``) through Playwright.

One browser per test module, a new context per test; every request, console error, page error
and dialog of a page is recorded (:class:`Visit`) and each page's screenshot is saved to
``$ITA_TEST_ARTIFACTS/report/`` (else to the test's ``tmp_path``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import isolate
from tests.journeys.conftest import BIN, Desk, _desk_env, candles_csv
from tests.retention.conftest import POLICY  # README's example policy

CHROMIUM = Path("/usr/bin/chromium")
# read at import: the suite's isolation removes every ITA_ variable before each test runs
ARTIFACTS = os.environ.get("ITA_TEST_ARTIFACTS")
SCRIPT = "<script>alert(1)</script>"
ORB = "Orb_raid_v1"
GAP = "Gap_fade_v1"
PROBE = "Probe_v1"
ORB_DESCRIPTION = "Fade the raid of the opening range on GER40 in the first hour."


@dataclass
class Built:
    """A desk and its report: ``runs`` names each run the builder made."""

    desk: Desk
    site: Path
    runs: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- building a desk, step by step, as a user does ----------------------------------------


def new_desk(parent: Path, home: Path) -> Desk:
    """``ita-rules init desk`` in ``parent`` with the isolated shell of the test suite."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home)
        env = _desk_env(parent)
    made = subprocess.run(
        [str(BIN / "ita-rules"), "init", "desk"],
        cwd=parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    desk = Desk(parent / "desk", env)
    desk.write(".gitignore", desk.read(".gitignore") + "/out/\n/shots/\n/site/\n")
    commit_as(desk, "trader_1", "a new desk", ".")
    return desk


def ok(desk: Desk, *args: str) -> str:
    """``ita-rules ARGS`` that must succeed; its stdout, stripped."""
    ran = desk.run(*args)
    assert ran.code == 0, f"ita-rules {' '.join(args)} exited {ran.code}:\n{ran.out}{ran.err}"
    return ran.out.strip()


def commit_as(desk: Desk, author: str, message: str, *paths: str) -> None:
    """``git add PATHS`` and a commit by ``author`` (another trader of the desk)."""
    desk.git("add", *paths)
    desk.git("-c", f"user.name={author}", "commit", "-q", "-m", message)


def first_version(
    desk: Desk, setup_id: str, author: str, description: str, tags: list[str]
) -> None:
    """``ita-rules new`` and the template's description and tags filled in by hand (then
    ``validate --fix`` writes the params_hash), committed by ``author``."""
    path = ok(desk, "new", setup_id, "--author", author)
    text = desk.read(path)
    text = text.replace('"Describe the setup: market, session, idea."', json.dumps(description))
    text = text.replace("tags: []", f"tags: {json.dumps(tags)}")
    desk.write(path, text)
    ok(desk, "validate", "--fix", path)
    commit_as(desk, author, f"{setup_id} v1.0", path)


def rules_with_history(desk: Desk) -> None:
    """Orb_raid_v1: v1.0 -> v1.1 (a parameter: minor) -> v2.0 (a component: major) by two
    traders, v1.0 then deprecated with a reason; Gap_fade_v1: one version, deprecated."""
    first_version(desk, ORB, "trader_1", ORB_DESCRIPTION, ["ger40", "orb"])
    path = ok(
        desk, "new-version", ORB, "--author", "trader_2", "--set", "params.risk_per_trade=0.02"
    )
    commit_as(desk, "trader_2", "Orb_raid_v1 v1.1: risk 2 %", path)
    path = ok(
        desk,
        "new-version",
        ORB,
        "--major",
        "--author",
        "trader_1",
        "--set",
        "components=[Detect_Sessions, Detect_OB]",
    )
    commit_as(desk, "trader_1", "Orb_raid_v1 v2.0: order blocks", path)
    ok(desk, "deprecate", f"{ORB}@1.0", "--reason", "Risk 1 % left too much on the table.")
    commit_as(desk, "trader_2", "deprecate Orb_raid_v1 v1.0", f"rules/{ORB}/v1.0.yaml")
    first_version(desk, GAP, "trader_3", "Fade the opening gap on DAX.", ["dax", "gap"])
    ok(desk, "deprecate", f"{GAP}@1.0", "--reason", "The gap closes before the open now.")
    commit_as(desk, "trader_3", "deprecate Gap_fade_v1 v1.0", f"rules/{GAP}/v1.0.yaml")


def store_put(desk: Desk, path: str, type_: str, *args: str) -> dict[str, Any]:
    ran = desk.run("store", "put", path, "--type", type_, *args, "--json")
    assert ran.code == 0, ran.err
    record: dict[str, Any] = ran.json()[0]
    return record


def backtest(
    desk: Desk,
    rule: str,
    candles: str,
    timeframe: str,
    metrics: dict[str, Any] | None,
    outputs: dict[str, str] | None = None,
) -> str:
    """A backtest from a non-Python flow: ``runs start`` with the candle file as input, the
    result JSON (when ``metrics``) and ``outputs`` (path -> type) stored with ``--run-id``,
    ``runs finish`` (failed when there is no result); the run id."""
    symbol = Path(candles).stem.split("_")[0]
    run_id = ok(
        desk,
        "runs",
        "start",
        "backtest_flow",
        "--rule",
        rule,
        "--symbol",
        symbol,
        "--timeframe",
        timeframe,
        "--input",
        candles,
        "--from",
        "2025-05-01",
        "--to",
        "2025-05-10",
    )
    setup_id, _, version = rule.partition("@")
    stored = []
    if metrics is not None:
        result = {"setup_id": setup_id, "rule_version": version, "metrics": metrics}
        desk.write(f"out/{run_id}/result.json", json.dumps(result, indent=2))
        stored.append(store_put(desk, f"out/{run_id}/result.json", "result", "--run-id", run_id))
    for path, type_ in (outputs or {}).items():
        stored.append(store_put(desk, path, type_, "--run-id", run_id))
    status = ["--status", "succeeded"] if metrics is not None else ["--status", "failed"]
    if metrics is None:
        status += ["--error", "broker timeout"]
    outs = [f"--output={record['file_id']}" for record in stored]
    ok(desk, "runs", "finish", run_id, *status, *outs)
    return run_id


def runs_and_storage(desk: Desk, built: Built) -> None:
    """Candles stored and used as inputs, three backtests with results (a chart, a model),
    one failed run without result, ``runs verify`` of the first, a retention policy, an old
    orphan chart soft-deleted by ``retention apply``, and ``retention plan``."""
    desk.write("data/GER40_M15.csv", candles_csv())
    desk.write("data/DAX_D1.csv", candles_csv(symbol_price=15000.0))
    built.files["ger40"] = store_put(desk, "data/GER40_M15.csv", "candles", "--symbol", "GER40")
    built.files["dax"] = store_put(desk, "data/DAX_D1.csv", "candles", "--symbol", "DAX")
    desk.write("out/equity.png", b"\x89PNG\r\n\x1a\n equity curve")
    desk.write("out/orb.pkl", b"\x80\x04 a pickled model")
    built.runs["v1.1"] = backtest(
        desk,
        f"{ORB}@1.1",
        "data/GER40_M15.csv",
        "M15",
        {"Sharpe Ratio": 1.4, "Return [%]": 12.5, "# Trades": 31},
        {"out/equity.png": "screenshot"},
    )
    built.runs["v2.0"] = backtest(
        desk,
        f"{ORB}@2.0",
        "data/GER40_M15.csv",
        "M15",
        {"Sharpe Ratio": 1.9, "Return [%]": 18.25, "# Trades": 27},
        {"out/orb.pkl": "model"},
    )
    built.runs["dax"] = backtest(
        desk,
        f"{ORB}@2.0",
        "data/DAX_D1.csv",
        "D1",
        {"Sharpe Ratio": 0.8, "Return [%]": -3.5, "# Trades": 12},
    )
    built.runs["failed"] = backtest(desk, f"{ORB}@2.0", "data/GER40_M15.csv", "M15", None)
    assert ok(desk, "runs", "verify", built.runs["v1.1"]) == f"{built.runs['v1.1']}: reproducible"
    desk.write("data/DAX_D1.csv", candles_csv(symbol_price=15001.0))  # the vendor's fix
    assert desk.run("runs", "verify", built.runs["dax"]).code == 1
    desk.write("retention.yaml", POLICY)
    commit_as(desk, "trader_1", "retention policy", "retention.yaml")
    desk.write("shots/old_chart.png", b"\x89PNG\r\n\x1a\n a chart nobody needs")
    built.files["old_chart"] = store_put(desk, "shots/old_chart.png", "screenshot")
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=200)).date().isoformat()
    ok(desk, "retention", "apply", "--as-of", later)
    ok(desk, "retention", "plan")


def report(desk: Desk, out: Path) -> Path:
    ran = desk.run("report", "-o", str(out))
    assert ran.code == 0, ran.err
    return out


def build_desk(parent: Path, home: Path) -> Built:
    """The desk of the README screenshot and of the browser tests, and its report."""
    desk = new_desk(parent, home)
    rules_with_history(desk)
    built = Built(desk, parent / "site")
    runs_and_storage(desk, built)
    report(desk, built.site)
    return built


def build_probe(parent: Path, home: Path) -> Built:
    """A desk whose user text holds ``<script>``: a setup's description and tag, and a metric
    name of its run's result."""
    desk = new_desk(parent, home)
    first_version(desk, PROBE, "trader_1", f"Probe {SCRIPT} description", [SCRIPT])
    desk.write("data/GER40_M15.csv", candles_csv())
    built = Built(desk, parent / "site")
    built.runs["probe"] = backtest(
        desk, f"{PROBE}@1.0", "data/GER40_M15.csv", "M15", {SCRIPT: 7.5, "Sharpe Ratio": 1.1}
    )
    report(desk, built.site)
    return built


def build_without_runs(parent: Path, home: Path) -> Built:
    """Rules with history, no run and nothing stored."""
    desk = new_desk(parent, home)
    rules_with_history(desk)
    return Built(desk, report(desk, parent / "site"))


def build_empty(parent: Path, home: Path) -> Built:
    """Just ``ita-rules init``."""
    desk = new_desk(parent, home)
    return Built(desk, report(desk, parent / "site"))


# -- the browser ---------------------------------------------------------------------------


@dataclass
class Visit:
    """One page opened in a fresh browser context, and everything it did."""

    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def text(self, selector: str = "main") -> str:
        return str(self.page.inner_text(selector))

    def assert_clean(self) -> None:
        """No console error, no uncaught exception, no dialog, no request off the machine."""
        assert self.console_errors == []
        assert self.page_errors == []
        assert self.dialogs == []
        assert self.blocked == []
        assert self.requests, "the page made no request at all (not even its own file)"
        assert [u for u in self.requests if not u.startswith("file://")] == []


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, one per test module (never a downloaded browser)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI (.ci/run installs the chromium package)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: ``$ITA_TEST_ARTIFACTS/report/`` or the test's ``tmp_path``."""
    folder = Path(ARTIFACTS) / "report" if ARTIFACTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def open_page(browser: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``open_page(site, "run/run_x.html")``: the page in a new context, recorded; its
    screenshot saved (named after the test) when the test ends."""
    contexts: list[Any] = []
    visits: list[Visit] = []

    def open_(site: Path, relative: str) -> Visit:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, (site / relative).as_uri())
        context.route(re.compile(r"^(?!file://).*"), lambda route: _block(visit, route))
        page.on("request", lambda req: visit.requests.append(req.url))
        page.on("console", lambda msg: _console(visit, msg))
        page.on("pageerror", lambda exc: visit.page_errors.append(str(exc)))
        page.on("dialog", lambda dialog: _dialog(visit, dialog))
        page.goto(visit.url, wait_until="load")
        visits.append(visit)
        return visit

    yield open_
    folder = artifacts(tmp_path)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for i, visit in enumerate(visits):
        suffix = f"-{i}" if i else ""
        visit.page.screenshot(path=str(folder / f"{name}{suffix}.png"), full_page=True)
    for context in contexts:
        context.close()


def _block(visit: Visit, route: Any) -> None:
    visit.blocked.append(route.request.url)
    route.abort()


def _console(visit: Visit, message: Any) -> None:
    if message.type == "error":
        visit.console_errors.append(message.text)


def _dialog(visit: Visit, dialog: Any) -> None:
    visit.dialogs.append(dialog.message)
    dialog.dismiss()


__all__ = [
    "GAP",
    "ORB",
    "ORB_DESCRIPTION",
    "PROBE",
    "SCRIPT",
    "Built",
    "Visit",
    "build_desk",
    "build_empty",
    "build_probe",
    "build_without_runs",
]

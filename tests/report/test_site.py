"""The report site at the HTML level: the pages of the site contract and their hooks, read with
the standard library's parser, from desks built through the real library (real git history,
runs, store and retention; :mod:`tests.report.fixtures_site`). What a browser does with them is
``test_browser.py``'s part."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, git, isolate
from tests.report.fixtures_site import SCRIPT, SiteDesk, empty_desk, full_desk, rules_desk

VOID = {"meta", "link", "input", "br", "img", "hr"}  # HTML's; SVG's are written self-closed


@dataclass
class El:
    tag: str
    attrs: dict[str, str]
    children: list[El | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self) -> Iterator[El]:
        yield self
        for c in self.children:
            if isinstance(c, El):
                yield from c.iter()

    def all(self, tag: str | None = None, **attrs: str) -> list[El]:
        """Every element below (and including) this one with ``tag`` and these attributes
        (``class_`` matches one class of the element)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        found = []
        for el in self.iter():
            if tag is not None and el.tag != tag:
                continue
            ok = True
            for k, v in want.items():
                have = el.attrs.get(k)
                if k == "class":
                    ok = ok and have is not None and v in have.split()
                else:
                    ok = ok and have == v
            if ok:
                found.append(el)
        return found

    def one(self, tag: str | None = None, **attrs: str) -> El:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = El("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = El(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(El(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(path: Path) -> El:
    tree = _Tree()
    tree.feed(path.read_text(encoding="utf-8"))
    tree.close()
    assert tree.stack == [tree.root], "unclosed elements"
    return tree.root


def build(root: Path) -> Path:
    from ita_rules.report.site import build_report
    from ita_rules.workspace import Workspace

    return build_report(Workspace.open(root)).out


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SiteDesk, Path]]:
    """The full desk and its report, built once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        desk = full_desk(tmp_path_factory.mktemp("site") / "desk")
        yield desk, build(desk.root)


SETUPS = ["Frank_raid_v1", "IB_raid_v1", "London_FVG_v1", "Xss_v1"]


def pages_of(out: Path) -> list[Path]:
    return sorted(out.rglob("*.html"))


def test_every_page_of_the_contract_is_written(site: tuple[SiteDesk, Path]) -> None:
    desk, out = site
    names = {p.relative_to(out).as_posix() for p in pages_of(out)}
    assert names == {
        "index.html",
        "runs.html",
        "storage.html",
        *(f"setup/{s}.html" for s in SETUPS),
        *(f"run/{r}.html" for r in [*desk.runs, desk.no_result_run]),
    }
    assets = {p.relative_to(out).as_posix() for p in (out / "assets").iterdir()}
    assert assets == {"assets/site.css", "assets/site.js"}


def test_every_page_has_the_nav_one_h1_a_main_and_fetches_nothing(
    site: tuple[SiteDesk, Path],
) -> None:
    _, out = site
    for page in pages_of(out):
        doc = parse(page)
        root = "../" if page.parent != out else ""
        hrefs = [a.attrs["href"] for a in doc.one("nav").all("a")]
        assert hrefs == [f"{root}index.html", f"{root}runs.html", f"{root}storage.html"]
        for href in hrefs:
            assert (page.parent / href).is_file()
        assert len(doc.all("h1")) == 1 and len(doc.all("main")) == 1
        links = [el.attrs.get("href") or el.attrs.get("src") or "" for el in doc.iter()]
        assert [u for u in links if re.match(r"[a-z]+:", u) and not u.startswith("data:")] == []
        for el in doc.all("a"):
            if not el.attrs["href"].startswith("#"):
                assert (page.parent / el.attrs["href"]).is_file(), (page, el.attrs["href"])
        scripts = doc.all("script")
        assert [s.attrs.get("src") for s in scripts if "src" in s.attrs] == [
            f"{root}assets/site.js"
        ]


def test_registry_lists_each_setup_with_its_versions_and_history(
    site: tuple[SiteDesk, Path],
) -> None:
    desk, out = site
    doc = parse(out / "index.html")
    table = doc.one("table", id="setups")
    rows = [r for r in table.all("tr") if "data-setup" in r.attrs]
    assert [r.attrs["data-setup"] for r in rows] == SETUPS
    ib = table.one("tr", data_setup="IB_raid_v1")
    assert [v.attrs["data-version"] for v in ib.all(class_="chip")] == ["1.0", "1.1", "1.2"]
    rule = desk.open().registry.get("IB_raid_v1", "1.2")
    assert rule.params_hash[:19] in ib.text  # "sha256:" + 12 hex
    assert json.loads(ib.attrs["data-tags"]) == ["ger40", "initial-balance"]
    london = table.one("tr", data_setup="London_FVG_v1")
    old = london.one(data_version="1.0")
    assert "deprecated" in old.attrs["class"]
    assert "deprecated: superseded by 1.1" in old.attrs["title"]
    commit = git(desk.root, "log", "--format=%H", "-1", "--", "rules/London_FVG_v1/v1.0.yaml")
    assert commit != "" and "introduced" in old.attrs["title"]
    assert doc.one("input", id="filter-tag").attrs["type"] == "text"
    assert doc.one("input", id="filter-active").attrs["type"] == "checkbox"


def test_setup_page_diffs_every_pair_as_ita_rules_diff_does(site: tuple[SiteDesk, Path]) -> None:
    from ita_rules.rules.diffing import compare_versions
    from ita_rules.rules.model import Version

    desk, out = site
    ws = desk.open()
    doc = parse(out / "setup" / "Frank_raid_v1.html")
    rows = [r for r in doc.one("table", id="versions").all("tr") if "data-version" in r.attrs]
    assert [r.attrs["data-version"] for r in rows] == ["1.0", "1.1", "2.0"]
    first = git(
        desk.root, "log", "--format=%H", "--diff-filter=A", "--", "rules/Frank_raid_v1/v2.0.yaml"
    )
    assert first[:12] in rows[2].text
    diffs = json.loads(doc.one("script", id="diffs").text)
    assert sorted(diffs) == ["1.0|1.1", "1.0|2.0", "1.1|2.0"]
    for key, shown in diffs.items():
        a, b = key.split("|")
        expected = compare_versions(
            ws.registry, "Frank_raid_v1", Version.parse(a), Version.parse(b)
        )
        assert shown["level"] == expected.bump
        assert [c["path"] for c in shown["changes"]] == [
            c.as_dict()["path"] for c in expected.changes
        ]
    assert [v["version"] for v in diffs["1.0|2.0"]["via"]] == ["1.1", "2.0"]
    assert diffs["1.0|2.0"]["via"][1]["commit"] == first[:12]
    # shown without script: the newest against the one before
    assert doc.one("select", id="diff-a").one("option", selected="").text == "1.1"
    assert doc.one("select", id="diff-b").one("option", selected="").text == "2.0"
    assert doc.one(id="diff-level").text == diffs["1.1|2.0"]["level"]
    changes = (
        doc.one(id="diff").all("tr", data_change="changed")
        + doc.one(id="diff").all("tr", data_change="added")
        + doc.one(id="diff").all("tr", data_change="removed")
    )
    assert len(changes) == len(diffs["1.1|2.0"]["changes"]) > 0


def test_ib_diff_is_the_minor_change_of_targets_tp(site: tuple[SiteDesk, Path]) -> None:
    _, out = site
    doc = parse(out / "setup" / "IB_raid_v1.html")
    assert doc.one(id="diff-level").text == "minor"
    row = doc.one(id="diff").one("tr", data_change="changed")
    assert [td.text for td in row.all("td")] == ["targets.tp", "1.5", "→", "2.0"]


def test_runs_page_table_metrics_and_charts(site: tuple[SiteDesk, Path]) -> None:
    desk, out = site
    doc = parse(out / "runs.html")
    table = doc.one("table", id="runs")
    ids = [r.attrs["data-run"] for r in table.all("tr") if "data-run" in r.attrs]
    assert ids == [desk.no_result_run, *reversed(desk.runs)]
    first = table.one("tr", data_run=desk.runs[0])
    assert first.one("td", data_metric="sharpe").text == "0.9"
    assert first.one("td", data_metric="win_rate").text == "0.52"
    assert "IB_raid_v1@1.1" in first.text and "reproducible" in first.text
    assert "drifted" in table.one("tr", data_run=desk.runs[1]).text
    assert "not verified yet" in table.one("tr", data_run=desk.runs[2]).text
    assert "2025-05-01 .. 2025-05-10" in first.text
    chart = doc.one("svg", class_="chart", data_setup="IB_raid_v1")
    sharpe = chart.one("g", data_metric="sharpe")
    marks = sharpe.all("rect", class_="mark")
    assert [m.attrs["data-version"] for m in marks] == ["1.1", "1.2"]
    assert marks[1].one("title").text == "v1.2: sharpe mean 1.5, best 1.6, 2 run(s)"
    assert "best" in marks[1].attrs["class"]
    assert "display" not in sharpe.attrs  # the default metric: the most common, then by name
    assert chart.one("g", data_metric="win_rate").attrs["display"] == "none"
    options = [o.text for o in doc.one("select", id="metric").all("option")]
    assert options == ["sharpe", "win_rate", SCRIPT]


def test_run_page_snapshot_lineage_and_verification(site: tuple[SiteDesk, Path]) -> None:
    from ita_rules.store import open_store

    desk, out = site
    run_id = desk.runs[0]
    doc = parse(out / "run" / f"{run_id}.html")
    facts = dict(zip(
        [dt.text for dt in doc.one(id="snapshot").all("dt")],
        [dd.text for dd in doc.one(id="snapshot").all("dd")],
        strict=True,
    ))  # fmt: skip
    assert facts["rule"] == "IB_raid_v1@v1.1" and facts["status"] == "succeeded"
    assert facts["data range"] == "2025-05-01 .. 2025-05-10"
    nodes = doc.one("svg", id="lineage").all("g", class_="node")
    by_kind: dict[str, list[str]] = {}
    for node in nodes:
        by_kind.setdefault(node.attrs["data-kind"], []).append(node.all("text")[0].text)
    with open_store(desk.open()) as store:
        outputs = sorted(Path(r.path).name for r in store.find(run_id=run_id, status=None))
    assert by_kind["input"] == ["GER40_D1.csv"]
    assert by_kind["run"] == [run_id]
    assert by_kind["rule"] == ["IB_raid_v1@1.1"]
    assert sorted(by_kind["output"]) == outputs and len(outputs) == 2
    assert doc.one(id="verify").one(class_="verify").text == "reproducible"
    assert doc.one(id="verify").all("li", class_="drift") == []
    assert [m.attrs["data-metric"] for m in doc.one("table", id="metrics").all("td")] == [
        SCRIPT,
        "sharpe",
        "win_rate",
    ]


def test_a_drifted_run_lists_each_drift(site: tuple[SiteDesk, Path]) -> None:
    desk, out = site
    doc = parse(out / "run" / f"{desk.runs[1]}.html")
    verify = doc.one(id="verify")
    assert verify.one(class_="verify").text == "drifted"
    drifts = [li.text for li in verify.all("li", class_="drift")]
    assert drifts[0].startswith("data inputs[data/GER40_D1.csv].range_hash: candles inside")
    assert "high 105.0 -> 105.5" in drifts[0]


def test_a_run_without_result_and_one_never_verified_say_so(site: tuple[SiteDesk, Path]) -> None:
    desk, out = site
    doc = parse(out / "run" / f"{desk.no_result_run}.html")
    assert [p.text for p in doc.all("p", class_="empty")] == [
        "This run saved no result — run.save_result({...}) stores one, stamped with the run "
        "and its rule version."
    ]
    verify = doc.one(id="verify")
    assert verify.text.strip() == (
        f"not verified yet — ita-rules runs verify {desk.no_result_run} recomputes it."
    )
    assert [n.attrs["data-kind"] for n in doc.one("svg", id="lineage").all("g", class_="node")] == [
        "rule",
        "run",
    ]


def test_storage_page_types_growth_plan_and_waiting(site: tuple[SiteDesk, Path]) -> None:
    _, out = site
    doc = parse(out / "storage.html")
    rows = [[td.text for td in tr.all("td")] for tr in doc.one("table", id="by-type").all("tr")[1:]]
    assert [r[:2] for r in rows] == [
        ["candles", "1"],
        ["result", "4"],
        ["screenshot", "1"],
        ["all", "6"],
    ]
    days = [c.one("title").text[:10] for c in doc.one("svg", id="growth").all("circle")]
    assert len(days) == 3 and days == sorted(days)  # 40 and 10 days ago, today
    plan = [
        [td.text for td in tr.all("td")][:3] for tr in doc.one("table", id="plan").all("tr")[1:]
    ]
    assert ["keep", "backtest result: never deleted automatically", "4"] in plan
    assert ["keep", "inside retain_days (< 30 days old)", "1"] in plan
    waiting = doc.one("table", id="waiting").all("tr")[1:]
    assert len(waiting) == 1
    cells = [td.text for td in waiting[0].all("td")]
    assert cells[1] == "candles" and cells[5] == "not needed"
    assert cells[6] == "older than 30 days (40 days old), strategy delete"


def test_script_in_user_text_renders_as_text_everywhere(site: tuple[SiteDesk, Path]) -> None:
    desk, out = site
    for page in pages_of(out):
        html = page.read_text(encoding="utf-8")
        assert SCRIPT not in html, page
        assert html.count("<script") == html.count("</script>") == len(parse(page).all("script"))
    index = parse(out / "index.html").one("tr", data_setup="Xss_v1")
    assert SCRIPT in index.text  # the description and the tag, as text
    assert json.loads(index.attrs["data-tags"]) == [SCRIPT]
    runs = parse(out / "runs.html").one("table", id="runs")
    assert SCRIPT in [th.text for th in runs.all("th")]
    assert runs.one("tr", data_run=desk.runs[0]).one("td", data_metric=SCRIPT).text == "1"
    setup = (out / "setup" / "Xss_v1.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in setup


def test_inline_json_cannot_close_its_script_element() -> None:
    from ita_rules.report.render import json_script

    text = str(json_script({"a": "</script><script>alert(1)</script> & <!--"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script> & <!--"}


def test_empty_workspace_gets_helpful_pages(tmp_path: Path) -> None:
    out = build(empty_desk(tmp_path / "desk"))
    assert {p.relative_to(out).as_posix() for p in pages_of(out)} == {
        "index.html",
        "runs.html",
        "storage.html",
    }
    empty = {
        name: [p.text for p in parse(out / name).all("p", class_="empty")]
        for name in ("index.html", "runs.html", "storage.html")
    }
    assert empty == {
        "index.html": ["No rules yet — ita-rules new SETUP_ID writes the first version."],
        "runs.html": [
            "No runs yet — ita-rules runs start records one (or ws.start_run(...) in a flow)."
        ],
        "storage.html": [
            "The store is empty — ita-rules store put FILE --type TYPE stores a file; runs "
            "store their results.",
            "Nothing to decide: the store holds no live file.",
            "Nothing waits: no file is soft-deleted (ita-rules retention apply soft-deletes "
            "what the plan selects).",
        ],
    }


def test_workspace_without_runs_gets_helpful_pages(tmp_path: Path) -> None:
    out = build(rules_desk(tmp_path / "desk"))
    runs = parse(out / "runs.html")
    assert [p.text for p in runs.all("p", class_="empty")] == [
        "No runs yet — ita-rules runs start records one (or ws.start_run(...) in a flow)."
    ]
    assert runs.all("table") == []
    setup = parse(out / "setup" / "IB_raid_v1.html")
    assert [p.text for p in setup.all("p", class_="empty")] == [
        "No run used this setup yet — ita-rules runs start backtest_flow --rule "
        "IB_raid_v1@1.2 records one."
    ]
    only = parse(out / "setup" / "Xss_v1.html")
    assert only.all("p", class_="empty")[0].text == (
        "Only one version — nothing to compare yet; ita-rules new-version Xss_v1 writes the next."
    )


def _mutations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Edits of a rule document that ``diff`` lists differently: values, types, keys added and
    removed at any depth, a mapping turned into a value, lists changed."""
    out = []
    for edit in (
        lambda d: d["params"].update(extra=1),
        lambda d: d["params"].pop(next(iter(d["params"]))),
        lambda d: d["targets"].update(tp=d["targets"].get("tp", 1) + 0.5),
        lambda d: d["targets"].update(tp=int(d["targets"].get("tp", 1))),
        lambda d: d["targets"].update(tp=str(d["targets"].get("tp", 1))),
        lambda d: d["rules"].update(market={"name": "GER40", "venue": "XETRA"}),
        lambda d: d["rules"].update(nested={"a": {"b": [1, 2]}}),
        lambda d: d.update(components=[*d["components"], "Detect_OB"]),
        lambda d: d.update(components=list(reversed(d["components"]))),
        lambda d: d.update(tags=["x", *d.get("tags", [])]),
        lambda d: d.update(description=None),
        lambda d: d.pop("targets"),
        lambda d: d.update(active=1),
    ):
        changed = json.loads(json.dumps(doc))
        edit(changed)
        out.append(changed)
    return out


def test_the_fast_diff_lists_what_diffing_diff_lists() -> None:
    from ita_rules.report.diffs import changes, level
    from ita_rules.rules.diffing import classify, diff
    from ita_rules.rules.registry import Registry

    rules, problems = Registry(REPO / "rules", REPO).scan()
    assert problems == [] and len(rules) >= 8
    docs = [r.data for r in rules]
    pairs = [(a, b) for a in docs for b in docs] + [(d, m) for d in docs for m in _mutations(d)]
    lists, levels = 0, set()
    for old, new in pairs:
        found = changes(old, new)
        ours = [c.as_dict() for c in found]
        assert ours == [c.as_dict() for c in diff(old, new)]
        assert level(old, new, found) == classify(old, new)[0]
        levels.add(level(old, new, found))
        lists += any(c["path"].startswith(("components", "tags", "rules.nested")) for c in ours)
    assert lists  # some pairs took deepdiff's way (a list changed)
    assert levels == {"none", "minor", "major"}


def _model(desk: SiteDesk) -> Any:
    from ita_rules.report.model import gather
    from ita_rules.workspace import Workspace

    return gather(Workspace.open(desk.root))


def _render_into(folder: Path, model: Any, workers: int) -> dict[str, bytes]:
    from ita_rules.report.pages import Pages
    from ita_rules.report.render import environment
    from ita_rules.report.workers import write_pages

    (folder / "setup").mkdir(parents=True)
    (folder / "run").mkdir()
    seen: list[tuple[int, int]] = []
    count = write_pages(
        Pages(model, environment()), folder, lambda d, t: seen.append((d, t)), workers
    )
    total = 3 + len(model.setups) + len(model.runs)
    assert count == total and seen[-1] == (total, total)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in pages_of(folder)}


def test_pages_rendered_in_two_worker_processes_are_the_same_bytes(
    site: tuple[SiteDesk, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ita_rules.report import workers

    desk, _ = site
    monkeypatch.setattr(workers, "MIN_PAGES", 0)  # the desk has a handful of pages, not 400
    model = _model(desk)
    here = _render_into(tmp_path / "here", model, 1)
    forked = _render_into(tmp_path / "forked", model, 2)
    assert len(here) == 3 + len(SETUPS) + len(desk.runs) + 1
    assert forked == here


def test_a_page_failing_in_a_worker_is_the_same_one_line_error(
    site: tuple[SiteDesk, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ita_rules.report import workers
    from ita_rules.report.pages import Pages
    from ita_rules.report.render import ReportError

    def broken(self: Pages, run: object) -> str:
        raise KeyError("boom")

    monkeypatch.setattr(workers, "MIN_PAGES", 0)
    monkeypatch.setattr(Pages, "run", broken)  # inherited by the forked workers
    with pytest.raises(ReportError) as caught:
        _render_into(tmp_path / "forked", _model(site[0]), 2)
    assert str(caught.value) == "report: a page could not be rendered: KeyError: 'boom'"
    assert workers._JOB is None

"""Each page of the site from the model (docs/architecture.md#report): what a template is given,
prepared here so the templates only lay it out. The templates are compiled once per build; a
run page is one render of the same compiled template per run."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ita_rules.report import runfacts, svg
from ita_rules.report.render import markup
from ita_rules.report.runs_data import RunView, by_version, metric_names, numeric_metrics

if TYPE_CHECKING:
    import jinja2

    from ita_rules.report.model import ReportModel
    from ita_rules.report.registry_data import SetupView, VersionView

RUNS_SHOWN = 500  # the runs table: the newest ones; every run has its own page
CHARTS_SHOWN = 24  # runs page: the setups with most runs; every setup page has its chart
METRICS_SHOWN = 20  # metric columns of the runs table, most common first
RUNS_PER_VERSION = 50  # links per version on a setup page


class Pages:
    """The pages of one model, rendered by one environment."""

    def __init__(self, model: ReportModel, env: jinja2.Environment) -> None:
        self.model = model
        self.env = env
        self.templates = {
            name: env.get_template(f"{name}.html")
            for name in ("registry", "setup", "runs", "run", "storage")
        }
        self.runs_by_setup: defaultdict[str, list[RunView]] = defaultdict(list)
        for r in model.runs:
            self.runs_by_setup[str(r.snapshot.get("rule_id") or "")].append(r)
        self.metrics = numeric_metrics(model.runs)

    def _page(self, name: str, title: str, root: str, **context: Any) -> str:
        return self.templates[name].render(
            title=title,
            root=root,
            generated_at=self.model.generated_at,
            workspace=self.model.workspace,
            **context,
        )

    # -- registry ---------------------------------------------------------------------------
    def registry(self) -> str:
        rows = [
            {
                "setup_id": s.setup_id,
                "versions": [_chip(v) for v in s.versions],
                "latest": s.latest,
                "tags": s.tags,
                "tags_json": json.dumps(s.tags, ensure_ascii=False),
                "active": s.active,
                "runs": len(self.runs_by_setup.get(s.setup_id, ())),
            }
            for s in self.model.setups
        ]
        problems = [str(f) for f in self.model.problems]
        return self._page("registry", "Registry", "", rows=rows, problems=problems)

    # -- setup ------------------------------------------------------------------------------
    def setup(self, s: SetupView) -> str:
        runs = self.runs_by_setup.get(s.setup_id, [])
        used: defaultdict[str, list[str]] = defaultdict(list)
        for r in runs:
            used[r.version].append(r.run_id)
        diffs = {f"{d.a}|{d.b}": d.as_dict() for d in s.diffs()}
        pair = (s.versions[-2].version, s.versions[-1].version) if len(s.versions) > 1 else None
        return self._page(
            "setup",
            s.setup_id,
            "../",
            setup=s,
            versions=[_version_row(v) for v in s.versions],
            timeline=self._timeline(s),
            used={v: (ids[:RUNS_PER_VERSION], len(ids)) for v, ids in used.items()},
            diffs=diffs,
            pair=pair,
            shown=diffs[f"{pair[0]}|{pair[1]}"] if pair else None,
            chart=self._chart(s.setup_id, runs),
            metric=self.metrics[0] if self.metrics else "",
            metrics_all=self.metrics,
        )

    def _timeline(self, s: SetupView) -> Any:
        now = self.model.generated_at
        lanes = [(v.version, v.windows(now), v.rule.active) for v in s.versions]
        starts = [w[0] for _, windows, _ in lanes for w in windows]
        if not starts:
            return None
        return markup(svg.timeline(lanes, min(starts), now))

    def _chart(self, setup_id: str, runs: list[RunView]) -> Any:
        series = [(m, by_version(runs, m)) for m in self.metrics]
        series = [(m, points) for m, points in series if points]
        if not series:
            return None
        shown = self.metrics[0] if self.metrics[0] == series[0][0] else series[0][0]
        return markup(svg.metric_chart(setup_id, series, shown))

    # -- runs -------------------------------------------------------------------------------
    def runs(self) -> str:
        runs = self.model.runs
        names = metric_names(runs)
        common = set(numeric_metrics(runs)[:METRICS_SHOWN]) or set(names[:METRICS_SHOWN])
        columns = [n for n in names if n in common][:METRICS_SHOWN]
        busiest = sorted(
            ((k, v) for k, v in self.runs_by_setup.items() if k),
            key=lambda kv: (-len(kv[1]), kv[0]),
        )[:CHARTS_SHOWN]
        charts = [(k, self._chart(k, v)) for k, v in busiest]
        per_version: defaultdict[str, list[RunView]] = defaultdict(list)
        for r in runs:
            if r.rule_ref:
                per_version[r.rule_ref].append(r)
        return self._page(
            "runs",
            "Runs",
            "",
            rows=[runfacts.run_row(r) for r in runs[:RUNS_SHOWN]],
            total=len(runs),
            shown=min(len(runs), RUNS_SHOWN),
            columns=columns,
            metrics=self.metrics,
            charts=[(k, c) for k, c in charts if c is not None],
            per_version=sorted(per_version.items(), key=lambda kv: (-len(kv[1]), kv[0]))[
                :RUNS_SHOWN
            ],
        )

    # -- run --------------------------------------------------------------------------------
    def run(self, r: RunView) -> str:
        s = r.snapshot
        return self._page(
            "run",
            r.run_id,
            "../",
            run=r,
            row=runfacts.run_row(r),
            facts=runfacts.facts(s),
            inputs=list(s.get("inputs") or []),
            packages=runfacts.packages((s.get("env") or {}).get("packages") or {}),
            lineage=markup(self._lineage(r)),
            drifts=runfacts.drifts(r.verification),
        )

    def _lineage(self, r: RunView) -> str:
        s = r.snapshot
        inputs = [
            svg.Node(
                "input",
                PurePosixPath(str(e.get("path", "?"))).name,
                " · ".join(
                    x
                    for x in (
                        _prefix(e.get("range_hash") or e.get("hash")),
                        f"{e['first'][:10]} .. {e['last'][:10]}" if e.get("first") else "",
                    )
                    if x
                ),
            )
            for e in s.get("inputs") or []
        ]
        outputs = []
        for file_id in s.get("outputs") or []:
            rec = self.model.storage.records.get(str(file_id))
            if rec is None:
                outputs.append(svg.Node("output", str(file_id)[:13], "record not found"))
            else:
                detail = f"{rec.type} · {_prefix(rec.hash)}" + (
                    "" if rec.status == "live" else f" · {rec.status}"
                )
                outputs.append(svg.Node("output", PurePosixPath(rec.path).name, detail))
        rule = None
        if r.rule_ref:
            href = f"../setup/{s['rule_id']}.html"
            rule = svg.Node("rule", r.rule_ref, _prefix(s.get("params_hash")), href)
        run = svg.Node("run", r.run_id, f"{s.get('status')} · {s.get('flow_type')}")
        return svg.lineage(inputs, run, outputs, rule)

    # -- storage ----------------------------------------------------------------------------
    def storage(self) -> str:
        st = self.model.storage
        return self._page(
            "storage",
            "Storage",
            "",
            st=st,
            growth=markup(svg.growth_chart(st.growth)) if st.growth else None,
            total_files=sum(t.files for t in st.by_type),
            total_bytes=sum(t.bytes for t in st.by_type),
        )


def _prefix(value: object, length: int = 12) -> str:
    text = str(value or "")
    head, sep, rest = text.partition(":")
    return f"{head}:{rest[:length]}" if sep else text[:length]


def _chip(v: VersionView) -> dict[str, Any]:
    rule = v.rule
    parts = [f"v{v.version}"]
    if v.commit:
        who = (v.git_author or "").split(" <")[0]  # the name, without the address
        parts.append(f"introduced {(v.introduced_at or '')[:10]} by {who} in {v.commit[:12]}")
    else:
        parts.append("not committed yet")
    if not rule.active:
        parts.append(f"deprecated: {rule.deprecation_reason}")
    return {"version": v.version, "active": rule.active, "title": " · ".join(parts)}


def _version_row(v: VersionView) -> dict[str, Any]:
    return {
        "version": v.version,
        "rule": v.rule,
        "commit": (v.commit or "")[:12],
        "git_author": v.git_author or "",
        "date": (v.introduced_at or "")[:10],
        "events": [e for e in v.events if e.kind != "introduced"],
    }

"""The report's charts as SVG text written here, on the server side (docs/architecture.md#report):
no chart library, no script, so a page draws from ``file://`` with nothing to fetch. Every text
that comes from the desk goes through :func:`esc`; the results are markup for the templates.

- :func:`metric_chart`: a metric by rule version for one setup, one bar per version;
- :func:`growth_chart`: bytes stored over time;
- :func:`lineage`: inputs -> run -> outputs in columns, the rule version above the run;
- :func:`timeline`: each version's active windows on one time axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from ita_rules.report.runs_data import VersionPoint


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def num(value: float) -> str:
    """A number as a chart label: four significant digits."""
    return f"{value:.4g}"


def size(n: int) -> str:
    """Bytes in the unit that reads best (``1.5 MB``)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover - the loop always returns


def metric_chart(
    setup_id: str, series: Sequence[tuple[str, list[VersionPoint]]], shown: str
) -> str:
    """``svg.chart[data-setup]``: per metric a ``g.series[data-metric]`` (only ``shown``
    displayed) with one ``rect.mark`` per rule version (the mean over its runs; the
    ``<title>`` says mean, best and how many runs)."""
    width, height, pad = 360, 150, 28
    parts = [
        f'<svg class="chart" data-setup="{esc(setup_id)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(setup_id)} by version">'
    ]
    for metric, points in series:
        hidden = "" if metric == shown else ' display="none"'
        parts.append(f'<g class="series" data-metric="{esc(metric)}"{hidden}>')
        parts.append(_bars(metric, points, width, height, pad))
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _bars(metric: str, points: list[VersionPoint], width: int, height: int, pad: int) -> str:
    low = min(0.0, *(p.mean for p in points))
    high = max(0.0, *(p.mean for p in points))
    span = (high - low) or 1.0
    plot_h = height - 2 * pad

    def y(v: float) -> float:
        return pad + (high - v) / span * plot_h

    step = (width - 2 * pad) / max(len(points), 1)
    bar = min(step * 0.6, 40)
    best = max(points, key=lambda p: p.mean).version if points else ""
    out = [f'<line class="axis" x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>']
    for i, p in enumerate(points):
        x = pad + i * step + (step - bar) / 2
        top, bottom = sorted((y(p.mean), y(0)))
        cls = "mark best" if p.version == best else "mark"
        tip = f"v{p.version}: {metric} mean {num(p.mean)}, best {num(p.best)}, {p.runs} run(s)"
        out.append(
            f'<rect class="{cls}" data-version="{esc(p.version)}" x="{x:.1f}" y="{top:.1f}" '
            f'width="{bar:.1f}" height="{max(bottom - top, 1):.1f}">'
            f"<title>{esc(tip)}</title></rect>"
            f'<text class="label" x="{x + bar / 2:.1f}" y="{height - 8}">v{esc(p.version)}</text>'
            f'<text class="value" x="{x + bar / 2:.1f}" y="{top - 3:.1f}">{num(p.mean)}</text>'
        )
    return "".join(out)


def growth_chart(points: Sequence[tuple[str, int]]) -> str:
    """``svg.chart#growth``: bytes stored by the end of each day, as a line with a dot (and its
    ``<title>``) per day."""
    width, height, pad = 640, 200, 40
    head = (
        f'<svg class="chart" id="growth" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="bytes stored over time">'
    )
    if not points:
        return head + "</svg>"
    top = max(b for _, b in points) or 1
    first, last = _epoch(points[0][0]), _epoch(points[-1][0])
    scale = (width - 2 * pad) / ((last - first) or 1.0)
    xy = [
        (pad + (_epoch(day) - first) * scale, height - pad - b / top * (height - 2 * pad))
        for day, b in points
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(
        f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{esc(day)}: '
        f"{esc(size(b))}</title></circle>"
        for (x, y), (day, b) in zip(xy, points, strict=True)
    )
    labels = (
        f'<text class="label" x="{pad}" y="{height - 12}">{esc(points[0][0])}</text>'
        f'<text class="label end" x="{width - pad}" y="{height - 12}">{esc(points[-1][0])}</text>'
        f'<text class="label start" x="4" y="{pad - 8}">{esc(size(top))}</text>'
    )
    base = height - pad
    axis = f'<line class="axis" x1="{pad}" x2="{width - pad}" y1="{base}" y2="{base}"/>'
    return f'{head}{axis}<polyline class="line" points="{line}"/>{dots}{labels}</svg>'


@dataclass(frozen=True)
class Node:
    """A lineage node: its kind, visible label and a second line (hash prefix, range)."""

    kind: str  # input, run, output, rule
    label: str
    detail: str = ""
    href: str | None = None


NODE_W, NODE_H, GAP = 330, 44, 14
LABEL_CHARS = 50  # what fits in a node at 11px; the whole label is in its <title>


def lineage(inputs: Sequence[Node], run: Node, outputs: Sequence[Node], rule: Node | None) -> str:
    """``svg#lineage``: inputs (left) -> run (middle) -> outputs (right), the rule version
    above the run; each node a ``g.node[data-kind]`` holding its label as ``<text>``."""
    rows = max(len(inputs), len(outputs), 1)
    top = NODE_H + 3 * GAP if rule is not None else GAP
    height = top + rows * (NODE_H + GAP) + GAP
    width = 3 * NODE_W + 4 * 40
    cols = (40, 40 + NODE_W + 40, 40 + 2 * (NODE_W + 40))
    middle = top + (rows * (NODE_H + GAP) - GAP - NODE_H) / 2
    parts = [
        f'<svg id="lineage" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" role="img" aria-label="lineage of {esc(run.label)}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/>'
        "</marker></defs>"
    ]
    run_xy = (cols[1], middle)
    for i, node in enumerate(inputs):
        y = top + i * (NODE_H + GAP)
        parts.append(_edge(cols[0] + NODE_W, y + NODE_H / 2, cols[1], middle + NODE_H / 2))
        parts.append(_node(node, cols[0], y))
    for i, node in enumerate(outputs):
        y = top + i * (NODE_H + GAP)
        parts.append(_edge(cols[1] + NODE_W, middle + NODE_H / 2, cols[2], y + NODE_H / 2))
        parts.append(_node(node, cols[2], y))
    if rule is not None:
        parts.append(_edge(cols[1] + NODE_W / 2, GAP + NODE_H, cols[1] + NODE_W / 2, middle))
        parts.append(_node(rule, cols[1], GAP))
    parts.append(_node(run, *run_xy))
    parts.append("</svg>")
    return "".join(parts)


def _edge(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line class="edge" x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2:.0f}" '
        'marker-end="url(#arrow)"/>'
    )


def _node(node: Node, x: float, y: float) -> str:
    label = node.label if len(node.label) <= LABEL_CHARS else node.label[: LABEL_CHARS - 1] + "…"
    body = (
        f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
        f'<text x="{x + 8:.0f}" y="{y + 18:.0f}">{esc(label)}</text>'
        f'<text class="sub" x="{x + 8:.0f}" y="{y + 35:.0f}">{esc(node.detail)}</text>'
        f"<title>{esc(node.label)}{' — ' + esc(node.detail) if node.detail else ''}</title>"
    )
    if node.href:
        body = f'<a href="{esc(node.href)}">{body}</a>'
    return f'<g class="node" data-kind="{esc(node.kind)}">{body}</g>'


def timeline(lanes: Sequence[tuple[str, list[tuple[str, str]], bool]], start: str, end: str) -> str:
    """``svg.timeline``: one lane per version (label, active windows as ISO times, active now),
    on a shared axis from ``start`` to ``end``."""
    width, lane, pad = 640, 22, 70
    height = len(lanes) * lane + 30
    t0, t1 = _epoch(start), _epoch(end)
    span = (t1 - t0) or 1.0

    def x(moment: str) -> float:
        return pad + (_epoch(moment) - t0) / span * (width - pad - 10)

    parts = [
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="active windows of each version">'
    ]
    for i, (version, windows, active) in enumerate(lanes):
        y = 8 + i * lane
        parts.append(f'<text class="label" x="4" y="{y + 12}">v{esc(version)}</text>')
        for a, b in windows:
            cls = "window active" if active and b == end else "window"
            parts.append(
                f'<rect class="{cls}" x="{x(a):.1f}" y="{y}" width="{max(x(b) - x(a), 3):.1f}" '
                f'height="{lane - 8}"><title>v{esc(version)} active {esc(a[:10])} .. '
                f"{esc(b[:10])}</title></rect>"
            )
    parts.append(
        f'<text class="label" x="{pad}" y="{height - 4}">{esc(start[:10])}</text>'
        f'<text class="label end" x="{width - 10}" y="{height - 4}">{esc(end[:10])}</text></svg>'
    )
    return "".join(parts)


def _epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()

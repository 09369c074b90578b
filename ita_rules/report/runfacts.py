"""What a run shows (docs/architecture.md#report): its row in the runs table, its snapshot as
``runs show`` reads it, its installed packages, the drifts of its last verify. Plain values for
the templates of :mod:`.pages`."""

from __future__ import annotations

from typing import Any

from ita_rules.report.runs_data import RunView


def run_row(r: RunView) -> dict[str, Any]:
    s = r.snapshot
    rng = s.get("data_range")
    return {
        "run_id": r.run_id,
        "status": s.get("status"),
        "flow_type": s.get("flow_type"),
        "rule_ref": r.rule_ref,
        "setup_id": s.get("rule_id"),
        "symbol": s.get("symbol") or "-",
        "timeframe": s.get("timeframe") or "-",
        "range": f"{rng[0]} .. {rng[1]}" if rng else "-",
        "commit": (s.get("git_commit") or "-")[:10],
        "dirty": bool(s.get("git_dirty")),
        "verify": r.verify_state,
        "metrics": r.metrics,
        "started": str(s.get("started_at") or "")[:19].replace("T", " "),
    }


def facts(s: Any) -> list[tuple[str, str]]:
    """The snapshot as ``runs show`` reads it: label, value."""
    env = s.get("env") or {}
    dirty = "no"
    if s.get("git_dirty"):
        changed = list(s.get("git_changed") or []) + list(s.get("git_untracked") or {})
        dirty = "yes" + (
            f" ({', '.join(changed[:8])}{' …' if len(changed) > 8 else ''})" if changed else ""
        )
    rng = s.get("data_range")
    pairs = [
        ("status", s.get("status")),
        ("flow type", s.get("flow_type")),
        ("started", s.get("started_at")),
        ("finished", s.get("finished_at") or "-"),
        ("error", s.get("error")),
        ("rule", f"{s['rule_id']}@{s.get('rule_version')}" if s.get("rule_id") else "-"),
        ("rule released", {True: "yes", False: "no"}.get(s.get("rule_released"), "-")),
        ("params_hash", s.get("params_hash") or "-"),
        ("symbol", s.get("symbol") or "-"),
        ("timeframe", s.get("timeframe") or "-"),
        ("data range", f"{rng[0]} .. {rng[1]}" if rng else "-"),
        ("data_hash", s.get("data_hash") or "-"),
        ("git commit", s.get("git_commit") or "-"),
        ("git branch", s.get("git_branch") or "-"),
        ("dirty", dirty),
        ("diff hash", s.get("git_diff_hash")),
        ("python", f"{env.get('python', '-')} on {env.get('platform', '-')}"),
        ("host", s.get("host") or "-"),
        ("flow run", f"{s.get('flow_name')} {s['flow_run_id']}" if s.get("flow_run_id") else None),
        ("ita-rules", s.get("ita_rules_version")),
    ]
    return [(k, str(v)) for k, v in pairs if v is not None]


def packages(packages: dict[str, str]) -> tuple[int, Any]:
    """How many packages, and ``name version · ...`` as one text, escaped (one join, not a
    template loop: a run page is rendered 10,000 times). Runs made in one environment have
    equal lists: the last few are remembered, joined and escaped once."""
    for known, shown in _RECENT:
        if known == packages:
            return shown
    from markupsafe import escape

    listed = sorted(packages.items())
    shown = len(listed), escape(" · ".join(f"{n} {v}" for n, v in listed))
    if all(isinstance(v, str) for v in packages.values()):  # equal to it: the same text
        _RECENT.insert(0, (dict(packages), shown))
        del _RECENT[8:]
    return shown


_RECENT: list[tuple[dict[str, str], tuple[int, Any]]] = []  # newest first


def drifts(verification: Any) -> list[dict[str, str]]:
    """Each difference of the last verify: its part (data, rule, git, env), what, message."""
    if not verification:
        return []
    return [
        {
            "part": str(d.get("part", "")),
            "what": str(d.get("what", "")),
            "message": str(d.get("message", "")),
        }
        for d in verification.get("differences") or []
    ]

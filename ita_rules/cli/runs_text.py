"""How the ``runs`` verbs print in text: ``runs show``, the table of ``runs list``, the drift of
``runs compare``."""

from __future__ import annotations

from typing import Any

from ita_rules.cli.app import echo


def list_text(rows: list[dict[str, Any]], key: bool, metrics: list[str] | None) -> None:
    table = [["RUN_ID", "FLOW", "STATUS", "RULE", "SYMBOL", "TF", "COMMIT", "STARTED"]]
    table[0] += ["KEY"] if key else []
    table[0] += metrics or []
    for r in rows:
        rule = f"{r['setup_id']}@{r['rule_version']}" if r["setup_id"] else "-"
        commit = (r["git_commit"] or "-")[:10] + ("+dirty" if r["git_dirty"] else "")
        table.append(
            [
                r["run_id"],
                r["flow_type"],
                r["status"],
                rule,
                r["symbol"] or "-",
                r["timeframe"] or "-",
                commit,
                r["started_at"][:19],
                *([r["key"][:23]] if key else []),
                *(_metric(r["metrics"].get(name)) for name in metrics or []),
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _metric(value: Any) -> str:
    """A metric in a table cell: floats to 6 significant digits, "-" when absent."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _listed(what: str, paths: list[str]) -> list[str]:
    if not paths:
        return []
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    return [f"{what} {', '.join(paths[:5])}{more}"]


def _dirty(s: dict[str, Any]) -> str:
    """``  dirty (changed a.py; diff sha256:...; untracked b.py)``, or "" for a clean tree."""
    if not s.get("git_dirty"):
        return ""
    parts = _listed("changed", list(s.get("git_changed") or []))
    if s.get("git_diff_hash"):
        parts.append(f"diff {s['git_diff_hash']}")
    parts += _listed("untracked", list(s.get("git_untracked") or {}))
    return f"  dirty ({'; '.join(parts) or 'no commit'})"


def show_text(s: dict[str, Any]) -> None:
    echo(f"{s['run_id']}  {s['flow_type']}  {s['status']}")
    if s.get("error"):
        echo(f"  error:       {s['error']}")
    echo(f"  started:     {s['started_at']}  finished: {s.get('finished_at') or '-'}")
    if s.get("rule_id"):
        unreleased = " (unreleased)" if s.get("rule_released") is False else ""
        echo(f"  rule:        {s['rule_id']}@{s['rule_version']}{unreleased}  {s['params_hash']}")
    echo(f"  symbol:      {s.get('symbol') or '-'}  timeframe: {s.get('timeframe') or '-'}")
    echo(f"  git:         {s.get('git_commit') or '-'} on {s.get('git_branch') or '-'}{_dirty(s)}")
    rng = s.get("data_range")
    echo(f"  data:        {s['data_hash']}" + (f"  range {rng[0]} .. {rng[1]}" if rng else ""))
    for entry in s.get("inputs", []):
        extra = ""
        if "rows" in entry:
            extra = (
                f"  {entry['rows']} candles {entry['first']} .. {entry['last']}"
                if entry["rows"]
                else "  no candle in the range"
            )
        echo(f"    {entry['path']}  {entry.get('range_hash') or entry['hash']}{extra}")
    env = s.get("env", {})
    echo(
        f"  python:      {env.get('python')} on {env.get('platform')}, "
        f"{len(env.get('packages', {}))} packages"
    )
    if s.get("flow_run_id"):
        echo(f"  flow run:    {s.get('flow_name')} {s['flow_run_id']}")
    echo(f"  outputs:     {', '.join(s.get('outputs', [])) or '-'}")
    echo(f"  verified:    {_last_verify(s['run_id'], s.get('last_verification'))}")


def _last_verify(run_id: str, last: dict[str, Any] | None) -> str:
    if last is None:
        return f"never (ita-rules runs verify {run_id})"
    count = len(last["differences"])
    found = f" ({count} difference(s))" if count else ""
    return f"{last['verified_at']} {last['outcome']}{found}"


def compare_text(doc: dict[str, Any]) -> None:
    """The drift of two runs by group, each group's fields aligned; "no drift" when they are
    the same."""
    echo(f"{doc['a']} vs {doc['b']}: " + ("no drift" if doc["same"] else "drift"))
    for group, found in doc["drift"].items():
        if not found:
            continue
        echo(f"{group}:")
        width = max(len(d["field"]) for d in found)
        for d in found:
            echo(f"  {d['field'].ljust(width)}  {_value(d['a'])} -> {_value(d['b'])}")


def _value(value: Any) -> str:
    """A snapshot value in a drift line: strings as they are, None as "-", the rest as JSON
    (cut to 60 characters)."""
    import json

    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."

"""Journey: a backtest run, start to result.

A desk writes its backtest flow in Python (``flows/backtest.py``, committed), runs it as a
process, and reads the run back with ``ita-rules runs show/verify`` and ``ita-rules store``.
The result is what backtesting.py's ``Stats`` looks like once turned into a dict.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from ita_rules.core import canonical
from tests.journeys.conftest import Desk, Ran, candles_csv

# backtesting.py's Stats as a dict (pd.Series.to_dict() with Timestamps as strings): "# Trades"
# and "trades" are counts, as most engines report them.
STATS: dict[str, Any] = {
    "Start": "2025-05-01 00:00:00",
    "End": "2025-05-10 00:00:00",
    "Duration": "9 days 00:00:00",
    "Exposure Time [%]": 30.0,
    "Equity Final [$]": 10120.0,
    "Equity Peak [$]": 10180.5,
    "Return [%]": 1.2,
    "Buy & Hold Return [%]": 4.5,
    "Return (Ann.) [%]": 38.4,
    "Volatility (Ann.) [%]": 8.2,
    "Sharpe Ratio": 1.4,
    "Sortino Ratio": 2.1,
    "Calmar Ratio": 3.0,
    "Max. Drawdown [%]": -0.8,
    "Avg. Drawdown [%]": -0.4,
    "Max. Drawdown Duration": "3 days 00:00:00",
    "# Trades": 3,
    "Win Rate [%]": 66.67,
    "Best Trade [%]": 0.9,
    "Worst Trade [%]": -0.3,
    "Avg. Trade [%]": 0.4,
    "Profit Factor": 2.5,
    "Expectancy [%]": 0.4,
    "SQN": 1.1,
    "_strategy": "IBRaid",
    "trades": 3,
    "metrics": {"Max. Drawdown Duration": "3 days"},
}

FLOW = '''"""The desk's backtest flow: python flows/backtest.py '{"rule": "IB_raid_v1@1.2", ...}'."""
import json
import sys

from ita_rules import ItaRulesError, Workspace


def main(options):
    ws = Workspace.open()
    setup_id, _, version = options["rule"].partition("@")
    rule = ws.registry.get(setup_id, version)
    try:
        with ws.start_run(
            "backtest_flow",
            rule=rule,
            symbol="GER40",
            timeframe="M15",
            inputs=options.get("inputs", []),
            data_range=options.get("range"),
            strict=options.get("strict", False),
        ) as run:
            record = run.save_result(options["result"])
    except ItaRulesError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(run.run_id, record.path)
    return 0


sys.exit(main(json.loads(sys.argv[1])))
'''

CSV = "data/GER40_M15.csv"
RANGE = ["2025-05-01", "2025-05-10"]
RUN_ID = re.compile(r"run_\d{4}_\d{2}_\d{2}_\d{3}")


def with_flow(desk: Desk) -> Desk:
    desk.write("flows/backtest.py", FLOW)
    desk.commit("the backtest flow", "flows/backtest.py")
    return desk


def backtest(desk: Desk, **options: Any) -> Ran:
    options.setdefault("rule", "IB_raid_v1@1.2")
    options.setdefault("result", STATS)
    return desk.sh(sys.executable, "flows/backtest.py", json.dumps(options))


def provenance(desk: Desk) -> list[str]:
    folder = desk.root / "exchange" / "archive" / "provenance"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def edit_params(path: Path, old: str, new: str) -> None:
    """Change a parameter and write the params_hash that matches (what `validate --fix` did)."""
    from ita_rules.core import yamlio

    text = path.read_text(encoding="utf-8").replace(old, new)
    doc, _ = yamlio.loads(text, str(path))
    assert doc is not None
    current = re.search(r'params_hash: "(sha256:[0-9a-f]{64})"', text)
    assert current is not None
    path.write_text(
        text.replace(current.group(1), canonical.params_hash(doc.data)), encoding="utf-8"
    )


# -- 7. a result never claims a released version it does not match --------------------------


def test_a_run_on_a_locally_modified_released_version_is_refused(desk: Desk) -> None:
    with_flow(desk)
    released = desk.git("rev-parse", "HEAD:rules/IB_raid_v1/v1.0.yaml")
    edit_params(
        desk.root / "rules/IB_raid_v1/v1.0.yaml", "max_trades_per_day: 1", "max_trades_per_day: 2"
    )
    expected = (
        "rules/IB_raid_v1/v1.0.yaml:20:23: params.max_trades_per_day: IB_raid_v1@v1.0 is released "
        "(in HEAD) and this file differs from it: a result would claim v1.0 without being it; "
        "restore the file (git checkout HEAD -- rules/IB_raid_v1/v1.0.yaml) or make a new "
        "version (ita-rules new-version IB_raid_v1):\n"
        "    ~ params.max_trades_per_day: 1 -> 2\n"
    )
    for strict in (False, True):
        ran = backtest(desk, rule="IB_raid_v1@1.0", strict=strict)
        assert (ran.code, ran.out, ran.err) == (1, "", expected)
    cli = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.0")
    assert (cli.code, cli.out, cli.err) == (1, "", "ita-rules: " + expected)
    # nothing was allocated, nothing stored
    assert desk.run("runs", "list", "--json").json() == {"runs": []}
    assert provenance(desk) == []
    assert desk.run("store", "find", "--type", "result").out == ""

    # lifecycle fields may change on a released version: such a run is the released one
    desk.git("checkout", "HEAD", "--", "rules/IB_raid_v1/v1.0.yaml")
    path = desk.root / "rules/IB_raid_v1/v1.0.yaml"
    path.write_text(path.read_text().replace('"initial-balance"]', '"initial-balance", "q3"]'))
    ran = backtest(desk, rule="IB_raid_v1@1.0")
    assert ran.code == 0, ran.err
    run_id = ran.out.split()[0]
    snap = desk.run("runs", "show", run_id, "--json").json()
    assert snap["rule_released"] is True and snap["rule_version"] == "v1.0"
    assert snap["rule_blob"] != released  # the file as used, recorded as it was

    # an uncommitted new version is allowed, and says it is unreleased
    made = desk.run("new-version", "IB_raid_v1", "--set", "params.max_trades_per_day=2")
    assert made.code == 0, made.err
    ran = backtest(desk, rule="IB_raid_v1@1.3")
    assert ran.code == 0, ran.err
    run_id, result_path = ran.out.split()
    snap = desk.run("runs", "show", run_id, "--json").json()
    assert (snap["rule_version"], snap["rule_released"]) == ("v1.3", False)
    stored = json.loads((desk.root / "exchange" / result_path).read_text())
    assert (stored["rule_version"], stored["rule_released"]) == ("v1.3", False)
    shown = desk.run("runs", "show", run_id).out
    assert f"  rule:        IB_raid_v1@v1.3 (unreleased)  {snap['params_hash']}\n" in shown
    # the unreleased version resolves in the registry: the result can be stored again
    desk.write("out/result.json", json.dumps(stored))
    put = desk.run("store", "put", "out/result.json", "--type", "result")
    assert put.code == 0, put.err

    # once committed, the same version is released
    desk.commit("IB_raid_v1 v1.3", "rules/IB_raid_v1/v1.3.yaml", "rules/IB_raid_v1/v1.0.yaml")
    ran = backtest(desk, rule="IB_raid_v1@1.3")
    assert ran.code == 0, ran.err
    snap = desk.run("runs", "show", ran.out.split()[0], "--json").json()
    assert snap["rule_released"] is True


# -- 8. candle data kept in the workspace ---------------------------------------------------


@pytest.mark.parametrize("kept", ["ignored", "untracked", "committed"])
def test_candles_kept_in_the_workspace_keep_a_run_reproducible(desk: Desk, kept: str) -> None:
    with_flow(desk)
    desk.write(CSV, candles_csv(1, 20))
    ignore = [line for line in desk.read(".gitignore").splitlines() if "data" not in line]
    if kept == "ignored":
        ignore += ["data/", "*.log"]
        desk.write("scratch.log", "a log the desk ignores\n")
    desk.write(".gitignore", "\n".join(ignore) + "\n")
    desk.commit("what the desk ignores", ".gitignore")
    if kept == "committed":
        desk.commit("candles", CSV)

    ran = backtest(desk, inputs=[CSV], range=RANGE)
    assert ran.code == 0, ran.err
    run_id = ran.out.split()[0]
    snap = desk.run("runs", "show", run_id, "--json").json()
    assert (snap["git_dirty"], snap["git_changed"], snap["git_untracked"]) == (False, [], {})
    assert [e["path"] for e in snap["inputs"]] == [CSV]
    shown = desk.run("runs", "show", run_id).out
    assert "dirty" not in shown and "None" not in shown
    verified = desk.run("runs", "verify", run_id)
    assert (verified.code, verified.out) == (0, f"{run_id}: reproducible\n")

    # tomorrow's candles appended after the range: still reproducible
    with (desk.root / CSV).open("a", encoding="utf-8") as fh:
        fh.write(candles_csv(21, 5).split("\n", 1)[1])
    verified = desk.run("runs", "verify", run_id)
    assert (verified.code, verified.out) == (0, f"{run_id}: reproducible\n")
    # and a new run over the longer file is clean too
    ran = backtest(desk, inputs=[CSV], range=RANGE)
    assert ran.code == 0, ran.err
    snap = desk.run("runs", "show", ran.out.split()[0], "--json").json()
    assert (snap["git_dirty"], snap["git_changed"], snap["git_untracked"]) == (False, [], {})


def test_runs_show_names_untracked_files_not_a_missing_diff(desk: Desk) -> None:
    with_flow(desk)
    desk.write(CSV, candles_csv(1, 20))
    desk.write("notes/idea.txt", "try a wider stop\n")
    ran = backtest(desk, inputs=[CSV], range=RANGE)
    assert ran.code == 0, ran.err
    run_id = ran.out.split()[0]
    shown = desk.run("runs", "show", run_id).out
    commit = desk.git("rev-parse", "HEAD")
    branch = desk.git("branch", "--show-current")
    assert f"  git:         {commit} on {branch}  dirty (untracked notes/idea.txt)\n" in shown
    assert "None" not in shown
    verified = desk.run("runs", "verify", run_id)
    assert verified.code == 1
    assert verified.out == (
        f"{run_id}: git: git_dirty: the run used uncommitted changes (notes/idea.txt): "
        "the commit alone does not reproduce it\n"
        f"{run_id}: not reproducible (1 difference(s))\n"
    )


# -- 9. an ordinary backtest result is kept --------------------------------------------------


def test_an_ordinary_backtest_result_is_stored(desk: Desk) -> None:
    with_flow(desk)
    ran = backtest(desk)
    assert (ran.code, ran.err) == (0, "")
    run_id, result_path = ran.out.split()
    stored = json.loads((desk.root / "exchange" / result_path).read_text())
    assert stored == {
        **STATS,
        "run_id": run_id,
        "setup_id": "IB_raid_v1",
        "rule_version": "v1.2",
        "rule_released": True,
        "params_hash": stored["params_hash"],
        "symbol": "GER40",
        "timeframe": "M15",
    }
    assert desk.run("runs", "show", run_id, "--json").json()["status"] == "succeeded"
    # a flow that writes the version as "1.2" itself agrees with the run's "v1.2"
    ran = backtest(desk, result={**STATS, "rule_version": "1.2"})
    assert (ran.code, ran.err) == (0, "")
    stored = json.loads((desk.root / "exchange" / ran.out.split()[1]).read_text())
    assert stored["rule_version"] == "v1.2"

    # the same result written by a non-Python flow, its version written "1.2"
    desk.write(
        "out/result.json", json.dumps({**STATS, "setup_id": "IB_raid_v1", "rule_version": "1.2"})
    )
    put = desk.run("store", "put", "out/result.json", "--type", "result")
    assert put.code == 0, put.err
    assert "archive/results/" in put.out


def test_a_refused_result_is_kept_next_to_the_snapshot(desk: Desk) -> None:
    with_flow(desk)
    bad = {**STATS, "data_range": ["2025-05-01"]}
    ran = backtest(desk, result=bad)
    assert ran.code == 1
    (kept, snapshot) = provenance(desk)
    run_id = snapshot.removesuffix("_snapshot.json")
    assert kept == f"{run_id}_result_rejected.json"
    path = f"exchange/archive/provenance/{kept}"
    line, col = next(
        (n, text.index("[") + 1)
        for n, text in enumerate(desk.read(path).splitlines(), 1)
        if '"data_range"' in text
    )
    assert ran.err == (
        f"{path}:{line}:{col}: data_range: expected at least 2 item(s), got 1; "
        "the result was not stored, it is kept in that file\n"
    )
    assert json.loads(desk.read(path)) == {
        **bad,
        "run_id": run_id,
        "setup_id": "IB_raid_v1",
        "rule_version": "v1.2",
        "rule_released": True,
        "params_hash": json.loads(desk.read(path))["params_hash"],
        "symbol": "GER40",
        "timeframe": "M15",
    }
    snap = desk.run("runs", "show", run_id, "--json").json()
    assert snap["status"] == "failed" and snap["outputs"] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"setup_id": "IB_raid_v1", "rule_version": "v1.2", "trades": 3, "trades": 4}',
            "out/r.json:1:65: duplicate key 'trades' (first defined at line 1)",
        ),
        (
            '{"setup_id": "IB_raid_v1", "rule_version": "v1.2", "Sharpe Ratio": NaN}',
            "out/r.json:1:68: not valid JSON: NaN is not a number JSON allows; "
            "write null or a finite number",
        ),
        (
            '{"setup_id": "IB_raid_v1", "rule_version": "v1.2", "Return [%]": 1e999}',
            "out/r.json:1:66: not valid JSON: 1e999 is too large; write null or a finite number",
        ),
        (
            '{"setup_id": "IB_raid_v1", "rule_version": "v1.2", "SQN": -Infinity}',
            "out/r.json:1:59: not valid JSON: -Infinity is not a number JSON allows; "
            "write null or a finite number",
        ),
    ],
)
def test_results_with_duplicate_keys_or_non_finite_numbers_are_refused(
    desk: Desk, text: str, message: str
) -> None:
    desk.write("out/r.json", text)
    put = desk.run("store", "put", "out/r.json", "--type", "result")
    assert (put.code, put.out, put.err) == (1, "", f"ita-rules: {message}\n")
    assert desk.run("store", "find", "--type", "result").out == ""


def test_a_result_over_the_size_limit_is_refused_before_parsing(desk: Desk) -> None:
    from ita_rules.store.results import MAX_BYTES

    head = '{"setup_id": "IB_raid_v1", "rule_version": "v1.2", "equity": ['
    with (desk.root / "big.json").open("w", encoding="utf-8") as fh:
        fh.write(head)
        fh.write("1.0, " * (MAX_BYTES // 5))
        fh.write("1.0]}")
    put = desk.run("store", "put", "big.json", "--type", "result")
    assert (put.code, put.out) == (1, "")
    assert put.err == (
        "ita-rules: big.json: a result may hold at most 64 MiB; this one is larger (store big "
        "tables such as trade lists as their own files)\n"
    )
    assert desk.run("store", "find", "--type", "result").out == ""


def test_a_result_with_nan_from_python_is_kept_and_refused(desk: Desk) -> None:
    with_flow(desk)
    ran = backtest(desk, result={**STATS, "Sortino Ratio": float("nan")})
    (kept, snapshot) = provenance(desk)
    run_id = snapshot.removesuffix("_snapshot.json")
    assert (ran.code, ran.out) == (1, "")
    assert ran.err == (
        f"exchange/archive/provenance/{kept}: Sortino Ratio: nan is not a number JSON allows; "
        "write null for a missing figure; the result was not stored, it is kept in that file\n"
    )
    assert kept == f"{run_id}_result_rejected.json"
    assert '"Sortino Ratio": NaN' in desk.read(f"exchange/archive/provenance/{kept}")

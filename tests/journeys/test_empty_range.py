"""Journey: a run whose data range holds no candle of its input (a range of another year, a
typo in ``--from``). ``runs start`` says so on stderr (the run is still started: a live flow may
start before its first candle), and ``runs show`` says "no candle in the range", never Python's
``None .. None``.
"""

from __future__ import annotations

from tests.journeys.conftest import Desk, candles_csv


def test_a_range_without_candles_is_named(desk: Desk) -> None:
    desk.write("data/GER40_D1.csv", candles_csv())
    start = desk.run(
        "runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", "--input",
        "data/GER40_D1.csv", "--from", "2024-05-01", "--to", "2024-05-10",
    )  # fmt: skip
    assert start.code == 0, start.err
    assert start.err == "note: data/GER40_D1.csv: no candle in the range 2024-05-01 .. 2024-05-10\n"
    run_id = start.out.strip()
    shown = desk.run("runs", "show", run_id, check=True).out.splitlines()
    line = next(x for x in shown if x.startswith("    data/GER40_D1.csv  sha256:"))
    assert line.endswith("  no candle in the range"), line
    assert "None" not in "\n".join(shown)

    # a range with candles: no note, and their count and first and last candle
    start = desk.run(
        "runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", "--input",
        "data/GER40_D1.csv", "--from", "2025-05-01", "--to", "2025-05-10",
    )  # fmt: skip
    assert (start.code, start.err) == (0, "")
    again = desk.run("runs", "show", start.out.strip(), check=True).out
    assert "  10 candles 2025-05-01T00:00:00Z .. 2025-05-10T00:00:00Z\n" in again

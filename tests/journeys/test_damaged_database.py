"""Journey: the desk's SQLite file is damaged (a full disk truncated it, a sync tool overwrote
it). Every command says so and what to do; ``store rebuild`` keeps the damaged file aside and
restores records and runs from the disk, so the desk sees what it saw before."""

from __future__ import annotations

import sys

from tests.journeys.conftest import Desk, candles_csv

BACKTEST = """
from ita_rules import Workspace
ws = Workspace.open()
rule = ws.registry.get("IB_raid_v1", "1.2")
with ws.start_run("backtest_flow", rule=rule, symbol="GER40", timeframe="D1",
                  inputs=["data/GER40_D1.csv"], data_range=("2025-05-01", "2025-05-10")) as run:
    run.save_result({"trades": 3, "return_pct": 1.5})
print(run.run_id)
"""


def test_a_damaged_database_is_named_then_rebuilt_from_the_disk(desk: Desk) -> None:
    desk.write("data/GER40_D1.csv", candles_csv())
    desk.run("store", "put", "data/GER40_D1.csv", "--type", "candles", "--symbol", "GER40",
             check=True)  # fmt: skip
    run_id = desk.sh(sys.executable, "-c", BACKTEST, check=True).out.strip()
    before = {
        "find": desk.run("store", "find", "--json", check=True).out,
        "runs": desk.run("runs", "list", "--json", check=True).out,
    }
    database = desk.root / ".ita" / "ita.sqlite"
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 3])  # truncated, as by a full disk
    for extra in (".ita/ita.sqlite-wal", ".ita/ita.sqlite-shm"):
        (desk.root / extra).unlink(missing_ok=True)

    found = desk.run("store", "find")
    assert (found.code, found.out) == (2, "")
    assert found.err == (
        "ita-rules: cannot connect to the database sqlite:///.ita/ita.sqlite: database disk "
        "image is malformed; the file is damaged: `ita-rules store rebuild` sets it aside and "
        "rebuilds the database from the files on disk\n"
    )
    assert "internal error" not in desk.run("runs", "list").err

    rebuilt = desk.run("store", "rebuild", check=True)
    aside = sorted((desk.root / ".ita").glob("ita.sqlite.broken-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))] == [aside[0].name]
    assert aside[0].read_bytes() == data[: len(data) // 3]  # kept, never deleted
    assert rebuilt.out == (
        "restored 2 record(s), 1 run(s), 0 remote copy(ies) "
        f"(the damaged database was moved to .ita/{aside[0].name}) from the disk\n"
    )
    after = {
        "find": desk.run("store", "find", "--json", check=True).out,
        "runs": desk.run("runs", "list", "--json", check=True).out,
    }
    assert after == before
    assert desk.run("runs", "verify", run_id).out == f"{run_id}: reproducible\n"

"""Journey: a desk stores its candles, screenshots and results, and meets the store's layout
and messages (issue #11, items 11 and 12): each record keeps its type folder and its own name,
the original file name is kept, a folder put as candles refuses other files, corrupt files are
marked, a lost database is named with the way to rebuild it, file ids accept a unique prefix,
a pandas CSV is a candle input and ``runs verify`` names the first candle that differs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from tests.journeys.conftest import BIN, Desk, candles_csv


def _put(desk: Desk, *args: str) -> list[dict[str, object]]:
    ran = desk.run("store", "put", *args, "--json")
    assert ran.code == 0, ran.err
    records: list[dict[str, object]] = ran.json()
    return records


def _store(desk: Desk, rel: object) -> Path:
    return desk.root / "exchange" / str(rel)


# -- 11: dedup keeps each record's type folder and name ------------------------------------------


def test_same_bytes_as_a_screenshot_get_their_own_path_in_the_screenshot_folder(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    desk.write("shots/chart.png", candles_csv())  # the same bytes under another name
    (candles,) = _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    (shot,) = _put(desk, "shots/chart.png", "--type", "screenshot", "--symbol", "DAX")

    assert str(candles["path"]).startswith("archive/raw/GER40_")
    assert str(shot["path"]).startswith("to_vision/DAX_") and str(shot["path"]).endswith(".png")
    assert (candles["original_name"], shot["original_name"]) == ("GER40.csv", "chart.png")
    assert candles["hash"] == shot["hash"]
    # the content is stored once: the screenshot's path is a hard link to the same bytes
    assert os.path.samefile(_store(desk, candles["path"]), _store(desk, shot["path"]))

    fsck = desk.run("store", "fsck")
    assert (fsck.code, fsck.out, fsck.err) == (0, "", "2 file(s), 2 record(s), 0 problem(s)\n")
    verify = desk.run("store", "verify")
    assert (verify.code, verify.err) == (
        0,
        "1 file(s) verified for 2 record(s), 0 corrupt, 0 missing\n",
    )

    # purging the candles record removes its name, never the bytes the screenshot needs
    code = (
        "from ita_rules import Workspace\nfrom ita_rules.store import open_store\n"
        f"s = open_store(Workspace.open()); print(s.remove({candles['file_id']!r}))\n"
    )
    ran = desk.sh(str(BIN / "python"), "-c", code)
    assert (ran.code, ran.out) == (0, "False\n"), ran.err
    assert not _store(desk, candles["path"]).exists()
    got = desk.run("store", "get", str(shot["file_id"]), "-o", "back.png")
    assert got.code == 0, got.err
    assert desk.read("back.png") == candles_csv()
    assert desk.run("store", "fsck").code == 0


def test_the_same_put_twice_shares_one_path(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    (first,) = _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    ran = desk.run("store", "put", "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    assert ran.code == 0, ran.err
    assert ran.out.endswith(f"  {first['path']}  (already stored)\n")
    assert first["deduplicated"] is False
    again = desk.run(
        "store", "put", "data/GER40.csv", "--type", "candles", "--symbol", "GER40", "--json"
    )
    assert again.code == 0, again.err
    (third,) = again.json()  # --json says it too
    assert (third["path"], third["deduplicated"]) == (first["path"], True)


def test_the_original_name_and_path_survive_a_rebuild(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    desk.write("shots/chart.png", candles_csv())
    _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    _put(desk, "shots/chart.png", "--type", "screenshot", "--symbol", "DAX")
    before = desk.run("store", "find", "--json").json()
    (desk.root / ".ita" / "ita.sqlite").unlink()
    assert desk.run("store", "rebuild").code == 0
    after = desk.run("store", "find", "--json").json()
    assert after == before
    assert [r["original_name"] for r in after] == ["GER40.csv", "chart.png"]


def test_a_folder_put_as_candles_refuses_files_that_are_not_candles(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    desk.write("data/DAX.parquet", b"PAR1 not really")
    desk.write("data/notes.png", b"\x89PNG chart")
    ran = desk.run("store", "put", "data", "--type", "candles", "--symbol", "GER40")
    assert (ran.code, ran.out) == (2, "")
    assert ran.err == (
        "ita-rules: data/notes.png: not a candle file: --type candles takes "
        ".csv, .parquet, .pq, .tsv or .txt files; nothing was stored\n"
    )
    assert desk.run("store", "find", "--json").json() == []
    assert not (desk.root / "exchange" / "archive" / "raw").exists() or not any(
        (desk.root / "exchange" / "archive" / "raw").iterdir()
    )


# -- 12: messages ----------------------------------------------------------------------------------


def test_find_after_the_database_is_lost_says_how_to_rebuild(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    (desk.root / ".ita" / "ita.sqlite").unlink()
    ran = desk.run("store", "find")
    assert (ran.code, ran.out) == (1, "")
    assert ran.err == (
        "ita-rules: the metadata database holds no records, but the store's journal "
        "(exchange/.ita-store/journal.jsonl) has 1: the database was lost or replaced; "
        "run `ita-rules store rebuild` (or `ita-rules index --rebuild`) to restore them\n"
    )
    assert desk.run("store", "rebuild").code == 0
    assert len(desk.run("store", "find", "--json").json()) == 1


def test_an_empty_store_finds_nothing_quietly(desk: Desk) -> None:
    ran = desk.run("store", "find")
    assert (ran.code, ran.out, ran.err) == (0, "", "")


def test_verify_marks_a_corrupt_file_so_find_status_corrupt_lists_it(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    desk.write("data/DAX.csv", candles_csv(symbol_price=200.0))
    records = {r["original_name"]: r for r in _put(desk, "data", "--type", "candles")}
    good, bad = records["GER40.csv"], records["DAX.csv"]
    path = _store(desk, bad["path"])
    path.write_bytes(path.read_bytes().replace(b"200.0", b"666.0", 1))

    ran = desk.run("store", "verify")
    assert ran.code == 1
    assert ran.out == (
        f"{bad['path']}: corrupt: content does not match {bad['hash']} "
        f"(record {bad['file_id']}, now marked corrupt)\n"
    )
    corrupt = desk.run("store", "find", "--status", "corrupt", "--json").json()
    assert [(r["file_id"], r["status"]) for r in corrupt] == [(bad["file_id"], "corrupt")]
    live = desk.run("store", "find", "--json").json()
    assert [r["file_id"] for r in live] == [good["file_id"]]
    # a rebuilt database remembers it too (the change is journaled)
    (desk.root / ".ita" / "ita.sqlite").unlink()
    assert desk.run("store", "rebuild").code == 0
    again = desk.run("store", "find", "--status", "corrupt", "--json").json()
    assert [r["file_id"] for r in again] == [bad["file_id"]]


def test_file_ids_accept_a_unique_prefix_of_8_or_more_characters(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    (rec,) = _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    fid = str(rec["file_id"])

    got = desk.run("store", "get", fid[:8], "--json")
    assert got.code == 0, got.err
    assert got.json()["file_id"] == fid
    tagged = desk.run("store", "tag", fid[:10], "important", "--json")
    assert tagged.code == 0, tagged.err
    assert tagged.json()["tags"] == ["important"]

    short = desk.run("store", "get", fid[:7])
    assert (short.code, short.err) == (
        2,
        f"ita-rules: file id {fid[:7]!r} is too short: give the whole id or at least "
        "8 characters of it\n",
    )
    unknown = desk.run("store", "get", "00000000")
    assert (unknown.code, unknown.err) == (1, "ita-rules: no record '00000000' in the store\n")


def test_an_ambiguous_prefix_lists_the_candidates(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    desk.write("data/DAX.csv", candles_csv(symbol_price=200.0))
    a, b = _put(desk, "data", "--type", "candles")
    # give both records ids with a common prefix, as a large store eventually has
    db = sqlite3.connect(desk.root / ".ita" / "ita.sqlite")
    with db:
        for rec, new in (
            (a, "abcdef12-0000-4000-8000-000000000001"),
            (b, "abcdef12-0000-4000-8000-000000000002"),
        ):
            db.execute(
                "UPDATE store_records SET file_id = ? WHERE file_id = ?", (new, rec["file_id"])
            )
    db.close()
    ran = desk.run("store", "get", "abcdef12")
    assert (ran.code, ran.out) == (2, "")
    assert ran.err == (
        "ita-rules: file id 'abcdef12' is ambiguous: abcdef12-0000-4000-8000-000000000001, "
        "abcdef12-0000-4000-8000-000000000002\n"
    )


def _pandas_csv(index_named_time: bool = False) -> str:
    """What ``df.to_csv()`` writes: the index first, its header cell empty."""
    lines = candles_csv().splitlines()
    if index_named_time:  # a DatetimeIndex without a name: ",open,high,..."
        return (
            "\n".join(
                "," + line.split(",", 1)[1] if i == 0 else line for i, line in enumerate(lines)
            )
            + "\n"
        )
    return "\n".join(("," if i == 0 else f"{i - 1},") + line for i, line in enumerate(lines)) + "\n"


def _range_hash(desk: Desk, run_id: str) -> str:
    shown = desk.run("runs", "show", run_id, "--json")
    assert shown.code == 0, shown.err
    (entry,) = shown.json()["inputs"]
    return str(entry["range_hash"])


def _start(desk: Desk, data: str) -> str:
    ran = desk.run(
        "runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", "--symbol", "GER40",
        "--timeframe", "D1", "--input", data, "--from", "2025-05-01", "--to", "2025-05-20",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    return ran.out.strip()


def test_a_pandas_csv_is_a_candle_input_and_hashes_like_the_plain_file(desk: Desk) -> None:
    desk.write("data/plain.csv", candles_csv())
    desk.write("data/indexed.csv", _pandas_csv())
    desk.write("data/time_index.csv", _pandas_csv(index_named_time=True))
    plain = _range_hash(desk, _start(desk, "data/plain.csv"))
    assert _range_hash(desk, _start(desk, "data/indexed.csv")) == plain
    assert _range_hash(desk, _start(desk, "data/time_index.csv")) == plain


def test_an_input_typed_in_a_subfolder_is_relative_to_it(desk: Desk) -> None:
    """A flow started from its own folder names its data as the shell sees it, as `store put`
    does; the run records it relative to the workspace, the same as from the top. Before, the
    path was taken from the workspace root: `../data/x.csv` was "input not found"."""
    desk.write("data/GER40_D1.csv", candles_csv())
    desk.write("flows/local.csv", candles_csv())
    from_top = _range_hash(desk, _start(desk, "data/GER40_D1.csv"))
    args = ["runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", "--symbol", "GER40",
            "--from", "2025-05-01", "--to", "2025-05-20"]  # fmt: skip
    for typed, recorded in (("../data/GER40_D1.csv", "data/GER40_D1.csv"),
                            ("local.csv", "flows/local.csv")):  # fmt: skip
        ran = desk.run(*args, "--input", typed, at="flows")
        assert ran.code == 0, ran.err
        shown = desk.run("runs", "show", ran.out.strip(), "--json").json()
        (entry,) = shown["inputs"]
        assert (entry["path"], entry["range_hash"]) == (recorded, from_top)
    ran = desk.run(*args, "--input", "data/GER40_D1.csv", at="flows")
    assert (ran.code, ran.err) == (
        1,
        "ita-rules: flows/data/GER40_D1.csv: input not found (or not a file)\n",
    )


def test_a_csv_without_a_time_column_names_the_accepted_names(desk: Desk) -> None:
    desk.write("data/odd.csv", "when,open,close\n2025-05-01,1,2\n")
    ran = desk.run(
        "runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", "--symbol", "GER40",
        "--input", "data/odd.csv", "--from", "2025-05-01", "--to", "2025-05-20",
    )  # fmt: skip
    assert ran.code == 1
    assert ran.err == (
        "ita-rules: data/odd.csv: no time column found (columns: when, open, close); "
        "accepted names: time, timestamp, datetime, date_time, date, ts, open_time, gmt time, "
        "local time, time_utc, datetime_utc, or an unnamed first column (a pandas index); "
        "name another with --time-column (runs start) or time_column= (Python)\n"
    )


def test_runs_verify_names_the_first_candle_that_differs(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    run_id = _start(desk, "data/GER40.csv")
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    fixed = candles_csv().replace(",107.0,1006", ",99.5,1006")  # the close of 2025-05-07
    assert fixed != candles_csv()
    desk.write("data/GER40.csv", fixed)

    ran = desk.run("runs", "verify", run_id)
    assert ran.code == 1
    lines = ran.out.splitlines()
    assert (
        f"{run_id}: data: inputs[data/GER40.csv].range_hash: candles inside the range differ "
        "(same count, other values); first difference at 2025-05-07T00:00:00Z: "
        "close 107.0 -> 99.5"
    ) in lines


def test_runs_verify_without_the_recorded_bytes_says_how_to_see_the_candle(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    run_id = _start(desk, "data/GER40.csv")
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    desk.write("data/GER40.csv", candles_csv().replace(",107.0,1006", ",99.5,1006"))
    ran = desk.run("runs", "verify", run_id)
    assert ran.code == 1
    assert (
        f"{run_id}: data: inputs[data/GER40.csv].range_hash: candles inside the range differ "
        "(same count, other values); the recorded file is not in the store, so the candle "
        "cannot be named (store inputs with `ita-rules store put` to see it next time)"
    ) in ran.out.splitlines()


def test_find_json_shows_the_original_name(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    (found,) = desk.run("store", "find", "--json").json()
    assert found["original_name"] == "GER40.csv"
    assert json.dumps(found)  # plain JSON


def test_retention_restore_takes_a_file_id_prefix(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    (rec,) = _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    code = (
        "from ita_rules import Workspace\nfrom ita_rules.store import open_store\n"
        f"open_store(Workspace.open()).set_status([{rec['file_id']!r}], 'deleted')\n"
    )
    assert desk.sh(str(BIN / "python"), "-c", code).code == 0
    desk.write(
        "retention.yaml",
        "safety_window_days: 7\ntypes:\n  candles: {retain_days: 365, strategy: delete}\n",
    )
    ran = desk.run("retention", "restore", str(rec["file_id"])[:8])
    assert (ran.code, ran.out) == (0, "restored 1 file(s)\n"), ran.err
    (found,) = desk.run("store", "find", "--json").json()
    assert found["status"] == "live"


def test_runs_verify_reads_the_intact_recorded_bytes_not_a_corrupt_copy(desk: Desk) -> None:
    desk.write("data/GER40.csv", candles_csv())
    (first,) = _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    run_id = _start(desk, "data/GER40.csv")
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    _store(desk, first["path"]).write_text("rotten\n")
    assert desk.run("store", "verify").code == 1  # marked corrupt
    (again,) = _put(desk, "data/GER40.csv", "--type", "candles", "--symbol", "GER40")
    assert _store(desk, again["path"]).read_text() == candles_csv()  # stored again, intact
    desk.write("data/GER40.csv", candles_csv().replace(",107.0,1006", ",99.5,1006"))
    ran = desk.run("runs", "verify", run_id)
    assert ran.code == 1
    assert ran.out.splitlines()[0].endswith(
        "; first difference at 2025-05-07T00:00:00Z: close 107.0 -> 99.5"
    )

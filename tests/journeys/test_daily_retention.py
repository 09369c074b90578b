"""Journey: a desk's daily retention (``ita-rules retention run`` from cron) over several days.

The desk puts candles from ``data/`` into the store, runs backtests of an active and of a
deprecated rule version that leave screenshots, has an orphan screenshot naming a run that does
not exist (``--run-id run_x``) and the same bytes stored twice. Time passes the way it does for
the desk: the records' ``created_at`` and ``deleted_at`` in the metadata database are moved back
by whole days (``_days_pass``), and the commands run with no ``--as-of`` at all, as cron runs
them. Each day asserts what is on disk and what the report and the audit log say.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.journeys.conftest import Desk, candles_csv
from tests.retention.conftest import POLICY  # README's example policy

ACTIVE = "IB_raid_v1@1.2"
DEPRECATED = "London_FVG_v1@1.1"
UNKNOWN = "run run_x unknown: lineage cannot be checked"


def _setup(desk: Desk, remote: Path | None = None) -> None:
    desk.write("retention.yaml", POLICY)
    desk.write(".gitignore", desk.read(".gitignore") + "/data/\n")
    desk.commit("retention policy", "retention.yaml", ".gitignore")
    if remote is not None:  # rclone's local backend: archive_to_remote has somewhere to go
        remote.mkdir()
        desk.env["ITA_REMOTE"] = str(remote)


def _put(desk: Desk, path: str, type_: str, *args: str) -> dict[str, Any]:
    r = desk.run("store", "put", path, "--type", type_, *args, "--json")
    assert r.code == 0, r.err
    record: dict[str, Any] = r.json()[0]
    return record


def _run(desk: Desk, rule: str, *inputs: str) -> str:
    args = [f"--input={i}" for i in inputs]
    r = desk.run("runs", "start", "backtest_flow", "--rule", rule, "--symbol", "GER40", *args)
    assert r.code == 0, r.err
    run_id = r.out.strip()
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    return run_id


def _days_pass(desk: Desk, days: int) -> None:
    """``days`` days go by: every record is that much older, every soft delete that much
    longer ago (what the real clock would have done)."""
    con = sqlite3.connect(desk.root / ".ita" / "ita.sqlite")
    try:
        rows = con.execute("SELECT file_id, created_at, deleted_at FROM store_records").fetchall()
        for file_id, created, deleted in rows:
            con.execute(
                "UPDATE store_records SET created_at = ?, deleted_at = ? WHERE file_id = ?",
                (_earlier(created, days), deleted and _earlier(deleted, days), file_id),
            )
        con.commit()
    finally:
        con.close()


def _earlier(text: str, days: int) -> str:
    moment = dt.datetime.fromisoformat(text) - dt.timedelta(days=days)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _on_disk(desk: Desk, record: dict[str, Any]) -> bool:
    return (desk.root / "exchange" / record["path"]).is_file()


def _status(desk: Desk, file_id: str) -> str:
    r = desk.run("store", "find", "--status", "all", "--json")
    assert r.code == 0, r.err
    return next(str(rec["status"]) for rec in r.json() if rec["file_id"] == file_id)


def _log(desk: Desk, day: dt.date) -> list[dict[str, Any]]:
    path = desk.root / "logs" / f"purge_{day:%Y_%m_%d}.log"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_desk_daily_retention_over_several_days(desk: Desk, tmp_path: Path) -> None:
    _setup(desk, tmp_path / "remote")
    today = dt.datetime.now(dt.UTC).date()
    # Day 0: candles from the vendor go into the store; a backtest of the active rule reads
    # the stored GER40 file, one of the deprecated rule runs; both leave a screenshot.
    desk.write("data/GER40_D1.csv", candles_csv())
    desk.write("data/EURUSD_D1.csv", candles_csv(symbol_price=1.1))
    ger40 = _put(desk, "data/GER40_D1.csv", "candles", "--symbol", "GER40")
    eurusd = _put(desk, "data/EURUSD_D1.csv", "candles", "--symbol", "EURUSD")
    active_run = _run(desk, ACTIVE, f"exchange/{ger40['path']}")
    deprecated_run = _run(desk, DEPRECATED)
    desk.write("shots/a.png", b"\x89PNG active run")
    desk.write("shots/d.png", b"\x89PNG deprecated run")
    desk.write("shots/x.png", b"\x89PNG orphan")
    desk.write("shots/chart.png", b"\x89PNG the same chart twice")
    desk.write("shots/notes.png", b"\x89PNG notes, stored again later")
    shot_active = _put(desk, "shots/a.png", "screenshot", "--run-id", active_run)
    shot_deprecated = _put(desk, "shots/d.png", "screenshot", "--run-id", deprecated_run)
    orphan = _put(desk, "shots/x.png", "screenshot", "--run-id", "run_x")
    chart_1 = _put(desk, "shots/chart.png", "screenshot")
    chart_2 = _put(desk, "shots/chart.png", "screenshot")
    notes_old = _put(desk, "shots/notes.png", "screenshot")
    assert chart_1["path"] == chart_2["path"]  # one stored file, two records
    # the sweep goes in file_id order (same soft-delete time): the first lets go of the file
    chart_1, chart_2 = sorted((chart_1, chart_2), key=lambda rec: str(rec["file_id"]))

    _days_pass(desk, 400)
    notes_new = _put(desk, "shots/notes.png", "screenshot")  # the same bytes, a new record
    assert notes_new["path"] == notes_old["path"]

    # Day 400: the plan, with every reason; the orphan is kept and warned about.
    r = desk.run("retention", "plan", "--json")
    assert r.code == 0, r.err
    plan = r.json()
    reasons = {d["file_id"]: (d["action"], d["reason"]) for d in plan["decisions"]}
    old_shot = "older than 90 days (400 days old), strategy delete"
    assert reasons == {
        ger40["file_id"]: (
            "keep",
            f"input of run {active_run} of active rule version {ACTIVE}",
        ),
        eurusd["file_id"]: (
            "archive",
            "older than 365 days (400 days old), strategy archive_to_remote",
        ),
        shot_active["file_id"]: ("keep", f"run {active_run} of active rule version {ACTIVE}"),
        shot_deprecated["file_id"]: ("delete", old_shot),
        orphan["file_id"]: ("keep", UNKNOWN),
        chart_1["file_id"]: ("delete", old_shot),
        chart_2["file_id"]: ("delete", old_shot),
        notes_old["file_id"]: ("delete", old_shot),
        notes_new["file_id"]: ("keep", "inside retain_days (0 < 90 days old)"),
    }
    warning = (
        f"{UNKNOWN}; kept 1 record(s): {orphan['file_id']} "
        "(`ita-rules index --rebuild` restores runs lost with the database)"
    )
    assert plan["warnings"] == [warning]
    r = desk.run("retention", "plan")
    assert r.code == 0, r.err
    assert r.err == f"ita-rules: warning: {warning}\n"
    assert f"keep    {orphan['file_id']}  screenshot" in r.out

    # The daily job: soft delete today; nothing leaves the disk inside the safety window.
    r = desk.run("retention", "run")
    assert r.code == 0, r.err
    assert r.err == f"ita-rules: warning: {warning}\n"  # cron's mail shows it too
    soft_deleted = [eurusd, shot_deprecated, chart_1, chart_2, notes_old]
    assert r.out.splitlines() == [
        "apply: 5 record(s) soft-deleted, their files stay on disk for the 7-day safety window; "
        f"audit log logs/purge_{today:%Y_%m_%d}.log",
        "  candles: 1",
        "  screenshot: 4",
        f"  report logs/purge_{today:%Y_%m_%d}_apply.json",
        "sweep: nothing was soft-deleted 7 day(s) ago or more; nothing removed",
    ]
    assert all(_status(desk, rec["file_id"]) == "deleted" for rec in soft_deleted)
    # the text of `store find --status all` says which records are no longer live
    listed = desk.run("store", "find", "--status", "all").out.splitlines()
    marked = {line.split()[0] for line in listed if line.endswith("  status=deleted")}
    assert marked == {rec["file_id"] for rec in soft_deleted}, listed
    everything = [ger40, eurusd, shot_active, shot_deprecated, orphan, chart_1, notes_old]
    assert all(_on_disk(desk, rec) for rec in everything)

    # A week and a day later the sweep removes what left the window: each stored file once.
    _days_pass(desk, 8)
    r = desk.run("retention", "run")
    assert r.code == 0, r.err
    freed = eurusd["size"] + shot_deprecated["size"] + chart_1["size"]
    # chart_1 and chart_2 share one content and both go: it leaves the disk with chart_2,
    # nothing is kept; notes_old's content stays for notes_new, which stays
    shared = [(notes_old["file_id"], notes_new["file_id"])]
    assert r.out.splitlines() == [
        "apply: nothing to soft-delete",
        f"sweep: 5 record(s) purged, 3 file(s) removed from disk, {freed} bytes freed; "
        f"audit log logs/purge_{today:%Y_%m_%d}.log",
        "  candles: 1",
        "  screenshot: 4",
        *(f"  {fid}: record purged, content kept: shared with {other}" for fid, other in shared),
        f"  report logs/purge_{today:%Y_%m_%d}_sweep.json",
    ]
    for rec in (eurusd, shot_deprecated, chart_1):
        assert not _on_disk(desk, rec), rec["path"]
    for rec in (ger40, shot_active, orphan, notes_new):
        assert _on_disk(desk, rec), rec["path"]
    assert (tmp_path / "remote" / eurusd["path"]).is_file()  # archived before it went
    assert {rec["file_id"]: _status(desk, rec["file_id"]) for rec in soft_deleted} == dict.fromkeys(
        (rec["file_id"] for rec in soft_deleted), "purged"
    )
    report = json.loads((desk.root / f"logs/purge_{today:%Y_%m_%d}_sweep.json").read_text())
    assert report["total_files_purged"] == 3
    assert report["freed_bytes"] == freed
    assert report["records_purged"] == 5
    assert report["content_kept"] == [{"file_id": f, "shared_with": o} for f, o in shared]
    swept = [e for e in _log(desk, today) if e["phase"] == "sweep" and "file_id" in e]
    assert {e["file_id"]: e["action"] for e in swept} == {
        eurusd["file_id"]: "purge",
        shot_deprecated["file_id"]: "purge",
        chart_1["file_id"]: "purge",
        chart_2["file_id"]: "purge",
        notes_old["file_id"]: "purge",
    }
    by_id = {e["file_id"]: e for e in swept}
    first, second = sorted([chart_1["file_id"], chart_2["file_id"]])
    assert by_id[first]["disk"] == (
        f"purge the record; its content, shared with {second} (purged by this sweep too), "
        "leaves the disk with the last of them"
    )
    assert by_id[second]["disk"] == "remove the file from disk"
    assert by_id[notes_old["file_id"]]["disk"] == (
        f"purge the record, keep the content: shared with {notes_new['file_id']}"
    )
    closing = [e for e in _log(desk, today) if e["action"] == "completed"]
    assert [(e["phase"], e["done"], e["not_done"]) for e in closing][-1] == ("sweep", 5, [])
    assert (closing[-1]["files_removed"], closing[-1]["freed_bytes"]) == (3, freed)

    # The run of the active rule still verifies: its stored input was never touched.
    r = desk.run("runs", "verify", active_run)
    assert "input not found" not in r.out + r.err, r.out + r.err

    # The next day: nothing to do, and nothing claims a log that was not written.
    _days_pass(desk, 1)
    log_before = (desk.root / "logs" / f"purge_{today:%Y_%m_%d}.log").read_text()
    r = desk.run("retention", "run", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["apply"]["audit_log_path"] is None and doc["apply"]["report_path"] is None
    assert doc["sweep"]["audit_log_path"] is None and doc["sweep"]["report_path"] is None
    assert doc["sweep"]["total_files_purged"] == 0 and doc["sweep"]["freed_space_gb"] == 0
    assert (desk.root / "logs" / f"purge_{today:%Y_%m_%d}.log").read_text() == log_before
    r = desk.run("retention", "sweep")
    assert r.code == 0, r.err
    assert r.out == "sweep: nothing was soft-deleted 7 day(s) ago or more; nothing removed\n"


def test_run_json_writes_the_report_file_like_the_text_mode(desk: Desk) -> None:
    _setup(desk)
    desk.write("shots/old.png", b"\x89PNG old")
    shot = _put(desk, "shots/old.png", "screenshot")
    _days_pass(desk, 100)
    today = dt.datetime.now(dt.UTC).date()
    r = desk.run("retention", "run", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["apply"]["report_path"] == f"logs/purge_{today:%Y_%m_%d}_apply.json"
    saved = json.loads((desk.root / doc["apply"]["report_path"]).read_text())
    assert saved["affected_file_ids"] == [shot["file_id"]]
    assert saved["records_soft_deleted"] == 1
    assert saved["total_files_purged"] == 0 and saved["freed_space_gb"] == 0  # nothing left disk
    assert doc["sweep"]["report_path"] is None  # the sweep did nothing: no report, no log


def test_a_record_whose_run_is_unknown_is_kept_through_apply_and_sweep(desk: Desk) -> None:
    """The orphan alone, after the DB loss: a protection that cannot be evaluated protects."""
    _setup(desk)
    active_run = _run(desk, ACTIVE)
    desk.write("shots/a.png", b"\x89PNG active run")
    desk.write("shots/x.png", b"\x89PNG orphan")
    shot_active = _put(desk, "shots/a.png", "screenshot", "--run-id", active_run)
    orphan = _put(desk, "shots/x.png", "screenshot", "--run-id", "run_x")

    # The metadata DB is lost and rebuilt from the disk.
    (desk.root / ".ita" / "ita.sqlite").unlink()
    r = desk.run("index", "--rebuild")
    assert r.code == 0, r.err
    runs_restored = desk.run("runs", "show", active_run).code == 0
    _days_pass(desk, 120)

    r = desk.run("retention", "plan", "--json")
    assert r.code == 0, r.err
    reasons = {d["file_id"]: (d["action"], d["reason"]) for d in r.json()["decisions"]}
    assert reasons[orphan["file_id"]] == ("keep", UNKNOWN)
    assert reasons[shot_active["file_id"]] == (
        "keep",
        f"run {active_run} of active rule version {ACTIVE}"
        if runs_restored
        else f"run {active_run} unknown: lineage cannot be checked",
    )
    r = desk.run("retention", "run")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "apply: nothing to soft-delete"
    assert _status(desk, orphan["file_id"]) == _status(desk, shot_active["file_id"]) == "live"

    # Soft-deleted while its run was known, the run then lost: sweep checks again and keeps it.
    con = sqlite3.connect(desk.root / ".ita" / "ita.sqlite")
    try:
        con.execute(
            "UPDATE store_records SET status = 'deleted', deleted_at = '2020-01-01T00:00:00.000000Z' "
            "WHERE file_id = ?",
            (orphan["file_id"],),
        )
        con.commit()
    finally:
        con.close()
    r = desk.run("retention", "sweep", "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["total_files_purged"] == 0 and report["affected_file_ids"] == []
    assert report["kept"] == [{"file_id": orphan["file_id"], "reason": f"now protected: {UNKNOWN}"}]
    assert _on_disk(desk, orphan) and _status(desk, orphan["file_id"]) == "deleted"


def test_the_safety_window_cannot_be_skipped_with_as_of(desk: Desk) -> None:
    _setup(desk)
    desk.write("shots/old.png", b"\x89PNG old")
    shot = _put(desk, "shots/old.png", "screenshot")
    r = desk.run("retention", "apply", "--as-of", "2027-06-01")  # a simulated day: allowed
    assert r.code == 0, r.err
    assert r.out.startswith("apply: 1 record(s) soft-deleted")
    assert _status(desk, shot["file_id"]) == "deleted"

    r = desk.run("retention", "sweep", "--as-of", "2027-06-09")
    assert r.code == 2
    assert "No such option: --as-of" in r.err
    r = desk.run("retention", "run", "--as-of", "2027-06-09")  # plans as of then, sweeps now
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == (
        "sweep: nothing was soft-deleted 7 day(s) ago or more; nothing removed"
    )
    assert _on_disk(desk, shot)

    # With no safety window the sweep removes at once, on the real clock.
    desk.write("retention.yaml", POLICY.replace("safety_window_days: 7", "safety_window_days: 0"))
    r = desk.run("retention", "sweep")
    assert r.code == 0, r.err
    assert r.out.startswith(
        f"sweep: 1 record(s) purged, 1 file(s) removed from disk, {shot['size']} bytes freed; "
    )
    assert not _on_disk(desk, shot)

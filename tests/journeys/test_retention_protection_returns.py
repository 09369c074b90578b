"""Journey: a file the daily retention soft-deleted becomes protected again before the sweep.

The desk's job soft-deletes old screenshots; a trader then tags one ``important`` and a backtest
of the active rule reads another (a protection gained while the file waits in the safety
window). Nothing protected may leave the disk: the sweep keeps them (it checks every protection
again), and the next apply brings them back to live, with an audit-log entry saying why; the
plan shows it first. Counts and lines are checked against what is on disk.
"""

from __future__ import annotations

import datetime as dt
import json

from tests.journeys.conftest import Desk
from tests.journeys.test_daily_retention import (
    ACTIVE,
    _days_pass,
    _log,
    _on_disk,
    _put,
    _run,
    _setup,
    _status,
)


def test_a_soft_deleted_file_protected_again_is_kept_by_the_sweep_then_restored(
    desk: Desk,
) -> None:
    _setup(desk)
    today = dt.datetime.now(dt.UTC).date()
    log = f"logs/purge_{today:%Y_%m_%d}.log"
    desk.write("shots/t.png", b"\x89PNG tagged later")
    desk.write("shots/i.png", b"\x89PNG read by a backtest later")
    desk.write("shots/p.png", b"\x89PNG nobody wants it")
    tagged = _put(desk, "shots/t.png", "screenshot")
    read = _put(desk, "shots/i.png", "screenshot")
    plain = _put(desk, "shots/p.png", "screenshot")
    _days_pass(desk, 100)
    r = desk.run("retention", "apply")
    assert r.code == 0, r.err
    assert r.out.startswith("apply: 3 record(s) soft-deleted")

    # Inside the safety window the file gains a protection.
    r = desk.run("store", "tag", tagged["file_id"], "important")
    assert r.code == 0, r.err
    run = _run(desk, ACTIVE, f"exchange/{read['path']}")
    tag_reason = "protected tag 'important'"
    input_reason = f"input of run {run} of active rule version {ACTIVE}"
    _days_pass(desk, 8)

    # The sweep alone checks every protection again: only the unprotected file leaves the disk.
    r = desk.run("retention", "sweep")
    assert r.code == 0, r.err
    kept = sorted(
        [
            (tagged["file_id"], "now protected: tag 'important'"),
            (read["file_id"], f"now protected: {input_reason}"),
        ]
    )
    assert r.out.splitlines() == [
        f"sweep: 1 record(s) purged, 1 file(s) removed from disk, {plain['size']} bytes freed; "
        f"audit log {log}",
        "  screenshot: 1",
        *(f"  {fid}: kept: {why}" for fid, why in kept),
        f"  report logs/purge_{today:%Y_%m_%d}_sweep.json",
    ]
    assert _on_disk(desk, tagged) and _on_disk(desk, read) and not _on_disk(desk, plain)
    assert _status(desk, tagged["file_id"]) == _status(desk, read["file_id"]) == "deleted"

    # The plan says apply will bring them back, and why.
    r = desk.run("retention", "plan", "--json")
    assert r.code == 0, r.err
    plan = r.json()
    restores = {d["file_id"]: d for d in plan["restore"]}
    assert sorted(restores) == [fid for fid, _ in kept]
    for rec, reason in ((tagged, tag_reason), (read, input_reason)):
        entry = restores[rec["file_id"]]
        assert entry["reason"] == reason and entry["action"] == "restore"
        assert (entry["type"], entry["size"], entry["path"]) == (
            "screenshot",
            rec["size"],
            rec["path"],
        )
    assert plan["decisions"] == [] and plan["selected"] == 0
    r = desk.run("retention", "plan")
    assert r.code == 0, r.err
    reasons = dict(((tagged["file_id"], tag_reason), (read["file_id"], input_reason)))
    sizes = {tagged["file_id"]: tagged["size"], read["file_id"]: read["size"]}
    assert r.out.splitlines() == [
        *(
            f"restore {fid}  screenshot  {sizes[fid]:>12}  {reasons[fid]}"
            for fid in sorted(reasons)
        ),
        f"plan {plan['plan_id']}: 0 selected (0.000 GB), 0 kept, "
        "2 soft-deleted record(s) protected again to restore",
    ]

    # retention status agrees with the plan: not due, the next apply restores them.
    r = desk.run("retention", "status", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["due"] == 0 and doc["count"] == 2
    old_reason = "older than 90 days (100 days old), strategy delete"
    assert {e["file_id"]: (e["due"], e["restore"], e["reason"]) for e in doc["soft_deleted"]} == {
        fid: (False, reasons[fid], old_reason) for fid in reasons
    }
    r = desk.run("retention", "status")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "2 file(s) soft-deleted, " + (
        f"{sum(sizes.values())} bytes; 0 past the 7-day safety window"
    )
    for e in doc["soft_deleted"]:
        at = lines.index(
            f"  {e['file_id']}  screenshot  {e['size']:>12}  {e['path']}  deleted "
            f"{e['deleted_at']}, protected again: the next apply restores it"
        )
        assert lines[at + 1 : at + 3] == [
            f"    restore: {reasons[e['file_id']]}",
            f"    reason: {old_reason}",
        ]
    assert not any("due now" in line for line in lines)

    # The daily job restores them first; the sweep then has nothing left to judge.
    r = desk.run("retention", "run")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "apply: nothing to soft-delete; 2 soft-deleted record(s) protected again restored to "
        f"live; audit log {log}",
        *(f"  {fid}: restored: {reasons[fid]}" for fid in sorted(reasons)),
        f"  report logs/purge_{today:%Y_%m_%d}_apply_2.json",
        "sweep: nothing was soft-deleted 7 day(s) ago or more; nothing removed",
    ]
    assert _status(desk, tagged["file_id"]) == _status(desk, read["file_id"]) == "live"
    assert _on_disk(desk, tagged) and _on_disk(desk, read)
    saved = json.loads((desk.root / f"logs/purge_{today:%Y_%m_%d}_apply_2.json").read_text())
    assert saved["records_restored"] == 2 and saved["records_soft_deleted"] == 0
    assert saved["restored"] == [
        {"file_id": fid, "reason": reasons[fid]} for fid in sorted(reasons)
    ]
    restored = [e for e in _log(desk, today) if e["phase"] == "restore"]
    assert [(e["file_id"], e["action"], e["reason"], e["path"]) for e in restored] == [
        (fid, "restore", reasons[fid], rec["path"])
        for fid, rec in sorted({tagged["file_id"]: tagged, read["file_id"]: read}.items())
    ]

    # Live again, they are kept by the plan for the same reasons, and nothing is left to restore.
    r = desk.run("retention", "plan", "--json")
    assert r.code == 0, r.err
    plan = r.json()
    assert plan["restore"] == []
    assert {d["file_id"]: (d["action"], d["reason"]) for d in plan["decisions"]} == {
        fid: ("keep", reason) for fid, reason in reasons.items()
    }

"""apply / sweep / restore / purge --admin against the real store (SQLite and Postgres)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from tests.conftest import snapshot
from tests.retention.conftest import RetWs

AS_OF = "2026-01-15T12:00:00"  # the day plans are made for (records are back-dated from it)
LATER = "2026-01-23T12:00:00"  # 8 days later: past the 7-day safety window


def _today_log() -> str:
    """The audit log is named by the real day (the window and the trail run on the real clock)."""
    return f"logs/purge_{dt.datetime.now(dt.UTC):%Y_%m_%d}.log"


def test_plan_apply_window_sweep_and_audit(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    old_png = ret_ws.put("a.png", b"png-old", type="screenshot", days_old=120, symbol="GER40")
    new_png = ret_ws.put("b.png", b"png-new", type="screenshot", days_old=10, symbol="GER40")
    vip_png = ret_ws.put("c.png", b"png-vip", type="screenshot", days_old=400, tags=["important"])
    result = ret_ws.put(
        "r.json",
        json.dumps({"setup_id": "IB_raid_v1", "rule_version": "v1.2", "metrics": {}}).encode(),
        type="result",
        days_old=900,
    )
    r = cli("retention", "plan", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    reasons = {d["file_id"]: (d["action"], d["reason"]) for d in plan["decisions"]}
    assert reasons == {
        old_png: ("delete", "older than 90 days (120 days old), strategy delete"),
        new_png: ("keep", "inside retain_days (10 < 90 days old)"),
        vip_png: ("keep", "protected tag 'important'"),
        result: ("keep", "backtest result: never deleted automatically"),
    }
    assert ret_ws.statuses()[old_png] == "live"  # plan changes nothing

    r = cli("retention", "apply", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["records_soft_deleted"] == 1 and report["affected_file_ids"] == [old_png]
    assert report["total_files_purged"] == 0  # a soft delete removes nothing from disk
    assert report["audit_log_path"] == _today_log()
    assert ret_ws.statuses()[old_png] == "deleted"
    assert ret_ws.path_of(old_png).exists()  # soft delete: the file stays

    # Before the window ends, sweep deletes nothing; a second apply selects nothing more.
    before = snapshot(ret_ws.root / "exchange")
    ret_ws.days_pass(5)
    r = cli("retention", "sweep", "--json")
    assert json.loads(r.out)["total_files_purged"] == 0
    assert json.loads(r.out)["audit_log_path"] is None  # nothing done, nothing written
    assert (
        json.loads(cli("retention", "apply", "--as-of", AS_OF, "--json").out)["affected_file_ids"]
        == []
    )
    assert snapshot(ret_ws.root / "exchange") == before

    ret_ws.days_pass(3)
    r = cli("retention", "sweep", "--json")
    assert json.loads(r.out)["affected_file_ids"] == [old_png]
    assert json.loads(r.out)["total_files_purged"] == 1
    assert ret_ws.statuses()[old_png] == "purged"
    assert not ret_ws.path_of(old_png).exists()
    assert all(ret_ws.path_of(f).exists() for f in (new_png, vip_png, result))
    log = [json.loads(line) for line in (ret_ws.root / _today_log()).read_text().splitlines()]
    # each attempt: its intent lines, then the line closing it with what it did
    assert [(e["phase"], e.get("file_id"), e["action"]) for e in log] == [
        ("apply", old_png, "delete"),
        ("apply", None, "completed"),
        ("sweep", old_png, "purge"),
        ("sweep", None, "completed"),
    ]
    assert log[0]["attempt"] == log[1]["attempt"] != log[2]["attempt"] == log[3]["attempt"]
    assert log[1]["done"] == 1 and log[1]["not_done"] == []
    assert log[2]["disk"] == "remove the file from disk"
    size = len(b"png-old")
    assert (log[3]["done"], log[3]["not_done"], log[3]["files_removed"]) == (1, [], 1)
    assert log[3]["freed_bytes"] == size
    assert not (ret_ws.root / ".ita/retention.attempt").exists()


def test_restore_a_whole_run_within_the_window(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ret_ws.add_run("run_2025_06_01_001", "London_FVG_v1", "v1.1")  # deprecated: no protection
    ids = [
        ret_ws.put(
            f"s{i}.png",
            f"png{i}".encode(),
            type="screenshot",
            days_old=200,
            run_id="run_2025_06_01_001",
        )
        for i in range(3)
    ]
    assert cli("retention", "apply", "--as-of", AS_OF).code == 0
    assert {ret_ws.statuses()[i] for i in ids} == {"deleted"}
    r = cli("retention", "restore", "--run", "run_2025_06_01_001", "--json")
    assert r.code == 0, r.err
    assert sorted(json.loads(r.out)["restored"]) == sorted(ids)
    assert {ret_ws.statuses()[i] for i in ids} == {"live"}
    ret_ws.days_pass(8)
    assert cli("retention", "sweep").code == 0
    assert all(ret_ws.path_of(i).exists() for i in ids)


def test_files_of_runs_of_active_rule_versions_are_protected(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ret_ws.add_run("run_2025_06_01_001", "IB_raid_v1", "v1.2")  # active
    ret_ws.add_run("run_2025_06_01_002", "London_FVG_v1", "v1.1")  # deprecated
    kept = ret_ws.put(
        "k.png", b"keep", type="screenshot", days_old=200, run_id="run_2025_06_01_001"
    )
    gone = ret_ws.put(
        "g.png", b"gone", type="screenshot", days_old=200, run_id="run_2025_06_01_002"
    )
    plan = json.loads(cli("retention", "plan", "--as-of", AS_OF, "--json").out)
    reasons = {d["file_id"]: d["reason"] for d in plan["decisions"]}
    assert reasons[kept] == "run run_2025_06_01_001 of active rule version IB_raid_v1@1.2"
    assert reasons[gone].startswith("older than 90 days")


def test_protection_gained_between_apply_and_sweep_holds(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    fid = ret_ws.put("p.png", b"later-important", type="screenshot", days_old=200)
    assert cli("retention", "apply", "--as-of", AS_OF).code == 0
    store = ret_ws.store()
    try:
        store.tag(fid, "important")
    finally:
        store.db.dispose()
    ret_ws.days_pass(8)
    r = cli("retention", "sweep", "--json")
    assert json.loads(r.out)["total_files_purged"] == 0
    assert ret_ws.path_of(fid).exists()


def test_shared_content_stays_while_a_protected_record_needs_it(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    old = ret_ws.put("x.png", b"same-bytes", type="screenshot", days_old=200)
    vip = ret_ws.put("y.png", b"same-bytes", type="screenshot", days_old=200, tags=["important"])
    plan = json.loads(cli("retention", "plan", "--as-of", AS_OF, "--json").out)
    reasons = {d["file_id"]: (d["action"], d["reason"]) for d in plan["decisions"]}
    assert reasons[old] == ("keep", f"content shared with protected record {vip}")


def test_archive_to_remote_without_a_verified_copy_deletes_nothing(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    fid = ret_ws.put("GER40.csv", b"time,open\n", type="candles", days_old=400, symbol="GER40")
    r = json.loads(cli("retention", "apply", "--as-of", AS_OF, "--json").out)
    assert r["affected_file_ids"] == [fid]
    log_before = (ret_ws.root / _today_log()).read_text()
    reports = sorted(p.name for p in (ret_ws.root / "logs").iterdir())
    no_remote = (
        "no verified remote copy: no remote configured (remote.name in ita.toml): not deleted"
    )
    for days in (8, 1, 1):  # the daily sweeps while no remote is configured
        ret_ws.days_pass(days)
        r = json.loads(cli("retention", "sweep", "--json").out)
        assert r["total_files_purged"] == 0
        assert r["kept"] == [{"file_id": fid, "reason": no_remote}]
        assert r["audit_log_path"] is None and r["report_path"] is None
        assert ret_ws.path_of(fid).exists() and ret_ws.statuses()[fid] == "deleted"
    # a refusal changes nothing: no audit line, no report, day after day
    assert (ret_ws.root / _today_log()).read_text() == log_before
    assert sorted(p.name for p in (ret_ws.root / "logs").iterdir()) == reports
    r = cli("retention", "sweep")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "sweep: nothing removed; 1 record(s) soft-deleted 7 day(s) ago or more kept",
        f"  {fid}: kept: {no_remote}",
    ]


def test_large_purge_needs_confirmation_bound_to_the_plan(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    (ret_ws.root / "retention.yaml").write_text(
        (ret_ws.root / "retention.yaml")
        .read_text()
        .replace("large_purge_gb: 10", "large_purge_gb: 0.000000001")
    )
    a = ret_ws.put("a.png", b"a" * 100, type="screenshot", days_old=200)
    r = cli("retention", "apply", "--as-of", AS_OF)
    assert r.code == 2  # no Telegram token configured: the purge does not proceed
    assert (
        r.err
        == "ita-rules: a large purge needs a Telegram notice, but $ITA_TELEGRAM_TOKEN is not set (the bot token is read from that variable)\n"
    )
    assert ret_ws.statuses()[a] == "live"
    plan_id = json.loads(cli("retention", "plan", "--as-of", AS_OF, "--json").out)["plan_id"]
    b = ret_ws.put("b.png", b"b" * 100, type="screenshot", days_old=200)
    r = cli("retention", "apply", "--as-of", AS_OF, "--confirm", plan_id)
    assert r.code == 1 and "does not match the current plan" in r.err  # the set changed
    assert ret_ws.statuses()[a] == ret_ws.statuses()[b] == "live"
    plan_id = json.loads(cli("retention", "plan", "--as-of", AS_OF, "--json").out)["plan_id"]
    r = cli("retention", "apply", "--as-of", AS_OF, "--confirm", plan_id, "--json")
    assert r.code == 0, r.err
    assert sorted(json.loads(r.out)["affected_file_ids"]) == sorted([a, b])


def test_admin_purge_of_results(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    doc = {"setup_id": "IB_raid_v1", "rule_version": "v1.2", "metrics": {"n": 1}}
    res = ret_ws.put("r.json", json.dumps(doc).encode(), type="result", days_old=900)
    assert cli("retention", "run", "--as-of", LATER).code == 0
    assert ret_ws.statuses()[res] == "live"  # never automatically
    r = cli("retention", "purge", "--type", "result", "--before", "2024-01-01")
    assert r.code == 2 and "pass --admin" in r.err
    r = cli("retention", "purge", "--admin", "--type", "result", "--before", "2025-12-01")
    assert r.code == 0 and res in r.out
    plan_id = r.err.rsplit("--confirm ", 1)[1].strip()
    r = cli(
        "retention",
        "purge",
        "--admin",
        "--type",
        "result",
        "--before",
        "2025-12-01",
        "--confirm",
        plan_id,
    )
    assert r.code == 0, r.err
    assert ret_ws.statuses()[res] == "purged"


def test_policy_errors_abort_and_change_nothing(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ret_ws.put("a.png", b"a", type="screenshot", days_old=200)
    before = snapshot(ret_ws.root / "exchange")
    (ret_ws.root / "retention.yaml").write_text(
        "types:\n  result: {retain_days: 30, strategy: delete}\n"
    )
    r = cli("retention", "apply", "--as-of", AS_OF)
    assert r.code == 1
    assert r.err.startswith(
        "ita-rules: retention.yaml:2:39: types.result.strategy: backtest results are never deleted"
    )
    (ret_ws.root / "retention.yaml").unlink()
    r = cli("retention", "run")
    assert r.code == 1 and "no retention policy" in r.err
    assert snapshot(ret_ws.root / "exchange") == before


UNREGISTERED = (
    "rule version IB_raid_v1@9.9, which is not in the registry: kept until its lifecycle is known"
)


def test_a_run_of_a_rule_version_not_in_the_registry_protects_and_warns(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    """A run recorded for a version the registry lacks (never committed, or its file deleted
    since) stopped every plan, apply and run for good; now what it touched is kept, as for a run
    of an active rule version, and the plan says why."""
    ghost, gone = "run_2025_12_01_001", "run_2025_12_01_002"  # the second stored nothing
    deprecated = "run_2025_12_01_003"
    ret_ws.add_run(ghost, "IB_raid_v1", "v9.9")
    ret_ws.add_run(gone, "IB_raid_v1", "9.9")  # the registry's form without the v: same version
    read = ret_ws.put("c.csv", b"candles it read", type="candles", days_old=400)
    shot = ret_ws.put("s.png", b"its screenshot", type="screenshot", days_old=120, run_id=ghost)
    made = ret_ws.put("o.png", b"its declared output", type="screenshot", days_old=120)
    old_out = ret_ws.put("d.png", b"a deprecated run's", type="screenshot", days_old=120)
    plain = ret_ws.put("p.png", b"nobody's", type="screenshot", days_old=120)
    digest = "sha256:" + hashlib.sha256(b"candles it read").hexdigest()
    _set_snapshot(ret_ws, ghost, inputs=(digest,), outputs=(made,))
    ret_ws.add_run(deprecated, "London_FVG_v1", "v1.1", outputs=(old_out,))
    warning = (
        "rule version IB_raid_v1@9.9 is not in the registry: the records, outputs and inputs of "
        f"its 2 run(s) are kept until its lifecycle is known: {ghost}, {gone} "
        "(restore its rule file from git, or see `ita-rules validate`)"
    )
    old = "older than 90 days (120 days old), strategy delete"

    r = cli("retention", "plan", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert plan["warnings"] == [warning]
    assert r.err == f"ita-rules: warning: {warning}\n"
    assert {d["file_id"]: (d["action"], d["reason"]) for d in plan["decisions"]} == {
        read: ("keep", f"input of run {ghost} of {UNREGISTERED}"),
        shot: ("keep", f"run {ghost} of {UNREGISTERED}"),
        made: ("keep", f"output of run {ghost} of {UNREGISTERED}"),
        old_out: ("delete", old),
        plain: ("delete", old),
    }
    r = cli("retention", "plan", "--as-of", AS_OF)
    assert r.code == 0, r.err
    assert r.err == f"ita-rules: warning: {warning}\n"
    assert r.out.splitlines()[-1].endswith(": 2 selected (0.000 GB), 3 kept")

    r = cli("retention", "apply", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["warnings"] == [warning]
    assert sorted(report["affected_file_ids"]) == sorted([old_out, plain])
    assert report["records_soft_deleted"] == 2 and report["total_files_purged"] == 0
    statuses = ret_ws.statuses()
    assert {f: statuses[f] for f in (read, shot, made, old_out, plain)} == {
        read: "live",
        shot: "live",
        made: "live",
        old_out: "deleted",
        plain: "deleted",
    }
    assert all(ret_ws.path_of(f).is_file() for f in (read, shot, made, old_out, plain))

    # The sweep keeps them too: it judges what the plan judged.
    ret_ws.days_pass(8)
    r = cli("retention", "run", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    swept = json.loads(r.out)["sweep"]
    assert sorted(swept["affected_file_ids"]) == sorted([old_out, plain])
    assert swept["total_files_purged"] == 2
    assert swept["freed_bytes"] == len(b"a deprecated run's") + len(b"nobody's")
    assert not ret_ws.path_of(plain).exists() and not ret_ws.path_of(old_out).exists()
    assert all(ret_ws.path_of(f).is_file() for f in (read, shot, made))


def test_a_broken_rule_file_keeps_the_runs_of_its_version_and_warns(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    """A half-edited rule file (a trader's uncommitted change) aborted the nightly job; now
    only its own version counts as not in the registry, and the plan names the problem."""
    run = "run_2025_12_01_001"
    ret_ws.add_run(run, "IB_raid_v1", "v1.2")
    shot = ret_ws.put("s.png", b"of v1.2", type="screenshot", days_old=200, run_id=run)
    fid = ret_ws.put("a.png", b"a", type="screenshot", days_old=200)
    (ret_ws.root / "rules/IB_raid_v1/v1.2.yaml").write_text("setup_id: [\n")
    warnings = [
        "rule version IB_raid_v1@1.2 is not in the registry: the records, outputs and inputs of "
        f"its 1 run(s) are kept until its lifecycle is known: {run} "
        "(restore its rule file from git, or see `ita-rules validate`)",
        "the rule registry has 1 problem(s) (first: rules/IB_raid_v1/v1.2.yaml:2:1: "
        "invalid YAML: did not find expected node content (while parsing a flow node)): the runs "
        "of a version in a file with problems are kept as not in the registry; fix them "
        "(`ita-rules validate`)",
    ]
    r = cli("retention", "apply", "--as-of", AS_OF)
    assert r.code == 0, r.err
    assert r.err == "".join(f"ita-rules: warning: {w}\n" for w in warnings)
    assert r.out.startswith("apply: 1 record(s) soft-deleted")
    assert ret_ws.statuses()[fid] == "deleted" and ret_ws.statuses()[shot] == "live"
    r = cli("retention", "plan", "--as-of", AS_OF, "--json")
    reasons = {d["file_id"]: d["reason"] for d in json.loads(r.out)["decisions"]}
    assert reasons == {
        shot: f"run {run} of rule version IB_raid_v1@1.2, which is not in the registry: "
        "kept until its lifecycle is known"
    }


def test_apply_restores_a_soft_deleted_record_protected_again(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    """Tagged while soft-deleted: apply makes it live again (the sweep would keep it deleted
    for ever); one whose file is gone stays soft-deleted, and the report says so."""
    back = ret_ws.put("a.png", b"tagged in the window", type="screenshot", days_old=200)
    gone = ret_ws.put("b.png", b"tagged, file lost", type="screenshot", days_old=200)
    assert cli("retention", "apply", "--as-of", AS_OF).code == 0
    store = ret_ws.store()
    try:
        store.tag(back, "important")
        store.tag(gone, "important")
    finally:
        store.db.dispose()
    lost = ret_ws.path_of(gone)
    lost.unlink()
    shown = lost.relative_to(ret_ws.root / "exchange").as_posix()
    # the same bytes stored again, old and unprotected: the restored record will hold them
    dup = ret_ws.put("dup.png", b"tagged in the window", type="screenshot", days_old=200)
    r = cli("retention", "plan", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    assert [(d["file_id"], d["reason"]) for d in plan["restore"]] == sorted(
        [(back, "protected tag 'important'"), (gone, "protected tag 'important'")]
    )
    assert [(d["file_id"], d["action"], d["reason"]) for d in plan["decisions"]] == [
        (dup, "keep", f"content shared with protected record {back}")
    ]
    assert plan["selected"] == 0

    r = cli("retention", "apply", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["records_restored"] == 1 and report["records_soft_deleted"] == 0
    assert report["restored"] == [{"file_id": back, "reason": "protected tag 'important'"}]
    assert report["warnings"] == [
        f"{gone} is protected again (protected tag 'important') but its file {shown} is "
        "missing on disk: left soft-deleted; run `ita-rules store fsck`"
    ]
    assert ret_ws.statuses()[back] == "live" and ret_ws.statuses()[gone] == "deleted"
    assert ret_ws.statuses()[dup] == "live"
    assert ret_ws.path_of(back).is_file()
    entries = [json.loads(line) for line in (ret_ws.root / _today_log()).read_text().splitlines()]
    restored = [(e["file_id"], e["reason"]) for e in entries if e["phase"] == "restore"]
    assert restored == [(back, "protected tag 'important'")]


def _set_snapshot(
    ret_ws: RetWs, run_id: str, inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> None:
    """What a run's snapshot declares, written after the files it names were stored."""
    import sqlalchemy as sa

    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.tables import runs as table
    from ita_rules.workspace import Workspace

    snapshot = {
        "inputs": [{"path": f"data/{i}.csv", "hash": h} for i, h in enumerate(inputs)],
        "outputs": list(outputs),
    }
    runs = RunStore.open(Workspace.open(ret_ws.root).settings)
    try:
        with runs._write() as conn:
            conn.execute(
                sa.update(table)
                .where(table.c.run_id == run_id)
                .values(snapshot=json.dumps(snapshot))
            )
    finally:
        runs.close()


def test_missing_file_on_disk_aborts(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    fid = ret_ws.put("a.png", b"vanishing", type="screenshot", days_old=200)
    ret_ws.path_of(fid).unlink()
    r = cli("retention", "apply", "--as-of", AS_OF)
    assert r.code == 1 and "missing on disk" in r.err and "store fsck" in r.err
    assert ret_ws.statuses()[fid] == "live"


def test_max_delete_takes_the_oldest_first(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ids = [
        ret_ws.put(f"{i}.png", f"{i}".encode(), type="screenshot", days_old=100 + i)
        for i in range(5)
    ]
    r = json.loads(cli("retention", "apply", "--as-of", AS_OF, "--max-delete", "2", "--json").out)
    assert sorted(r["affected_file_ids"]) == sorted(ids[3:])  # the oldest two


def test_report_file_matches_its_schema(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    import jsonschema

    ret_ws.put("a.png", b"a", type="screenshot", days_old=200)
    r = json.loads(cli("retention", "apply", "--as-of", AS_OF, "--json").out)
    saved = json.loads((ret_ws.root / r["report_path"]).read_text())
    schema = json.loads(
        (Path(__file__).parents[2] / "schemas/purge_report.schema.json").read_text()
    )
    jsonschema.Draft202012Validator(schema).validate(saved)
    assert saved["affected_file_ids"] == r["affected_file_ids"]


def test_archive_to_remote_deletes_after_a_verified_copy(
    ret_ws: RetWs, cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """With rclone's local backend as the remote, sweep pushes and verifies the copy first."""
    remote = tmp_path / "remote"
    remote.mkdir()
    monkeypatch.setenv("ITA_REMOTE", str(remote))
    fid = ret_ws.put(
        "GER40.csv", b"time,open\n2024-01-02 09:00:00,1\n", type="candles", days_old=400
    )
    relative = ret_ws.path_of(fid).relative_to(ret_ws.root / "exchange")
    assert cli("retention", "apply", "--as-of", AS_OF).code == 0
    ret_ws.days_pass(8)
    r = cli("retention", "sweep", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["affected_file_ids"] == [fid]
    assert not ret_ws.path_of(fid).exists()
    assert (remote / relative).read_bytes() == b"time,open\n2024-01-02 09:00:00,1\n"
    r = cli("remote", "pull", fid)
    assert r.code == 0, r.err
    assert ret_ws.path_of(fid).read_bytes() == b"time,open\n2024-01-02 09:00:00,1\n"


def test_a_tag_landing_during_sweep_vetoes_the_removal(ret_ws: RetWs) -> None:
    """Another process tags a file between sweep's check and the removal: it must stay."""
    from ita_rules.retention.engine import Retention
    from ita_rules.workspace import Workspace

    fid = ret_ws.put("a.png", b"a screenshot", type="screenshot", days_old=200)
    ws = Workspace.open(ret_ws.root)
    store, other = ret_ws.store(), ret_ws.store()
    try:
        store.set_status([fid], "deleted", at="2025-12-01T00:00:00.000000Z")
        real_remove = store.remove

        def remove_after_a_concurrent_tag(file_id: str, **kw: object) -> bool:
            other.tag(file_id, "important")  # what the trader's other process does meanwhile
            return real_remove(file_id, **kw)  # type: ignore[arg-type]

        store.remove = remove_after_a_concurrent_tag  # type: ignore[method-assign]
        when = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
        report = Retention.open(ws, store, when, clock=lambda: when).sweep()
        assert report.affected == []
        record = other.get(fid)
        assert record.status == "deleted" and "important" in record.tags
        assert store.abspath(record.path).is_file()
    finally:
        store.db.dispose()
        other.db.dispose()
    log = [
        json.loads(x) for x in (ret_ws.root / "logs/purge_2026_01_15.log").read_text().splitlines()
    ]
    assert [(e.get("file_id"), e["action"]) for e in log] == [
        (fid, "purge"),
        (fid, "kept"),
        (None, "completed"),
    ]
    assert log[1]["reason"] == "now protected: tag 'important'"
    assert (log[2]["done"], log[2]["not_done"], log[2]["files_removed"]) == (0, [fid], 0)


def test_a_record_naming_an_unknown_run_is_kept_and_warned(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ret_ws.add_run("run_2025_06_01_002", "London_FVG_v1", "v1.1")  # deprecated, known
    orphan = ret_ws.put("x.png", b"orphan", type="screenshot", days_old=200, run_id="run_x")
    known = ret_ws.put(
        "d.png", b"deprecated", type="screenshot", days_old=200, run_id="run_2025_06_01_002"
    )
    same = ret_ws.put("y.png", b"orphan", type="screenshot", days_old=200)  # its content
    r = cli("retention", "plan", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    plan = json.loads(r.out)
    reasons = {d["file_id"]: (d["action"], d["reason"], d["protected"]) for d in plan["decisions"]}
    assert reasons == {
        orphan: ("keep", "run run_x unknown: lineage cannot be checked", True),
        known: ("delete", "older than 90 days (200 days old), strategy delete", False),
        same: ("keep", f"content shared with protected record {orphan}", True),
    }
    assert plan["warnings"] == [
        f"run run_x unknown: lineage cannot be checked; kept 1 record(s): {orphan} "
        "(`ita-rules index --rebuild` restores runs lost with the database)"
    ]
    assert r.err == f"ita-rules: warning: {plan['warnings'][0]}\n"
    r = json.loads(cli("retention", "apply", "--as-of", AS_OF, "--json").out)
    assert r["affected_file_ids"] == [known]


def test_inputs_of_runs_of_active_rule_versions_are_protected(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    read = ret_ws.put("GER40.csv", b"time,open\n1,2\n", type="candles", days_old=400)
    other = ret_ws.put("EURUSD.csv", b"time,open\n3,4\n", type="candles", days_old=400)
    unused = ret_ws.put("NAS100.csv", b"time,open\n5,6\n", type="candles", days_old=400)
    store = ret_ws.store()
    try:
        hashes = {f: store.get(f).hash for f in (read, other)}
    finally:
        store.db.dispose()
    ret_ws.add_run("run_2025_06_01_001", "IB_raid_v1", "v1.2", (hashes[read],))  # active
    ret_ws.add_run("run_2025_06_01_002", "London_FVG_v1", "v1.1", (hashes[other],))  # deprecated
    plan = json.loads(cli("retention", "plan", "--as-of", AS_OF, "--json").out)
    reasons = {d["file_id"]: (d["action"], d["reason"]) for d in plan["decisions"]}
    assert reasons[read] == (
        "keep",
        "input of run run_2025_06_01_001 of active rule version IB_raid_v1@1.2",
    )
    assert reasons[other][0] == reasons[unused][0] == "archive"


def test_outputs_of_runs_of_active_rule_versions_are_protected(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    """Declared outputs (``runs finish --output``, ``save_file``) protect like inputs, whatever
    run the record itself names; an output id that names no record protects nothing."""
    made = ret_ws.put("a.png", b"made by the active run", type="screenshot", days_old=200)
    also = ret_ws.put("s.png", b"made by the active run", type="screenshot", days_old=200)
    named = ret_ws.put(
        "n.png", b"names the deprecated run", type="screenshot", days_old=200,
        run_id="run_2025_06_01_002",
    )  # fmt: skip
    old = ret_ws.put("d.png", b"made by the deprecated run", type="screenshot", days_old=200)
    gone = "00000000-0000-4000-8000-000000000000"
    ret_ws.add_run("run_2025_06_01_001", "IB_raid_v1", "v1.2", outputs=(made, named, gone))
    ret_ws.add_run("run_2025_06_01_002", "London_FVG_v1", "v1.1", outputs=(old,))
    plan = json.loads(cli("retention", "plan", "--as-of", AS_OF, "--json").out)
    reasons = {d["file_id"]: (d["action"], d["reason"], d["protected"]) for d in plan["decisions"]}
    active = "output of run run_2025_06_01_001 of active rule version IB_raid_v1@1.2"
    assert reasons == {
        made: ("keep", active, True),
        also: ("keep", f"content shared with protected record {made}", True),
        named: ("keep", active, True),
        old: ("delete", "older than 90 days (200 days old), strategy delete", False),
    }
    r = json.loads(cli("retention", "apply", "--as-of", AS_OF, "--json").out)
    assert r["affected_file_ids"] == [old]


def test_the_safety_window_runs_on_the_real_clock(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    """A simulated day plans; the window still starts at the real soft delete."""
    from ita_rules.retention.engine import Retention
    from ita_rules.workspace import Workspace

    fid = ret_ws.put("a.png", b"a", type="screenshot", days_old=200)
    assert cli("retention", "apply", "--as-of", "2027-06-01").code == 0
    r = cli("retention", "sweep", "--as-of", "2027-06-09")
    assert r.code == 2 and "No such option: --as-of" in r.err
    r = json.loads(cli("retention", "run", "--as-of", "2027-06-09", "--json").out)
    assert r["sweep"]["affected_file_ids"] == [] and ret_ws.path_of(fid).exists()

    store = ret_ws.store()
    try:
        ws = Workspace.open(ret_ws.root)
        future = dt.datetime(2027, 6, 9, tzinfo=dt.UTC)
        assert Retention.open(ws, store, future).sweep().affected == []  # the real clock
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=7, minutes=1)
        report = Retention.open(ws, store, clock=lambda: later).sweep()
        assert [f for f, _, _ in report.affected] == [fid]
    finally:
        store.db.dispose()
    assert not ret_ws.path_of(fid).exists()


def test_sweep_counts_what_left_the_disk(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    a = ret_ws.put("a.png", b"shared bytes", type="screenshot", days_old=200)
    b = ret_ws.put("b.png", b"shared bytes", type="screenshot", days_old=200)
    young = ret_ws.put("c.png", b"kept bytes", type="screenshot", days_old=10)
    old = ret_ws.put("d.png", b"kept bytes", type="screenshot", days_old=200)
    alone = ret_ws.put("e.png", b"alone", type="screenshot", days_old=200)
    assert (
        json.loads(cli("retention", "apply", "--as-of", AS_OF, "--json").out)[
            "records_soft_deleted"
        ]
        == 4
    )
    ret_ws.days_pass(8)
    r = cli("retention", "sweep", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    first, second = sorted([a, b])
    assert report["records_purged"] == 4 and report["total_files_purged"] == 2
    assert report["freed_bytes"] == len(b"shared bytes") + len(b"alone")
    # a and b shared their content and both went: nothing of it is kept (it left with the
    # second); only d's content stays, for c, which stays
    assert report["content_kept"] == [{"file_id": old, "shared_with": young}]
    assert not ret_ws.path_of(a).exists() and not ret_ws.path_of(alone).exists()
    assert not ret_ws.path_of(b).exists()
    log = [json.loads(x) for x in (ret_ws.root / _today_log()).read_text().splitlines()]
    disk = {e["file_id"]: e["disk"] for e in log if e["phase"] == "sweep" and "disk" in e}
    assert disk == {
        first: f"purge the record; its content, shared with {second} (purged by this sweep "
        "too), leaves the disk with the last of them",
        second: "remove the file from disk",
        old: f"purge the record, keep the content: shared with {young}",
        alone: "remove the file from disk",
    }
    assert ret_ws.path_of(young).exists()
    saved = json.loads((ret_ws.root / report["report_path"]).read_text())
    assert saved == report


def test_archive_to_remote_whose_upload_fails_says_so_and_deletes_nothing(
    ret_ws: RetWs, cli, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The remote is configured but rclone cannot copy to it (a file where its folder should
    be): the sweep's reason is the failure, not a missing remote; nothing is written."""
    remote = tmp_path / "not_a_folder"
    remote.write_bytes(b"a file")
    monkeypatch.setenv("ITA_REMOTE", str(remote))
    fid = ret_ws.put("GER40.csv", b"time,open\n", type="candles", days_old=400, symbol="GER40")
    assert cli("retention", "apply", "--as-of", AS_OF).code == 0
    log_before = (ret_ws.root / _today_log()).read_text()
    ret_ws.days_pass(8)
    r = cli("retention", "sweep", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["kept"] == [
        {
            "file_id": fid,
            "reason": f"no verified remote copy: upload failed: rclone cannot open {remote}: "
            "is a file not a directory: not deleted",
        }
    ]
    assert doc["audit_log_path"] is None and doc["report_path"] is None
    assert (ret_ws.root / _today_log()).read_text() == log_before
    assert ret_ws.path_of(fid).exists() and ret_ws.statuses()[fid] == "deleted"

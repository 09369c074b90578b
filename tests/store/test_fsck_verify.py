"""fsck finds (and repairs) leftovers and damage; verify re-hashes; the journal rebuilds the DB."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import write
from tests.store.conftest import StoreWs


def _put(ws: StoreWs, cli, name: str, data: bytes, *extra: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    write(ws.root / name, data)
    r = cli("store", "put", name, "--type", "screenshot", *extra, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)[0]  # type: ignore[no-any-return]


def _kinds(cli, *args: str) -> list[str]:  # type: ignore[no-untyped-def]
    r = cli("store", "fsck", *args, "--json")
    return sorted(p["kind"] for p in json.loads(r.out)["problems"])


def test_fsck_finds_and_repairs_every_kind_of_problem(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    a = _put(store_ws, cli, "a.png", b"aaaa")
    b = _put(store_ws, cli, "b.png", b"bbbb")
    c = _put(store_ws, cli, "c.png", b"cccc")
    assert cli("store", "fsck").code == 0
    root = store_ws.store_root
    write(root / "to_vision" / ".ita-tmp-999999-abc", b"partial")  # a dead process's temp file
    write(root / "to_vision" / "stray.png", b"dropped by hand")  # file without a record
    (root / a["path"]).unlink()  # record without its file
    (root / b["path"]).write_bytes(b"BBBB")  # same size, other bytes
    r = cli("store", "fsck")
    assert r.code == 1
    assert _kinds(cli) == ["mismatch", "missing", "orphan", "temp"]
    assert f"{a['path']}: stored file missing; 1 record(s) point to it" in r.out
    assert f"{b['path']}: content does not match {b['hash']} (4 bytes, expected 4)" in r.out

    r = cli("store", "fsck", "--repair")
    assert r.code == 0, r.out + r.err
    assert r.err.endswith("4 problem(s), all repaired\n")
    assert cli("store", "fsck").code == 0
    assert (
        root / ".ita-store" / "lost+found" / "to_vision" / "stray.png"
    ).read_bytes() == b"dropped by hand"
    statuses = {
        f["file_id"]: f["status"]
        for f in json.loads(cli("store", "find", "--status", "all", "--json").out)
    }
    assert statuses == {a["file_id"]: "missing", b["file_id"]: "corrupt", c["file_id"]: "live"}
    assert (root / c["path"]).read_bytes() == b"cccc"


def test_a_young_temp_file_of_a_running_process_is_left_alone(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    _put(store_ws, cli, "a.png", b"a")
    write(store_ws.store_root / "to_vision" / f".ita-tmp-{os.getpid()}-xyz", b"in progress")
    assert _kinds(cli, "--repair") == []
    assert (store_ws.store_root / "to_vision" / f".ita-tmp-{os.getpid()}-xyz").exists()


def test_verify_reports_corrupt_and_missing_and_records_the_time(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    recs = [_put(store_ws, cli, f"{i}.png", f"data {i}".encode()) for i in range(4)]
    r = cli("store", "verify", "--json")
    assert r.code == 0, r.out
    assert json.loads(r.out)["checked_files"] == 4
    found = json.loads(cli("store", "find", "--json").out)
    assert all(f["last_verified_at"] for f in found)
    # everything was verified just now: nothing is older than one day
    assert (
        json.loads(cli("store", "verify", "--older-than", "1", "--json").out)["checked_files"] == 0
    )
    assert json.loads(cli("store", "verify", "--sample", "2", "--json").out)["checked_files"] == 2

    (store_ws.store_root / recs[0]["path"]).write_bytes(b"rotten")
    (store_ws.store_root / recs[1]["path"]).unlink()
    r = cli("store", "verify")
    assert r.code == 1
    assert r.out.splitlines() == [
        f"{recs[1]['path']}: missing (record {recs[1]['file_id']}, now marked missing)",
        f"{recs[0]['path']}: corrupt: content does not match {recs[0]['hash']} (record {recs[0]['file_id']}, now marked corrupt)",
    ]
    assert r.err == "4 file(s) verified for 4 record(s), 1 corrupt, 1 missing\n"
    statuses = {
        f["file_id"]: f["status"]
        for f in json.loads(cli("store", "find", "--status", "all", "--json").out)
    }
    assert (statuses[recs[0]["file_id"]], statuses[recs[1]["file_id"]]) == ("corrupt", "missing")
    r = cli("store", "verify", "--sample", "0")
    assert (r.code, r.err) == (2, "ita-rules: --sample: expected a positive number, got 0\n")


def test_get_refuses_a_corrupt_file(store_ws: StoreWs, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = _put(store_ws, cli, "a.png", b"good")
    (store_ws.store_root / rec["path"]).write_bytes(b"evil")
    r = cli("store", "get", rec["file_id"], "-o", str(tmp_path / "out.png"))
    assert (r.code, r.err) == (
        1,
        f"ita-rules: {rec['path']}: content does not match its hash {rec['hash']} (corrupt)\n",
    )
    assert not (tmp_path / "out.png").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ita-tmp")] == []


def test_rebuild_restores_every_record_after_the_database_is_lost(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    from ita_rules.recovery import rebuild_from_journal
    from ita_rules.workspace import Workspace

    recs = [
        _put(store_ws, cli, f"{i}.png", f"{i % 3}".encode(), "--symbol", "GER40", "--tag", "x")
        for i in range(6)
    ]
    assert cli("store", "tag", recs[0]["file_id"], "important").code == 0
    store = store_ws.open()
    try:
        store.set_status([recs[1]["file_id"]], "deleted")
    finally:
        store.close()
    before = json.loads(cli("store", "find", "--status", "all", "--json").out)

    _drop_everything(store_ws)
    lost = cli("store", "find", "--status", "all", "--json")  # not an empty answer
    assert (lost.code, lost.out) == (1, "")
    assert "run `ita-rules store rebuild` (or `ita-rules index --rebuild`)" in lost.err
    assert rebuild_from_journal(Workspace.open(store_ws.root)) == 6
    assert json.loads(cli("store", "find", "--status", "all", "--json").out) == before
    assert rebuild_from_journal(Workspace.open(store_ws.root)) == 0  # idempotent
    assert cli("store", "fsck").code == 0

    _drop_everything(store_ws)
    r = cli("store", "rebuild", "--json")
    assert (r.code, json.loads(r.out)) == (
        0,
        {
            "restored": 6,
            "records": 6,
            "runs": 0,
            "remote_copies": 0,
            "unreadable": [],
            "set_aside": None,
            "skipped": [],
            "verifications": 0,
        },
    )


def _drop_everything(ws: StoreWs) -> None:
    """Lose the database: delete the SQLite file, or drop the tables on Postgres."""
    from ita_rules.db import tables as t
    from ita_rules.db.engine import connect

    if ws.db_url.startswith("sqlite"):
        for path in (ws.root / ".ita").glob("ita.sqlite*"):
            path.unlink()
        return
    db = connect(ws.db_url, ws.root)
    with db.write() as conn:
        t.metadata.drop_all(conn)
    db.dispose()


def test_a_damaged_journal_line_is_skipped_and_repaired(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    _put(store_ws, cli, "a.png", b"a")
    journal = store_ws.store_root / ".ita-store" / "journal.jsonl"
    with open(journal, "ab") as fh:
        fh.write(b'{"op": "put", "record": {"file_')  # a writer killed mid-line
    _put(store_ws, cli, "b.png", b"b")  # the next append starts on a new line
    assert _kinds(cli) == ["journal"]
    assert cli("store", "fsck", "--repair").code == 0
    assert _kinds(cli) == []
    assert len(journal.read_text().splitlines()) == 2


def test_soft_delete_and_restore_are_journaled(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    from ita_rules.core.errors import UsageError
    from ita_rules.recovery import rebuild_from_journal
    from ita_rules.workspace import Workspace

    rec = _put(store_ws, cli, "a.png", b"a")
    store = store_ws.open()
    try:
        store.set_status([rec["file_id"]], "deleted", at="2026-01-15T00:00:00.000000Z")
        assert store.get(rec["file_id"]).deleted_at == "2026-01-15T00:00:00.000000Z"
        assert store.refcount(rec["hash"]) == 1  # a soft-deleted record still needs its file
        store.set_status([rec["file_id"]], "live")
        assert (store.get(rec["file_id"]).status, store.get(rec["file_id"]).deleted_at) == (
            "live",
            None,
        )
        with pytest.raises(UsageError):
            store.set_status([rec["file_id"]], "gone")
    finally:
        store.close()
    before = json.loads(cli("store", "find", "--status", "all", "--json").out)
    _drop_everything(store_ws)
    assert rebuild_from_journal(Workspace.open(store_ws.root)) == 1
    assert json.loads(cli("store", "find", "--status", "all", "--json").out) == before


def test_fsck_journals_remote_copies_recorded_before_copies_were_journaled(  # type: ignore[no-untyped-def]
    store_ws: StoreWs, cli
) -> None:
    from ita_rules.db.migrations import ensure_schema
    from ita_rules.recovery import rebuild_database
    from ita_rules.remote import tables as remote_tables
    from ita_rules.workspace import Workspace

    rec = _put(store_ws, cli, "a.png", b"a")
    at = "2026-01-15T00:00:00.000000Z"
    copy = remote_tables.RemoteCopy(
        rec["hash"], "/backup/ita", rec["path"], rec["size"], None, at, at, None
    )
    store = store_ws.open()
    try:  # a row as an older ita-rules saved it: in the database only
        ensure_schema(store.db)
        remote_tables.save(store.db, [copy])
    finally:
        store.close()
    r = cli("store", "fsck", "--json")
    assert r.code == 1
    assert [(p["kind"], p["message"]) for p in json.loads(r.out)["problems"]] == [
        (
            "unjournaled",
            f"the copy of {rec['hash']} on /backup/ita is in the database but not in the journal",
        )
    ]
    assert cli("store", "fsck", "--repair").code == 0
    assert _kinds(cli) == []

    _drop_everything(store_ws)
    if not store_ws.db_url.startswith("sqlite"):
        from ita_rules.db.engine import connect

        db = connect(store_ws.db_url, store_ws.root)
        with db.write() as conn:
            remote_tables.metadata.drop_all(conn)
        db.dispose()
    rebuilt = rebuild_database(Workspace.open(store_ws.root))
    assert (rebuilt.records, rebuilt.remote_copies) == (1, 1)
    store = store_ws.open()
    try:
        assert remote_tables.all_copies(store.db, "/backup/ita") == [copy]
    finally:
        store.close()


def test_last_verified_at_survives_a_lost_database(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    from ita_rules.recovery import rebuild_database
    from ita_rules.workspace import Workspace

    kept = _put(store_ws, cli, "a.png", b"a")
    gone = _put(store_ws, cli, "b.png", b"b")
    store = store_ws.open()
    try:
        store.set_status([gone["file_id"]], "deleted")
    finally:
        store.close()
    assert cli("store", "verify", "--all").code == 0  # the soft-deleted one too
    _put(store_ws, cli, "c.png", b"c")  # not verified yet
    before = json.loads(cli("store", "find", "--status", "all", "--json").out)
    assert [r["last_verified_at"] is not None for r in before] == [True, True, False]
    assert before[0]["file_id"] == kept["file_id"]

    _drop_everything(store_ws)
    assert rebuild_database(Workspace.open(store_ws.root)).records == 3
    assert json.loads(cli("store", "find", "--status", "all", "--json").out) == before


def test_a_lost_stored_file_is_restored_from_a_record_name_holding_the_same_bytes(  # type: ignore[no-untyped-def]
    store_ws: StoreWs, cli
) -> None:
    """A put killed between linking a record's own name and keeping the stored file (or a
    stored file deleted by hand) leaves the bytes under the name: repair brings the stored file
    back from it instead of marking the records missing, and one repair leaves fsck clean."""
    first = _put(store_ws, cli, "a.png", b"same bytes", "--symbol", "GER40")
    second = _put(store_ws, cli, "b.png", b"same bytes", "--symbol", "US30")
    assert first["hash"] == second["hash"] and first["path"] != second["path"]
    root = store_ws.store_root
    (root / first["path"]).unlink()

    r = cli("store", "fsck")
    assert r.code == 1
    assert f"{first['path']}: stored file missing; 2 record(s) point to it" in r.out

    r = cli("store", "fsck", "--repair")
    assert r.code == 0, r.out + r.err
    assert (
        f"{first['path']}: stored file missing; 2 record(s) point to it "
        f"(brought back from {second['path']}, same SHA-256)" in r.out
    )
    assert cli("store", "fsck").code == 0
    assert (root / first["path"]).read_bytes() == b"same bytes"
    assert (root / second["path"]).read_bytes() == b"same bytes"
    statuses = {
        f["file_id"]: f["status"]
        for f in json.loads(cli("store", "find", "--status", "all", "--json").out)
    }
    assert statuses == {first["file_id"]: "live", second["file_id"]: "live"}

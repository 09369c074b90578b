"""The snapshot file of a run against the hash recorded at each write (in the runs row and in
the store's journal) and against the database copy: what ``runs verify`` reports for each kind
of edit, a restored row after a lost database, and the in-place upgrade of a version-1 table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ita_rules.core.canonical import sha256_of
from ita_rules.db import CURRENT_VERSION, connect, upgrade
from ita_rules.db import tables as db_tables
from ita_rules.db.migrations import ensure_schema
from ita_rules.provenance import verify_run
from ita_rules.provenance.runs import Run
from ita_rules.provenance.runstore import RunStore
from ita_rules.provenance.tables import runs
from ita_rules.store.journal import Journal, encode, snapshot_entry
from tests.db.legacy import RUNS_V1
from tests.provenance.conftest import RunWs
from tests.provenance.test_runs import run_backtest

FORGED = "sha256:" + "f" * 64


def _done(run_ws: RunWs) -> tuple[Any, str, RunStore, Path]:
    ws = run_ws.open()
    run, _record = run_backtest(ws)
    store = RunStore.open(ws.settings)
    return ws, run.run_id, store, store.snapshot_path(run.run_id)


def _set(store: RunStore, run_id: str, **values: Any) -> None:
    with store.db.write() as conn:
        conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))


def _journal(store: RunStore) -> Journal:
    return Journal(store.settings.store_root / ".ita-store" / "journal.jsonl")


def test_every_write_records_the_hash_of_its_bytes(run_ws: RunWs) -> None:
    ws, run_id, store, path = _done(run_ws)
    row = store.row(run_id)
    assert row is not None
    assert row["snapshot_sha256"] == sha256_of(path.read_bytes())
    assert row["restored_at"] is None
    entries, _bad = _journal(store).read()
    written = [e.data["sha256"] for e in entries if e.data.get("op") == "snapshot"]
    assert len(written) == 3  # at the start, when the result was added, at the end
    assert written[-1] == row["snapshot_sha256"]
    assert _journal(store).snapshot_hashes() == {run_id: row["snapshot_sha256"]}
    result = verify_run(ws, run_id)
    assert (result.reproducible, result.notes) == (True, [])


def test_an_edited_file_names_each_changed_field(run_ws: RunWs) -> None:
    ws, run_id, _store, path = _done(run_ws)
    snap = json.loads(path.read_text())
    true = snap["params_hash"]
    snap["params_hash"] = FORGED
    path.write_text(json.dumps(snap, indent=2, sort_keys=True) + "\n")
    found = verify_run(ws, run_id).differences
    assert [(d.part, d.what) for d in found] == [("snapshot", "params_hash")]
    assert found[0].message == (
        f"snapshot file changed after the run: params_hash {FORGED} in the file, "
        f"{true} in the database"
    )
    assert (found[0].recorded, found[0].now) == (true, FORGED)


def test_a_reformatted_file_is_a_difference_too(run_ws: RunWs) -> None:
    ws, run_id, _store, path = _done(run_ws)
    recorded = sha256_of(path.read_bytes())
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    found = verify_run(ws, run_id).differences
    assert [(d.what, d.recorded, d.now) for d in found] == [
        ("sha256", recorded, sha256_of(path.read_bytes()))
    ]
    assert found[0].message.endswith("(every field reads the same)")


def test_an_edited_column_of_the_row_is_a_difference(run_ws: RunWs) -> None:
    ws, run_id, store, path = _done(run_ws)
    true = json.loads(path.read_text())["params_hash"]
    _set(store, run_id, params_hash=FORGED)
    found = verify_run(ws, run_id).differences
    assert [str(d) for d in found] == [
        f"snapshot: params_hash: database row changed after the run: params_hash {FORGED} in "
        f"its column, {true} in its snapshot copy"
    ]


def test_an_edited_recorded_hash_is_told_by_the_journal(run_ws: RunWs) -> None:
    ws, run_id, store, path = _done(run_ws)
    _set(store, run_id, snapshot_sha256=FORGED)
    found = verify_run(ws, run_id).differences
    assert [(d.what, d.message) for d in found] == [
        (
            "snapshot_sha256",
            f"database row changed after the run: snapshot_sha256 {FORGED} in the database, "
            f"but the file's {sha256_of(path.read_bytes())} is the one the store's journal kept",
        )
    ]


def test_an_edited_database_copy_is_told_from_an_edited_file(run_ws: RunWs) -> None:
    ws, run_id, store, _path = _done(run_ws)
    row = store.row(run_id)
    assert row is not None
    copy = json.loads(row["snapshot"])
    copy["symbol"] = "DAX"
    _set(store, run_id, snapshot=json.dumps(copy), symbol="DAX")
    found = verify_run(ws, run_id).differences
    assert [(d.what, d.message) for d in found] == [
        (
            "symbol",
            "database copy changed after the run: symbol DAX in the database, GER40 in the "
            "snapshot file",
        )
    ]


def test_a_row_without_a_recorded_hash_still_compares_the_fields(run_ws: RunWs) -> None:
    """A run written before hashes were kept: the fields are compared, which side changed is
    not known."""
    ws, run_id, store, path = _done(run_ws)
    _set(store, run_id, snapshot_sha256=None)
    assert verify_run(ws, run_id).reproducible
    snap = json.loads(path.read_text())
    snap["data_hash"] = FORGED
    path.write_text(json.dumps(snap, indent=2, sort_keys=True) + "\n")
    found = verify_run(ws, run_id).differences
    assert [d.message.split(":")[0] for d in found] == ["snapshot file and database copy differ"]


def test_a_restored_row_takes_the_journaled_hash(run_ws: RunWs) -> None:
    ws, run_id, store, path = _done(run_ws)
    recorded = sha256_of(path.read_bytes())
    with store.db.write() as conn:
        conn.execute(runs.delete())
    assert store.restore() == ([run_id], [])
    row = store.row(run_id)
    assert row is not None
    assert row["snapshot_sha256"] == recorded
    assert row["restored_at"] is not None
    assert verify_run(ws, run_id).reproducible
    # the file edited, the database lost again: the fields cannot be named, the hash tells
    path.write_text(path.read_text().replace('"symbol": "GER40"', '"symbol": "DAX"'))
    with store.db.write() as conn:
        conn.execute(runs.delete())
    store.restore()
    found = verify_run(ws, run_id).differences
    assert [(d.what, d.recorded, d.now) for d in found] == [
        ("sha256", recorded, sha256_of(path.read_bytes()))
    ]
    assert "so the changed fields cannot be named" in found[0].message


def test_a_restored_row_the_journal_has_no_hash_for_is_a_note(run_ws: RunWs) -> None:
    ws, run_id, store, _path = _done(run_ws)
    journal = _journal(store)
    entries, _bad = journal.read()
    journal.path.write_bytes(
        b"".join(encode(e.data) for e in entries if e.data["op"] != "snapshot")
    )
    with store.db.write() as conn:
        conn.execute(runs.delete())
    store.restore()
    row = store.row(run_id)
    assert row is not None and row["snapshot_sha256"] is None
    result = verify_run(ws, run_id)
    assert result.reproducible
    assert len(result.notes) == 1
    assert result.notes[0].startswith(
        f"exchange/archive/provenance/{run_id}_snapshot.json could not be checked: the database "
        "was rebuilt from it at "
    )


def test_an_abandoned_run_records_the_hash_of_its_last_file(run_ws: RunWs) -> None:
    ws = run_ws.open()
    run = Run(ws, "backtest_flow", rule="IB_raid_v1@1.2", heartbeat=0, lease=0.2)
    run.start()
    run_id = run.run_id
    run.detach()
    time.sleep(0.4)
    store = RunStore.open(ws.settings)
    assert store.reap() == [run_id]
    row = store.row(run_id)
    assert row is not None and row["status"] == "abandoned"
    path = store.snapshot_path(run_id)
    assert row["snapshot_sha256"] == sha256_of(path.read_bytes())
    assert _journal(store).snapshot_hashes()[run_id] == row["snapshot_sha256"]


def test_journal_snapshot_hashes_keep_the_last_of_each_run(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append(
        [
            snapshot_entry("run_2026_01_15_001", "sha256:1", "t1"),
            {"op": "put", "at": "t2", "record": {"run_id": "run_2026_01_15_001"}},
            snapshot_entry("run_2026_01_15_002", "sha256:2", "t3"),
            snapshot_entry("run_2026_01_15_001", "sha256:3", "t4"),
        ]
    )
    with journal.path.open("ab") as fh:
        fh.write(b'{"v":1,"op":"snapshot","run_id":"run_2026_01_15_002","sha2')  # cut short
    assert journal.snapshot_hashes() == {
        "run_2026_01_15_001": "sha256:3",
        "run_2026_01_15_002": "sha256:2",
    }


@pytest.mark.parametrize("how", ["first use", "db upgrade"])
def test_a_version_1_runs_table_is_upgraded_in_place(run_ws: RunWs, how: str) -> None:
    ws = run_ws.open()
    db = connect(ws.settings.database_url, ws.settings.root)
    try:
        sv = db_tables.schema_version
        with db.write() as conn:
            sv.create(conn, checkfirst=True)
            conn.execute(sa.text(RUNS_V1[0]))
            conn.execute(sv.insert().values(component="runs", version=1))
            conn.execute(
                sa.text(
                    "INSERT INTO runs (run_id, day, seq, flow_type, status, git_dirty, "
                    "started_at, snapshot) VALUES ('run_2026_01_15_001', '2026_01_15', 1, "
                    "'backtest_flow', 'succeeded', false, '2026-01-15T00:00:00Z', '{}')"
                )
            )
        if how == "db upgrade":
            upgrade(db)
        else:
            ensure_schema(db)
        ensure_schema(db)  # a second use finds it current
        with db.read() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("runs")}
            versions = dict(conn.execute(sa.select(sv.c.component, sv.c.version)).all())
            old = conn.execute(sa.select(runs.c.snapshot_sha256, runs.c.restored_at)).one()
        assert {"snapshot_sha256", "restored_at"} <= columns
        assert versions == {"store": CURRENT_VERSION}  # one version for the whole database
        assert tuple(old) == (None, None)
    finally:
        db.dispose()

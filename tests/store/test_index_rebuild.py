"""`ita-rules index --rebuild` restores the store's records after the database file is lost."""

from __future__ import annotations

import json

import pytest

from tests.store.conftest import StoreWs


# Losing the database *file* is a SQLite story; the journal replay itself runs on Postgres too
# (tests/store/test_db.py).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_index_rebuild_restores_store_records(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    src = store_ws.root / "chart.png"
    src.write_bytes(b"\x89PNG fake chart")
    r = cli("store", "put", str(src), "--type", "screenshot", "--symbol", "GER40", "--json")
    assert r.code == 0, r.err
    (put,) = json.loads(r.out)
    file_id = put["file_id"]
    (store_ws.root / ".ita" / "ita.sqlite").unlink()
    for extra in ("-wal", "-shm"):
        (store_ws.root / ".ita" / f"ita.sqlite{extra}").unlink(missing_ok=True)
    r = cli("index", "--rebuild")
    assert r.code == 0, r.err
    assert "store: 1 record(s), 0 run(s), 0 remote copy(ies) restored from the disk" in r.out
    r = cli("store", "get", file_id, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["file_id"] == file_id


def test_index_rebuild_without_a_store_says_nothing_about_it(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    assert not store_ws.store_root.exists()
    r = cli("index", "--rebuild", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["store_rebuilt"] is None
    assert not store_ws.store_root.exists()  # nothing was created for a store nobody uses

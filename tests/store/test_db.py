"""The metadata database: schema versions, `db upgrade`, the same results on both dialects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from ita_rules.db.migrations import CURRENT_VERSION
from tests.conftest import write
from tests.store.conftest import StoreWs


def _old_database(ws: StoreWs) -> None:
    """A database as schema version 1 left it, with one record tagged in the old way."""
    from ita_rules.db.engine import connect
    from tests.db.legacy import STORE_V1

    db = connect(ws.db_url, ws.root)
    try:
        with db.write() as conn:
            for statement in STORE_V1:
                conn.execute(sa.text(statement))
            conn.execute(
                sa.text(
                    "INSERT INTO store_blobs VALUES ('sha256:"
                    + "a" * 64
                    + "', 'archive/raw/old.csv', 3, "
                    "'2025-01-01T00:00:00.000000Z')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO store_records (file_id, hash, path, size, type, symbol, "
                    "timeframe, run_id, metadata, tags, created_at, status) VALUES "
                    "('11111111-1111-1111-1111-111111111111', "
                    "'sha256:"
                    + "a"
                    * 64
                    + "', 'archive/raw/old.csv', 3, 'candles', 'GER40', 'M15', NULL, "
                    "'{}', '[\"keep\", \"old\"]', '2025-01-01T00:00:00.000000Z', 'live')"
                )
            )
    finally:
        db.dispose()
    write(ws.store_root / "archive" / "raw" / "old.csv", "old")  # its file, in the store root


def test_an_old_schema_is_refused_then_upgraded(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    _old_database(store_ws)
    r = cli("store", "find")
    assert r.code == 2
    assert r.err.startswith("ita-rules: the database ")
    assert r.err.endswith(
        f"has schema version 1, this ita-rules needs {CURRENT_VERSION}: run `ita-rules db upgrade`\n"
    )

    r = cli("db", "upgrade", "--json")
    assert r.code == 0, r.err
    assert {k: v for k, v in json.loads(r.out).items() if k != "database"} == {
        "from": 1,
        "to": CURRENT_VERSION,
    }

    found = json.loads(cli("store", "find", "--tag", "old", "--json").out)
    assert [(f["file_id"], f["tags"], f["last_verified_at"]) for f in found] == [
        ("11111111-1111-1111-1111-111111111111", ["keep", "old"], None)
    ]
    src = write(store_ws.root / "new.csv", "new\n")
    assert cli("store", "put", str(src), "--type", "candles", "--tag", "fresh").code == 0
    r = cli("db", "upgrade")
    assert r.code == 0 and r.out.endswith(f"schema version {CURRENT_VERSION}, nothing to do\n")


def test_a_newer_schema_is_refused(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("store", "find").code == 0  # creates the current schema
    from ita_rules.db.engine import connect

    db = connect(store_ws.db_url, store_ws.root)
    with db.write() as conn:
        conn.execute(sa.text("UPDATE ita_schema_version SET version = 99"))
    db.dispose()
    r = cli("store", "find")
    assert r.code == 2 and r.err.endswith(
        f"has schema version 99, newer than this ita-rules ({CURRENT_VERSION}): upgrade ita-rules\n"
    )
    assert cli("db", "upgrade").code == 2


def test_same_commands_same_results_on_both(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    """The documents printed are identical but for ids and times, whatever the database."""
    for i in range(3):
        write(store_ws.root / f"c{i}.csv", f"{i}\n")
        assert (
            cli(
                "store",
                "put",
                f"c{i}.csv",
                "--type",
                "candles",
                "--symbol",
                "GER40",
                "--tag",
                f"t{i}",
            ).code
            == 0
        )
    found = json.loads(cli("store", "find", "--symbol", "GER40", "--json").out)
    stable = [
        {k: v for k, v in f.items() if k not in ("file_id", "created_at", "path")} for f in found
    ]
    assert stable == [
        {
            "hash": "sha256:" + __import__("hashlib").sha256(f"{i}\n".encode()).hexdigest(),
            "size": 2,
            "type": "candles",
            "symbol": "GER40",
            "timeframe": None,
            "run_id": None,
            "tags": [f"t{i}"],
            "metadata": {},
            "status": "live",
            "deleted_at": None,
            "last_verified_at": None,
            "original_name": f"c{i}.csv",
        }
        for i in range(3)
    ]


def test_database_url_is_never_printed_with_its_password(tmp_path: Path) -> None:
    from ita_rules.db.engine import DatabaseUnavailable, open_database

    with pytest.raises(DatabaseUnavailable) as err:
        open_database("postgresql://u:hunter2@127.0.0.1:1/db", tmp_path)
    assert "hunter2" not in str(err.value) and "u:***@" in str(err.value)
    with pytest.raises(DatabaseUnavailable) as err:
        open_database("mysql://u:hunter2@127.0.0.1/db", tmp_path)
    assert str(err.value) == (
        "store.database: unsupported database 'mysql' in mysql://u:***@127.0.0.1/db "
        "(use sqlite:///PATH or postgresql://USER@HOST/DB)"
    )


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    from ita_rules.db import open_database

    db = open_database("sqlite:///.ita/ita.sqlite", tmp_path)
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60000
    finally:
        db.dispose()
    assert (tmp_path / ".ita" / "ita.sqlite").is_file()


def test_a_read_transaction_sees_one_snapshot(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    """The records and then their tags (retention's plan) must come from the same moment: a
    put committed in between is not seen halfway (Postgres: REPEATABLE READ)."""
    from ita_rules.db import tables as t

    assert (
        cli("store", "put", str(write(store_ws.root / "a.csv", "a\n")), "--type", "candles").code
        == 0
    )
    store = store_ws.open()
    count = sa.select(sa.func.count()).select_from(t.records)
    try:
        with store.db.read() as conn:
            first = conn.execute(count).scalar()
            r = cli("store", "put", str(write(store_ws.root / "b.csv", "b\n")), "--type", "candles")
            assert r.code == 0, r.err
            assert (first, conn.execute(count).scalar()) == (1, 1)
        with store.db.read() as conn:
            assert conn.execute(count).scalar() == 2
    finally:
        store.db.dispose()

"""A SQLite file that SQLite cannot read (truncated by a full disk, overwritten by a sync tool)
is an error the user can act on, and ``store rebuild`` sets it aside and starts again from the
files on disk; nothing is deleted."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ita_rules.db.engine import DatabaseUnavailable, connect, set_aside_broken_sqlite

URL = "sqlite:///.ita/ita.sqlite"


def _database(root: Path) -> Path:
    path = root / ".ita" / "ita.sqlite"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def test_a_sound_database_is_left_alone(tmp_path: Path) -> None:
    path = _database(tmp_path)
    before = path.read_bytes()
    assert set_aside_broken_sqlite(URL, tmp_path) is None
    assert path.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_damaged_database_is_named_and_set_aside_whole(tmp_path: Path, damage: str) -> None:
    path = _database(tmp_path)
    data = path.read_bytes()
    damaged = data[: len(data) // 3] if damage == "truncated" else b"not sqlite at all" * 300
    path.write_bytes(damaged)
    with pytest.raises(DatabaseUnavailable) as info:
        connect(URL, tmp_path).engine.connect().exec_driver_sql("SELECT count(*) FROM t")
    if damage == "overwritten":
        assert str(info.value) == (
            "cannot connect to the database sqlite:///.ita/ita.sqlite: file is not a database; "
            "the file is damaged: `ita-rules store rebuild` sets it aside and rebuilds the "
            "database from the files on disk"
        )

    (tmp_path / ".ita" / "ita.sqlite-wal").write_bytes(b"wal bytes")  # e.g. left by a crash
    aside = set_aside_broken_sqlite(URL, tmp_path)
    assert aside is not None and aside.name.startswith("ita.sqlite.broken-")
    assert aside.read_bytes() == damaged  # kept, byte for byte
    assert aside.with_name(aside.name + "-wal").read_bytes() == b"wal bytes"
    assert not path.exists() and not (tmp_path / ".ita" / "ita.sqlite-wal").exists()


def test_postgres_and_a_missing_file_have_nothing_to_set_aside(tmp_path: Path) -> None:
    assert set_aside_broken_sqlite(URL, tmp_path) is None
    assert set_aside_broken_sqlite("postgresql://u@127.0.0.1/x", tmp_path) is None


@pytest.mark.parametrize(
    "url", ["postgresql://u:se/cret@127.0.0.1:1/db", "postgresql://u:p@ss-word@127.0.0.1:1/db"]
)
def test_a_password_with_slash_or_at_is_refused_without_printing_it(url: str) -> None:
    """SQLAlchemy would split such a URL at the wrong place and quote part of the password as
    a host name; the error says how to write it instead, and shows none of it."""
    with pytest.raises(DatabaseUnavailable) as info:
        connect(url, Path("."))
    assert str(info.value) == (
        "store.database: the password in postgresql://u:***@127.0.0.1:1/db holds '@' or '/', "
        "which a URL cannot carry as they are: percent-encode them (%40 for @, %2F for /)"
    )

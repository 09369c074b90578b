"""Opening a SQLite database: many processes opening a new file at once all get it, in WAL
mode (SQLite converts the journal without waiting for other connections with its busy
handler: without the retry in ``db.engine._use_wal`` some of them failed with "database is
locked", 2 of 30 rounds of 8 processes here)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from ita_rules.db.engine import sqlite_connect

FORK = multiprocessing.get_context("fork")


def _open(path: str, start: Any) -> str | None:
    start.wait(30)
    try:
        conn = sqlite_connect(Path(path))
        try:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        finally:
            conn.close()
    except Exception as exc:
        return repr(exc)


def test_processes_opening_a_new_database_at_once_all_get_it_in_wal_mode(tmp_path: Path) -> None:
    failed = []
    with FORK.Manager() as manager, FORK.Pool(8) as pool:
        for n in range(40):
            path = tmp_path / f"db{n}.sqlite"
            start = manager.Event()
            asked = [pool.apply_async(_open, (str(path), start)) for _ in range(8)]
            start.set()
            modes = [r.get(60) for r in asked]
            failed += [(n, mode) for mode in modes if mode != "wal"]
    assert failed == []


def test_a_database_in_another_journal_mode_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE t (x)")
    old.commit()
    old.close()
    conn = sqlite_connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 60_000
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        conn.close()


def test_a_database_folder_is_made_only_inside_the_workspace(tmp_path: Path) -> None:
    """``.ita/`` (or any folder of the workspace) is made; a folder outside it must exist: a
    mistyped URL is an error, not a new empty database (and folders) somewhere else."""
    import pytest

    from ita_rules.core.errors import UsageError
    from ita_rules.db.engine import connect

    root = tmp_path / "ws"
    root.mkdir()
    for url in ("sqlite:///.ita/ita.sqlite", "sqlite+pysqlite:///.ita/other.sqlite"):
        connect(url, root).dispose()
    assert sorted(p.name for p in (root / ".ita").iterdir()) == ["ita.sqlite", "other.sqlite"]
    outside = tmp_path / "nowhere" / "dir"
    for url in (f"sqlite:///{outside}/x.sqlite", f"sqlite+pysqlite:///{outside}/x.sqlite"):
        with pytest.raises(UsageError) as refused:
            connect(url, root)
        assert str(refused.value) == (
            f"cannot open the SQLite database {outside}/x.sqlite: its folder {outside} does not "
            "exist (create it, or correct store.database in ita.toml or ITA_DATABASE_URL)"
        )
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "shared").mkdir()  # an existing folder outside the workspace is fine
    connect(f"sqlite:///{tmp_path}/shared/team.sqlite", root).dispose()
    assert (tmp_path / "shared" / "team.sqlite").is_file()

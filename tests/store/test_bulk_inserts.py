"""A bulk put's rows go in by statements of many rows, its file ids ascending in the order the
rows are inserted (hash order), and its names are made once per suffix (issue #16 goal 2)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.store.conftest import StoreWs


class Recorded:
    """An :class:`~ita_rules.db.engine.Sql` over a sqlite3 connection that keeps the number
    of rows of each INSERT statement it runs."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        from ita_rules.db.engine import Sql

        self.rows_per_statement: list[int] = []
        self.sql = Sql(self._execute, "sqlite", self._executemany)
        self.conn = conn

    def _count(self, sql: str) -> int:
        return sql.split(" VALUES ", 1)[1].count("(")

    def _execute(self, sql: str, params: Any = ()) -> Any:
        if sql.startswith("INSERT"):
            self.rows_per_statement.append(self._count(sql))
        return self.conn.execute(sql, params)

    def _executemany(self, sql: str, seq: Any) -> Any:
        seq = list(seq)
        self.rows_per_statement.extend([self._count(sql)] * len(seq))
        return self.conn.executemany(sql, seq)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 7, 9])
def test_insert_rows_puts_every_row_in_statements_of_at_most_the_chunk(
    monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    from ita_rules.store import batch

    monkeypatch.setattr(batch, "FEWEST_ROWS_PER_INSERT", 3)
    monkeypatch.setattr(batch, "MOST_ROWS_PER_INSERT", 3)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT PRIMARY KEY, b INTEGER, c TEXT)")
    recorded = Recorded(conn)
    rows = [(f"k{i}", None if i % 2 else i) for i in range(count)]
    batch.insert_rows(recorded.sql, "t", ("a", "b"), rows, {"c": "same"})
    got = conn.execute("SELECT a, b, c FROM t ORDER BY rowid").fetchall()
    assert got == [(a, b, "same") for a, b in rows]  # every row, in order
    assert sum(recorded.rows_per_statement) == count
    assert all(n <= 3 for n in recorded.rows_per_statement)
    assert len(recorded.rows_per_statement) == -(-count // 3)  # ceil: full chunks, one rest


@pytest.mark.parametrize(("count", "per"), [(29, 3), (30, 3), (40, 4), (59, 5), (70, 7), (99, 7)])
def test_insert_rows_takes_a_tenth_of_the_rows_a_statement_within_bounds(
    monkeypatch: pytest.MonkeyPatch, count: int, per: int
) -> None:
    from ita_rules.store import batch

    monkeypatch.setattr(batch, "FEWEST_ROWS_PER_INSERT", 3)
    monkeypatch.setattr(batch, "MOST_ROWS_PER_INSERT", 7)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER)")
    recorded = Recorded(conn)
    batch.insert_rows(recorded.sql, "t", ("a",), [(i,) for i in range(count)])
    assert recorded.rows_per_statement[0] == per
    assert recorded.rows_per_statement == [per] * (count // per) + (
        [count % per] if count % per else []
    )
    assert conn.execute("SELECT a FROM t ORDER BY rowid").fetchall() == [(i,) for i in range(count)]


def test_insert_rows_keeps_under_the_parameter_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from ita_rules.store import batch

    monkeypatch.setattr(batch, "MAX_PARAMETERS", 7)  # 3 rows of 2 parameters
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT, b TEXT)")
    recorded = Recorded(conn)
    batch.insert_rows(recorded.sql, "t", ("a", "b"), [(str(i), "x") for i in range(10)])
    assert recorded.rows_per_statement == [3, 3, 3, 1]
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (10,)


def test_insert_sql_of_several_rows() -> None:
    from ita_rules.store.batch import insert_sql

    assert insert_sql("t", ("a", "b"), {"c": None}, rows=2) == (
        "INSERT INTO t (a, b, c) VALUES (?, ?, NULL), (?, ?, NULL)"
    )
    assert insert_sql("t", ("a",)) == "INSERT INTO t (a) VALUES (?)"


def test_ids_in_hash_order_ascend_with_the_hashes_ties_in_batch_order() -> None:
    from ita_rules.store.blobs import Staged
    from ita_rules.store.plan import ids_in_hash_order

    hashes = ["sha256:c", "sha256:a", "sha256:b", "sha256:a", "sha256:c", "sha256:0"]
    staged = [Staged(f"/tmp/x{i}", h, 1, f"s{i}") for i, h in enumerate(hashes)]
    ids = ids_in_hash_order(staged)
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert uuid.UUID(text).version == 4
    by_hash = sorted(range(len(hashes)), key=lambda i: hashes[i])
    assert [ids[i] for i in by_hash] == sorted(ids)
    assert ids_in_hash_order([]) == []


def test_a_bulk_put_inserts_its_records_in_file_id_order(store_ws: StoreWs) -> None:
    """The rows go in by hash; their file ids ascend the same way (duplicates included), and
    every record reads back as it was returned."""
    from ita_rules.store import PutSpec

    files = [write(store_ws.root / "in" / f"f{i}.png", f"content {i % 7}") for i in range(40)]
    store = store_ws.open()
    try:
        records = store.put_many(files, PutSpec("screenshot", tags=("t",)))
        in_hash_order = sorted(records, key=lambda r: r.hash)  # stable: a tie in batch order
        assert [r.file_id for r in in_hash_order] == sorted(r.file_id for r in records)
        assert len({r.file_id for r in records}) == 40
        found = {r.file_id: r for r in store.find(tag="t")}
        assert [found[r.file_id] for r in records] == records
    finally:
        store.close()


def test_names_are_made_per_suffix_in_a_batch_of_mixed_files(store_ws: StoreWs) -> None:
    """Each suffix's name is made once (plan._Placer.own_name): a batch mixing extensions,
    cases, a name without one and a suffix that is not plain gets the same paths as files
    put one by one would; original names keep non-ASCII letters."""
    from ita_rules.store import PutSpec, naming

    names = ["a.png", "b.PNG", "c.png", "d", "e.tar.gz", "f.we!rd", "g.png", "é.png"]
    files = [write(store_ws.root / "in" / name, f"bytes of {name}") for name in names]
    store = store_ws.open()
    try:
        records = store.put_many(files, PutSpec("screenshot", symbol="GER40"))
    finally:
        store.close()
    for record, path in zip(records, files, strict=True):
        ext = naming.extension(path.name)
        stored = Path(record.path).name
        assert stored.startswith("GER40_")
        assert (Path(stored).suffix == f".{ext}") if ext else "." not in stored, (stored, path)
        assert record.original_name == path.name


def test_a_plain_put_drops_its_records_before_the_collector_is_on_again(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The collection that follows the put's pause of the collector would go over every
    record still alive (62 ms of CPU after 50,000 files): they are printed and dropped while
    it is paused."""
    import gc
    import weakref
    from collections.abc import Iterator
    from contextlib import contextmanager

    from ita_rules.cli import store_put
    from ita_rules.core import collector

    for i in range(5):
        write(store_ws.root / "in" / f"{i}.png", f"png {i}")
    refs: list[weakref.ref[Any]] = []
    real_show, real_paused = store_put._show, collector.paused
    alive_when_resumed: list[int] = []

    def show(records: list[Any], *, json_: bool) -> int:
        assert not gc.isenabled()
        refs.extend(weakref.ref(r) for r in records)
        return real_show(records, json_=json_)

    @contextmanager
    def paused() -> Iterator[None]:
        with real_paused():
            yield
            alive_when_resumed.append(sum(ref() is not None for ref in refs))

    monkeypatch.setattr(store_put, "_show", show)
    monkeypatch.setattr(collector, "paused", paused)
    args = store_put.PutArgs(store_ws.root, [store_ws.root / "in"], "screenshot")
    assert gc.isenabled()
    assert store_put.put(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert len(refs) == 5 and alive_when_resumed == [0]
    assert gc.isenabled()

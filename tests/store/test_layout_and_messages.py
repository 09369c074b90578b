"""Layout of deduplicated records (each in its type folder, under its own name: a hard link,
or a copy where the file system cannot link), original names, file-id prefixes, and the
records a verify marks; on SQLite and Postgres."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.store.conftest import StoreWs

CANDLES = b"time,open\n2026-01-15 08:00,100\n"


def _open(store_ws: StoreWs) -> Any:
    return store_ws.open()


@contextmanager
def _stored_twice(store_ws: StoreWs) -> Iterator[tuple[Any, Any, Any]]:
    """The open store and the records of the same bytes put as GER40.csv (candles), then as
    chart.png (screenshot); the store is closed at the end."""
    csv = write(store_ws.root / "GER40.csv", CANDLES)
    png = write(store_ws.root / "chart.png", CANDLES)
    store = _open(store_ws)
    try:
        first = store.put(csv, type="candles")
        second = store.put(png, type="screenshot")
        yield store, first, second
    finally:
        store.close()


def test_the_same_bytes_as_another_type_are_a_hard_link_in_that_type_folder(
    store_ws: StoreWs,
) -> None:
    csv = write(store_ws.root / "in" / "GER40.csv", CANDLES)
    png = write(store_ws.root / "in" / "chart.png", CANDLES)
    store = _open(store_ws)
    try:
        first = store.put(csv, type="candles", symbol="GER40")
        second = store.put(png, type="screenshot", symbol="DAX", run_id="run_1")
        again = store.put(png, type="screenshot", symbol="DAX", run_id="run_1")
        other_run = store.put(png, type="screenshot", symbol="DAX", run_id="run_2")
        from_memory = store.put_bytes(CANDLES, ext="png", spec=_spec("screenshot"))
    finally:
        store.close()
    assert first.path.startswith("archive/raw/GER40_") and first.original_name == "GER40.csv"
    assert second.path.startswith("to_vision/DAX_run_1_") and second.path.endswith(".png")
    assert (second.original_name, second.deduplicated) == ("chart.png", True)
    assert again.path == second.path  # same content, type, symbol and run: one name
    assert other_run.path.startswith("to_vision/DAX_run_2_")
    assert from_memory.original_name is None
    paths = {first.path, second.path, other_run.path, from_memory.path}
    assert len(paths) == 4
    inodes = {os.stat(store_ws.store_root / p).st_ino for p in paths}
    assert len(inodes) == 1  # stored once


def _spec(type_: str) -> Any:
    from ita_rules.store import PutSpec

    return PutSpec(type_)


def test_without_hard_links_the_name_is_a_copy_and_fsck_and_verify_check_it(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch, cli
) -> None:  # type: ignore[no-untyped-def]
    def no_link(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    csv = write(store_ws.root / "GER40.csv", CANDLES)
    png = write(store_ws.root / "chart.png", CANDLES)
    store = _open(store_ws)
    try:
        first = store.put(csv, type="candles")
        with monkeypatch.context() as patch:
            patch.setattr(os, "link", no_link)
            second = store.put(png, type="screenshot")
    finally:
        store.close()
    a, b = store_ws.store_root / first.path, store_ws.store_root / second.path
    assert a.read_bytes() == b.read_bytes() == CANDLES
    assert not os.path.samefile(a, b)
    assert cli("store", "fsck").code == 0
    r = cli("store", "verify")
    assert (r.code, r.err) == (0, "2 file(s) verified for 2 record(s), 0 corrupt, 0 missing\n")
    b.write_bytes(b"changed")
    r = cli("store", "fsck")
    assert r.code == 1
    assert f"{second.path}: content does not match {second.hash}\n" in r.out


def test_removing_the_first_name_keeps_the_bytes_under_the_other_and_a_rebuild_knows(
    store_ws: StoreWs, cli
) -> None:  # type: ignore[no-untyped-def]
    with _stored_twice(store_ws) as (store, first, second):
        assert store.remove(first.file_id) is False  # the bytes are still needed
        assert not (store_ws.store_root / first.path).exists()
        assert (store_ws.store_root / second.path).read_bytes() == CANDLES
        assert cli("store", "fsck").code == 0
        with store.db.write() as conn:
            import sqlalchemy as sa

            for table in ("store_tags", "store_records", "store_blobs"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
    assert cli("store", "rebuild").code == 0
    r = cli("store", "fsck")
    assert (r.code, r.out) == (0, ""), r.out
    store = _open(store_ws)
    try:
        assert store.remove(second.file_id) is True
    finally:
        store.close()
    assert not (store_ws.store_root / second.path).exists()


def test_fsck_repair_links_a_missing_name_again(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    csv = write(store_ws.root / "GER40.csv", CANDLES)
    png = write(store_ws.root / "chart.png", CANDLES)
    store = _open(store_ws)
    try:
        store.put(csv, type="candles")
        second = store.put(png, type="screenshot")
    finally:
        store.close()
    (store_ws.store_root / second.path).unlink()
    r = cli("store", "fsck", "--repair")
    assert r.code == 0, r.out
    assert f"{second.path}: name missing; 1 record(s) point to it (linked again to " in r.out
    assert (store_ws.store_root / second.path).read_bytes() == CANDLES
    assert cli("store", "fsck").code == 0


def test_a_put_of_good_bytes_repairs_a_content_marked_corrupt(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    csv = write(store_ws.root / "GER40.csv", CANDLES)
    store = _open(store_ws)
    try:
        first = store.put(csv, type="candles")
    finally:
        store.close()
    (store_ws.store_root / first.path).write_bytes(b"garbage")
    assert cli("store", "verify").code == 1
    store = _open(store_ws)
    try:
        assert store.get(first.file_id).status == "corrupt"
        again = store.put(csv, type="candles")
    finally:
        store.close()
    assert (store_ws.store_root / again.path).read_bytes() == CANDLES
    r = cli("store", "verify")  # the old record's own name still holds the garbage
    assert (r.code, r.out, r.err) == (
        0,
        "",
        "2 file(s) verified for 2 record(s), 0 corrupt, 0 missing, 1 still marked corrupt\n",
    )


def test_file_id_prefixes(store_ws: StoreWs) -> None:
    from ita_rules.core.errors import NotFound, UsageError

    src = write(store_ws.root / "GER40.csv", CANDLES)
    store = _open(store_ws)
    try:
        rec = store.put(src, type="candles")
        assert store.resolve(rec.file_id) == rec.file_id
        assert store.resolve(rec.file_id[:8].upper()) == rec.file_id
        assert store.get(rec.file_id[:13]).file_id == rec.file_id
        with pytest.raises(UsageError, match="too short: give the whole id or at least 8"):
            store.get(rec.file_id[:7])
        with pytest.raises(NotFound, match="no record '%%%%%%%%' in the store"):
            store.get("%%%%%%%%")
        assert store.tag(rec.file_id[:8], "x").tags == ("x",)
        assert store.get(rec.file_id).tags == ("x",)
    finally:
        store.close()


def test_original_names_of_a_bulk_put_are_journaled(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    for i in range(70):
        write(store_ws.root / "many" / f"c{i:02d}.csv", f"time,open\n2026-01-15,{i}\n")
    r = cli("store", "put", str(store_ws.root / "many"), "--type", "candles", "--json")
    assert r.code == 0, r.err
    names = [rec["original_name"] for rec in json.loads(r.out)]
    assert names == [f"c{i:02d}.csv" for i in range(70)]
    lines = (store_ws.store_root / ".ita-store" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["record"]["original_name"] for line in lines] == names


def test_a_single_put_as_candles_refuses_another_extension(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    png = write(store_ws.root / "chart.png", b"\x89PNG")
    before = store_ws.state()
    r = cli("store", "put", str(png), "--type", "candles")
    assert r.code == 2
    assert r.err.endswith(
        "chart.png: not a candle file: --type candles takes .csv, .parquet, .pq, .tsv or "
        ".txt files; nothing was stored\n"
    )
    assert store_ws.state() == before


def test_find_on_a_fresh_store_is_quiet_and_on_a_lost_database_is_not(
    store_ws: StoreWs, cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert cli("store", "find").code == 0
    src = write(store_ws.root / "GER40.csv", CANDLES)
    assert cli("store", "put", str(src), "--type", "candles").code == 0
    store = _open(store_ws)
    try:
        import sqlalchemy as sa

        with store.db.write() as conn:
            for table in ("store_tags", "store_records", "store_blobs"):
                conn.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        store.close()
    r = cli("store", "find", "--symbol", "GER40")
    assert r.code == 1
    assert "the metadata database holds no records, but the store's journal" in r.err
    r = cli("store", "get", "0000000000")
    assert r.code == 1
    assert r.err.startswith("ita-rules: no record '0000000000' in the store; the metadata database")


def test_relink_gives_the_records_their_names_back(store_ws: StoreWs) -> None:
    """What a pull does after it restored a content's stored file."""
    with _stored_twice(store_ws) as (store, first, second):
        assert store.stored_paths([first.hash]) == {first.hash: first.path}
        (store_ws.store_root / second.path).unlink()
        assert store.relink(first.hash) == [second.path]
        assert (store_ws.store_root / second.path).samefile(store_ws.store_root / first.path)
        assert store.relink(first.hash) == []

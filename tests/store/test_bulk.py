"""The bulk put's fast paths: small files read in one call, one sync for many files, batched
inserts and journal lines, string paths in the CLI (SQLite and Postgres where a store is used).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.store.conftest import Progress, StoreWs, kill_putter_and_check, start_putter


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _sizes() -> list[int]:
    from ita_rules.store import blobs

    small, chunk = blobs.SMALL, blobs.CHUNK
    return [0, 1, small - 1, small, small + 1, chunk, 3 * chunk + 7]


@pytest.mark.parametrize("many", [False, True], ids=["fsync-each", "syncfs"])
def test_small_and_large_files_in_one_bulk_put_get_their_own_hashes(
    store_ws: StoreWs, many: bool
) -> None:
    """Around every threshold (one read below SMALL, streaming above, several 1 MiB chunks),
    mixed in one batch; with more than SYNC_EACH_UP_TO files the batch takes the syncfs path."""
    from ita_rules.store import PutSpec, blobs

    rnd = random.Random(5)
    folder = store_ws.root / "mixed"
    contents = {f"size{size}.bin": rnd.randbytes(size) for size in _sizes()}
    if many:
        for i in range(blobs.SYNC_EACH_UP_TO + 10):
            contents[f"small{i}.png"] = rnd.randbytes(rnd.randrange(1, 9000))
    paths = [write(folder / name, data) for name, data in contents.items()]
    store = store_ws.open()
    try:
        records = store.put_many(paths, PutSpec("screenshot", symbol="GER40"))
        assert [r.hash for r in records] == [_sha(p.read_bytes()) for p in paths]
        assert [r.size for r in records] == [len(contents[p.name]) for p in paths]
        for record, path in zip(records, paths, strict=True):
            assert (store_ws.store_root / record.path).read_bytes() == contents[path.name]
        from ita_rules.recovery import fsck

        assert fsck(store).problems == []
    finally:
        store.close()
    assert not list(store_ws.store_root.rglob(".ita-tmp-*"))


CHANGES = {
    "small grows past SMALL": (100, lambda p, n: _append(p, os.urandom(300_000))),
    "small grows by one byte": (100, lambda p, n: _append(p, b"!")),
    "small shrinks to nothing": (5000, lambda p, n: os.truncate(p, 0)),
    "small shrinks a little": (5000, lambda p, n: os.truncate(p, n - 7)),
    "empty grows": (0, lambda p, n: _append(p, b"late bytes")),
    "large shrinks below SMALL": (3 << 20, lambda p, n: os.truncate(p, 1000)),
    "large grows": (3 << 20, lambda p, n: _append(p, os.urandom(1 << 20))),
}


def _append(path: str, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_a_file_that_changes_size_while_being_read_is_stored_as_read(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """The size fstat saw is only a hint: the copy reads until the end, so the stored bytes,
    their size and their hash always agree (here the file changes right after fstat)."""
    from ita_rules.store import PutSpec, blobs

    size, mutate = CHANGES[change]
    target = write(store_ws.root / "moving" / "target.bin", os.urandom(size))
    others = [
        write(store_ws.root / "moving" / f"o{i}.bin", f"other {i}".encode()) for i in range(3)
    ]
    real = blobs.open_sized

    def open_then_change(path: str | Path, shown: str | None = None, **kw: Any) -> tuple[int, int]:
        fd, seen = real(path, shown, **kw)
        if os.fspath(path) == str(target):
            mutate(str(target), seen)
        return fd, seen

    monkeypatch.setattr(blobs, "open_sized", open_then_change)
    store = store_ws.open()
    try:
        records = store.put_many([others[0], target, *others[1:]], PutSpec("screenshot"))
    finally:
        store.close()
    final = target.read_bytes()
    record = records[1]
    assert (record.hash, record.size) == (_sha(final), len(final))
    assert (store_ws.store_root / record.path).read_bytes() == final


def test_stage_reads_to_the_end_whatever_the_size_hint(tmp_path: Path) -> None:
    from ita_rules.store import blobs

    for size in (0, 1, 4096, blobs.SMALL - 1, blobs.SMALL + 1, 2 * blobs.CHUNK + 3):
        data = os.urandom(size)
        src = write(tmp_path / f"src{size}", data)
        for hint in {-1, 0, max(size - 1, 0), size, size + 1, blobs.SMALL - 1}:
            fd = os.open(src, os.O_RDONLY)
            try:
                staged = blobs.stage(fd, tmp_path, str(src), sync=False, size_hint=hint)
            finally:
                os.close(fd)
            assert (staged.hash, staged.size) == (_sha(data), size), (size, hint)
            assert Path(staged.path).read_bytes() == data
            os.unlink(staged.path)


def test_temp_names_are_unique_carry_the_pid_and_survive_a_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ita_rules.store import blobs
    from ita_rules.store.naming import TMP_PREFIX

    monkeypatch.setattr(blobs, "_TEMP_COUNT", itertools.count(41))
    clash = tmp_path / f"{TMP_PREFIX}{os.getpid()}-{blobs._TEMP_TOKEN}{41:x}"
    clash.write_bytes(b"a dead process's leftover")
    names = []
    for _ in range(3):
        fd, path = blobs.create_temp(tmp_path)
        os.close(fd)
        names.append(Path(path).name)
    assert len(set(names)) == 3 and clash.name not in names
    assert clash.read_bytes() == b"a dead process's leftover"
    for name in names:  # what store fsck parses to tell a live put from a dead one's leftover
        assert name.startswith(TMP_PREFIX)
        assert int(name[len(TMP_PREFIX) :].split("-", 1)[0]) == os.getpid()
    fd, path = blobs.create_temp(tmp_path / "made" / "on demand")
    os.close(fd)
    assert Path(path).parent == tmp_path / "made" / "on demand"


def test_bulk_data_is_synced_before_any_rename_and_renames_before_the_commit(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability of a put (docs/architecture.md#store), in order: temp files synced (one syncfs for a bulk put) -> renames ->
    the folder fsynced while the transaction is still open -> commit -> journal."""
    from ita_rules.store import PutSpec, batch, blobs

    folder = store_ws.root / "ordered"
    paths = [write(folder / f"{i}.png", f"png {i}".encode()) for i in range(100)]
    store = store_ws.open()
    events: list[str] = []
    real_sync_all, real_replace, real_sync_dir = blobs.sync_all, os.replace, blobs.sync_dir
    real_append = store.journal.append_lines

    def sync_all(items: Any) -> None:
        events.append("sync")
        real_sync_all(items)

    def replace(src: Any, dst: Any) -> None:
        events.append("rename")
        real_replace(src, dst)

    def sync_dir(parent: Any) -> None:
        with store.db.read() as conn:  # another connection: sees only what is committed
            import sqlalchemy as sa

            from ita_rules.db import tables as t

            committed = conn.execute(sa.select(sa.func.count()).select_from(t.records))
            events.append(f"sync_dir(committed={committed.scalar_one()})")
        real_sync_dir(parent)

    def append_lines(payload: bytes) -> None:
        events.append(f"journal({len(payload.splitlines())})")
        real_append(payload)

    monkeypatch.setattr(blobs, "sync_all", sync_all)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(batch.blobs, "sync_dir", sync_dir)
    monkeypatch.setattr(store.journal, "append_lines", append_lines)
    try:
        store.put_many(paths, PutSpec("screenshot"))
    finally:
        store.close()
    assert events == ["sync", *["rename"] * 100, "sync_dir(committed=0)", "journal(100)"]


def test_journal_lines_of_a_batch_equal_one_encoding_per_entry() -> None:
    """The batch encoder (one template filled per record) gives byte for byte what encoding
    each entry gives, also when the data happens to contain the template's markers."""
    import uuid

    from ita_rules.store import journal
    from ita_rules.store.records import Record

    at = "2026-01-15T10:30:00.123456Z"
    for metadata in (
        {},
        {"source": "broker", "n": 3, "nested": {"a": [1, None, "{x}"]}, "é": "\"'\\"},
        {"\x00ita-path\x00": "\x00ita-size\x00"},  # the markers themselves: the slow path
    ):
        docs = [
            Record(
                str(uuid.uuid4()),
                f"to_vision/GER40_run_1_20260115T103000123Z-{i:08x}.png",
                _sha(str(i).encode()),
                i * 1000,
                "screenshot",
                "GER40",
                "M15",
                "run_1",
                ("london", "z"),
                metadata,
                at,
            ).as_dict()
            for i in range(50)
        ]
        varying = [(d["file_id"], d["path"], d["hash"], d["size"]) for d in docs]
        expected = b"".join(journal.encode(journal.put_entry(d, at)) for d in docs)
        assert journal.encode_puts(docs[0], varying, at) == expected
        assert [json.loads(line)["record"] for line in expected.splitlines()] == docs
        # each record's original file name differs too (None for bytes put from memory)
        named = [
            {**d, "original_name": None if i % 7 == 0 else f'c{i}"é.png'}
            for i, d in enumerate(docs)
        ]
        rows = [(*row, d["original_name"]) for row, d in zip(varying, named, strict=True)]
        expected = b"".join(journal.encode(journal.put_entry(d, at)) for d in named)
        assert journal.encode_puts(named[0], rows, at) == expected


def test_insert_many_with_one_column_and_with_many(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from ita_rules.store.batch import insert_many

    meta = sa.MetaData()
    one = sa.Table("one", meta, sa.Column("a", sa.String(8), primary_key=True))
    two = sa.Table("two", meta, sa.Column("a", sa.String(8)), sa.Column("b", sa.Integer))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    meta.create_all(engine)
    with engine.begin() as conn:
        insert_many(conn, one, [{"a": "x"}, {"a": "y"}])
        insert_many(conn, two, [{"b": 2, "a": "p"}, {"b": None, "a": "q"}])
        insert_many(conn, two, [])
        assert sorted(conn.execute(sa.select(one.c.a)).scalars()) == ["x", "y"]
        assert sorted(conn.execute(sa.select(two.c.a, two.c.b)).all()) == [("p", 2), ("q", None)]
    engine.dispose()


def test_the_cli_lists_a_directory_in_path_order(tmp_path: Path) -> None:
    from ita_rules.store.sources import expand

    names = ["a/b", "a-c", "a/b0/z", "a.b", "B", "a/a", "a b", "z/y/x", "a_/q"]
    for name in names:
        write(tmp_path / "d" / name, name)
    found = expand([str(tmp_path / "d")])
    expected = sorted(p for p in (tmp_path / "d").rglob("*") if not p.is_dir())
    assert found == [str(p) for p in expected]


def test_a_bulk_put_does_not_load_the_rule_registry(store_ws: StoreWs) -> None:
    """Only a result needs the registry; every other put skips its modules (start-up time)."""
    for i in range(3):
        write(store_ws.root / "shots" / f"{i}.png", f"png {i}".encode())
    code = (
        "import sys; from ita_rules.cli import main\n"
        "try:\n    main(['store', 'put', 'shots', '--type', 'screenshot'])\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "print('ita_rules.rules.registry' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=store_ws.root,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "False"


def _bulk_putter(root: str, seed: int, progress: Progress) -> None:
    """Bulk puts large enough for the one-syncfs path, in a loop until killed."""
    from ita_rules.store import PutSpec, blobs

    rnd, store, src = start_putter(root, seed, progress)
    for i in range(10**9):
        if i:
            progress.tick()
        batch = []
        for j in range(blobs.SYNC_EACH_UP_TO + rnd.randrange(1, 20)):
            path = src / f"{i}-{j}.png"
            shared = rnd.random() < 0.2
            path.write_bytes(
                f"shared {rnd.randrange(30)}".encode()
                if shared
                else f"{seed}/{i}/{j} ".encode() * rnd.choice([1, 50, 2000])
            )
            batch.append(path)
        store.put_many(batch, PutSpec("screenshot", run_id=f"run_{seed}", tags=("bulk",)))


def test_kill_9_during_bulk_puts_never_leaves_a_record_without_its_file(store_ws: StoreWs) -> None:
    from ita_rules.recovery import fsck

    rnd = random.Random(20260116)
    store = store_ws.open()
    try:
        for n in range(20):
            kill_putter_and_check(
                store,
                _bulk_putter,
                store_ws.root,
                n,
                rnd.uniform(0.0, 0.4),
                hashes=n % 5 == 4,
                first_done=n % 2 == 1,  # the others: from the start, within the first batch
            )
        assert fsck(store).problems == []
        records = store.find(status=None)
    finally:
        store.close()
    assert len(records) > 100, "the workers were killed before they stored anything"
    for record in records:
        data = (store_ws.store_root / record.path).read_bytes()
        assert _sha(data) == record.hash


@pytest.mark.parametrize("listed", [False, True], ids=["lstat", "listed"])
def test_a_lost_file_stored_again_keeps_its_name_from_new_content(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch, cli: Any, listed: bool
) -> None:
    """A stored content whose file was lost goes back to its old path; a new content of the
    same batch named in the same millisecond must not take that path (both renames would
    target one file). ``listed``: the names are looked up in one listing of the folder, as a
    large batch does (names.listing)."""
    import datetime as dt

    from ita_rules.core import times
    from ita_rules.store import PutSpec, names

    monkeypatch.setattr(names, "LIST_FROM", 1 if listed else 10**9)

    moment = dt.datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=dt.UTC)
    monkeypatch.setattr(times, "now", lambda: moment)
    a = write(store_ws.root / "a.png", "content a")
    b = write(store_ws.root / "b.png", "content b")
    spec = PutSpec("screenshot", "GER40")
    store = store_ws.open()
    try:
        first = store.put(a, type="screenshot", symbol="GER40")
        (store_ws.store_root / first.path).unlink()  # the stored file is lost
        new_b, again_a = store.put_many([b, a], spec)  # b first: it would take a's old name
    finally:
        store.close()
    assert again_a.path == first.path and new_b.path != first.path
    assert (store_ws.store_root / first.path).read_bytes() == b"content a"
    assert (store_ws.store_root / new_b.path).read_bytes() == b"content b"
    r = cli("store", "fsck")
    assert (r.code, r.err) == (0, "2 file(s), 3 record(s), 0 problem(s)\n")


@pytest.mark.parametrize("platform", ["darwin", "freebsd14"])
def test_many_files_are_fsynced_one_by_one_where_sync_does_not_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    """sync(2) on macOS and the BSDs only schedules the writes: there, a bulk put fsyncs each."""
    from ita_rules.store import blobs

    paths = [write(tmp_path / f"{i}.png", str(i)) for i in range(blobs.SYNC_EACH_UP_TO + 5)]
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(os, "sync", lambda: pytest.fail("os.sync() does not wait here"))
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    blobs.sync_all(paths)
    assert len(synced) == len(paths)


def test_lookups_of_more_hashes_than_one_query_takes(store_ws: StoreWs) -> None:
    """The put's hash lookups run LOOKUP_CHUNK hashes a query through the driver (here a full
    chunk and a shorter last one), on both engines, in the put's own transaction (sqlite3
    directly on SQLite, :meth:`Database.sql_write`)."""
    import sqlalchemy as sa

    from ita_rules.db import tables as t
    from ita_rules.store import PutSpec, batch

    count = batch.LOOKUP_CHUNK * 2 + 7
    hashes = [f"sha256:{i:064x}" for i in range(count)]
    at = "2026-01-15T10:30:00.000000Z"
    store = store_ws.open()
    try:
        with store.db.write() as conn:
            stored = [
                {"hash": h, "path": f"p/{i}", "size": 1, "created_at": at}
                for i, h in enumerate(hashes)
                if i % 3 == 0
            ]
            batch.insert_many(conn, t.blobs, stored)
            records = [
                {
                    "file_id": f"f{i}",
                    "hash": h,
                    "path": f"r/{i}",
                    "size": 1,
                    "type": ("screenshot" if i % 2 else "model"),
                    "symbol": None,
                    "timeframe": None,
                    "run_id": None,
                    "metadata": "{}",
                    "created_at": at,
                    "status": ("live" if i % 5 else "purged"),
                }
                for i, h in enumerate(hashes)
                if i % 3 == 0
            ]
            batch.insert_many(conn, t.records, records)
        asked = [*hashes, "sha256:" + "f" * 64]  # one unknown hash too
        with store.db.sql_write() as sql:
            assert batch.stored_paths(sql, asked) == {
                h: f"p/{i}" for i, h in enumerate(hashes) if i % 3 == 0
            }
            needed, same = batch._live_paths(sql, asked, PutSpec("screenshot"))
            assert needed == {h for i, h in enumerate(hashes) if i % 3 == 0 and i % 5}
            assert same == {
                h: f"r/{i}" for i, h in enumerate(hashes) if i % 3 == 0 and i % 5 and i % 2
            }
        with store.db.write() as conn:
            conn.execute(sa.text("DELETE FROM store_records"))
            conn.execute(sa.text("DELETE FROM store_blobs"))
    finally:
        store.close()


def test_the_put_looks_its_hashes_up_through_the_hash_index_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The put's lookups of live records go through the hash index, not the status index
    (which holds every live record): for a long IN list SQLite, without statistics, chose the
    status index and read the whole table for each 500 hashes. Without statistics the plan
    does not depend on the rows, so an empty store shows it."""
    from ita_rules.store import PutSpec, batch, open_store
    from ita_rules.workspace import Workspace

    class Asked:
        """A connection that notes the queries it is asked (and finds nothing)."""

        def __init__(self, dialect: str) -> None:
            self.dialect = dialect
            self.queries: list[tuple[str, Any]] = []

        def rows(self, sql: str, params: Any = ()) -> list[Any]:
            self.queries.append((sql, params))
            return []

    monkeypatch.delenv("ITA_DATABASE_URL", raising=False)
    write(tmp_path / "ita.toml", "")
    (tmp_path / "rules").mkdir()
    hashes = [f"sha256:{i:064x}" for i in range(batch.LOOKUP_CHUNK + 7)]
    store = open_store(Workspace.open(tmp_path))
    try:
        with store.db.sql_write() as sql:
            asked = Asked(sql.dialect)
            batch._live_paths(asked, hashes, PutSpec("screenshot"))  # type: ignore[arg-type]
            plans = [
                " | ".join(str(row[-1]) for row in sql.rows(f"EXPLAIN QUERY PLAN {q}", params))
                for q, params in asked.queries
            ]
    finally:
        store.close()
    assert len(plans) == 2  # a full chunk of hashes and the rest
    for plan in plans:
        assert "USING INDEX ix_store_records_hash" in plan, plan
        assert "ix_store_records_status" not in plan, plan


def test_a_bulk_put_on_sqlite_has_a_cache_for_its_changes_then_the_default_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's SQLite page cache (1 KiB a file, here 1,000 KiB so that three files are
    enough) is set inside the put's transaction and restored after it, on the connection the
    next put uses again (sqlite3's own, :meth:`Database.sql_write`: no SQLAlchemy engine)."""
    from ita_rules.db.engine import Sql
    from ita_rules.store import PutSpec, batch, open_store
    from ita_rules.workspace import Workspace

    monkeypatch.delenv("ITA_DATABASE_URL", raising=False)
    write(tmp_path / "ita.toml", "")
    (tmp_path / "rules").mkdir()
    files = [write(tmp_path / "in" / f"{i}.png", f"png {i}") for i in range(3)]
    monkeypatch.setattr(batch, "CACHE_KIB_PER_FILE", 1000)
    seen: list[int] = []
    real = batch._insert

    def spy(conn: Sql, *args: Any) -> None:
        seen.append(conn.scalar("PRAGMA cache_size"))
        real(conn, *args)

    monkeypatch.setattr(batch, "_insert", spy)
    store = open_store(Workspace.open(tmp_path))
    try:
        with store.db.sql_write() as sql:
            default = sql.scalar("PRAGMA cache_size")
        assert len(store.put_many(files, PutSpec("screenshot"))) == 3
        assert seen == [-3000]
        with store.db.sql_write() as sql:
            assert sql.scalar("PRAGMA cache_size") == default
        assert store.db._engine is None  # the put and the schema check never made one
    finally:
        store.close()


def test_a_put_into_a_sqlite_store_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    """Opening a SQLite store (a new database: its schema is created too) and a bulk put run
    on the sqlite3 module alone; importing SQLAlchemy would cost each short command ~0.2 s of
    CPU (issue #16 goal 2). Another command on the same store then reads the records back
    through SQLAlchemy."""
    write(tmp_path / "ita.toml", "")
    (tmp_path / "rules").mkdir()
    files = [write(tmp_path / "in" / f"{i}.png", f"png {i}") for i in range(3)]
    code = (
        "import sys\n"
        "from ita_rules.store import PutSpec, open_store\n"
        "from ita_rules.workspace import Workspace\n"
        "with open_store(Workspace.open(sys.argv[1])) as store:\n"
        "    store.put_many(sys.argv[2:], PutSpec('screenshot'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ITA_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout == "[]\n"
    from ita_rules.store import open_store
    from ita_rules.workspace import Workspace

    with open_store(Workspace.open(tmp_path)) as store:
        assert len(store.find(type="screenshot")) == 3


def test_a_listed_batch_leaves_names_in_the_folder_alone_whatever_their_case(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large batch lists its folder once instead of one lstat a name (names.listing): files
    already there (put by someone else) keep their bytes, also one whose name differs from a
    candidate only in case (on a file system that ignores case it is the same name)."""
    import datetime as dt

    from ita_rules.core import times
    from ita_rules.store import PutSpec, names

    moment = dt.datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=dt.UTC)
    monkeypatch.setattr(times, "now", lambda: moment)
    monkeypatch.setattr(names, "LIST_FROM", 2)
    listed: list[bool] = []
    real_listing = names.listing

    def listing(*args: Any) -> set[str] | None:
        found = real_listing(*args)
        listed.append(found is not None)
        return found

    monkeypatch.setattr(names, "listing", listing)
    files = [write(store_ws.root / "in" / f"{i}.png", f"content {i}") for i in range(3)]
    second = _sha(b"content 1")
    store = store_ws.open()
    try:
        folder = store.abspath(store.folder("screenshot"))
        base = f"GER40_{times.stamp(moment)}"
        foreign = {
            f"{base}.png": b"foreign exact",
            f"{base}-{second[7:15].upper()}.png": b"foreign upper case",
        }
        for name, data in foreign.items():
            write(folder / name, data)
        records = store.put_many(files, PutSpec("screenshot", "GER40"))
    finally:
        store.close()
    assert listed == [True]
    for name, data in foreign.items():
        assert (folder / name).read_bytes() == data
    assert len({r.path for r in records}) == 3
    assert records[1].path.endswith(f"/{base}-{second[7:15]}-2.png")  # the next candidate
    assert not {r.path.rsplit("/", 1)[1].lower() for r in records} & {n.lower() for n in foreign}
    for i, record in enumerate(records):
        assert (store_ws.store_root / record.path).read_bytes() == f"content {i}".encode()


@pytest.mark.parametrize(
    "metadata",
    [{}, {"k": "v"}, {"q": "it's"}, {"b": "a\\b"}, {"p": "50% ?"}, {"u": "é\x01"}],
    ids=["empty", "plain", "quote", "backslash", "percent-question", "non-ascii"],
)
def test_a_bulk_put_stores_its_shared_values_as_given(
    store_ws: StoreWs, tmp_path: Path, metadata: dict[str, str]
) -> None:
    """A batch's shared values go into the insert as SQL literals when plain, as parameters
    otherwise (a quote, backslash, '%', '?', control or non-ASCII character): read back alike
    on both engines, with the same records as one put each."""
    from ita_rules.store import PutSpec, batch

    assert batch.is_plain("screenshot") and batch.is_plain(None)
    assert not any(batch.is_plain(v) for v in ("it's", "a\\b", "50%", "a?", "é", "\x01"))
    files = [write(tmp_path / "in" / f"f{i}.png", f"bytes {i}") for i in range(3)]
    spec = PutSpec("screenshot", "GER40", "M15", "run_x", ("london",), metadata)
    store = store_ws.open()
    try:
        records = store.put_many(files, spec)
        for record in records:
            got = store.get(record.file_id)
            assert got.as_dict() == record.as_dict()
            assert (got.metadata, got.symbol, got.timeframe, got.run_id, got.status) == (
                metadata,
                "GER40",
                "M15",
                "run_x",
                "live",
            )
            assert got.tags == ("london",) and got.original_name == record.original_name
    finally:
        store.close()


def test_listed_regular_files_need_no_lstat_and_a_changed_one_is_refused_when_read(
    store_ws: StoreWs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory's regular files are Listed (the listing's entry types: no lstat each);
    a link, a fifo and a file given by name are checked by lstat as before. A listed file
    turned into a link, or a folder, after the listing is refused when it is opened, with the
    check's message, and nothing of the batch is stored."""
    from ita_rules.store import PutSpec, blobs
    from ita_rules.store.errors import SourceError
    from ita_rules.store.sources import Listed, expand

    folder = tmp_path / "charts"
    files = [write(folder / f"c{i}.png", f"chart {i}") for i in range(3)]
    (folder / "link.png").symlink_to(files[0])
    os.mkfifo(folder / "fifo.png")
    found = expand([str(folder), str(files[1])])
    kinds = {os.path.basename(p): isinstance(p, Listed) for p in found[:-1]}
    assert kinds == {
        "c0.png": True,
        "c1.png": True,
        "c2.png": True,
        "fifo.png": False,
        "link.png": False,
    }
    assert not isinstance(found[-1], Listed)  # named, not listed
    checked: list[str] = []
    real = blobs.check_source
    monkeypatch.setattr(blobs, "check_source", lambda p, s: (checked.append(s), real(p, s))[1])
    store = store_ws.open()
    try:
        listed = expand([str(folder / "c0.png"), str(folder)])[1:4]  # the three charts
        assert [isinstance(p, Listed) for p in listed] == [True, True, True]
        store.put_many(listed, PutSpec("screenshot"))
        assert checked == []  # no lstat for them
        again = expand([str(folder)])
        os.unlink(folder / "c2.png")
        (folder / "c2.png").symlink_to(files[1])
        os.unlink(folder / "c1.png")
        (folder / "c1.png").mkdir()
        batch = [p for p in again if os.path.basename(p) in {"c0.png", "c1.png", "c2.png"}]
        with pytest.raises(SourceError, match=r"c1\.png: is not a regular file"):
            store.put_many(batch, PutSpec("model"))
        with pytest.raises(SourceError, match=r"c2\.png: is a symbolic link"):
            store.put_many([batch[0], batch[2]], PutSpec("model"))
        assert store.find(type="model") == []
        assert os.listdir(store.abspath(store.folder("model"))) == []  # temp files gone too
    finally:
        store.close()


def test_file_ids_are_random_version_4_uuids_as_uuid_writes_them() -> None:
    import uuid

    from ita_rules.store.plan import file_ids

    ids = file_ids(2000)
    assert len(set(ids)) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)
    assert file_ids(0) == []


def test_the_records_a_batch_places_are_what_the_record_class_makes(store_ws: StoreWs) -> None:
    """plan.place builds its records from the batch's shared fields (not through __init__):
    each equals the Record made from its fields, has every field and its own metadata dict."""
    from ita_rules.store import PutSpec
    from ita_rules.store.records import FIELDS, Record

    files = [write(store_ws.root / "in" / f"r{i}.png", f"r {i % 2}") for i in range(3)]
    spec = PutSpec("screenshot", "GER40", None, "run_y", ("a", "b"), {"k": [1]})
    store = store_ws.open()
    try:
        records = store.put_many(files, spec)
    finally:
        store.close()
    for record, path in zip(records, files, strict=True):
        names = list(FIELDS)
        assert sorted(vars(record)) == sorted(names)
        made = Record(**{name: getattr(record, name) for name in names})
        assert made == record and made.deduplicated == record.deduplicated
        assert (record.type, record.symbol, record.run_id, record.tags) == (
            "screenshot",
            "GER40",
            "run_y",
            ("a", "b"),
        )
        assert record.original_name == path.name and record.metadata == {"k": [1]}
    assert [r.deduplicated for r in records] == [False, False, True]
    assert records[0].metadata is not records[1].metadata


def test_the_purge_looks_its_sharers_up_through_the_hash_index_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """retention/inputs.sharers (which record still needs a file being purged) asks the same
    kind of query as the put's lookup above, a long IN list of hashes and a status test, and
    the status test is written so that SQLite uses the hash index too."""
    import sqlalchemy as sa

    from ita_rules.retention.decisions import Item
    from ita_rules.retention.inputs import sharers
    from ita_rules.store import open_store
    from ita_rules.workspace import Workspace

    monkeypatch.delenv("ITA_DATABASE_URL", raising=False)
    write(tmp_path / "ita.toml", "")
    (tmp_path / "rules").mkdir()
    store = open_store(Workspace.open(tmp_path))
    asked: list[tuple[str, Any]] = []
    created = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    going = [Item(f"f{i}", "screenshot", 1, created, f"sha256:{i:064x}") for i in range(600)]
    try:
        engine = store.db.engine

        def note(*args: Any) -> None:
            asked.append((args[2], args[3]))  # the statement and its parameters

        sa.event.listen(engine, "before_cursor_execute", note)
        assert sharers(store, going) == {}
        sa.event.remove(engine, "before_cursor_execute", note)
        with engine.connect() as conn:
            explained = [
                conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {q}", p).all()
                for q, p in asked
                if "store_records" in q
            ]
            plans = [" | ".join(str(row[-1]) for row in rows) for rows in explained]
    finally:
        store.close()
    assert len(plans) == 2  # 500 hashes and the rest
    for plan in plans:
        assert "USING INDEX ix_store_records_hash" in plan, plan
        assert "ix_store_records_status" not in plan, plan

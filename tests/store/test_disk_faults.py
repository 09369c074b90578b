"""Ordinary faults of the store's disk: full (ENOSPC), read-only (EROFS), and metadata that is
not text. Each is one line and exit 1 or 2 (an ``ItaRulesError`` from the API), with nothing
written: no temp file, no record, no journal entry.

The store root is a small tmpfs mounted for the test (we run as root here and in CI; without
root the test is skipped, except under ``CI=true`` where it fails).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from ita_rules.store.journal import Journal
from tests.store.conftest import StoreWs, ita

ROOT_ONLY = "mounting a tmpfs needs root"


@contextmanager
def tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` mounted at ``where`` (unmounted at the end)."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(ROOT_ONLY + " (CI=true never skips)")
        pytest.skip(ROOT_ONLY)
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def leftovers(store_root: Path) -> list[str]:
    """Temp files of a put anywhere under the store root."""
    return sorted(p.name for p in store_root.rglob(".ita-tmp-*"))


def journaled(store_root: Path) -> set[str]:
    path = store_root / ".ita-store" / "journal.jsonl"
    if not path.exists():
        return set()
    # read as the store reads it: a put killed while appending leaves a partial line, which
    # readers skip (ita_rules/store/journal.py); a record whose line is damaged counts as absent
    entries, _damaged = Journal(path).read()
    return {e.data["record"]["file_id"] for e in entries if e.data["op"] == "put"}


def lose_database(ws: StoreWs) -> None:
    """What losing the metadata database does: the SQLite file gone, or Postgres emptied."""
    if ws.db_url.startswith("sqlite"):
        (ws.root / ".ita" / "ita.sqlite").unlink()
        return
    from ita_rules.db import tables as t

    engine = sa.create_engine(ws.db_url)
    try:
        with engine.begin() as conn:
            for table in (t.tags, t.records, t.blobs):
                conn.execute(table.delete())
    finally:
        engine.dispose()


def record_ids(ws: StoreWs) -> set[str]:
    found = ita(ws, "store", "find", "--json")
    assert found.returncode == 0, found.stderr
    return {r["file_id"] for r in json.loads(found.stdout)}


def test_a_full_disk_refuses_the_put_in_one_line_and_rebuild_gives_what_was_stored(
    store_ws: StoreWs,
) -> None:
    src = store_ws.root / "src"
    src.mkdir()
    for i in range(40):  # 40 x 100 KB on a 2 MB disk
        (src / f"day{i:02}.csv").write_bytes(f"{i}\n".encode() + os.urandom(100_000))
    with tmpfs(store_ws.store_root):
        stored: set[str] = set()
        refused = None
        for i in range(40):
            ran = ita(store_ws, "store", "put", f"src/day{i:02}.csv", "--type", "candles")
            if ran.returncode != 0:
                refused = ran
                break
            stored.add(ran.stdout.split()[0])
        assert refused is not None, "the disk never filled"
        assert len(stored) >= 5
        message = (
            "ita-rules: exchange: cannot write to the store: No space left on device; "
            "nothing was stored\n"
        )
        assert (refused.returncode, refused.stderr, refused.stdout) == (1, message, "")
        bulk = ita(store_ws, "store", "put", "src", "--type", "candles")
        assert (bulk.returncode, bulk.stderr) == (1, message)
        assert leftovers(store_ws.store_root) == []
        assert record_ids(store_ws) == stored
        assert journaled(store_ws.store_root) == stored
        fsck = ita(store_ws, "store", "fsck")
        assert (fsck.returncode, fsck.stdout, fsck.stderr) == (
            0,
            "",
            f"{len(stored)} file(s), {len(stored)} record(s), 0 problem(s)\n",
        )
        lose_database(store_ws)
        rebuilt = ita(store_ws, "store", "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert record_ids(store_ws) == stored


def test_a_read_only_store_root_refuses_put_and_tag_in_one_line(store_ws: StoreWs) -> None:
    (store_ws.root / "a.csv").write_text("a\n")
    (store_ws.root / "b.csv").write_text("b\n")
    with tmpfs(store_ws.store_root) as root:
        first = ita(store_ws, "store", "put", "a.csv", "--type", "candles")
        assert first.returncode == 0, first.stderr
        file_id = first.stdout.split()[0]
        subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
        before = store_ws.state()
        put = ita(store_ws, "store", "put", "b.csv", "--type", "candles")
        assert (put.returncode, put.stderr) == (
            1,
            "ita-rules: exchange: cannot write to the store: Read-only file system; "
            "nothing was stored\n",
        )
        tag = ita(store_ws, "store", "tag", file_id, "london")
        assert (tag.returncode, tag.stderr) == (
            1,
            "ita-rules: exchange: cannot write to the store: Read-only file system; "
            "nothing was changed\n",
        )
        assert store_ws.state() == before
        assert record_ids(store_ws) == {file_id}  # reading still works


def test_metadata_that_is_not_text_is_refused_by_the_api_with_nothing_written(
    store_ws: StoreWs,
) -> None:
    from ita_rules.core.errors import UsageError

    src = store_ws.root / "c.csv"
    src.write_text("c\n")
    before = store_ws.state()
    store = store_ws.open()
    try:
        with pytest.raises(UsageError) as caught:
            store.put(src, type="candles", metadata={"k": "\ud800"})
        with pytest.raises(UsageError) as caught_key:
            store.put(src, type="candles", metadata={"\udcff": "v"})
    finally:
        store.close()
    assert str(caught.value) == "metadata: not valid UTF-8 text (a lone surrogate '\\ud800')"
    assert str(caught_key.value) == "metadata: not valid UTF-8 text (bytes b'\\xff')"
    assert store_ws.state() == before
    assert leftovers(store_ws.store_root) == []


def test_a_store_root_the_user_may_not_write_refuses_the_put_in_one_line(
    store_ws: StoreWs,
) -> None:
    """chmod does not stop root: as root the put runs without the capabilities that bypass
    file permissions (Linux), as any user would."""
    from tests.store.test_bad_input import _drop_file_capabilities

    (store_ws.root / "a.csv").write_text("a\n")
    (store_ws.root / "b.csv").write_text("b\n")
    first = ita(store_ws, "store", "put", "a.csv", "--type", "candles")
    assert first.returncode == 0, first.stderr
    folders = [p for p in store_ws.store_root.rglob("*") if p.is_dir()] + [store_ws.store_root]
    for folder in folders:
        folder.chmod(0o555)
    try:
        before = store_ws.state()
        put = subprocess.run(
            [sys.executable, "-m", "ita_rules", "store", "put", "b.csv", "--type", "candles"],
            cwd=store_ws.root,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_drop_file_capabilities if os.geteuid() == 0 else None,
        )
        after = store_ws.state()
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert (put.returncode, put.stderr) == (
        1,
        "ita-rules: exchange: cannot write to the store: Permission denied; nothing was stored\n",
    )
    assert after == before


def test_get_to_a_full_disk_is_one_line_and_leaves_no_temp_file(store_ws: StoreWs) -> None:
    (store_ws.root / "big.csv").write_bytes(b"x\n" + os.urandom(3_000_000))
    put = ita(store_ws, "store", "put", "big.csv", "--type", "candles")
    assert put.returncode == 0, put.stderr
    file_id = put.stdout.split()[0]
    with tmpfs(store_ws.root / "out", size="1m") as out:
        got = ita(store_ws, "store", "get", file_id, "-o", "out/big.csv")
        assert (got.returncode, got.stderr) == (
            1,
            "ita-rules: out/big.csv: cannot write: No space left on device; nothing was written\n",
        )
        assert list(out.iterdir()) == []


def test_a_journal_append_cut_short_by_a_full_disk_leaves_the_journal_as_it_was(
    tmp_path: Path,
) -> None:
    from ita_rules.store.journal import Journal

    with tmpfs(tmp_path / "disk", size="64k") as disk:
        journal = Journal(disk / "journal.jsonl")
        journal.append([{"op": "tag", "file_id": "a", "tags": ["x"]}])
        before = journal.path.read_bytes()
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)  # fill every free page
        with contextlib.suppress(OSError):
            while True:
                os.write(filler, b"\0" * 4096)
        os.close(filler)
        entries = [{"op": "tag", "file_id": f"b{i}", "tags": ["y" * 50]} for i in range(200)]
        with pytest.raises(OSError) as caught:
            journal.append(entries)  # part of it fits in the journal's last page
        assert caught.value.errno == errno.ENOSPC
        assert journal.path.read_bytes() == before
        assert journal.read() == (journal.read()[0], [])  # no damaged line

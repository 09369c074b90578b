"""``store verify`` hashes the stored files in a pool of threads (``ita_rules/store/verify.py``):
the answers are the files' own and come back in record order, each distinct file is hashed
once, and progress counts every file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ita_rules.store import blobs
from ita_rules.store import verify as store_verify
from ita_rules.store.spec import PutSpec
from tests.store.conftest import StoreWs


def test_many_files_are_judged_each_by_its_own_bytes_in_record_order(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 6 * store_verify.HASHERS + 5  # more than the queue of pending hashes
    src = store_ws.root / "src"
    src.mkdir()
    for i in range(count):
        (src / f"part_{i:03d}.bin").write_bytes(os.urandom(3000 + i))
    hashed: list[Path] = []
    real_hash_file = blobs.hash_file

    def spy(path: Path) -> tuple[str, int]:
        hashed.append(path)
        return real_hash_file(path)

    with store_ws.open() as store:
        paths = [src / f"part_{i:03d}.bin" for i in range(count)]
        records = store.put_many(paths, PutSpec("model"))
        again = store.put(paths[3], type="model")  # the same bytes: a second name, one file
        rotten = {2, count // 2, count - 1}
        for i in rotten:
            (store_ws.store_root / records[i].path).write_bytes(b"rotten")
        gone = records[5]
        (store_ws.store_root / gone.path).unlink()

        monkeypatch.setattr(blobs, "hash_file", spy)
        seen: list[tuple[int, int]] = []
        found = store.find()  # the records' order: oldest first, then by file id
        report = store_verify.verify(
            store, found, progress=lambda done, total: seen.append((done, total))
        )
    rotten_ids = {records[i].file_id for i in rotten}
    assert [r.file_id for r in report.corrupt] == [
        r.file_id for r in found if r.file_id in rotten_ids
    ]
    assert [r.file_id for r in report.missing] == [gone.file_id]
    assert (report.checked, report.records) == (count, count + 1)
    assert len(hashed) == len(set(hashed)) == count - 1  # the missing one is not hashed
    assert seen == [(done, count - 1) for done in range(1, count)]
    assert os.path.samefile(store_ws.store_root / again.path, store_ws.store_root / records[3].path)


def test_a_stored_name_replaced_by_a_link_is_missing_and_not_followed(store_ws: StoreWs) -> None:
    outside = store_ws.root / "outside.bin"
    outside.write_bytes(b"same bytes")
    with store_ws.open() as store:
        record = store.put(outside, type="model")
        name = store_ws.store_root / record.path
        name.unlink()
        name.symlink_to(outside)  # the same bytes, outside the store root
        report = store_verify.verify(store, store.find())
    assert ([r.file_id for r in report.missing], report.corrupt) == ([record.file_id], [])

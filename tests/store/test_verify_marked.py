"""verify checks soft-deleted files too (they can be restored until the sweep), and a record
marked missing or corrupt comes back as it was -- soft-deleted ones soft-deleted, with their
deleted_at -- when its file does; fsck --repair deletes no file a record names."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import write
from tests.store.conftest import StoreWs


def _put(ws: StoreWs, cli, name: str, data: bytes) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    write(ws.root / name, data)
    r = cli("store", "put", name, "--type", "screenshot", "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)[0]  # type: ignore[no-any-return]


def _soft_delete(ws: StoreWs, file_id: str) -> str:
    store = ws.open()
    try:
        store.set_status([file_id], "deleted")
        deleted_at = store.get(file_id).deleted_at
    finally:
        store.close()
    assert deleted_at
    return deleted_at


def _record(cli, file_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    found = json.loads(cli("store", "find", "--status", "all", "--json").out)
    return next(f for f in found if f["file_id"] == file_id)  # type: ignore[no-any-return]


def test_verify_checks_a_soft_deleted_file_and_finds_it_again(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    _put(store_ws, cli, "a.png", b"kept")
    gone = _put(store_ws, cli, "b.png", b"soft-deleted")
    deleted_at = _soft_delete(store_ws, gone["file_id"])
    path = store_ws.store_root / gone["path"]
    path.write_bytes(b"damaged bytes")
    r = cli("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (
        1,
        f"{gone['path']}: corrupt: content does not match {gone['hash']} "
        f"(record {gone['file_id']}, soft-deleted, now marked corrupt)\n",
        "2 file(s) verified for 2 record(s), 1 corrupt, 0 missing\n",
    )
    assert (_record(cli, gone["file_id"])["status"], path.read_bytes()) == (
        "corrupt",
        b"damaged bytes",
    )

    path.write_bytes(b"soft-deleted")  # good bytes back from a backup
    r = cli("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (
        0,
        f"{gone['path']}: back: content matches {gone['hash']} again "
        f"(record {gone['file_id']}, soft-deleted again)\n",
        "2 file(s) verified for 2 record(s), 0 corrupt, 0 missing, 1 back\n",
    )
    found = _record(cli, gone["file_id"])
    assert (found["status"], found["deleted_at"]) == ("deleted", deleted_at)
    assert found["last_verified_at"]


def test_fsck_repair_brings_a_soft_deleted_record_back_as_it_was(  # type: ignore[no-untyped-def]
    store_ws: StoreWs, cli, tmp_path: Path
) -> None:
    gone = _put(store_ws, cli, "b.png", b"soft-deleted")
    _put(store_ws, cli, "a.png", b"kept")
    deleted_at = _soft_delete(store_ws, gone["file_id"])
    path = store_ws.store_root / gone["path"]
    shutil.move(path, tmp_path / "away.png")
    assert cli("store", "verify", "--all").code == 1
    assert _record(cli, gone["file_id"])["status"] == "missing"
    shutil.move(tmp_path / "away.png", path)

    r = cli("store", "fsck", "--repair")
    assert (r.code, r.out) == (
        0,
        f"{gone['path']}: stored file on disk again with its SHA-256; 1 record(s) marked "
        "missing point to it (marked soft-deleted again) (repaired)\n",
    )
    found = _record(cli, gone["file_id"])
    assert (found["status"], found["deleted_at"]) == ("deleted", deleted_at)
    assert path.read_bytes() == b"soft-deleted"
    assert cli("store", "fsck").code == 0


def test_a_record_whose_own_name_holds_other_bytes_stays_corrupt_and_its_file_stays(  # type: ignore[no-untyped-def]
    store_ws: StoreWs, cli
) -> None:
    first = _put(store_ws, cli, "a.png", b"good bytes")
    (store_ws.store_root / first["path"]).write_bytes(b"garbage!!!")
    assert cli("store", "verify", "--all").code == 1
    again = _put(store_ws, cli, "a2.png", b"good bytes")  # stored again, under a new name
    assert again["path"] != first["path"]

    r = cli("store", "fsck", "--repair")
    assert (r.code, r.out) == (0, ""), r.out + r.err
    assert (store_ws.store_root / first["path"]).read_bytes() == b"garbage!!!"
    assert (store_ws.store_root / again["path"]).read_bytes() == b"good bytes"
    assert _record(cli, first["file_id"])["status"] == "corrupt"
    assert _record(cli, again["file_id"])["status"] == "live"


def test_purging_a_record_keeps_the_name_a_record_marked_missing_shares(store_ws: StoreWs) -> None:
    """Puts of the same bytes, type, symbol and run share one name: purging the soft-deleted
    one must not delete the bytes the other (marked missing while its drive was away, now
    back) still names."""
    src = write(store_ws.root / "chart.png", b"shared chart")
    store = store_ws.open()
    try:
        kept = store.put(src, type="screenshot", symbol="GER40", tags=("important",))
        gone = store.put(src, type="screenshot", symbol="GER40")
        assert gone.path == kept.path
        store.set_status([kept.file_id], "missing")
        store.set_status([gone.file_id], "deleted")
        assert store.remove(gone.file_id) is False  # the bytes were not deleted
    finally:
        store.close()
    assert (store_ws.store_root / kept.path).read_bytes() == b"shared chart"

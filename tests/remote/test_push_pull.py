"""push -> delete -> pull round trips and check, against moto (S3) and a local folder, on SQLite
and Postgres. Everything is real: rclone, the S3 server, the store, the database."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ita_rules.db import CURRENT_VERSION
from tests.conftest import write
from tests.remote.conftest import RemoteWs


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_files(rws: RemoteWs) -> dict[str, Any]:
    """Three contents in four records (two records share one content), one of 1.5 MB."""
    src = rws.root / "src"
    small = write(src / "GER40_M15.csv", "time,open\n2026-01-15 08:00,100\n")
    again = write(src / "copy.csv", small.read_bytes())
    big = write(src / "model.bin", os.urandom(1_500_000))
    png = write(src / "chart.png", b"\x89PNG fake chart")
    store = rws.open()
    try:
        recs = {
            "small": store.put(small, type="candles", symbol="GER40", run_id="run_2026_01_15_001"),
            "again": store.put(again, type="candles", symbol="GER40", run_id="run_2026_01_15_002"),
            "big": store.put(big, type="model", run_id="run_2026_01_15_001"),
            "png": store.put(png, type="screenshot", symbol="GER40"),
        }
    finally:
        store.db.dispose()
    return recs


def verified(rws: RemoteWs, content_hash: str) -> bool:
    from ita_rules.remote import has_verified_copy

    store = rws.open()
    try:
        return has_verified_copy(store.db, content_hash)
    finally:
        store.db.dispose()


def no_leftovers(rws: RemoteWs) -> None:
    """No temp file, no staging folder and no partial file anywhere under the store root."""
    root = rws.ws.store_root
    names = [p.relative_to(root).as_posix() for p in root.rglob("*")]
    assert not [n for n in names if ".ita-tmp-" in n or "/pull-" in n or n.startswith("pull-")]


def test_push_delete_pull_restores_identical_bytes(rws_cli: Any) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    r = cli("remote", "push", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["ok"] and report["counts"] == {"verified": 3}
    assert report["hash_type"] == ("md5" if rws.backend == "s3" else "sha256")
    for rec in recs.values():
        assert verified(rws, rec.hash)
        # one object per content, named after its stored file ("again" is a second name of
        # the bytes first stored as "small")
        stored = recs["small"] if rec.hash == recs["small"].hash else rec
        assert rws.read_remote(stored.path) == (rws.ws.store_root / rec.path).read_bytes()
    assert len(rws.remote_keys()) == 3  # one object per distinct content

    r = cli("remote", "push")  # a re-run copies nothing
    assert r.code == 0, r.err
    assert (
        r.err == f"0 file(s) copied and verified on {rws.remote_name}, 3 already there, 0 failed\n"
    )

    big = recs["big"]
    stored = rws.ws.store_root / big.path
    original = stored.read_bytes()
    stored.unlink()
    r = cli("remote", "pull", big.file_id, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["counts"] == {"restored": 1}
    assert stored.read_bytes() == original
    assert _sha(stored.read_bytes()) == big.hash
    assert oct(stored.stat().st_mode & 0o777) == "0o644"
    no_leftovers(rws)

    r = cli("remote", "check")
    assert r.code == 0, r.err
    assert r.err == (
        f"3 copy(ies) verified on {rws.remote_name}, 0 missing, 0 different, "
        "0 file(s) not pushed yet\n"
    )


def test_pull_restores_purged_and_missing_records(rws_cli: Any) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    assert cli("remote", "push").code == 0
    store = rws.open()
    try:
        assert store.remove(recs["png"].file_id)  # purged: record kept, file deleted
    finally:
        store.db.dispose()
    png = rws.ws.store_root / recs["png"].path
    assert not png.exists()
    # a plain pull restores what should be on disk, not what retention purged
    r = cli("remote", "pull", "--json")
    assert r.code == 0, r.err
    assert "restored" not in json.loads(r.out)["counts"]
    assert not png.exists()

    r = cli("remote", "pull", recs["png"].file_id)
    assert r.code == 0, r.err
    assert png.read_bytes() == b"\x89PNG fake chart"
    assert json.loads(cli("store", "get", recs["png"].file_id, "--json").out)["status"] == "live"

    # a content lost behind the store's back (its stored file and the other record's name with
    # the same bytes, which fsck would otherwise bring it back from), found by fsck (records ->
    # missing), pulled by run
    small = rws.ws.store_root / recs["small"].path
    small.unlink()
    (rws.ws.store_root / recs["again"].path).unlink()
    assert cli("store", "fsck", "--repair").code == 0
    statuses = {
        r["file_id"]: r["status"]
        for r in json.loads(cli("store", "find", "--status", "all", "--json").out)
    }
    assert statuses[recs["small"].file_id] == statuses[recs["again"].file_id] == "missing"
    r = cli("remote", "pull", "--run", "run_2026_01_15_001", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["counts"] == {"restored": 1, "present": 1}
    assert small.read_text() == "time,open\n2026-01-15 08:00,100\n"
    statuses = {
        r["file_id"]: r["status"]
        for r in json.loads(cli("store", "find", "--status", "all", "--json").out)
    }
    # both records of that content are present again, though only one was in the run
    assert statuses[recs["small"].file_id] == statuses[recs["again"].file_id] == "live"
    assert cli("store", "fsck").code == 0
    no_leftovers(rws)


def test_push_filters_and_check_reports_unpushed(rws_cli: Any) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    r = cli("remote", "push", "--type", "screenshot", "--json")
    assert r.code == 0, r.err
    assert [f["file_ids"] for f in json.loads(r.out)["files"]] == [[recs["png"].file_id]]
    assert rws.remote_keys() == [recs["png"].path]
    r = cli("remote", "push", "--since", "2999-01-01", "--json")
    assert r.code == 0 and json.loads(r.out)["files"] == []
    r = cli("remote", "check", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["counts"] == {"ok": 1, "not_pushed": 2}
    r = cli("remote", "check", "--download", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["counts"] == {"ok": 1, "not_pushed": 2}


@pytest.mark.remote_combos("local-sqlite", "s3-postgres")
def test_remote_table_is_in_the_one_schema_version(rws_cli: Any) -> None:
    rws, cli = rws_cli
    put_files(rws)
    assert cli("remote", "push").code == 0
    store = rws.open()
    try:
        with store.db.read() as conn:
            rows = dict(
                conn.execute(sa.text("SELECT component, version FROM ita_schema_version")).all()
            )
    finally:
        store.db.dispose()
    assert rows == {"store": CURRENT_VERSION}


@pytest.mark.remote_combos("local-sqlite")
def test_pushing_an_empty_store_does_nothing(rws_cli: Any) -> None:
    cli = rws_cli[1]
    r = cli("remote", "push", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["files"] == []
    r = cli("remote", "pull", "--json")
    assert r.code == 0 and json.loads(r.out)["files"] == []


@pytest.mark.remote_combos("local-sqlite")
def test_a_backend_without_hashes_is_verified_by_download(
    rws_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rclone's crypt backend reports no hash at all: each copy is verified by downloading it
    and re-computing its SHA-256; a corrupted ciphertext is found the same way."""
    import subprocess

    rws, cli = rws_cli
    obscured = subprocess.run(
        ["rclone", "obscure", "crypt-passphrase-1234"], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = tmp_path / "ciphertext"
    monkeypatch.setenv("RCLONE_CONFIG_CRT_TYPE", "crypt")
    monkeypatch.setenv("RCLONE_CONFIG_CRT_REMOTE", str(folder))
    monkeypatch.setenv("RCLONE_CONFIG_CRT_PASSWORD", obscured)
    monkeypatch.setenv("ITA_REMOTE", "crt:ita")
    recs = put_files(rws)
    r = cli("remote", "push", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["hash_type"] == "sha256-download" and report["counts"] == {"verified": 3}
    assert all(verified(rws, rec.hash) for rec in recs.values())

    big = rws.ws.store_root / recs["big"].path
    data = big.read_bytes()
    big.unlink()
    r = cli("remote", "pull", recs["big"].file_id)
    assert r.code == 0, r.err
    assert big.read_bytes() == data

    # flip one byte at the end of the largest ciphertext file: crypt's own authentication
    # refuses to decrypt it, and the check reports that the copy cannot be read
    cipher = max((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    raw = bytearray(cipher.read_bytes())
    raw[-1] ^= 0xFF
    cipher.write_bytes(bytes(raw))
    r = cli("remote", "check")
    assert r.code == 1
    assert r.out.startswith(f"{recs['big'].path}: cannot read the copy on crt:ita: "), r.out
    assert not verified(rws, recs["big"].hash)
    assert verified(rws, recs["small"].hash)


@pytest.mark.remote_combos("local-sqlite")
def test_a_killed_pull_leaves_no_partial_file_and_is_cleaned_up(
    rws_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9 of a pull (and its rclone) while it downloads: the stored path holds nothing
    partial; the next pull removes the staging folder and completes."""
    import signal
    import subprocess
    import sys
    import time

    rws, cli = rws_cli
    put_files(rws)
    big_src = write(rws.root / "src" / "huge.bin", os.urandom(3_000_000))
    store = rws.open()
    try:
        huge = store.put(big_src, type="model")
    finally:
        store.db.dispose()
    assert cli("remote", "push").code == 0
    stored = rws.ws.store_root / huge.path
    data = stored.read_bytes()
    stored.unlink()
    housekeeping = rws.ws.store_root / ".ita-store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ita_rules", "remote", "pull", huge.file_id],
        cwd=rws.root,
        env={**os.environ, "RCLONE_BWLIMIT": "1M"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while proc.poll() is None and time.monotonic() < deadline and not partial:
        partial = [p for p in housekeeping.glob("pull-*/**/*") if p.is_file()]
        time.sleep(0.02)
    assert proc.poll() is None and partial, "the pull was not caught downloading"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert not stored.exists()
    assert list(housekeeping.glob("pull-*"))
    r = cli("remote", "pull", huge.file_id)
    assert r.code == 0, r.err
    assert stored.read_bytes() == data
    assert not list(housekeeping.glob("pull-*"))


@pytest.mark.remote_combos("local-sqlite", "s3-sqlite")
def test_ensure_remote_copy_for_retention(rws_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What retention calls before deleting: the copy is re-checked on the remote now and
    pushed again when it went missing; without rclone it raises (retention deletes nothing)."""
    from ita_rules.remote import RcloneMissing, ensure_remote_copy

    rws, _cli = rws_cli
    recs = put_files(rws)
    png = recs["png"]
    store = rws.open()
    try:
        assert ensure_remote_copy(store, png.hash, png.path)  # pushed and verified
        assert rws.read_remote(png.path) == b"\x89PNG fake chart"
        assert ensure_remote_copy(store, png.hash, png.path)  # re-checked, still there
        if rws.folder is not None:
            (rws.folder / png.path).unlink()
        else:
            assert rws.moto is not None
            rws.moto.client().delete_object(Bucket=rws.bucket, Key=f"ita/{png.path}")
        assert ensure_remote_copy(store, png.hash, png.path)  # found missing, pushed again
        assert rws.read_remote(png.path) == b"\x89PNG fake chart"
        assert not ensure_remote_copy(store, "sha256:" + "0" * 64, png.path)
    finally:
        store.db.dispose()
    store = rws.open()  # a new store object: rclone is looked up again
    try:
        monkeypatch.setenv("PATH", "/nonexistent")
        with pytest.raises(RcloneMissing):
            ensure_remote_copy(store, recs["big"].hash, recs["big"].path)
    finally:
        store.db.dispose()
    assert verified(rws, png.hash) and not verified(rws, recs["big"].hash)

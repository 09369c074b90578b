"""Faults (issue acceptance 3): the endpoint stopped mid-push, a corrupted object on the remote,
a wrong remote name, rclone missing from PATH. Each gives one clear line, marks nothing as
verified that is not, and a re-run completes the push."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.remote.conftest import MotoServer, RemoteWs, rclone_env
from tests.remote.test_push_pull import no_leftovers, put_files, verified
from tests.store.conftest import StoreWs


def _remote_rows(rws: RemoteWs | StoreWs) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    store = rws.open()
    try:
        with store.db.read() as conn:
            if not sa.inspect(conn).has_table("remote_copies"):
                return []
            return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM remote_copies"))]
    finally:
        store.db.dispose()


def test_corrupted_object_is_found_unverified_and_pushed_again(rws_cli: Any) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    assert cli("remote", "push").code == 0
    png = recs["png"]
    good = (rws.ws.store_root / png.path).read_bytes()
    bad = bytes([good[0] ^ 0xFF]) + good[1:]  # same size, one byte flipped
    rws.write_remote(png.path, bad)

    r = cli("remote", "check")
    assert r.code == 1
    if rws.backend == "s3":
        got, want = f"md5:{_md5(bad)}", f"md5:{_md5(good)}"
    else:
        got, want = f"sha256:{_sha256(bad)}", f"sha256:{_sha256(good)}"
    assert r.out == (
        f"{png.path}: the copy on {rws.remote_name} does not match: {got}, expected {want}\n"
    )
    assert not verified(rws, png.hash)
    assert verified(rws, recs["big"].hash) and verified(rws, recs["small"].hash)

    # a deep check downloads the object and compares SHA-256 with the record
    r = cli("remote", "check", "--download")
    assert r.code == 1
    assert r.out == (
        f"{png.path}: the copy on {rws.remote_name} does not match: sha256:{_sha256(bad)}, "
        f"expected {png.hash}\n"
    )

    # a pull refuses the bad copy and leaves the stored path alone
    stored = rws.ws.store_root / png.path
    stored.unlink()
    r = cli("remote", "pull", png.file_id)
    assert r.code == 1
    assert r.out == (
        f"{png.path}: the copy on {rws.remote_name} does not match its record: "
        f"sha256:{_sha256(bad)}, expected {png.hash}; the local file was not touched\n"
    )
    assert not stored.exists()
    no_leftovers(rws)

    # the push re-run (with the file back) replaces the bad object and verifies it
    write(stored, good)
    r = cli("remote", "push", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["counts"] == {"verified": 1, "already": 2}
    assert rws.read_remote(png.path) == good
    assert verified(rws, png.hash)
    assert cli("remote", "check").code == 0


@pytest.mark.remote_combos("s3-sqlite", "local-sqlite")
def test_an_object_deleted_on_the_remote_is_reported_missing(rws_cli: Any) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    assert cli("remote", "push").code == 0
    big = recs["big"]
    if rws.folder is not None:
        (rws.folder / big.path).unlink()
    else:
        assert rws.moto is not None
        rws.moto.client().delete_object(Bucket=rws.bucket, Key=f"ita/{big.path}")
    r = cli("remote", "check")
    assert r.code == 1
    assert r.out == f"{big.path}: missing on {rws.remote_name}\n"
    assert not verified(rws, big.hash)
    (rws.ws.store_root / big.path).unlink()
    r = cli("remote", "pull", big.file_id)
    assert r.code == 1
    assert r.out == f"{big.path}: not on {rws.remote_name}: no such file there\n"
    assert cli("store", "get", big.file_id, "--json").code == 0


def _md5(data: bytes) -> str:
    import hashlib

    return hashlib.md5(data).hexdigest()


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.remote_combos("local-sqlite", "s3-postgres")
def test_wrong_remote_name_is_one_line_and_changes_nothing(
    rws_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    before = rws.ws.state()
    monkeypatch.setenv("ITA_REMOTE", "nosuch:bucket/ita")
    for args in (("push",), ("pull",), ("check",)):
        r = cli("remote", *args)
        assert r.code == 2
        assert r.err == (
            "ita-rules: remote.name: rclone has no remote named 'nosuch' (see `rclone "
            "listremotes`; add it with `rclone config` or RCLONE_CONFIG_NOSUCH_TYPE=...)\n"
        )
        assert r.out == ""
    assert rws.ws.state() == before
    assert _remote_rows(rws) == []
    assert rws.remote_keys() == []
    monkeypatch.setenv("ITA_REMOTE", rws.remote_name)
    r = cli("remote", "push")
    assert r.code == 0, r.err
    assert all(verified(rws, rec.hash) for rec in recs.values())


def test_empty_remote_name_says_how_to_set_it(store_ws: StoreWs, cli: Any) -> None:
    r = cli("remote", "push")
    assert r.code == 2
    assert r.err == (
        'ita-rules: remote.name is not set: add `[remote] name = "REMOTE:PATH"` to ita.toml '
        '(e.g. "s3backup:ita-archive") or set ITA_REMOTE\n'
    )


@pytest.mark.remote_combos("s3-sqlite", "local-sqlite")
def test_rclone_missing_from_path(
    rws_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rws, cli = rws_cli
    recs = put_files(rws)
    before = rws.ws.state()
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(empty))
    for args in (("push",), ("pull", recs["big"].file_id), ("check",)):
        r = cli("remote", *args)
        assert r.code == 2
        assert r.err == (
            "ita-rules: rclone is not installed (not found on PATH): install it with "
            "`apt-get install rclone` or see https://rclone.org/install/\n"
        )
    assert rws.ws.state() == before
    assert _remote_rows(rws) == []
    assert rws.remote_keys() == []
    monkeypatch.setenv("PATH", path)
    assert cli("remote", "push").code == 0
    assert all(verified(rws, rec.hash) for rec in recs.values())


def test_endpoint_stopped_mid_push(
    store_ws: StoreWs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    """moto is stopped while a large file is being uploaded (bandwidth-limited by rclone's own
    RCLONE_BWLIMIT so that the upload lasts long enough); then it starts again, empty."""
    server = MotoServer(tmp_path).start()
    try:
        rclone_env(monkeypatch, tmp_path, server.endpoint)
        name = "s3t:ita-fault/ita"
        monkeypatch.setenv("ITA_REMOTE", name)
        from tests.remote.conftest import RemoteWs

        rws = RemoteWs(store_ws, "s3", name, moto=server, bucket="ita-fault")
        recs = put_files(rws)
        big = write(tmp_path / "big.bin", os.urandom(3_000_000))
        store = rws.open()
        try:
            recs["huge"] = store.put(big, type="model")
        finally:
            store.db.dispose()

        env = {**os.environ, "RCLONE_BWLIMIT": "1M"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "ita_rules", "remote", "push"],
            cwd=rws.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and not rws.remote_keys():
            time.sleep(0.05)
        assert proc.poll() is None, "the push ended before the endpoint could be stopped"
        assert rws.remote_keys(), "nothing reached the endpoint within 60 s"
        server.stop()  # mid-push: the 3 MB upload takes about 3 s at 1 MB/s
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1, err
        assert err.decode() == (
            f"ita-rules: push to {name} stopped: dial tcp 127.0.0.1:{server.port}: connect: "
            "connection refused; 0 of 4 file(s) verified, run `ita-rules remote push` again "
            "to complete it\n"
        )
        assert not any(verified(rws, rec.hash) for rec in recs.values())
        assert all(row["verified_at"] is None for row in _remote_rows(rws))

        server.start()  # the same port, an empty server: everything must be copied again
        r = cli("remote", "push", "--json")
        assert r.code == 0, r.err
        assert json.loads(r.out)["counts"] == {"verified": 4}
        huge = rws.ws.store_root / recs["huge"].path
        data = huge.read_bytes()
        huge.unlink()
        assert cli("remote", "pull", recs["huge"].file_id).code == 0
        assert huge.read_bytes() == data
    finally:
        server.stop()


@pytest.mark.remote_combos("local-sqlite")
def test_one_file_failing_leaves_only_it_unverified(rws_cli: Any) -> None:
    """rclone cannot write one object (a folder stands at its path on the remote): the other
    files are verified, this one is not, and the re-run after the obstacle is gone completes."""
    rws, cli = rws_cli
    recs = put_files(rws)
    assert rws.folder is not None
    blocker = rws.folder / recs["png"].path
    blocker.mkdir(parents=True)
    r = cli("remote", "push")
    assert r.code == 1
    assert r.out == (
        f"{recs['png'].path}: not copied to {rws.remote_name}: open {blocker}: is a directory\n"
    )
    assert (
        r.err == f"2 file(s) copied and verified on {rws.remote_name}, 0 already there, 1 failed\n"
    )
    assert not verified(rws, recs["png"].hash)
    assert verified(rws, recs["big"].hash) and verified(rws, recs["small"].hash)
    blocker.rmdir()
    r = cli("remote", "push", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["counts"] == {"verified": 1, "already": 2}
    assert verified(rws, recs["png"].hash)

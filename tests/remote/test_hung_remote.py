"""A remote that accepts connections and then never answers (a stalled endpoint, a dead
proxy): the push ends by itself with one line, records nothing as verified and leaves no
temporary file behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write
from tests.remote.conftest import MotoServer, rclone_env
from tests.remote.test_faults import _remote_rows
from tests.store.conftest import StoreWs


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port on loopback whose connections the kernel accepts and nobody ever reads."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


def test_a_push_to_a_stalled_endpoint_ends_with_one_line_and_no_leftovers(
    store_ws: StoreWs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, black_hole: int
) -> None:
    rclone_env(monkeypatch, tmp_path, f"http://127.0.0.1:{black_hole}")
    monkeypatch.setenv("ITA_REMOTE", "s3t:ita-stalled/ita")
    # a short idle timeout (set as a user can; rclone_env allows one try) keeps the test quick:
    # each request waits it out twice; the defaults (child_env) bound it the same way, later
    monkeypatch.setenv("RCLONE_TIMEOUT", "250ms")
    store = store_ws.open()
    try:
        store.put(write(tmp_path / "a.csv", "time,open\n1,2\n"), type="candles", symbol="GER40")
    finally:
        store.db.dispose()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "ita_rules", "remote", "push", "--json"],
        cwd=store_ws.root,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        capture_output=True,
        text=True,
        timeout=240,  # a hang fails the test instead of blocking the suite
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert re.fullmatch(
        r"ita-rules: push to s3t:ita-stalled/ita stopped: (net/http: timeout awaiting response "
        rf"headers|read tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:{black_hole}: i/o timeout); "
        r"0 of 1 file\(s\) verified, run "
        r"`ita-rules remote push` again to complete it\n",
        proc.stderr,
    ), proc.stderr
    assert list(tmpdir.iterdir()) == []  # no file list, no partial download left behind
    assert all(row["verified_at"] is None for row in _remote_rows(store_ws))


def test_a_push_killed_mid_copy_leaves_no_temporary_file(
    store_ws: StoreWs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto: MotoServer
) -> None:
    """The user gives up on a slow push (kill -9, a CI job timeout) while rclone copies: the
    list of files to copy went to rclone on its standard input, so no temporary file is left
    to pile up."""
    rclone_env(monkeypatch, tmp_path, moto.endpoint)
    monkeypatch.setenv("ITA_REMOTE", f"s3t:ita-{uuid.uuid4().hex[:12]}/ita")
    store = store_ws.open()
    try:
        store.put(write(tmp_path / "big.bin", os.urandom(2_000_000)), type="model")
    finally:
        store.db.dispose()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ita_rules", "remote", "push"],
        cwd=store_ws.root,
        env={**os.environ, "TMPDIR": str(tmpdir), "RCLONE_BWLIMIT": "100k"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _rclone_copying(proc.pid):
            time.sleep(0.05)
        assert _rclone_copying(proc.pid), "rclone copy never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert list(tmpdir.iterdir()) == []


def _rclone_copying(pid: int) -> bool:
    """True while a child of ``pid`` runs ``rclone copy``."""
    out = subprocess.run(["ps", "-o", "args=", "--ppid", str(pid)], capture_output=True, text=True)
    return any(line.split()[1:2] == ["copy"] for line in out.stdout.splitlines())

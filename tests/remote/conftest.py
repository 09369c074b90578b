"""Remote fixtures: a real S3-compatible endpoint (moto's standalone server on loopback) and
rclone's local backend (a folder), each over SQLite and Postgres (the store tests' fixtures).

rclone is configured only through ``RCLONE_CONFIG_S3T_*`` variables and a config file path that
does not exist, so the user's own rclone configuration is never read. ``AWS_CA_BUNDLE`` is set on
purpose: rclone's S3 backend fails with it, so every S3 test also proves that ita-rules runs
rclone without it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import database_url
from tests.store.conftest import StoreWs, pg_database, store_ws  # noqa: F401

ACCESS_KEY = "AKIAITARULESTEST"
SECRET_KEY = "ita-s3cr3t-never-printed-7f3a9c"  # moto accepts any credentials
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _moto_server() -> str:
    beside = Path(sys.executable).parent / "moto_server"
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if found is None:
        pytest.fail("moto_server is not installed: pip install 'moto[server]' (the dev extra)")
    return found


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` as a child process: start (bounded wait), stop."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.log = log_dir / f"moto-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [_moto_server(), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"moto_server exited with {self.proc.returncode}: {self.log.read_text()}"
                )
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=1):
                    return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"moto_server did not answer on {self.endpoint} within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto S3 server for the session (each test uses its own bucket)."""
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    try:
        yield server
    finally:
        server.stop()


def rclone_env(monkeypatch: pytest.MonkeyPatch, tmp: Path, endpoint: str) -> None:
    """An rclone remote ``s3t:`` on ``endpoint``, and nothing from the user's rclone config."""
    if shutil.which("rclone") is None:
        pytest.fail("rclone is not installed: apt-get install rclone (.ci/run does)")
    monkeypatch.setenv("RCLONE_CONFIG", str(tmp / "no-rclone.conf"))
    for var in list(os.environ):
        if var.startswith("RCLONE_CONFIG_"):
            monkeypatch.delenv(var)
    for key, value in {
        "TYPE": "s3",
        "PROVIDER": "Other",
        "ENDPOINT": endpoint,
        "FORCE_PATH_STYLE": "true",
        "ACCESS_KEY_ID": ACCESS_KEY,
        "SECRET_ACCESS_KEY": SECRET_KEY,
        "REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(f"RCLONE_CONFIG_S3T_{key}", value)
    # fail fast when the endpoint is gone (rclone's defaults retry for minutes)
    monkeypatch.setenv("RCLONE_RETRIES", "1")
    monkeypatch.setenv("RCLONE_LOW_LEVEL_RETRIES", "1")
    monkeypatch.setenv("RCLONE_CONTIMEOUT", "5s")
    monkeypatch.setenv("RCLONE_TIMEOUT", "20s")
    bundle = tmp / "ca-bundle.pem"
    bundle.write_text("")
    monkeypatch.setenv("AWS_CA_BUNDLE", os.environ.get("AWS_CA_BUNDLE") or str(bundle))
    monkeypatch.delenv("RCLONE_BWLIMIT", raising=False)


@dataclass
class RemoteWs:
    """A store workspace whose remote.name (ITA_REMOTE) is a bucket on moto or a folder."""

    ws: StoreWs
    backend: str  # "s3" | "local"
    remote_name: str
    folder: Path | None = None  # the local backend's folder
    moto: MotoServer | None = None
    bucket: str | None = None

    @property
    def root(self) -> Path:
        return self.ws.root

    def open(self) -> Any:
        return self.ws.open()

    def read_remote(self, relative: str) -> bytes | None:
        """An object's bytes as the remote holds them (None when absent), read without rclone."""
        if self.folder is not None:
            path = self.folder / relative
            return path.read_bytes() if path.is_file() else None
        assert self.moto is not None
        client = self.moto.client()
        try:
            body = client.get_object(Bucket=self.bucket, Key=f"ita/{relative}")["Body"]
        except client.exceptions.NoSuchKey:
            return None
        return bytes(body.read())

    def write_remote(self, relative: str, data: bytes) -> None:
        """Overwrite an object behind rclone's back (to corrupt it)."""
        if self.folder is not None:
            (self.folder / relative).write_bytes(data)
            return
        assert self.moto is not None
        self.moto.client().put_object(Bucket=self.bucket, Key=f"ita/{relative}", Body=data)

    def remote_keys(self) -> list[str]:
        if self.folder is not None:
            return sorted(
                p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_file()
            )
        assert self.moto is not None
        client = self.moto.client()
        try:
            listed = client.list_objects_v2(Bucket=self.bucket)
        except client.exceptions.NoSuchBucket:
            return []
        return sorted(o["Key"].removeprefix("ita/") for o in listed.get("Contents", []))


# (backend, database) pairs a remote test runs on: both backends on SQLite, and S3 on Postgres
# (the remote_copies table is the same code on both; this keeps the suite well under 2 minutes).
# A test narrows them with @pytest.mark.remote_combos("local-sqlite", ...).
COMBOS = {
    "s3-sqlite": ("s3", "sqlite"),
    "local-sqlite": ("local", "sqlite"),
    "s3-postgres": ("s3", "postgres"),
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "remote_combos(*ids): run on these backend-db pairs only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("remote_combos")
    if "remote_ws" in metafunc.fixturenames:
        ids = list(marker.args) if marker else list(COMBOS)
        metafunc.parametrize(("backend", "database"), [COMBOS[i] for i in ids], ids=ids)
    elif "database" in metafunc.fixturenames:  # a store workspace without a remote fixture
        metafunc.parametrize("database", ["sqlite"])


@pytest.fixture
def db_url(request: pytest.FixtureRequest, database: str) -> Iterator[str]:
    """Like the store tests' ``db_url``, for the database this test was parametrized with."""
    with database_url(database, request) as url:
        yield url


@pytest.fixture
def remote_ws(
    request: pytest.FixtureRequest,
    backend: str,
    store_ws: StoreWs,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> RemoteWs:
    if backend == "s3":
        server: MotoServer = request.getfixturevalue("moto")
        rclone_env(monkeypatch, tmp_path, server.endpoint)
        bucket = f"ita-{uuid.uuid4().hex[:12]}"
        name = f"s3t:{bucket}/ita"
        monkeypatch.setenv("ITA_REMOTE", name)
        return RemoteWs(store_ws, "s3", name, moto=server, bucket=bucket)
    rclone_env(monkeypatch, tmp_path, "http://127.0.0.1:9")
    folder = tmp_path / "remote-folder"
    monkeypatch.setenv("ITA_REMOTE", str(folder))
    return RemoteWs(store_ws, "local", str(folder), folder=folder)


@pytest.fixture
def rws_cli(remote_ws: RemoteWs, cli: Any) -> tuple[RemoteWs, Any]:
    """The remote workspace and the in-process CLI runner."""
    return remote_ws, cli

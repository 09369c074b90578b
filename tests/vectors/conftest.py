"""Vector fixtures: a real Chroma, embedded (a folder in the workspace) or a ``chroma run``
server on a free loopback port (one per session), and a workspace with the sample rules, the
README's retention policy, a SQLite metadata database and two runs: ``run_2025_01_01_001`` of
an active rule version (IB_raid_v1 1.2) and ``run_2025_01_01_002`` of an inactive one
(Frank_raid_v1 1.0)."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, git
from tests.retention.conftest import POLICY, RetWs

ACTIVE_RUN, INACTIVE_RUN = "run_2025_01_01_001", "run_2025_01_01_002"
DAY = 86400.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``chroma run`` on a free loopback port for the whole session; its URL."""
    pytest.importorskip("chromadb")
    folder, port = tmp_path_factory.mktemp("chroma"), _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(folder / "data"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((folder / "server.log").read_text()) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@dataclass
class VecWs(RetWs):
    url: str = ""

    def settings(self) -> Any:
        from ita_rules.core.config import load_settings

        return load_settings(self.root)

    def db(self) -> Any:
        from ita_rules.db import open_database

        s = self.settings()
        return open_database(s.database_url, s.root)

    def collection(self, name: str) -> Any:
        from ita_rules.provenance import vectorstore

        s = self.settings()
        client = vectorstore.open_store(vectorstore.address(s.vectors_url, s.root))
        return vectorstore.collection(client, name)

    def save(
        self,
        name: str,
        ids: Sequence[str],
        *,
        run_id: str,
        days_old: Sequence[float],
        groups: Sequence[str] | None = None,
        tags: Sequence[str] = (),
    ) -> None:
        """Save through the library (as a run of ``run_id`` would), then back-date each
        vector's created_at by ``days_old`` (real clock)."""
        from ita_rules.provenance import embeddings

        db = self.db()
        try:
            metas = None if groups is None else [{"source_id": g} for g in groups]
            snapshot = {"run_id": run_id, "rule_id": "x", "rule_version": "1.0"}
            embeddings.save(
                self.settings(), db, snapshot, name, list(ids),
                [[float(i), 1.0, 2.0] for i in range(len(ids))], metadatas=metas, tags=tags,
            )  # fmt: skip
        finally:
            db.dispose()
        now = time.time()
        coll = self.collection(name)
        coll.update(ids=list(ids), metadatas=[{"created_at": now - d * DAY} for d in days_old])

    def vectors_days_pass(self, name: str, days: float) -> None:
        coll = self.collection(name)
        got = coll.get(include=["metadatas"])
        moved = [(i, m["ita_deleted_at"] - days * DAY) for i, m in
                 zip(got["ids"], got["metadatas"], strict=True) if m.get("ita_deleted_at")]  # fmt: skip
        if moved:
            coll.update(
                ids=[i for i, _ in moved], metadatas=[{"ita_deleted_at": v} for _, v in moved]
            )


@pytest.fixture(params=["embedded", "server"])
def vec_ws(
    request: pytest.FixtureRequest, in_git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> VecWs:
    pytest.importorskip("chromadb")
    url = "chroma:.ita/vectors"
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
    shutil.copytree(REPO / "rules", in_git_repo / "rules", dirs_exist_ok=True)
    (in_git_repo / "retention.yaml").write_text(POLICY)
    (in_git_repo / "ita.toml").write_text(f'[vectors]\nurl = "{url}"\ngroup_key = "source_id"\n')
    (in_git_repo / ".gitignore").write_text(".ita/\n/exchange/\n/logs/\n")
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "sample rules")
    ws = VecWs(in_git_repo, url)
    ws.add_run(ACTIVE_RUN, "IB_raid_v1", "1.2")
    ws.add_run(INACTIVE_RUN, "Frank_raid_v1", "1.0")
    return ws


def unique(prefix: str = "docs") -> str:
    """A collection name no other test uses (the server is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


NOW = dt.datetime.now(dt.UTC)

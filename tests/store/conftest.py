"""Store fixtures: every store test runs against SQLite and against the real Postgres.

Postgres: ``ITA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
One fresh database is created per test session and dropped at its end; each test gets its own
schema in it. When Postgres is unreachable the Postgres cases are skipped, except under
``CI=true`` where they fail: CI never skips a database.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The Postgres fixtures live in tests/conftest.py; re-exported for the remote tests.
from tests.conftest import PG_URL, REPO, git, pg_database  # noqa: F401
from tests.conftest import pg_admin as _admin  # noqa: F401


@dataclass
class StoreWs:
    root: Path
    db_url: str

    @property
    def store_root(self) -> Path:
        return self.root / "exchange"

    def open(self) -> Any:
        from ita_rules.store import open_store
        from ita_rules.workspace import Workspace

        return open_store(Workspace.open(self.root))

    def state(self) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
        """Every file under the store root (but the lock) and every record: to show that a
        refused command wrote nothing."""
        files = {}
        if self.store_root.exists():
            for path in sorted(self.store_root.rglob("*")):
                rel = path.relative_to(self.store_root).as_posix()
                if path.is_file() and rel != ".ita-store/lock":
                    files[rel] = path.read_bytes()
        store = self.open()
        try:
            records = [r.as_dict() for r in store.find(status=None)]
        finally:
            store.close()
        return files, records


def ita(ws: StoreWs, *args: str) -> subprocess.CompletedProcess[str]:
    """``ita-rules ARGS`` as a separate process in the workspace (output captured as text)."""
    return subprocess.run(
        [sys.executable, "-m", "ita_rules", *args],
        cwd=ws.root,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def store_ws(in_git_repo: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> StoreWs:
    """A workspace with the sample rules (committed) whose database is ``db_url``."""
    shutil.copytree(REPO / "rules", in_git_repo / "rules", dirs_exist_ok=True)
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "sample rules")
    monkeypatch.setenv("ITA_DATABASE_URL", db_url)
    return StoreWs(in_git_repo, db_url)


# a record pointing to no or a partial file, or a journal entry whose file is gone (a put
# killed between its journal entry and its commit leaves "unrecorded": its files are in place)
BAD_AFTER_CRASH = {"missing", "mismatch", "unbacked"}


FORK = multiprocessing.get_context("fork")


class Progress:
    """A forked putter's signals to the test: started, and how many operations it completed
    (shared memory, so the test can wait for real progress instead of a time that a loaded
    machine may not honour)."""

    def __init__(self) -> None:
        self.started = FORK.Event()
        self.done = FORK.Value("i", 0)

    def tick(self) -> None:
        with self.done.get_lock():
            self.done.value += 1


def start_putter(root: str, seed: int, progress: Progress) -> tuple[random.Random, Any, Path]:
    """In a forked putter process of a crash test: its random source, the store, and its own
    source folder; then tell the parent it is ready to be killed."""
    from ita_rules.store import open_store
    from ita_rules.workspace import Workspace

    rnd = random.Random(seed)
    store = open_store(Workspace.open(root))
    src = Path(root) / "src" / str(seed)
    src.mkdir(parents=True)
    progress.started.set()
    return rnd, store, src


def kill_putter_and_check(
    store: Any,
    putter: Callable[[str, int, Progress], None],
    root: Path,
    n: int,
    after: float,
    *,
    hashes: bool,
    first_done: bool,
) -> None:
    """Start ``putter`` (seed ``n``) in a forked process, SIGKILL it ``after`` seconds into its
    work (``first_done``: after its first operation completed, so every such round stores
    something however loaded the machine is), then: fsck finds no record pointing to a
    missing or partial file (``hashes``: re-hash the contents too), and ``--repair`` leaves a
    clean store."""
    from ita_rules.recovery import fsck

    progress = Progress()
    proc = FORK.Process(target=putter, args=(str(root), n, progress))
    proc.start()
    assert progress.started.wait(30), "the worker did not start"
    deadline = time.monotonic() + 60
    while first_done and progress.done.value == 0 and time.monotonic() < deadline:
        assert proc.is_alive(), f"the worker of kill {n} ended by itself"
        time.sleep(0.002)
    assert not first_done or progress.done.value > 0, f"kill {n}: no operation done in 60 s"
    time.sleep(after)
    os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    report = fsck(store, hashes=hashes)
    bad = [str(p) for p in report.problems if p.kind in BAD_AFTER_CRASH]
    assert not bad, f"after kill {n}: {bad}"
    if report.problems:  # a store fsck found clean is left as it is: nothing to repair
        fsck(store, repair=True, hashes=False)
        left = fsck(store, hashes=False).problems
        assert left == [], f"not clean after --repair (kill {n}): {left}"

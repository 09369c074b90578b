"""Store fixtures: every store test runs against SQLite and against the real Postgres.

Postgres: ``ITA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``).
One fresh database is created per test session and dropped at its end; each test gets its own
schema in it. When Postgres is unreachable the Postgres cases are skipped, except under
``CI=true`` where they fail: CI never skips a database.
"""

from __future__ import annotations

import shutil
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
            store.db.dispose()
        return files, records


@pytest.fixture
def store_ws(in_git_repo: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> StoreWs:
    """A workspace with the sample rules (committed) whose database is ``db_url``."""
    shutil.copytree(REPO / "rules", in_git_repo / "rules", dirs_exist_ok=True)
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "sample rules")
    monkeypatch.setenv("ITA_DATABASE_URL", db_url)
    return StoreWs(in_git_repo, db_url)

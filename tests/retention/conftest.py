"""Retention fixtures: a workspace with the sample rules, a store (SQLite or Postgres) and a
policy; files are put with back-dated creation times through the real store."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import REPO, git

POLICY = """\
safety_window_days: 7
large_purge_gb: 10
types:
  candles:    {retain_days: 365, strategy: archive_to_remote}
  screenshot: {retain_days: 90,  strategy: delete}
  result:     {retain_days: null, strategy: keep_forever}
  embedding:  {retain_days: 180, strategy: prune_old, keep_last: 3}
protect:
  tags: [important]
  active_rules: true
backup_before_delete: false
"""  # the README's example policy, verbatim
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)


@dataclass
class RetWs:
    root: Path

    def store(self) -> Any:
        from ita_rules.store import open_store
        from ita_rules.workspace import Workspace

        return open_store(Workspace.open(self.root))

    def put(self, name: str, data: bytes, *, type: str, days_old: float, **kw: Any) -> str:
        """Store ``data`` and back-date its record by ``days_old`` days; return its file_id."""
        from ita_rules.db import tables as t

        src = self.root / "incoming" / name
        src.parent.mkdir(exist_ok=True)
        src.write_bytes(data)
        store = self.store()
        try:
            record = store.put(src, type=type, **kw)
            when = (NOW - dt.timedelta(days=days_old)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            with store.db.write() as conn:
                conn.execute(
                    t.records.update()
                    .where(t.records.c.file_id == record.file_id)
                    .values(created_at=when)
                )
        finally:
            store.db.dispose()
        return str(record.file_id)

    def days_pass(self, days: float) -> None:
        """The safety window's days go by: every soft delete moves ``days`` days into the past
        (the window runs on the real clock, so a test cannot simulate it with ``--as-of``)."""
        from ita_rules.db import tables as t

        store = self.store()
        try:
            with store.db.write() as conn:
                rows = conn.execute(
                    sa.select(t.records.c.file_id, t.records.c.deleted_at).where(
                        t.records.c.deleted_at.is_not(None)
                    )
                ).all()
                for file_id, deleted_at in rows:
                    moment = dt.datetime.fromisoformat(deleted_at) - dt.timedelta(days=days)
                    conn.execute(
                        t.records.update()
                        .where(t.records.c.file_id == file_id)
                        .values(deleted_at=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                    )
        finally:
            store.db.dispose()

    def statuses(self) -> dict[str, str]:
        from ita_rules.db import tables as t

        store = self.store()
        try:
            with store.db.read() as conn:
                return dict(conn.execute(sa.select(t.records.c.file_id, t.records.c.status)).all())
        finally:
            store.db.dispose()

    def path_of(self, file_id: str) -> Path:
        store = self.store()
        try:
            return Path(store.abspath(store.get(file_id).path))
        finally:
            store.db.dispose()

    def add_run(
        self,
        run_id: str,
        setup_id: str,
        rule_version: str,
        inputs: tuple[str, ...] = (),
        outputs: tuple[str, ...] = (),
    ) -> None:
        """A run row as provenance writes it (only the columns retention reads matter);
        ``inputs`` are the content hashes its snapshot declares as read, ``outputs`` the
        file_ids it declares as written."""
        from ita_rules.provenance.runstore import RunStore
        from ita_rules.workspace import Workspace

        runs = RunStore.open(Workspace.open(self.root).settings)
        try:
            from ita_rules.provenance.tables import runs as table

            day, seq = run_id[4:14], int(run_id[-3:])
            with runs._write() as conn:
                conn.execute(
                    table.insert().values(
                        run_id=run_id,
                        day=day,
                        seq=seq,
                        flow_type="backtest_flow",
                        status="succeeded",
                        setup_id=setup_id,
                        rule_version=rule_version,
                        git_dirty=False,
                        started_at="2025-01-01T00:00:00.000000Z",
                        snapshot=json.dumps(
                            {
                                "inputs": [
                                    {"path": f"data/{i}.csv", "hash": h}
                                    for i, h in enumerate(inputs)
                                ],
                                "outputs": list(outputs),
                            }
                        ),
                    )
                )
        finally:
            runs.close()


@pytest.fixture
def ret_ws(in_git_repo: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> RetWs:
    shutil.copytree(REPO / "rules", in_git_repo / "rules", dirs_exist_ok=True)
    (in_git_repo / "retention.yaml").write_text(POLICY)
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "sample rules")
    monkeypatch.setenv("ITA_DATABASE_URL", db_url)
    return RetWs(in_git_repo)

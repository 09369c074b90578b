"""Shared fixtures: real git repositories in tmp dirs, an isolated git identity, the CLI."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_RULES = REPO / "rules"


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real $HOME or git config; pin a git identity and the date."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """What :func:`_isolate` does, for a session fixture too (it runs before any autouse one):
    ``home`` as $HOME with its own git config, no ITA_/GIT_ variable of the outer shell."""
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test Trader\n\temail = trader@example.test\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("ITA_TODAY", "2026-01-15")
    for var in list(os.environ):
        if var.startswith("ITA_") and var != "ITA_TODAY":
            monkeypatch.delenv(var)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    # Running the suite from inside a git hook (or with a custom index) must not let the
    # tests' own git commands read or write the outer repository.
    for var in list(os.environ):
        if var.startswith("GIT_") and var not in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
            monkeypatch.delenv(var)


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.fixture
def in_git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace (git repository + ita.toml + rules/) as the current directory."""
    root = tmp_path / "ws"
    root.mkdir()
    git(root, "init", "-q")
    (root / "ita.toml").write_text("")
    (root / "rules").mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def sample_ws(in_git_repo: Path) -> Path:
    """A workspace holding a copy of the bundled sample registry, committed."""
    shutil.copytree(SAMPLE_RULES, in_git_repo / "rules", dirs_exist_ok=True)
    shutil.copytree(
        REPO / "schemas",
        in_git_repo / "schemas",
        ignore=shutil.ignore_patterns("*.py", "__pycache__"),
    )
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "sample rules")
    return in_git_repo


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    """Run ``ita-rules ARGS`` in-process through the real entry point (error handling included)."""
    from ita_rules.cli import main

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (except .git) with its bytes: to assert nothing was written."""
    out = {}
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- the real Postgres, shared by the store, provenance, remote and retention tests -------------
# ``ITA_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``). One fresh
# database per test session (dropped at its end), a fresh schema per test. Unreachable: the
# Postgres cases are skipped, except under ``CI=true`` where they fail: CI never skips a database.

PG_URL = os.environ.get("ITA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_admin(url: str) -> Any:
    import psycopg

    from ita_rules.db.engine import engine_url

    u = engine_url(url, Path("."))
    return psycopg.connect(
        host=u.host,
        port=u.port or 5432,
        user=u.username,
        dbname=u.database,
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh Postgres database for this test session (dropped afterwards); its URL."""
    try:
        admin = pg_admin(PG_URL)
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Postgres at {PG_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Postgres at {PG_URL} is unreachable: {exc}")
    name = f"ita_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with pg_admin(PG_URL) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The database URL of one test: the default SQLite file, or a fresh schema (dropped
    afterwards) in this session's Postgres database."""
    if kind == "sqlite":
        yield "sqlite:///.ita/ita.sqlite"
        return
    database = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_admin(database) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{database}?options=-csearch_path%3D{schema}"
    finally:
        with pg_admin(database) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The database URL for one test: the default SQLite file, or a fresh Postgres schema."""
    with database_url(request.param, request) as url:
        yield url


__all__: Sequence[str] = ["PG_URL", "REPO", "Result", "git", "pg_admin", "snapshot", "write"]


def run_on_a_terminal(
    cmd: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """Run ``cmd`` with stdout piped and stderr on a pseudo-terminal (where progress bars are
    drawn): the finished process, and everything it drew on the terminal."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=follower, timeout=120
        )
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
    return proc, drawn

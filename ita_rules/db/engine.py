"""Connect to the metadata database: a SQLite file (WAL, busy timeout) or Postgres (psycopg 3).

The same code runs on both. Write transactions use :meth:`Database.write`; on SQLite that is
``BEGIN IMMEDIATE`` so that concurrent writers wait for each other (busy timeout) instead of
failing when a read transaction tries to become a write transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ita_rules.core.config import redact_url
from ita_rules.core.errors import ItaRulesError, UsageError

BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 5


class DatabaseError(ItaRulesError):
    """A database operation failed."""


class DatabaseUnavailable(UsageError):
    """The configured database cannot be reached or opened (a configuration problem, exit 2)."""


class AdvisoryLock(IntEnum):
    """The Postgres advisory locks of ita-rules (keys of ``pg_advisory_xact_lock``)."""

    SCHEMA = 0x17A5_7013  # creating and migrating the schema (db/migrations.py)
    RUN_IDS = 0x17A5_7014  # allocating run ids (provenance/runstore.py)


def xact_lock(conn: sa.Connection, lock: AdvisoryLock) -> None:
    """Hold ``lock`` until the transaction of ``conn`` ends, so that processes doing the same
    work take turns. On Postgres an advisory transaction lock; on SQLite nothing, as the write
    transaction (``BEGIN IMMEDIATE``, :meth:`Database.write`) already serialises writers."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(lock)})


def _one_line(text: str, secrets: tuple[str, ...]) -> str:
    line = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            line = line.replace(secret, "***")
    return line


def engine_url(url: str, root: Path) -> URL:
    """The SQLAlchemy URL for a configured one: relative SQLite paths are resolved against the
    workspace root, ``postgresql://`` uses the psycopg 3 driver."""
    raw = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]+:([^\s]*)@", url)
    if raw is not None and ("@" in raw.group(1) or "/" in raw.group(1)):
        raise DatabaseUnavailable(
            f"store.database: the password in {redact_url(url)} holds '@' or '/', which a URL "
            "cannot carry as they are: percent-encode them (%40 for @, %2F for /)"
        )
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseUnavailable(
            f"store.database: not a database URL: {redact_url(url)}"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise DatabaseUnavailable(
                "store.database: a SQLite URL needs a file path (sqlite:///.ita/ita.sqlite)"
            )
        path = Path(database)
        if not path.is_absolute():
            path = root / path
        return parsed.set(drivername="sqlite+pysqlite", database=str(path))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise DatabaseUnavailable(
        f"store.database: unsupported database {backend!r} in {redact_url(url)} "
        "(use sqlite:///PATH or postgresql://USER@HOST/DB)"
    )


class Database:
    """An engine plus the conventions we use on it. Create with :func:`open_database`."""

    def __init__(self, engine: sa.Engine, shown_url: str, secrets: tuple[str, ...] = ()) -> None:
        self.engine = engine
        self.shown_url = shown_url  # password redacted: safe to print
        self._secrets = secrets

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    def error(self, exc: BaseException, doing: str) -> DatabaseError:
        """A one-line error for a failed database operation, credentials removed."""
        detail = getattr(exc, "orig", None) or exc
        return DatabaseError(
            f"database {self.shown_url}: {doing} failed: {_one_line(str(detail), self._secrets)}"
        )

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite); committed on success."""
        try:
            with self.engine.connect().execution_options(ita_write=True) as conn, conn.begin():
                yield conn
        except sa.exc.IntegrityError as exc:
            # only possible when writers do not share the store lock (e.g. a store on a network
            # file system whose locks do not work): nothing was committed
            raise self.error(exc, "write (a concurrent writer; retry)") from None
        except sa.exc.DBAPIError as exc:
            raise self.error(exc, "write") from None

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction that sees one snapshot for all its queries (e.g. the records and
        then their tags): SQLite's ``BEGIN`` does that; Postgres needs REPEATABLE READ (its
        default, READ COMMITTED, takes a new snapshot per statement). Read-only transactions
        never fail with serialization errors, so this costs nothing."""
        try:
            with self.engine.connect() as conn:
                if self.dialect == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise self.error(exc, "read") from None

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: URL) -> sa.Engine:
    path = Path(url.database or "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DatabaseUnavailable(
            f"cannot open the SQLite database {path}: a parent is not a directory"
        ) from None
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot open the SQLite database {path}: {exc.strerror}"
        ) from None
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable across process crashes
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("ita_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_database(url: str, root: Path) -> Database:
    """Connect, check that the database answers, and make sure the schema exists and is current.

    Raises :class:`DatabaseUnavailable` (one line, no credentials) when it cannot be reached,
    and :class:`~ita_rules.db.migrations.SchemaOutdated` when ``db upgrade`` is needed.
    """
    from ita_rules.db.migrations import ensure_schema

    db = connect(url, root)
    try:
        ensure_schema(db)
    except BaseException:
        db.dispose()
        raise
    return db


def connect(url: str, root: Path) -> Database:
    """Connect and check that the database answers; the schema is not looked at."""
    target = engine_url(url, root)
    shown = redact_url(url)
    secrets = tuple(s for s in (target.password,) if isinstance(s, str))
    if target.get_backend_name() == "sqlite":
        engine = _sqlite_engine(target)
    else:
        engine = sa.create_engine(
            target, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}, pool_pre_ping=True
        )
    db = Database(engine, shown, secrets)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DatabaseError) as exc:
        engine.dispose()
        detail = _one_line(str(getattr(exc, "orig", exc)), secrets)
        detail = re.sub(r"\s*\(Background on this error.*$", "", detail)
        if target.get_backend_name() == "sqlite" and _BROKEN.search(detail):
            detail += (
                "; the file is damaged: `ita-rules store rebuild` sets it aside and rebuilds "
                "the database from the files on disk"
            )
        raise DatabaseUnavailable(f"cannot connect to the database {shown}: {detail}") from None
    return db


_BROKEN = re.compile(r"malformed|not a database|file is (encrypted|not a database)|corrupt", re.I)


def set_aside_broken_sqlite(url: str, root: Path) -> Path | None:
    """When the configured database is a SQLite file that SQLite cannot read (truncated,
    overwritten, not a database), rename it (and its -wal and -shm files) to
    ``NAME.broken-YYYYMMDDTHHMMSSmmmZ`` (the file stamp of :mod:`ita_rules.core.times`) so a
    rebuild can start from an empty database; return the new name, or None when there is
    nothing to set aside (Postgres, no file, a sound file).

    Nothing is deleted: the broken file stays beside the new one for inspection.
    """
    import sqlite3

    from ita_rules.core import times

    target = engine_url(url, root)
    if target.get_backend_name() != "sqlite" or not target.database:
        return None
    path = Path(target.database)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
        if rows == [("ok",)]:
            return None
    except sqlite3.DatabaseError as exc:
        if not _BROKEN.search(str(exc)):
            raise DatabaseUnavailable(f"cannot open the SQLite database {path}: {exc}") from None
    aside = path.with_name(f"{path.name}.broken-{times.stamp(times.now())}")
    for suffix in ("-wal", "-shm"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            extra.replace(aside.with_name(aside.name + suffix))
    path.replace(aside)
    return aside

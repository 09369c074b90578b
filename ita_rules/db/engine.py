"""Connect to the metadata database: a SQLite file (WAL, busy timeout) or Postgres (psycopg 3).

The same code runs on both. Write transactions use :meth:`Database.write`; on SQLite that is
``BEGIN IMMEDIATE`` so that concurrent writers wait for each other (busy timeout) instead of
failing when a read transaction tries to become a write transaction.

A SQLite file named by a plain ``sqlite:///PATH`` URL is opened without SQLAlchemy (importing
it costs a short command ~0.2 s of CPU): the connection check, the schema check (and the
creation of a new database's schema from :mod:`ita_rules.db.schema_sqlite`, generated from the
migration steps) and :meth:`Database.sql_write` (a bulk put's transaction) use the standard
``sqlite3`` module with the same pragmas; the SQLAlchemy engine is made on first use of
:attr:`Database.engine`, :meth:`Database.write` or :meth:`Database.read`.
"""

from __future__ import annotations

import re
import sqlite3
from _thread import allocate_lock
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core.config import foreign_path, redact_url
from ita_rules.core.errors import ItaRulesError, UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL

BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 5


class DatabaseError(ItaRulesError):
    """A database operation failed."""


class DatabaseUnavailable(UsageError):
    """The configured database cannot be reached or opened (a configuration problem, exit 2)."""


class SchemaOutdated(UsageError):
    """The database was created by an older ita-rules (run ``ita-rules db upgrade``) or by a
    newer one (upgrade ita-rules)."""


def newer_schema(version: int, current: int, where: str) -> SchemaOutdated:
    return SchemaOutdated(
        f"{where} has schema version {version}, newer than this ita-rules ({current}): "
        "upgrade ita-rules"
    )


def check_version(version: int, current: int, shown_url: str) -> None:
    """Refuse a database whose schema is older or newer than ``current``."""
    if version < current:
        raise SchemaOutdated(
            f"the database {shown_url} has schema version {version}, this ita-rules needs "
            f"{current}: run `ita-rules db upgrade`"
        )
    if version > current:
        raise newer_schema(version, current, f"the database {shown_url}")


class AdvisoryLock(IntEnum):
    """The Postgres advisory locks of ita-rules (keys of ``pg_advisory_xact_lock``)."""

    SCHEMA = 0x17A5_7013  # creating and migrating the schema (db/migrations.py)
    RUN_IDS = 0x17A5_7014  # allocating run ids (provenance/runstore.py)


def xact_lock(conn: sa.Connection, lock: AdvisoryLock) -> None:
    """Hold ``lock`` until the transaction of ``conn`` ends, so that processes doing the same
    work take turns. On Postgres an advisory transaction lock; on SQLite nothing, as the write
    transaction (``BEGIN IMMEDIATE``, :meth:`Database.write`) already serialises writers."""
    if conn.dialect.name == "postgresql":
        import sqlalchemy as sa

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
    from sqlalchemy.engine import make_url

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
        path = _sqlite_file(database, root)
        return parsed.set(drivername="sqlite+pysqlite", database=str(path))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    raise DatabaseUnavailable(
        f"store.database: unsupported database {backend!r} in {redact_url(url)} "
        "(use sqlite:///PATH or postgresql://USER@HOST/DB)"
    )


class Database:
    """An engine plus the conventions we use on it. Create with :func:`open_database`.

    For a plain SQLite file (``sqlite_path``) the SQLAlchemy engine is made on first use; the
    ``sqlite3`` connection of :meth:`sql_write` is kept open until :meth:`dispose`."""

    def __init__(
        self,
        engine: sa.Engine | None,
        shown_url: str,
        secrets: tuple[str, ...] = (),
        *,
        sqlite_path: Path | None = None,
    ) -> None:
        self._engine = engine
        self.shown_url = shown_url  # password redacted: safe to print
        self._secrets = secrets
        self.sqlite_path = sqlite_path
        self._raw: sqlite3.Connection | None = None
        self._raw_lock = allocate_lock()  # threading.Lock, without importing threading

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            from sqlalchemy.engine import URL as SaURL

            url = SaURL.create("sqlite+pysqlite", database=str(self.sqlite_path))
            self._engine = _sqlite_engine(url)
        return self._engine

    @property
    def dialect(self) -> str:
        if self._engine is None and self.sqlite_path is not None:
            return "sqlite"
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
        import sqlalchemy as sa

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
    def sql_write(self) -> Iterator[Sql]:
        """A write transaction for plain SQL (:class:`Sql`): on a SQLite file through the
        ``sqlite3`` module (no SQLAlchemy), elsewhere through :meth:`write`. Same errors."""
        if self.sqlite_path is None:
            with self.write() as conn:
                yield Sql(conn.exec_driver_sql, self.dialect)
            return
        with self._raw_lock:
            raw = self._raw_connection()
            try:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    yield Sql(raw.execute, "sqlite", raw.executemany)
                    raw.execute("COMMIT")
                except BaseException:  # a failed COMMIT too: the connection is kept for later
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                    raise
            except sqlite3.IntegrityError as exc:  # as in write()
                raise self.error(exc, "write (a concurrent writer; retry)") from None
            except sqlite3.Error as exc:
                raise self.error(exc, "write") from None

    def _raw_connection(self) -> sqlite3.Connection:
        if self._raw is None:
            assert self.sqlite_path is not None
            self._raw = sqlite_connect(self.sqlite_path)
        return self._raw

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction that sees one snapshot for all its queries (e.g. the records and
        then their tags): SQLite's ``BEGIN`` does that; Postgres needs REPEATABLE READ (its
        default, READ COMMITTED, takes a new snapshot per statement). Read-only transactions
        never fail with serialization errors, so this costs nothing."""
        import sqlalchemy as sa

        try:
            with self.engine.connect() as conn:
                if self.dialect == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise self.error(exc, "read") from None

    def dispose(self) -> None:
        with self._raw_lock:
            if self._raw is not None:
                self._raw.close()
                self._raw = None
        if self._engine is not None:
            self._engine.dispose()


def unindexed(column: str, dialect: str) -> str:
    """``column`` as SQL that no index serves on SQLite (``+status``), the column itself on
    Postgres. For a test beside a selective one (a hash ``IN`` list): SQLite, without
    statistics, chose the index of the unselective column (the status index holds every live
    record) and read the whole table for each chunk of hashes."""
    return f"+{column}" if dialect == "sqlite" else column


class Sql:
    """Plain SQL in a write transaction (:meth:`Database.sql_write`), the same on both
    backends: ``?`` marks a parameter (``%s`` is sent to Postgres), rows are tuples."""

    def __init__(self, execute: Any, dialect: str, executemany: Any = None) -> None:
        self._execute = execute
        self._executemany = executemany
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self._execute(self._sql(sql), tuple(params)).fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._execute(self._sql(sql), tuple(params))

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self._executemany is not None:
            self._executemany(self._sql(sql), rows)
        else:  # SQLAlchemy: a list of parameter tuples is an executemany
            self._execute(self._sql(sql), list(rows))


# The connection settings of every SQLite connection (SQLAlchemy's and sqlite3's alike), set
# after the busy timeout and the WAL journal (_use_wal)
SQLITE_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",  # with WAL: durable across process crashes
    "PRAGMA foreign_keys=ON",
    # statement journals (the undo copies of a many-row INSERT) and sorts in memory: in temp
    # files they were a third of a bulk put's page writes
    "PRAGMA temp_store=MEMORY",
)


def _set_up(dbapi_conn: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin, sql_write)
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _use_wal(cur)
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
    finally:
        cur.close()


def _use_wal(cur: Any) -> None:
    """Put the database file in WAL mode (a property of the file: once is enough).

    Converting needs the file to itself, and SQLite does not wait for that with its busy
    handler: processes opening a new database at once (four putters, say) failed with
    "database is locked". So the mode is read first (nothing to do once the file is WAL), and a
    conversion that meets another connection is tried again, with growing pauses, for as long
    as the busy timeout; another process that converted the file meanwhile ends the wait."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            mode = None
        if str(mode).lower() == "wal":
            return
        if time.monotonic() >= deadline:
            raise sqlite3.OperationalError("database is locked (converting it to WAL)")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _make_parent(path: Path, root: Path) -> None:
    """Make the folder of a SQLite database inside the workspace ``root`` (``.ita/``); one
    outside it must exist already: a mistyped ``store.database`` or ``ITA_DATABASE_URL``
    would otherwise make folders and an empty database somewhere, and every command would go
    on in it as if the desk's records were gone."""
    parent = path.parent
    if parent.is_dir():
        return
    inside = parent.absolute().is_relative_to(root.absolute())
    if not inside and not parent.exists():
        raise DatabaseUnavailable(
            f"cannot open the SQLite database {path}: its folder {parent} does not exist "
            "(create it, or correct store.database in ita.toml or ITA_DATABASE_URL)"
        )
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DatabaseUnavailable(
            f"cannot open the SQLite database {path}: a parent is not a directory"
        ) from None
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot open the SQLite database {path}: {exc.strerror}"
        ) from None


def sqlite_connect(path: Path) -> sqlite3.Connection:
    """A ``sqlite3`` connection to ``path`` set up as SQLAlchemy's are (see :func:`_set_up`)."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    try:
        _set_up(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _sqlite_engine(url: URL, root: Path | None = None) -> sa.Engine:
    """A SQLAlchemy engine of a SQLite file; with ``root`` (the workspace) its folder is made
    first as :func:`_make_parent` allows (a plain SQLite database's was made when it was
    connected)."""
    import sqlalchemy as sa

    if root is not None and url.database not in (None, "", ":memory:"):
        _make_parent(Path(str(url.database)), root)
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _set_up(dbapi_conn)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("ita_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_database(url: str, root: Path) -> Database:
    """Connect, check that the database answers, and make sure the schema exists and is current.

    Raises :class:`DatabaseUnavailable` (one line, no credentials) when it cannot be reached,
    and :class:`SchemaOutdated` when ``db upgrade`` is needed.
    """
    db = connect(url, root)
    try:
        if db.sqlite_path is not None:
            _ensure_sqlite_schema(db)
        else:
            from ita_rules.db.migrations import ensure_schema

            ensure_schema(db)
    except BaseException:
        db.dispose()
        raise
    return db


def _ensure_sqlite_schema(db: Database) -> None:
    """:func:`ita_rules.db.migrations.ensure_schema` for a SQLite file, without SQLAlchemy: an
    empty database gets the schema the migration steps make (:mod:`ita_rules.db.schema_sqlite`,
    generated from them and checked against them by the tests). A database with tables but
    no version (one that only ever held runs) goes through the steps themselves."""
    from ita_rules.db import schema_sqlite

    with db.sql_write() as sql:
        tables = {
            name
            for (name,) in sql.rows("SELECT name FROM sqlite_master WHERE type = ?", ("table",))
        }
        version = None
        if "ita_schema_version" in tables:
            version = sql.scalar(
                "SELECT version FROM ita_schema_version WHERE component = ?",
                (schema_sqlite.MARKER,),
            )
        if version is None and "store_records" in tables:
            version = 1  # v1 had no version table
        if version is None and not tables:
            for statement in schema_sqlite.STATEMENTS:
                sql.execute(statement)
            version = schema_sqlite.VERSION
    if version is None:
        from ita_rules.db.migrations import ensure_schema

        ensure_schema(db)
        return
    check_version(int(version), schema_sqlite.VERSION, db.shown_url)


_PLAIN_SQLITE = re.compile(r"sqlite:///([^?#%]+)")


def _plain_sqlite_path(url: str, root: Path) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (relative to ``root``), else None."""
    found = _PLAIN_SQLITE.fullmatch(url)
    if found is None or found.group(1) == ":memory:":
        return None
    return _sqlite_file(found.group(1), root)


def _sqlite_file(database: str, root: Path) -> Path:
    """A SQLite URL's file: absolute as given, else relative to the workspace ``root``; a
    Windows drive path on another system is refused (it would be a folder named ``D:`` in the
    current folder, a second database)."""
    if foreign_path(database):
        raise DatabaseUnavailable(
            f"store.database: {database!r} is a Windows path, which this machine cannot open; "
            "give an absolute path (sqlite:////srv/ita/ita.sqlite) or one relative to the "
            "workspace (sqlite:///.ita/ita.sqlite)"
        )
    path = Path(database)
    return path if path.is_absolute() else root / path


def connect(url: str, root: Path) -> Database:
    """Connect and check that the database answers; the schema is not looked at."""
    shown = redact_url(url)
    path = _plain_sqlite_path(url, root)
    if path is not None:
        _make_parent(path, root)
        db = Database(None, shown, sqlite_path=path)
        try:
            db._raw_connection().execute("SELECT 1").fetchall()
        except sqlite3.Error as exc:
            db.dispose()
            raise _unavailable(shown, _one_line(str(exc), ()), sqlite=True) from None
        return db
    return _connect_engine(url, root, shown)


def _unavailable(shown: str, detail: str, *, sqlite: bool) -> DatabaseUnavailable:
    detail = re.sub(r"\s*\(Background on this error.*$", "", detail)
    if sqlite and _BROKEN.search(detail):
        detail += (
            "; the file is damaged: `ita-rules store rebuild` sets it aside and rebuilds "
            "the database from the files on disk"
        )
    return DatabaseUnavailable(f"cannot connect to the database {shown}: {detail}")


def _connect_engine(url: str, root: Path, shown: str) -> Database:
    import sqlalchemy as sa

    target = engine_url(url, root)
    secrets = tuple(s for s in (target.password,) if isinstance(s, str))
    if target.get_backend_name() == "sqlite":
        engine = _sqlite_engine(target, root)
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
        sqlite = target.get_backend_name() == "sqlite"
        raise _unavailable(shown, detail, sqlite=sqlite) from None
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

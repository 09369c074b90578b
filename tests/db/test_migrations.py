"""One schema version and one list of migrations for the whole metadata database.

Databases as earlier releases left them (``tests/db/legacy.py``: the store, runs and remote
tables each with their own version row) are upgraded by ``db upgrade`` on SQLite and on the
real Postgres; the result is the schema the code uses, the same as a new database's, with the
old rows kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ita_rules.db import CURRENT_VERSION, Database, SchemaOutdated, connect, open_database, upgrade
from ita_rules.db import tables as store_tables
from ita_rules.db.migrations import ensure_schema
from ita_rules.provenance.embeddings import manifest
from ita_rules.provenance.tables import runs
from ita_rules.provenance.verifications import verifications
from ita_rules.remote import tables as remote_tables
from tests.db import legacy

TABLES = (
    *store_tables.metadata.sorted_tables,
    runs,
    remote_tables.remote_copies,
    manifest,
    verifications,
)


def _declared(table: sa.Table, dialect: sa.Dialect) -> dict[str, Any]:
    """What the code's ``sa.Table`` says the table is."""
    uniques = {
        tuple(sorted(c.name for c in k.columns))
        for k in table.constraints
        if isinstance(k, sa.UniqueConstraint)
    } | {(c.name,) for c in table.columns if c.unique}
    return {
        "columns": {c.name: (c.type.compile(dialect=dialect), c.nullable) for c in table.columns},
        "primary_key": sorted(c.name for c in table.primary_key.columns),
        "unique": sorted(uniques),
        "indexes": sorted((i.name, tuple(c.name for c in i.columns)) for i in table.indexes),
        "foreign_keys": sorted(
            (f.parent.name, f.column.table.name, f.column.name) for f in table.foreign_keys
        ),
    }


def _found(conn: sa.Connection, name: str) -> dict[str, Any]:
    """What the database says the table is."""
    inspector = sa.inspect(conn)
    fks = [
        (col, fk["referred_table"], ref)
        for fk in inspector.get_foreign_keys(name)
        for col, ref in zip(fk["constrained_columns"], fk["referred_columns"], strict=True)
    ]
    return {
        "columns": {
            c["name"]: (c["type"].compile(dialect=conn.dialect), c["nullable"])
            for c in inspector.get_columns(name)
        },
        "primary_key": sorted(inspector.get_pk_constraint(name)["constrained_columns"]),
        "unique": _uniques(conn, name),
        "indexes": sorted(
            (i["name"], tuple(str(c) for c in i["column_names"]))
            for i in inspector.get_indexes(name)
            if not i.get("duplicates_constraint")
        ),
        "foreign_keys": sorted(fks),
    }


def _uniques(conn: sa.Connection, name: str) -> list[tuple[str, ...]]:
    """The column sets of the table's unique constraints. SQLite: read from its own catalogue,
    as SQLAlchemy does not report a UNIQUE written on the column (``path ... UNIQUE``)."""
    if conn.dialect.name != "sqlite":
        found = sa.inspect(conn).get_unique_constraints(name)
        return sorted(tuple(sorted(u["column_names"])) for u in found)
    out = []
    for row in conn.exec_driver_sql(f"PRAGMA index_list({name})").mappings():
        if row["origin"] == "u":
            info = conn.exec_driver_sql(f"PRAGMA index_info({row['name']})").mappings()
            out.append(tuple(sorted(str(i["name"]) for i in info)))
    return sorted(out)


# Version 1 (of the store, of the runs) wrote "hash VARCHAR(71) PRIMARY KEY" without NOT NULL, which SQLite takes as a key
# that accepts NULL (Postgres does not). ita-rules never writes a NULL key, and adding NOT NULL
# on SQLite would mean copying the table: an upgraded version-1 SQLite file keeps these.
def _v1_keys(db: Database, store: int | None, runs_version: int | None) -> frozenset[Any]:
    if db.dialect != "sqlite":
        return frozenset()
    store_keys = {("store_blobs", "hash"), ("store_records", "file_id")} if store == 1 else set()
    return frozenset(store_keys | ({("runs", "run_id")} if runs_version == 1 else set()))


def _assert_current(
    db: Database, *, nullable_keys: frozenset[tuple[str, str]] = frozenset()
) -> None:
    """The database holds exactly the tables the code describes, and one version row (the
    primary key columns in ``nullable_keys`` may accept NULL)."""
    with db.read() as conn:
        names = set(sa.inspect(conn).get_table_names())
        assert names == {t.name for t in TABLES}
        for table in TABLES:
            found = _found(conn, table.name)
            for name, (kind, nullable) in list(found["columns"].items()):
                if (table.name, name) in nullable_keys:
                    assert nullable
                    found["columns"][name] = (kind, False)
            assert found == _declared(table, conn.dialect), table.name
        versions = conn.execute(sa.text("SELECT component, version FROM ita_schema_version"))
        assert dict(versions.all()) == {"store": CURRENT_VERSION}


@pytest.fixture
def database(db_url: str, tmp_path: Path) -> Any:
    db = connect(db_url, tmp_path)
    yield db
    db.dispose()


def test_a_new_database_gets_every_table_at_the_one_version(db_url: str, tmp_path: Path) -> None:
    db = open_database(db_url, tmp_path)
    try:
        _assert_current(db)
        assert upgrade(db).as_dict() == {"from": CURRENT_VERSION, "to": CURRENT_VERSION}
    finally:
        db.dispose()


# (store, runs, remote) versions of databases that releases up to 64af823 left behind
OLD = [
    pytest.param(1, None, None, id="store1"),
    pytest.param(1, 1, None, id="store1-runs1"),
    pytest.param(3, None, None, id="store3"),
    pytest.param(3, 1, None, id="store3-runs1"),
    pytest.param(3, 2, 1, id="store3-runs2-remote1"),
]


@pytest.mark.parametrize(("store", "runs_version", "remote"), OLD)
def test_db_upgrade_migrates_an_old_database_with_per_component_versions(
    database: Database,
    db_url: str,
    tmp_path: Path,
    store: int,
    runs_version: int | None,
    remote: int | None,
) -> None:
    with database.write() as conn:
        legacy.create(conn, store=store, runs=runs_version, remote=remote)
    with pytest.raises(SchemaOutdated) as refused:
        open_database(db_url, tmp_path).dispose()
    assert str(refused.value).endswith(
        f"has schema version {store}, this ita-rules needs {CURRENT_VERSION}: "
        "run `ita-rules db upgrade`"
    )
    with pytest.raises(SchemaOutdated):  # what the runs and the remote copies call on first use
        ensure_schema(database)

    assert upgrade(database).as_dict() == {"from": store, "to": CURRENT_VERSION}
    _assert_current(database, nullable_keys=_v1_keys(database, store, runs_version))
    assert upgrade(database).as_dict() == {"from": CURRENT_VERSION, "to": CURRENT_VERSION}

    with database.read() as conn:  # the old rows are kept, new columns empty
        tags = conn.execute(sa.text("SELECT tag FROM store_tags ORDER BY tag")).scalars().all()
        assert tags == ["keep", "old"]
        record = conn.execute(sa.text("SELECT run_id, original_name FROM store_records")).one()
        assert tuple(record) == (legacy.RUN_ID, None)
        old_runs = conn.execute(sa.select(runs.c.run_id, runs.c.snapshot_sha256)).all()
        assert [tuple(r) for r in old_runs] == ([(legacy.RUN_ID, None)] if runs_version else [])
    found = remote_tables.copies(database, [legacy.HASH])
    assert [c.verified_at for c in found.get(legacy.HASH, [])] == (
        ["2026-01-16T00:00:00Z"] if remote else []
    )
    _write_through_the_tables(database)


def _write_through_the_tables(db: Database) -> None:
    """The code's tables work on the upgraded database."""
    copy = remote_tables.RemoteCopy(
        legacy.HASH, "other:", "archive/raw/old.csv", 3, None, None, "2026-02-01T00:00:00Z", None
    )
    remote_tables.save(db, [copy])
    with db.write() as conn:
        conn.execute(
            runs.insert().values(
                run_id="run_2026_02_01_001",
                day="2026_02_01",
                seq=1,
                flow_type="backtest_flow",
                status="running",
                git_dirty=False,
                started_at="2026-02-01T00:00:00Z",
                snapshot="{}",
                snapshot_sha256="sha256:" + "b" * 64,
            )
        )
    assert remote_tables.copies(db, [legacy.HASH], "other:") == {legacy.HASH: [copy]}


@pytest.mark.parametrize("how", ["first use", "open", "db upgrade"])
def test_a_database_that_only_held_runs_is_completed(
    database: Database, db_url: str, tmp_path: Path, how: str
) -> None:
    """An old database with a runs table and no store tables counts as new: its first use
    creates the rest, and brings the runs table to the current version (``open``: as a
    store opens it, on SQLite without SQLAlchemy until it sees the tables)."""
    with database.write() as conn:
        legacy.create(conn, store=None, runs=1)
    if how == "db upgrade":
        assert upgrade(database).as_dict() == {"from": 0, "to": CURRENT_VERSION}
    elif how == "open":
        open_database(db_url, tmp_path).dispose()
    else:
        ensure_schema(database)
    _assert_current(database, nullable_keys=_v1_keys(database, None, 1))
    with database.read() as conn:
        assert conn.execute(sa.select(runs.c.run_id)).scalars().all() == [legacy.RUN_ID]


def test_a_newer_database_is_refused_by_upgrade_too(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    upgrade(database)
    with database.write() as conn:
        conn.execute(sa.text("UPDATE ita_schema_version SET version = :v"), {"v": 99})
    with pytest.raises(SchemaOutdated) as refused:
        upgrade(database)
    assert str(refused.value) == (
        f"the database has schema version 99, newer than this ita-rules ({CURRENT_VERSION}): "
        "upgrade ita-rules"
    )
    with pytest.raises(SchemaOutdated):
        ensure_schema(database)
    with pytest.raises(SchemaOutdated) as opened:
        open_database(db_url, tmp_path).dispose()
    assert str(opened.value) == (
        f"the database {database.shown_url} has schema version 99, newer than this ita-rules "
        f"({CURRENT_VERSION}): upgrade ita-rules"
    )


def test_the_shipped_sqlite_schema_is_what_the_steps_make() -> None:
    """ita_rules/db/schema_sqlite.py (a new SQLite database's schema, made without
    SQLAlchemy) is current: regenerate it with ``python -m ita_rules.db.migrations``."""
    from ita_rules.db import migrations, schema_sqlite

    assert schema_sqlite.VERSION == CURRENT_VERSION
    assert schema_sqlite.MARKER == migrations.MARKER
    assert migrations.sqlite_statements() == schema_sqlite.STATEMENTS


def _catalogue(path: Path) -> tuple[list[Any], list[Any]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        master = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        versions = conn.execute("SELECT * FROM ita_schema_version").fetchall()
    finally:
        conn.close()
    return master, versions


def test_a_new_sqlite_database_is_the_same_made_with_or_without_sqlalchemy(
    tmp_path: Path,
) -> None:
    """open_database makes a new SQLite file from the shipped statements (no SQLAlchemy);
    db upgrade of an empty file runs the steps through SQLAlchemy: the same catalogue."""
    fast = open_database("sqlite:///fast.sqlite", tmp_path)
    assert fast._engine is None
    fast.dispose()
    steps = connect("sqlite:///steps.sqlite", tmp_path)
    try:
        assert upgrade(steps).as_dict() == {"from": 0, "to": CURRENT_VERSION}
    finally:
        steps.dispose()
    made = _catalogue(tmp_path / "fast.sqlite")
    assert made == _catalogue(tmp_path / "steps.sqlite")
    assert len(made[0]) > 20 and made[1] == [("store", CURRENT_VERSION)]

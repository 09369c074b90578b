"""The plan the database decides (``retention/query.py``, ``judge.py``, ``stream.py``) is the
plan of the first, simple planner (tests/retention/_reference.py), decision for decision and
reason for reason, on SQLite and on Postgres: random records in the real store tables (times
as the store writes them, at the retain_days boundary to the microsecond, in the future, whole
seconds), tags, known and unknown runs, inputs and outputs of active runs, shared content,
prune_old groups (NULL and empty symbols), ``max_delete``. The reference reads the records in
file_id order: the first protected holder of shared content is then the first by file_id, as the
query names it."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ita_rules.core.reporters import dump_json
from ita_rules.db import tables as t
from ita_rules.db.engine import open_database
from ita_rules.retention.decisions import Item
from ita_rules.retention.inputs import Lineage
from ita_rules.retention.policy import Policy, TypeRule
from ita_rules.retention.render import write_plan_json
from ita_rules.retention.stream import StreamedPlan, read_plan
from tests.conftest import database_url
from tests.retention._reference import reference_plan, reference_plan_id
from tests.retention.test_plan import UNREGISTERED

AS_OF = dt.datetime(2026, 1, 15, 12, 0, 0, 250_000, tzinfo=dt.UTC)
TYPES = ["candles", "screenshot", "embedding", "model", "result"]
RUNS = [f"run_2025_10_0{i}_001" for i in range(1, 6)]
DAYS = [0, 1, 30, 90, 180, 365]
TINY = [dt.timedelta(0), dt.timedelta(microseconds=1), -dt.timedelta(microseconds=1)]
RULE = "IB_raid_v1@1.2"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real store database (every table, by the migrations), emptied by each example."""
    root = tmp_path_factory.mktemp("plan_sql")
    with database_url(request.param, request) as url:
        if request.param == "sqlite":
            url = f"sqlite:///{root / 'ita.sqlite'}"
        database = open_database(url, root)
        try:
            yield database
        finally:
            database.dispose()


@st.composite
def records(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """(file_id, type, size, created_at as stored, hash, run_id, symbol, timeframe, tags)."""
    out = []
    for i in range(draw(st.integers(0, 30))):
        age = dt.timedelta(days=draw(st.sampled_from(DAYS) | st.integers(-2, 400)))
        moment = AS_OF - age - draw(st.sampled_from(TINY))
        if draw(st.booleans()):
            moment += dt.timedelta(hours=draw(st.integers(-13, 13)))
        if draw(st.booleans()):  # whole seconds: shown without a fraction
            moment = moment.replace(microsecond=draw(st.sampled_from([0, 500_000])))
        out.append(
            (
                f"f{i:02d}-{draw(st.sampled_from(['a', 'b']))}",
                draw(st.sampled_from(TYPES)),
                draw(st.integers(0, 10**9)),
                moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                f"sha256:{draw(st.integers(0, 8)):064x}",
                draw(st.none() | st.sampled_from(RUNS)),
                draw(st.sampled_from(["GER40", "", None])),
                draw(st.sampled_from(["M15", "H1", None])),
                frozenset(draw(st.sets(st.sampled_from(["important", "keep", "x"]), max_size=2))),
            )
        )
    return out


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    types = {}
    for name in draw(st.sets(st.sampled_from(TYPES[:-1]), min_size=1)):
        strategy = draw(
            st.sampled_from(["keep_forever", "delete", "archive_to_remote", "prune_old"])
        )
        days = None if strategy == "keep_forever" else draw(st.sampled_from(DAYS))
        keep_last = draw(st.integers(1, 3)) if strategy == "prune_old" else None
        types[name] = TypeRule(strategy, days, keep_last)
    types["result"] = TypeRule("keep_forever")
    return Policy(
        types=types,
        protect_tags=frozenset(draw(st.sets(st.sampled_from(["important", "keep"]), min_size=1))),
        protect_active_rules=draw(st.booleans()),
    )


lineages = st.builds(
    Lineage,
    st.dictionaries(st.sampled_from(RUNS), st.sampled_from([RULE, UNREGISTERED, None]), max_size=4),
    st.dictionaries(
        st.integers(0, 8).map(lambda i: f"sha256:{i:064x}"),
        st.tuples(st.sampled_from(RUNS), st.sampled_from([RULE, UNREGISTERED])),
        max_size=2,
    ),
    st.dictionaries(
        st.integers(0, 30).map(lambda i: f"f{i:02d}-a"),
        st.tuples(st.sampled_from(RUNS), st.sampled_from([RULE, UNREGISTERED])),
        max_size=3,
    ),
    unregistered=st.just({}),  # what the plan warns of besides unknown runs: test_engine
    problems=st.just(()),
)


def _store(db: Any, rows: list[tuple[Any, ...]]) -> Any:
    """The records in the real tables (every one live), as a store the plan reads."""
    with db.write() as conn:
        for table in (t.tags, t.records, t.blobs):
            conn.execute(table.delete())
        hashes = sorted({row[4] for row in rows})
        if hashes:
            conn.execute(
                t.blobs.insert(),
                [{"hash": h, "path": h[-8:], "size": 1, "created_at": "x"} for h in hashes],
            )
        for fid, type_, size, created, hash_, run_id, symbol, tf, tags in rows:
            conn.execute(
                t.records.insert().values(
                    file_id=fid, hash=hash_, path=fid, size=size, type=type_, symbol=symbol,
                    timeframe=tf, run_id=run_id, metadata="{}", created_at=created,
                    status="live",
                )
            )  # fmt: skip
            for tag in tags:
                conn.execute(t.tags.insert().values(file_id=fid, tag=tag))
    return SimpleNamespace(db=db)


def _items(rows: list[tuple[Any, ...]]) -> list[Item]:
    out = []
    for fid, type_, size, created, hash_, run_id, symbol, tf, tags in sorted(rows):
        moment = dt.datetime.fromisoformat(created)
        out.append(Item(fid, type_, size, moment, hash_, tags, run_id, symbol, tf))
    return out


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records(), policies(), lineages, st.none() | st.integers(0, 8))
def test_the_database_decides_as_the_reference(
    db: Any, rows: list[tuple[Any, ...]], policy: Policy, lineage: Lineage, cap: int | None
) -> None:
    store = _store(db, rows)
    plan = read_plan(store, policy, AS_OF, lineage, max_delete=cap)
    ours = sorted(tuple(d) for d in plan.decisions)
    ref = reference_plan(
        _items(rows),
        policy,
        AS_OF,
        lineage.runs,
        inputs=lineage.inputs,
        outputs=lineage.outputs,
        max_delete=cap,
    )
    assert ours == sorted(ref)
    assert plan.plan_id == reference_plan_id(ref)
    assert len(plan.decisions) == len(ref)
    assert plan.n_selected == sum(d[4] != "keep" for d in ref)
    unknown = {
        d[0]: d[5].split()[1] for d in ref if d[5].endswith("unknown: lineage cannot be checked")
    }
    assert plan.warnings == _warnings(unknown)


def _warnings(unknown: dict[str, str]) -> list[str]:
    by_run: dict[str, list[str]] = {}
    for fid in sorted(unknown):
        by_run.setdefault(unknown[fid], []).append(fid)
    from ita_rules.retention.decisions import warning_lines

    return warning_lines(by_run)


def test_a_time_not_as_the_store_writes_it_is_kept_and_shown_as_written(db: Any) -> None:
    """A created_at edited by hand (another offset, naive, garbage): its age cannot be judged
    as text, so the record is kept, with that reason; a protection or a fixed reason still comes
    first."""
    policy = Policy(types={"screenshot": TypeRule("delete", 1), "model": TypeRule("keep_forever")})
    rows: list[tuple[Any, ...]] = [
        ("east", "screenshot", 1, "2025-10-17T14:00:00+02:00", "sha256:1", None, None, None,
         frozenset()),
        ("naive", "screenshot", 1, "2025-10-17 12:00:00", "sha256:2", None, None, None,
         frozenset()),
        ("junk", "screenshot", 1, "yesterday", "sha256:3", None, None, None, frozenset()),
        ("tagged", "screenshot", 1, "2025-10-17T14:00:00+02:00", "sha256:4", None, None, None,
         frozenset({"important"})),
        ("model", "model", 1, "yesterday", "sha256:5", None, None, None, frozenset()),
        ("plain", "screenshot", 1, "2025-10-17T12:00:00.000000Z", "sha256:6", None, None, None,
         frozenset()),
        # the store's shape, but no moment: kept whatever order the rows come in
        ("feb30", "screenshot", 1, "2025-02-30T00:00:00.000000Z", "sha256:7", None, None, None,
         frozenset()),
        ("leap", "screenshot", 1, "2016-12-31T23:59:60.000000Z", "sha256:8", None, None, None,
         frozenset()),
        ("y999", "screenshot", 1, "0999-12-30T12:00:00.000000Z", "sha256:9", None, None, None,
         frozenset()),
    ]  # fmt: skip
    y999 = AS_OF - dt.datetime(999, 12, 30, 12, tzinfo=dt.UTC)
    for order in (rows, rows[::-1]):
        plan = read_plan(_store(db, order), policy, AS_OF, Lineage({}, {}, {}))
        unjudged = "created_at is not a time as the store writes it: its age cannot be judged"
        assert sorted((d.file_id, d.created_at, d.action, d.reason) for d in plan.decisions) == [
            ("east", "2025-10-17T14:00:00+02:00", "keep", unjudged),
            ("feb30", "2025-02-30T00:00:00+00:00", "keep", unjudged),
            ("junk", "yesterday", "keep", unjudged),
            ("leap", "2016-12-31T23:59:60.000000Z", "keep", unjudged),
            ("model", "yesterday", "keep", "strategy keep_forever"),
            ("naive", "2025-10-17T12:00:00+00:00", "keep", unjudged),
            ("plain", "2025-10-17T12:00:00+00:00", "delete",
             "older than 1 days (90 days old), strategy delete"),
            ("tagged", "2025-10-17T14:00:00+02:00", "keep", "protected tag 'important'"),
            ("y999", "0999-12-30T12:00:00+00:00", "delete",
             f"older than 1 days ({int(y999.total_seconds() / 86400)} days old), strategy delete"),
        ]  # fmt: skip


def test_the_json_is_one_reading_and_byte_for_byte_the_plan_dict(db: Any) -> None:
    """``plan --json`` writes the decisions and then the id and totals they add up to: one
    reading of the database, the same text as ``as_dict()``."""
    policy = Policy(types={"screenshot": TypeRule("delete", 30)})
    rows: list[tuple[Any, ...]] = [
        (f"f{i}", "screenshot", 10 * i, f"2025-0{1 + i % 9}-01T00:00:00.000000Z", f"sha256:{i}",
         RUNS[i % 2] if i % 3 else None, None, None, frozenset())
        for i in range(7)
    ]  # fmt: skip
    store = _store(db, rows)
    plan = read_plan(store, policy, AS_OF, Lineage({RUNS[0]: RULE}, {}, {}))
    assert isinstance(plan, StreamedPlan) and plan.tally is None
    streamed, whole = io.StringIO(), io.StringIO()
    write_plan_json(plan, streamed, chunk=2)
    tally = plan.tally
    assert tally is not None  # the reading that wrote the decisions counted them
    dump_json(plan.as_dict(), whole)
    assert streamed.getvalue() == whole.getvalue()
    document = json.loads(streamed.getvalue())
    assert list(document) == [
        "as_of", "warnings", "restore", "decisions", "plan_id", "selected", "selected_bytes", "by_type",
    ]  # fmt: skip
    assert document["warnings"] == [
        f"run {RUNS[1]} unknown: lineage cannot be checked; kept 2 record(s): f1, f5 "
        "(`ita-rules index --rebuild` restores runs lost with the database)"
    ]
    assert document["by_type"] == {
        "screenshot": {"selected": 3, "selected_bytes": 90, "kept": 4, "kept_bytes": 120}
    }
    assert [d["file_id"] for d in document["decisions"] if d["action"] != "keep"] == [
        "f0",
        "f3",
        "f6",
    ]


def test_a_plan_read_after_its_store_was_closed_leaves_no_connection(db: Any) -> None:
    """The decisions may be read after the store is closed (``jobs.plan`` returns the plan):
    the reading lets its connections go."""
    rows: list[tuple[Any, ...]] = [("f1", "screenshot", 1, "2025-01-01T00:00:00.000000Z", "sha256:1", None, None, None,
             frozenset())]  # fmt: skip
    store = _store(db, rows)
    plan = read_plan(store, Policy(types={"screenshot": TypeRule("delete", 1)}), AS_OF,
                     Lineage({}, {}, {}))  # fmt: skip
    db.dispose()
    assert [d.action for d in plan.decisions] == ["delete"]
    assert db.engine.pool.checkedout() == 0
    assert db.engine.pool.checkedin() == 0

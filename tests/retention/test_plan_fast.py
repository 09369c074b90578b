"""The one-pass plan in Python (``retention/plan.py``, which plans the vectors) decides exactly
what the first, simple plan decided (tests/retention/_reference.py), decision for decision,
reason for reason: over Items (``make_plan``) and over rows (``plan_records``: created_at as
ISO text, at the retain_days boundary to the microsecond, in other UTC offsets, naive, without
or with fewer fractional digits). ``Retention.plan`` through the real store (the plan the
database decides, tests/retention/test_plan_sql.py) decides as the reference too. The streamed
``plan --json`` is byte for byte the JSON of ``Plan.as_dict()``."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.core.reporters import dump_json
from ita_rules.retention.plan import Decision, Item, Plan, make_plan, plan_records
from ita_rules.retention.policy import Policy, TypeRule
from ita_rules.retention.protect import protection
from ita_rules.retention.render import write_plan_json
from tests.retention._reference import reference_plan, reference_plan_id
from tests.retention.conftest import NOW, RetWs
from tests.retention.test_plan import AS_OF, UNREGISTERED, known_runs, policies, stores

TYPES = ["candles", "screenshot", "embedding", "model", "result"]
RUNS = [f"run_2025_10_0{i}_001" for i in range(1, 6)]
DAYS = [0, 1, 30, 90, 180, 365]  # retain_days, and the ages the records are drawn around
TINY = [timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1), timedelta(hours=5)]


def _same(fast: Plan, ref: list[Any]) -> None:
    assert [tuple(d) for d in fast.decisions] == ref
    assert all(type(d) is Decision for d in fast.decisions)
    assert fast.plan_id == reference_plan_id(ref)
    assert [tuple(d) for d in fast.selected] == [d for d in ref if d[4] != "keep"]
    assert [tuple(d) for d in fast.kept] == [d for d in ref if d[4] == "keep"]


# content read by runs of active rule versions (the hashes stores() draws from)
run_inputs = st.dictionaries(
    st.integers(0, 11).map(lambda i: f"sha256:{i:064x}"),
    st.tuples(st.sampled_from(RUNS), st.sampled_from(["IB_raid_v1@1.2", UNREGISTERED])),
    max_size=3,
)
# records runs of active rule versions declared as their outputs (the file_ids stores() makes)
run_outputs = st.dictionaries(
    st.integers(0, 40).map(lambda i: f"f{i:03d}"),
    st.tuples(st.sampled_from(RUNS), st.sampled_from(["IB_raid_v1@1.2", UNREGISTERED])),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(stores(), policies(), known_runs, run_inputs, run_outputs, st.none() | st.integers(0, 10))
def test_make_plan_decides_as_the_reference(
    items: list[Item],
    policy: Policy,
    runs: dict[str, str | None],
    read: dict[str, tuple[str, str]],
    made: dict[str, tuple[str, str]],
    cap: int | None,
) -> None:
    _same(
        make_plan(items, policy, AS_OF, runs, inputs=read, outputs=made, max_delete=cap),
        reference_plan(items, policy, AS_OF, runs, inputs=read, outputs=made, max_delete=cap),
    )


@st.composite
def boundary_policies(draw: st.DrawFn) -> Policy:
    types = {}
    for name in draw(st.sets(st.sampled_from(TYPES[:-1]), min_size=1)):
        strategy = draw(st.sampled_from(["delete", "archive_to_remote", "prune_old"]))
        keep_last = draw(st.integers(1, 3)) if strategy == "prune_old" else None
        types[name] = TypeRule(strategy, draw(st.sampled_from(DAYS)), keep_last)
    types["result"] = TypeRule("keep_forever")
    return Policy(types=types, protect_tags=frozenset({"important"}))


def _as_text(moment: datetime, form: str) -> str:
    """One way a created_at may be written (the store writes the first)."""
    if form == "store":
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if form == "millis":
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if form == "offset":
        return moment.astimezone(timezone(timedelta(hours=-5, minutes=-30))).isoformat()
    if form == "naive":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return moment.astimezone(UTC).isoformat()  # "+00:00"


@st.composite
def stored_records(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    now = AS_OF.replace(tzinfo=UTC)
    out = []
    for i in range(draw(st.integers(0, 30))):
        age = timedelta(days=draw(st.sampled_from(DAYS) | st.integers(-2, 400)))
        age += draw(st.sampled_from(TINY))
        moment = now - age
        if draw(st.booleans()):  # whole seconds: isoformat() then has no fraction
            moment = moment.replace(microsecond=draw(st.sampled_from([0, 500_000, 123_456])))
        forms = ["store"] * 4 + ["millis", "offset", "naive", "utc"]
        text = _as_text(moment, draw(st.sampled_from(forms)))
        out.append(
            (
                f"{i:02d}-{draw(st.sampled_from(['a', 'b']))}",
                draw(st.sampled_from(TYPES)),
                draw(st.integers(0, 10**6)),
                text,
                f"sha256:{draw(st.integers(0, 8)):064x}",
                None,
                draw(st.none() | st.sampled_from(RUNS)),
                draw(st.sampled_from(["GER40", None])),
                draw(st.sampled_from(["M15", "H1"])),
            )
        )
    return out


def _parse(text: str) -> datetime:  # what the store path did before: engine._parse
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    stored_records(),
    boundary_policies(),
    st.dictionaries(
        st.sampled_from(RUNS), st.sampled_from(["IB_raid_v1@1.2", UNREGISTERED, None]), max_size=4
    ),
    st.dictionaries(
        st.sampled_from(["00-a", "01-a", "02-b", "03-b"]),
        st.sets(st.sampled_from(["important", "x"]), min_size=1),
    ),
    st.none() | st.integers(0, 8),
)
def test_plan_records_decides_as_the_reference(
    records: list[tuple[Any, ...]],
    policy: Policy,
    runs: dict[str, str | None],
    tags: dict[str, set[str]],
    cap: int | None,
) -> None:
    as_of = AS_OF.replace(tzinfo=UTC)
    items = [
        Item(fid, type_, size, _parse(text), hash_, frozenset(tags.get(fid, ())), run, sym, tf)
        for fid, type_, size, text, hash_, _none, run, sym, tf in records
    ]
    fast = plan_records(iter(records), tags, policy, as_of, runs, max_delete=cap)
    _same(fast, reference_plan(items, policy, as_of, runs, max_delete=cap))


def test_the_retain_days_boundary_to_the_microsecond() -> None:
    policy = Policy(types={"screenshot": TypeRule("delete", 90)})
    as_of = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    edge = as_of - timedelta(days=90)
    records = [
        ("at", "screenshot", 1, "2025-10-17T12:00:00.000000Z", "sha256:1", None, None, None, None),
        ("after", "screenshot", 1, "2025-10-17T12:00:00.000001Z", "sha256:2", None, None, None,
         None),
        ("before", "screenshot", 1, "2025-10-17T11:59:59.999999Z", "sha256:3", None, None, None,
         None),
        ("east", "screenshot", 1, "2025-10-17T14:00:00+02:00", "sha256:4", None, None, None, None),
    ]  # fmt: skip
    assert _parse(records[0][3]) == edge == _parse(records[3][3])
    plan = plan_records(records, {}, policy, as_of, {})
    assert [(d.file_id, d.created_at, d.action, d.reason) for d in plan.decisions] == [
        ("at", "2025-10-17T12:00:00+00:00", "delete",
         "older than 90 days (90 days old), strategy delete"),
        ("after", "2025-10-17T12:00:00.000001+00:00", "keep",
         "inside retain_days (89 < 90 days old)"),
        ("before", "2025-10-17T11:59:59.999999+00:00", "delete",
         "older than 90 days (90 days old), strategy delete"),
        ("east", "2025-10-17T14:00:00+02:00", "delete",
         "older than 90 days (90 days old), strategy delete"),
    ]  # fmt: skip


@pytest.mark.parametrize("kind", [set, frozenset, tuple, list])
def test_tags_of_any_collection_protect(kind: Any) -> None:
    """``plan_records`` takes each file's tags as any collection (a Record's are a tuple)."""
    policy = Policy(types={"screenshot": TypeRule("delete", 1)})
    rows = [
        (f, "screenshot", 1, "2025-01-01T00:00:00.000000Z", f"sha256:{f}", None, None, None, None)
        for f in ("tagged", "plain")
    ]
    tags = {"tagged": kind(["x", "important"]), "plain": kind(["x"])}
    plan = plan_records(rows, tags, policy, NOW, {})
    assert [(d.file_id, d.action, d.reason, d.protected) for d in plan.decisions] == [
        ("tagged", "keep", "protected tag 'important'", True),
        ("plain", "delete", "older than 1 days (379 days old), strategy delete", False),
    ]


@settings(max_examples=100, deadline=None)
@given(stores(), policies(), known_runs, run_inputs, run_outputs)
def test_protection_is_the_plans_checks_before_the_policy(
    items: list[Item],
    policy: Policy,
    runs: dict[str, str | None],
    read: dict[str, tuple[str, str]],
    made: dict[str, tuple[str, str]],
) -> None:
    for item in items:
        plan = make_plan([item], policy, AS_OF, runs, inputs=read, outputs=made)
        decision = plan.decisions[0]
        reason = protection(
            item.type,
            item.tags,
            item.run_id,
            policy,
            runs,
            item.hash,
            read,
            file_id=item.file_id,
            outputs=made,
        )
        assert (reason is not None) == decision.protected
        if reason is not None:
            assert reason == decision.reason


def test_cached_lists_are_copies_and_follow_a_changed_plan() -> None:
    policy = Policy(types={"screenshot": TypeRule("delete", 30)})
    old = AS_OF - timedelta(days=90)
    items = [Item(f"f{i}", "screenshot", 10, old, f"sha256:{i:064x}") for i in range(3)]
    plan = make_plan(items, policy, AS_OF, {})
    first_id = plan.plan_id
    plan.selected.clear()
    assert len(plan.selected) == 3 and plan.bytes_selected == 30
    plan.decisions.append(Decision("f9", "screenshot", 5, "x", "delete", "r"))
    assert len(plan.selected) == 4 and plan.bytes_selected == 35
    assert plan.plan_id != first_id
    assert plan.by_type() == {
        "screenshot": {"selected": 4, "selected_bytes": 35, "kept": 0, "kept_bytes": 0}
    }


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=8),
            st.sampled_from(["screenshot", 'ty"pe', "tÿpe\\", "résult\n"]),
            st.integers(0, 10**12) | st.sampled_from([1.5, True]),
            st.integers(0, 400),
        ),
        max_size=12,
    ),
    st.none() | st.integers(0, 3),
)
def test_streamed_json_is_byte_for_byte_the_plan_dict(
    rows: list[tuple[str, str, Any, int]], cap: int | None
) -> None:
    policy = Policy(types={"screenshot": TypeRule("delete", 30), 'ty"pe': TypeRule("delete", 90)})
    items = [
        Item(fid, type_, size, AS_OF - timedelta(days=age), f"sha256:{age % 3}", run_id=fid)
        for fid, type_, size, age in rows
    ]
    plan = make_plan(items, policy, AS_OF, {rows[0][0]: "Ü@1.0"} if rows else {}, max_delete=cap)
    streamed, whole = io.StringIO(), io.StringIO()
    write_plan_json(plan, streamed, chunk=3)
    dump_json(plan.as_dict(), whole)
    assert streamed.getvalue() == whole.getvalue()


def _set_created(ret_ws: RetWs, file_id: str, text: str) -> None:
    from ita_rules.db import tables as t

    store = ret_ws.store()
    try:
        with store.db.write() as conn:
            conn.execute(
                t.records.update().where(t.records.c.file_id == file_id).values(created_at=text)
            )
    finally:
        store.db.dispose()


def test_the_store_path_decides_as_the_reference(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    """Through the real store (SQLite and Postgres): the records streamed from the cursor are
    decided as the reference decides the Items that the engine reads, and ``plan --json``
    prints what ``Plan.as_dict()`` holds."""
    from ita_rules.retention import inputs
    from ita_rules.retention.engine import Retention
    from ita_rules.workspace import Workspace

    ret_ws.add_run("run_2025_06_01_001", "IB_raid_v1", "v1.2")  # active
    edge = NOW - timedelta(days=90)
    created = {
        "at the boundary": edge.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "a microsecond younger": (edge + timedelta(microseconds=1)).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        ),
        "a microsecond older": (edge - timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    ids = {}
    for n, (name, text) in enumerate(created.items()):
        ids[name] = ret_ws.put(f"{n}.png", f"png{n}".encode(), type="screenshot", days_old=0)
        _set_created(ret_ws, ids[name], text)
    ret_ws.put("v.png", b"png0", type="screenshot", days_old=400, tags=["important"])  # shares 0
    for n in range(5):
        ret_ws.put(
            f"e{n}.npy",
            f"e{n}".encode(),
            type="embedding",
            days_old=170 + 10 * n,
            symbol="GER40",
            timeframe="M15",
        )
    ret_ws.put("r.png", b"run", type="screenshot", days_old=300, run_id="run_2025_06_01_001")
    ret_ws.put("c.csv", b"t,o\n", type="candles", days_old=366)

    store = ret_ws.store()
    try:
        retention = Retention.open(Workspace.open(ret_ws.root), store, NOW)
        plan = retention.plan()
        items = sorted((item for item, _ in inputs.items(retention.store)), key=lambda i: i.file_id)
        lineage = inputs.lineage(retention.workspace, retention.store)
        ref = reference_plan(
            items,
            retention.policy,
            NOW,
            lineage.runs,
            inputs=lineage.inputs,
            outputs=lineage.outputs,
        )
    finally:
        store.db.dispose()
    assert sorted(tuple(d) for d in plan.decisions) == sorted(ref)
    assert plan.plan_id == reference_plan_id(ref)
    reasons = {d.file_id: (d.action, d.reason) for d in plan.decisions}
    assert reasons[ids["a microsecond younger"]] == (
        "keep",
        "inside retain_days (89 < 90 days old)",
    )
    assert reasons[ids["a microsecond older"]] == (
        "delete",
        "older than 90 days (90 days old), strategy delete",
    )
    assert reasons[ids["at the boundary"]][1].startswith("content shared with protected record")
    assert sum(r == ("keep", "one of the newest 3 of GER40/M15") for r in reasons.values()) == 2

    r = cli("retention", "plan", "--as-of", NOW.isoformat(), "--json")
    assert r.code == 0, r.err
    whole = io.StringIO()
    dump_json(plan.as_dict(), whole)
    assert r.out == whole.getvalue()
    assert json.loads(r.out)["plan_id"] == plan.plan_id


def test_a_database_error_while_reading_is_one_line(ret_ws: RetWs) -> None:
    """The records are read from a DB-API cursor when the decisions are read: its errors still
    become one-line errors."""
    import pytest

    from ita_rules.db.engine import DatabaseError
    from ita_rules.retention.engine import Retention
    from ita_rules.workspace import Workspace

    ret_ws.put("a.png", b"a", type="screenshot", days_old=200)
    store = ret_ws.store()
    try:
        retention = Retention.open(Workspace.open(ret_ws.root), store, NOW)
        with store.db.write() as conn:
            conn.execute(sa.text("ALTER TABLE store_records RENAME COLUMN size TO size_old"))
        plan = retention.plan()
        with pytest.raises(DatabaseError, match=r"read failed: .*size"):
            list(plan.decisions)
    finally:
        store.db.dispose()

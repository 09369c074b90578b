"""The purge plan's invariants, for random stores and random policies (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.retention.plan import KEEP, Item, make_plan
from ita_rules.retention.policy import Policy, TypeRule

AS_OF = datetime(2026, 1, 15, 12, 0, 0)
TYPES = ["candles", "screenshot", "annotation", "embedding", "model", "result"]
RUNS = [f"run_2025_10_0{i}_001" for i in range(1, 6)]
# a run's rule version that is not in the registry, as retention.protect.unregistered writes it
UNREGISTERED = "IB_raid_v1@9.9 (not in the registry)"


@st.composite
def stores(draw: st.DrawFn) -> list[Item]:
    n = draw(st.integers(0, 40))
    hashes = [f"sha256:{i:064x}" for i in range(draw(st.integers(1, 12)))]
    items = []
    for i in range(n):
        items.append(
            Item(
                file_id=f"f{i:03d}",
                type=draw(st.sampled_from(TYPES)),
                size=draw(st.integers(0, 10**9)),
                created_at=AS_OF
                - timedelta(days=draw(st.integers(0, 800)), hours=draw(st.integers(0, 23))),
                hash=draw(st.sampled_from(hashes)),
                tags=frozenset(
                    draw(st.lists(st.sampled_from(["important", "keep", "x"]), max_size=2))
                ),
                run_id=draw(st.none() | st.sampled_from(RUNS)),
                symbol=draw(st.sampled_from(["GER40", "EURUSD", None])),
                timeframe=draw(st.sampled_from(["M15", "H1"])),
            )
        )
    return items


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    types = {}
    for name in draw(st.sets(st.sampled_from(TYPES[:-1]), min_size=1)):
        strategy = draw(
            st.sampled_from(["keep_forever", "delete", "archive_to_remote", "prune_old"])
        )
        days = None if strategy == "keep_forever" else draw(st.integers(0, 400))
        keep_last = draw(st.integers(1, 4)) if strategy == "prune_old" else None
        types[name] = TypeRule(strategy, days, keep_last)
    types["result"] = TypeRule("keep_forever")
    return Policy(
        types=types,
        protect_tags=frozenset(draw(st.sets(st.sampled_from(["important", "keep"]), min_size=1))),
        protect_active_rules=draw(st.booleans()),
    )


# every run the metadata knows -> the active rule version it used, or one not in the registry
# (it protects too), or None (not active); the runs of RUNS left out are unknown
known_runs = st.dictionaries(
    st.sampled_from(RUNS), st.sampled_from(["IB_raid_v1@1.2", UNREGISTERED, None]), max_size=5
)


def _protected(item: Item, policy: Policy, runs: dict[str, str | None]) -> bool:
    return (
        item.type == "result"
        or bool(item.tags & policy.protect_tags)
        or (
            policy.protect_active_rules
            and item.run_id is not None
            and (item.run_id not in runs or runs[item.run_id] is not None)
        )
    )


@settings(max_examples=100, deadline=None)
@given(stores(), policies(), known_runs)
def test_protected_files_are_never_selected(
    items: list[Item], policy: Policy, runs: dict[str, str | None]
) -> None:
    plan = make_plan(items, policy, AS_OF, runs)
    by_id = {i.file_id: i for i in items}
    protected_hashes = {i.hash for i in items if _protected(i, policy, runs)}
    for d in plan.selected:
        item = by_id[d.file_id]
        assert not _protected(item, policy, runs), d
        assert item.hash not in protected_hashes, d  # content shared with a protected record


@settings(max_examples=100, deadline=None)
@given(stores(), policies(), known_runs)
def test_kept_plus_selected_is_everything_and_each_has_a_reason(
    items: list[Item], policy: Policy, runs: dict[str, str | None]
) -> None:
    plan = make_plan(items, policy, AS_OF, runs)
    assert sorted(d.file_id for d in plan.decisions) == sorted(i.file_id for i in items)
    assert len(plan.kept) + len(plan.selected) == len(items)
    assert all(d.reason for d in plan.decisions)


@settings(max_examples=100, deadline=None)
@given(stores(), policies(), known_runs)
def test_selects_what_the_policy_selects_and_nothing_protects(
    items: list[Item], policy: Policy, runs: dict[str, str | None]
) -> None:
    plan = make_plan(items, policy, AS_OF, runs)
    selected = {d.file_id for d in plan.selected}
    protected_hashes = {i.hash for i in items if _protected(i, policy, runs)}
    for item in items:
        rule = policy.types.get(item.type)
        old_enough = (
            rule is not None
            and rule.retain_days is not None
            and rule.strategy != "keep_forever"
            and (AS_OF - item.created_at) >= timedelta(days=rule.retain_days)
        )
        if rule is not None and rule.strategy == "prune_old" and old_enough:
            group = [
                i
                for i in items
                if (i.type, i.symbol, i.timeframe) == (item.type, item.symbol, item.timeframe)
            ]
            newer = [
                i for i in group if (i.created_at, i.file_id) > (item.created_at, item.file_id)
            ]
            old_enough = len(newer) >= (rule.keep_last or 0)
        expected = (
            old_enough and not _protected(item, policy, runs) and item.hash not in protected_hashes
        )
        assert (item.file_id in selected) == expected, item


@settings(max_examples=60, deadline=None)
@given(stores(), policies(), known_runs)
def test_a_second_run_selects_nothing_more(
    items: list[Item], policy: Policy, runs: dict[str, str | None]
) -> None:
    first = make_plan(items, policy, AS_OF, runs)
    gone = {d.file_id for d in first.selected}
    second = make_plan([i for i in items if i.file_id not in gone], policy, AS_OF, runs)
    assert second.selected == []


@settings(max_examples=60, deadline=None)
@given(stores(), policies(), known_runs, st.integers(1, 100))
def test_a_larger_retain_days_never_selects_more(
    items: list[Item], policy: Policy, runs: dict[str, str | None], extra: int
) -> None:
    longer = Policy(
        types={
            name: rule
            if rule.retain_days is None
            else TypeRule(rule.strategy, rule.retain_days + extra, rule.keep_last)
            for name, rule in policy.types.items()
        },
        protect_tags=policy.protect_tags,
        protect_active_rules=policy.protect_active_rules,
    )
    a = {d.file_id for d in make_plan(items, policy, AS_OF, runs).selected}
    b = {d.file_id for d in make_plan(items, longer, AS_OF, runs).selected}
    assert b <= a


@settings(max_examples=60, deadline=None)
@given(stores(), policies(), known_runs, st.integers(0, 10))
def test_max_delete_takes_the_oldest(
    items: list[Item], policy: Policy, runs: dict[str, str | None], cap: int
) -> None:
    full = make_plan(items, policy, AS_OF, runs)
    capped = make_plan(items, policy, AS_OF, runs, max_delete=cap)
    assert len(capped.selected) == min(cap, len(full.selected))
    oldest = sorted(full.selected, key=lambda d: (d.created_at, d.file_id))[:cap]
    assert {d.file_id for d in capped.selected} == {d.file_id for d in oldest}


def test_plan_id_is_bound_to_the_selected_set() -> None:
    policy = Policy(types={"screenshot": TypeRule("delete", 30)})
    old = AS_OF - timedelta(days=90)
    items = [Item(f"f{i}", "screenshot", 10, old, f"sha256:{i:064x}") for i in range(3)]
    a = make_plan(items, policy, AS_OF, {})
    b = make_plan(items[:2], policy, AS_OF, {})
    assert a.plan_id == make_plan(list(reversed(items)), policy, AS_OF, {}).plan_id
    assert a.plan_id != b.plan_id
    assert [d.reason for d in a.decisions] == [
        "older than 30 days (90 days old), strategy delete"
    ] * 3
    assert all(d.action != KEEP for d in a.decisions)

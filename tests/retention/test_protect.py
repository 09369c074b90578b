"""The protections are one rule (ita_rules/retention/protect.py) for the plan, the sweep's
second look and the store's last-moment veto; one that cannot be evaluated protects. And the
retention commands read their times as docs/architecture.md#times says."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import timedelta

from ita_rules.retention.plan import Item, make_plan
from ita_rules.retention.policy import Policy, TypeRule
from ita_rules.retention.protect import Protections, now_protected, protection
from tests.retention.conftest import RetWs
from tests.retention.test_plan import AS_OF


class _Unreadable(Mapping[str, "str | None"]):
    """Runs that cannot be read (a lost connection, say): every look-up fails."""

    def __getitem__(self, run_id: str) -> str | None:
        raise ConnectionError("the runs table went away")

    def __iter__(self) -> Iterator[str]:
        raise ConnectionError("the runs table went away")

    def __len__(self) -> int:
        raise ConnectionError("the runs table went away")


POLICY = Policy(types={"screenshot": TypeRule("delete", 30)})
OLD = AS_OF - timedelta(days=90)


def test_a_protection_that_cannot_be_evaluated_protects() -> None:
    runs = _Unreadable()
    reason = protection("screenshot", (), "run_2025_06_01_001", POLICY, runs, "sha256:0")
    assert reason is not None and reason.startswith("protection cannot be evaluated")
    items = [
        Item("with-run", "screenshot", 1, OLD, "sha256:1", run_id="run_2025_06_01_001"),
        Item("no-run", "screenshot", 1, OLD, "sha256:2"),
    ]
    plan = make_plan(items, POLICY, AS_OF, runs)
    decided = {d.file_id: (d.action, d.protected) for d in plan.decisions}
    assert decided == {"with-run": ("keep", True), "no-run": ("delete", False)}


def test_the_same_reasons_for_the_plan_the_sweep_and_the_admin_purge() -> None:
    policy = Policy(types={}, protect_tags=frozenset({"important", "keep"}))
    runs = {"run_a": "IB_raid_v1@1.2", "run_b": None}
    p = Protections(policy, runs, {"sha256:in": ("run_a", "IB_raid_v1@1.2")})
    assert p.reason("screenshot", {"keep", "important"}, None, None, "f1") == (
        "protected tag 'important'"
    )
    assert p.tagged({"keep", "x"}) == "protected tag 'keep'" and p.tagged(None) is None
    assert p.reason("screenshot", (), "run_a", None, "f2") == (
        "run run_a of active rule version IB_raid_v1@1.2"
    )
    assert p.reason("screenshot", (), "run_b", "sha256:in", "f3") == (
        "input of run run_a of active rule version IB_raid_v1@1.2"
    )
    assert p.reason("screenshot", (), "run_c", None, "f4") == (
        "run run_c unknown: lineage cannot be checked"
    )
    assert p.unknown == {"run_c": ["f4"]}
    assert p.reason("screenshot", (), "run_b", "sha256:other", "f5") is None
    p.hold("sha256:x", "f1")
    p.hold("sha256:x", "f2")
    assert p.shared("sha256:x") == "content shared with protected record f1"
    assert p.shared("sha256:y") is None
    assert now_protected("protected tag 'important'") == "now protected: tag 'important'"
    assert now_protected("run run_c unknown: lineage cannot be checked") == (
        "now protected: run run_c unknown: lineage cannot be checked"
    )


def test_a_tag_gained_before_the_sweep_reads_as_the_veto_says_it(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    fid = ret_ws.put("p.png", b"later-important", type="screenshot", days_old=200)
    assert cli("retention", "apply", "--as-of", "2026-01-15T12:00:00").code == 0
    store = ret_ws.store()
    try:
        store.tag(fid, "important")
    finally:
        store.close()
    ret_ws.days_pass(8)
    r = cli("retention", "sweep", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["kept"] == [
        {"file_id": fid, "reason": "now protected: tag 'important'"}
    ]


def test_as_of_is_read_as_the_times_convention_says(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("retention", "plan", "--as-of", "15.01.2026")
    assert r.code == 2
    assert "--as-of: expected a date YYYY-MM-DD or an ISO time, got '15.01.2026'" in r.err
    r = cli("retention", "plan", "--as-of", "2026-01-15", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["as_of"] == "2026-01-15T00:00:00+00:00"  # its midnight, UTC
    r = cli("retention", "plan", "--as-of", "2026-01-15T12:00:00+02:00", "--json")
    assert json.loads(r.out)["as_of"] == "2026-01-15T10:00:00+00:00"  # converted to UTC
    r = cli("retention", "purge", "--admin", "--type", "result", "--before", "2026-13-01")
    assert r.code == 2
    assert "--before: expected a date YYYY-MM-DD or an ISO time, got '2026-13-01'" in r.err

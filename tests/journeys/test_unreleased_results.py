"""Journey: a backtest result put with ``store put RESULT --type result`` (no run) for a rule
version not released yet (only in the work tree). Its record is stamped as ``save_result``
stamps a run's result: ``rule_released: false`` and the params_hash of the rule file at put
time. When the version is then committed with other parameters (or deleted), the stored
result claims a version that did not produce it: ``store verify`` names it (one line each,
exit 1, ``--json``). A version committed with the same parameters leaves it clean.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.journeys.conftest import Desk, rewrite

NEW = "rules/IB_raid_v1/v1.3.yaml"  # the sample rules end at IB_raid_v1 v1.2


def _draft(desk: Desk, risk: str) -> str:
    """IB_raid_v1 v1.3 with ``ib_range_atr_mult`` = ``risk``, not committed; its params_hash."""
    r = desk.run("new-version", "IB_raid_v1", "--set", f"params.ib_range_atr_mult={risk}")
    assert r.code == 0, r.err
    found = re.search(r'params_hash: "(sha256:[0-9a-f]{64})"', desk.read(NEW))
    assert found is not None
    return found.group(1)


def _put(desk: Desk, path: str, result: dict[str, object]) -> dict[str, object]:
    desk.write(path, json.dumps(result))
    r = desk.run("store", "put", path, "--type", "result", "--json")
    assert r.code == 0, r.err
    [record] = r.json()
    assert isinstance(record, dict)
    return record


def _records(desk: Desk) -> list[dict[str, object]]:
    r = desk.run("store", "find", "--type", "result", "--json")
    assert r.code == 0, r.err
    records = r.json()
    assert isinstance(records, list)
    return records


def test_a_result_of_a_version_released_later_with_other_params_is_named_by_verify(
    desk: Desk,
) -> None:
    draft = _draft(desk, "1.4")
    stamp = {"rule_released": False, "params_hash": draft}
    result = {"setup_id": "IB_raid_v1", "rule_version": "v1.3", "params_hash": draft, "pf": 3.0}
    stated = _put(desk, "res.json", result)
    assert stated["metadata"] == stamp
    # a result that states no params_hash is stamped with the file's all the same
    bare = _put(desk, "bare.json", {"setup_id": "IB_raid_v1", "rule_version": "1.3", "pf": 2.0})
    assert bare["metadata"] == stamp
    assert desk.run("store", "verify", "--all").code == 0  # nothing changed yet

    # v1.3 made again with other parameters, and committed: now released
    (desk.root / NEW).unlink()
    released = _draft(desk, "1.6")
    assert released != draft
    assert desk.commit("IB_raid_v1 v1.3", NEW).code == 0
    # the same file put now is refused (put-time check), the stored ones stay
    again = desk.run("store", "put", "res.json", "--type", "result")
    assert again.code == 1 and "params_hash" in again.err

    r = desk.run("store", "verify", "--all")
    tail = (
        f"but IB_raid_v1@v1.3 is now released with params_hash {released}: it is not that "
        "version's result (record {id}); run the backtest again on IB_raid_v1@v1.3"
    )
    assert r.code == 1
    assert r.out == (
        f"{stated['path']}: result of IB_raid_v1@v1.3 put with params_hash {draft} (stamped at "
        f"put time, not released then), {tail.format(id=stated['file_id'])}\n"
        f"{bare['path']}: result of IB_raid_v1@v1.3 put with params_hash {draft} (stamped at "
        f"put time, not released then), {tail.format(id=bare['file_id'])}\n"
    )
    assert r.err == (
        "2 file(s) verified for 2 record(s), 0 corrupt, 0 missing, "
        "2 result(s) not of their rule version now\n"
    )
    r = desk.run("store", "verify", "--all", "--json")
    assert r.code == 1
    report = r.json()
    assert report["ok"] is False
    assert report["corrupt"] == report["missing"] == []
    assert [
        {k: v for k, v in found.items() if k != "message"} for found in report["stale_results"]
    ] == [
        {
            "file_id": record["file_id"],
            "path": record["path"],
            "setup_id": "IB_raid_v1",
            "rule_version": "v1.3",
            "recorded_params_hash": draft,
            "params_hash_now": released,
            "released_now": True,
            "stamped": True,
        }
        for record in (stated, bare)
    ]
    # verify changed nothing of the records: they are still live, as they were put
    assert [(r["file_id"], r["status"]) for r in _records(desk)] == [
        (stated["file_id"], "live"),
        (bare["file_id"], "live"),
    ]


def test_a_result_of_a_version_released_with_the_same_params_stays_clean(desk: Desk) -> None:
    draft = _draft(desk, "1.4")
    record = _put(desk, "res.json", {"setup_id": "IB_raid_v1", "rule_version": "1.3", "pf": 3.0})
    assert record["metadata"] == {"rule_released": False, "params_hash": draft}
    assert desk.commit("IB_raid_v1 v1.3", NEW).code == 0

    r = desk.run("store", "verify", "--all")
    assert (r.code, r.out) == (0, "")
    assert r.err == "1 file(s) verified for 1 record(s), 0 corrupt, 0 missing\n"
    r = desk.run("store", "verify", "--all", "--json")
    assert r.code == 0
    assert r.json()["ok"] is True
    assert r.json()["stale_results"] == []
    # a result of the released version is stored as before: nothing stamped
    released = _put(desk, "rel.json", {"setup_id": "IB_raid_v1", "rule_version": "1.3", "pf": 1})
    assert released["metadata"] == {}


def test_a_result_of_a_version_deleted_before_its_release_is_named_by_verify(desk: Desk) -> None:
    draft = _draft(desk, "1.4")
    record = _put(desk, "res.json", {"setup_id": "IB_raid_v1", "rule_version": "1.3", "pf": 3.0})
    assert record["metadata"] == {"rule_released": False, "params_hash": draft}
    (desk.root / NEW).unlink()

    r = desk.run("store", "verify", "--all", "--json")
    assert r.code == 1
    [found] = r.json()["stale_results"]
    assert found["params_hash_now"] is None and found["released_now"] is None
    assert found["message"].startswith(
        f"{record['path']}: result of IB_raid_v1@v1.3 put with params_hash {draft} (stamped at "
        "put time, not released then), but IB_raid_v1@v1.3 is not in the registry now ("
    )
    assert found["message"].endswith(
        f"): the result names no rule version (record {record['file_id']})"
    )


def test_a_result_stored_before_the_stamp_is_compared_by_its_own_params_hash(desk: Desk) -> None:
    """A result stored without the stamp (as every put was before it existed: here through
    the plain store, which does not stamp) is compared by the params_hash it states."""
    draft = _draft(desk, "1.4")
    result = {"setup_id": "IB_raid_v1", "rule_version": "1.3", "params_hash": draft, "pf": 3.0}
    desk.write("res.json", json.dumps(result))
    put = (
        "import ita_rules.workspace as w, ita_rules.store as s, json\n"
        "with s.open_store(w.Workspace.open('.')) as store:\n"
        "    print(json.dumps(store.put('res.json', type='result').as_dict()))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", put], cwd=desk.root, env=desk.env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    record = json.loads(ran.stdout)
    assert record["metadata"] == {}
    (desk.root / NEW).unlink()
    released = _draft(desk, "1.6")
    assert desk.commit("IB_raid_v1 v1.3", NEW).code == 0

    r = desk.run("store", "verify", "--all")
    assert r.code == 1
    assert r.out == (
        f"{record['path']}: result of IB_raid_v1@v1.3 put with params_hash {draft} (as it "
        f"states), but IB_raid_v1@v1.3 is now released with params_hash {released}: it is not "
        f"that version's result (record {record['file_id']}); run the backtest again on "
        "IB_raid_v1@v1.3\n"
    )


def test_a_put_of_results_of_two_versions_or_with_a_stamp_of_its_own_is_refused(
    desk: Desk,
) -> None:
    _draft(desk, "1.4")
    desk.write("new.json", json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.3"}))
    desk.write("old.json", json.dumps({"setup_id": "IB_raid_v1", "rule_version": "1.2"}))
    r = desk.run("store", "put", "new.json", "old.json", "--type", "result")
    assert (r.code, r.out) == (2, "")
    assert r.err == (
        "ita-rules: old.json: names IB_raid_v1@v1.2 (released) and new.json names "
        "IB_raid_v1@v1.3 (not released): a result of a version not released yet is stamped "
        "with its params_hash, and one put records one stamp; put the results of each version "
        "on their own: nothing was stored\n"
    )
    for key in ("rule_released", "params_hash"):
        r = desk.run("store", "put", "new.json", "--type", "result", "--meta", f"{key}=x")
        assert (r.code, r.out) == (2, "")
        assert r.err == (
            f"ita-rules: metadata: {key} is what ita-rules stamps on a result of a rule version "
            "not released yet; leave it out: nothing was stored\n"
        )
    assert _records(desk) == []


def test_a_result_of_a_release_edited_on_disk_is_not_blamed_on_the_result(desk: Desk) -> None:
    """Released with the same params, then its file edited in place (params_hash rewritten):
    the registry's params_hash is not the release's, so the result cannot be checked: the
    line says why (the release's own message), not that the result is another version's."""
    draft = _draft(desk, "1.4")
    record = _put(desk, "res.json", {"setup_id": "IB_raid_v1", "rule_version": "1.3", "pf": 3.0})
    assert desk.commit("IB_raid_v1 v1.3", NEW).code == 0
    rewrite(desk, NEW, "ib_range_atr_mult: 1.4", "ib_range_atr_mult: 1.5")

    r = desk.run("store", "verify", "--all")
    assert r.code == 1
    assert r.out == (
        f"{record['path']}: result of IB_raid_v1@v1.3 put with params_hash {draft} (stamped at "
        f"put time, not released then), which cannot be checked now (record "
        f"{record['file_id']}): {NEW}:19:22: params.ib_range_atr_mult: IB_raid_v1@v1.3 is "
        "released (in HEAD) and this file differs from it: a result would claim v1.3 without "
        f"being it; restore the file (git checkout HEAD -- {NEW}) or make a new version "
        "(ita-rules new-version IB_raid_v1)\n"
    )

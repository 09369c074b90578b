"""Journey: the metadata database is lost, and the desk goes on working before anyone notices.

``rm .ita/ita.sqlite``, then one ``store put`` and one run make a new database that holds only
them. Until ``store rebuild``, every answer that would read as "this is all there is" says the
database was lost instead: ``store find``, ``runs list``, and retention (which would otherwise
judge records whose runs and protections it cannot see, and refuse a policy for a type only the
lost records had). After the rebuild everything is back, the new put and run included.
"""

from __future__ import annotations

from tests.journeys.conftest import Desk
from tests.retention.conftest import POLICY  # README's example policy

LOST = "the database was lost or replaced"


def _put(desk: Desk, path: str, *extra: str) -> str:
    r = desk.run("store", "put", path, "--type", "screenshot", *extra, "--json")
    assert r.code == 0, r.err
    return str(r.json()[0]["file_id"])


def _start_and_finish(desk: Desk) -> str:
    r = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.2", "--symbol", "X")
    assert r.code == 0, r.err
    run_id = r.out.strip()
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    return run_id


def test_a_lost_database_written_to_again_still_says_it_was_lost(desk: Desk) -> None:
    desk.write("retention.yaml", POLICY)
    desk.commit("policy", "retention.yaml")
    desk.write("shots/a.png", b"\x89PNG first")
    desk.write("shots/b.png", b"\x89PNG after the loss")
    first = _put(desk, "shots/a.png")
    old_run = _start_and_finish(desk)

    for path in (desk.root / ".ita").glob("ita.sqlite*"):
        path.unlink()
    later = _put(desk, "shots/b.png")  # a new database, holding only what comes now
    new_run = _start_and_finish(desk)
    journal = desk.run("store", "find", "--json")

    assert (journal.code, journal.out) == (1, "")
    assert journal.err.startswith(
        "ita-rules: the metadata database lacks records the store's journal ("
    ), journal.err
    assert f"the first one stored ({first}) among them: {LOST} and written to since" in journal.err
    assert journal.err.endswith(
        "run `ita-rules store rebuild` (or `ita-rules index --rebuild`) to restore them\n"
    )
    listed = desk.run("runs", "list")
    assert (listed.code, listed.out) == (1, "")
    assert listed.err == (
        f"ita-rules: the metadata database holds no run {old_run}, but its snapshot file exists: "
        f"{LOST}; run `ita-rules store rebuild` (or `ita-rules index --rebuild`) to restore them\n"
    )
    for verb in ("plan", "apply", "sweep", "run"):
        r = desk.run("retention", verb)
        assert (r.code, r.out) == (1, ""), (verb, r.out, r.err)
        assert LOST in r.err and "store rebuild" in r.err, (verb, r.err)
    assert not list(desk.root.glob("logs/purge_*")), "retention wrote nothing"

    r = desk.run("store", "rebuild")
    assert r.code == 0, r.err
    found = desk.run("store", "find", "--json")
    assert found.code == 0, found.err
    assert {rec["file_id"] for rec in found.json()} == {first, later}
    listed = desk.run("runs", "list", "--json")
    assert listed.code == 0, listed.err
    assert {row["run_id"] for row in listed.json()["runs"]} == {old_run, new_run}
    r = desk.run("retention", "plan", "--json")
    assert r.code == 0, r.err


def test_a_rebuild_that_leaves_out_a_lost_file_is_not_lost_forever(desk: Desk) -> None:
    """The first file ever stored is gone from the disk: the rebuild cannot restore its record
    (store/replay.py), so its absence from the database must not keep saying "lost"."""
    desk.write("shots/a.png", b"\x89PNG first")
    desk.write("shots/b.png", b"\x89PNG second")
    r = desk.run("store", "put", "shots/a.png", "--type", "screenshot", "--json")
    assert r.code == 0, r.err
    first = r.json()[0]
    second = _put(desk, "shots/b.png")
    (desk.root / "exchange" / first["path"]).unlink()
    for path in (desk.root / ".ita").glob("ita.sqlite*"):
        path.unlink()
    r = desk.run("store", "rebuild")
    assert r.code == 0, r.err
    found = desk.run("store", "find", "--json")
    assert found.code == 0, found.err
    assert [rec["file_id"] for rec in found.json()] == [second]

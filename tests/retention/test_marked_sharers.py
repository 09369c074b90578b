"""Content shared with a record marked missing or corrupt is kept by the sweep, and said to be:
that record still names its file, which fsck or a remote pull can bring back from the content."""

from __future__ import annotations

import json

from tests.retention.conftest import RetWs

AS_OF = "2026-01-15"


def test_content_shared_with_a_record_marked_missing_is_kept(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    going = ret_ws.put("a.png", b"one chart", type="screenshot", days_old=200, symbol="GER40")
    marked = ret_ws.put("b.png", b"one chart", type="screenshot", days_old=10, symbol="US30")
    held = ret_ws.path_of(going)
    assert ret_ws.path_of(marked) != held
    ret_ws.path_of(marked).unlink()  # its own name is gone (a drive hiccup, a hand rm)
    r = cli("store", "verify", "--all")
    assert r.code == 1 and ret_ws.statuses()[marked] == "missing", r.out + r.err
    r = cli("retention", "apply", "--as-of", AS_OF, "--json")
    assert json.loads(r.out)["records_soft_deleted"] == 1, r.out + r.err
    ret_ws.days_pass(8)
    r = cli("retention", "sweep", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert (report["records_purged"], report["total_files_purged"]) == (1, 0)
    assert report["content_kept"] == [{"file_id": going, "shared_with": marked}]
    assert held.read_bytes() == b"one chart"
    assert ret_ws.statuses() == {going: "purged", marked: "missing"}
    # the content is still there for the marked record: fsck --repair brings it back
    r = cli("store", "fsck", "--repair")
    assert ret_ws.statuses()[marked] == "live", r.out + r.err
    assert ret_ws.path_of(marked).read_bytes() == b"one chart"

"""Content stored once for several records (each record has its own name, a hard link to the
same bytes): once that content is verified on the remote, sweep removes every soft-deleted
record of it, not only the one whose name the content is stored under.

Driven as a desk does: ``remote.name`` a folder (rclone's local backend), two identical candle
files put, ``retention apply`` on a later day, then ``retention sweep``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.journeys.conftest import Desk, candles_csv, desk, desk_template  # noqa: F401
from tests.remote.conftest import RemoteWs

POLICY = """\
safety_window_days: 0
large_purge_gb: 10
types:
  candles: {retain_days: 1, strategy: archive_to_remote}
protect:
  tags: [important]
  active_rules: true
"""


def _put(at: Desk, path: str, symbol: str) -> dict[str, Any]:
    r = at.run("store", "put", path, "--type", "candles", "--symbol", symbol, "--json")
    assert r.code == 0, r.err
    record: dict[str, Any] = r.json()[0]
    return record


def test_sweep_removes_every_record_of_content_already_verified_on_the_remote(
    desk: Desk,  # noqa: F811
    tmp_path: Path,
) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    desk.env["ITA_REMOTE"] = str(remote)
    desk.write("retention.yaml", POLICY)
    desk.write(".gitignore", desk.read(".gitignore") + "/data/\n")
    desk.commit("retention policy", "retention.yaml", ".gitignore")
    desk.write("data/a.csv", candles_csv())
    desk.write("data/b.csv", candles_csv())
    a, b = _put(desk, "data/a.csv", "GER40"), _put(desk, "data/b.csv", "US30")
    assert a["hash"] == b["hash"] and a["path"] != b["path"]

    r = desk.run("retention", "apply", "--as-of", "2027-01-01")
    assert r.code == 0 and r.out.startswith("apply: 2 record(s) soft-deleted"), r.out + r.err

    r = desk.run("retention", "sweep", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["kept"] == []
    assert doc["records_purged"] == 2
    assert doc["total_files_purged"] == 1  # the bytes were stored once
    statuses = {
        rec["file_id"]: rec["status"]
        for rec in desk.run("store", "find", "--status", "all", "--json").json()
    }
    assert statuses == {a["file_id"]: "purged", b["file_id"]: "purged"}
    for record in (a, b):
        assert not (desk.root / "exchange" / record["path"]).exists()
    on_remote = [p for p in remote.rglob("*") if p.is_file()]
    assert len(on_remote) == 1
    assert on_remote[0].read_text() == candles_csv()

    r = desk.run("retention", "sweep", "--json")  # nothing left to do, nothing kept
    assert r.code == 0, r.err
    assert (r.json()["kept"], r.json()["records_purged"]) == ([], 0)


@pytest.mark.remote_combos("local-sqlite", "s3-sqlite")
def test_ensure_remote_copy_takes_the_name_of_any_record_of_the_content(
    remote_ws: RemoteWs,
) -> None:
    """Each record of a content has its own name; retention may ask with any of them. A name
    that no record of the content has is not that content: no copy is vouched for."""
    from ita_rules.remote import ensure_remote_copy

    src = remote_ws.root / "src"
    first = write(src / "a.csv", candles_csv())
    second = write(src / "b.csv", candles_csv())
    other = write(src / "c.csv", candles_csv(days=3))
    store = remote_ws.open()
    try:
        a = store.put(first, type="candles", symbol="GER40")
        b = store.put(second, type="candles", symbol="US30")
        c = store.put(other, type="candles", symbol="DAX")
        assert a.hash == b.hash and a.path != b.path
        assert ensure_remote_copy(store, b.hash, b.path)  # pushed and verified
        assert ensure_remote_copy(store, a.hash, a.path)  # the same content: re-checked
        assert ensure_remote_copy(store, b.hash, b.path)
        assert not ensure_remote_copy(store, a.hash, c.path)  # another content's name
        assert len(remote_ws.remote_keys()) == 1
    finally:
        store.db.dispose()

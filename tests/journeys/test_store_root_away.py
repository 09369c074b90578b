"""Journey: the store root is away for a while (a network drive not mounted, a pulled ita.toml
pointing elsewhere) and comes back intact.

Nothing may be marked while the root is not there, no new root may be started under the mount
point, and when files come back -- the whole root, one file, or good bytes copied back from a
backup over a corrupt file -- their records are found again and `store fsck --repair` deletes
nothing a record names (a backtest result and an `important` file among them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.journeys.conftest import Desk

RESULT = json.dumps({"setup_id": "London_FVG_v1", "rule_version": "1.0", "metrics": {"pf": 1.5}})


def _on_nas(desk: Desk, nas: Path) -> Path:
    """store.root moved to ``nas`` (as on a desk whose store is a network drive)."""
    text = desk.read("ita.toml")
    assert 'root = "exchange"' in text
    desk.write("ita.toml", text.replace('root = "exchange"', f'root = "{nas.as_posix()}"'))
    return nas


def _put(desk: Desk, name: str, data: str, *args: str) -> dict[str, Any]:
    desk.write(name, data)
    r = desk.run("store", "put", name, *args, "--json")
    assert r.code == 0, r.err
    return r.json()[0]  # type: ignore[no-any-return]


def _three(desk: Desk) -> list[dict[str, Any]]:
    """A backtest result, an `important` screenshot and a plain screenshot, stored."""
    return [
        _put(desk, "out/result.json", RESULT, "--type", "result"),
        _put(desk, "shot1.png", "chart one", "--type", "screenshot", "--tag", "important"),
        _put(desk, "shot2.png", "chart two", "--type", "screenshot"),
    ]


def _statuses(desk: Desk) -> dict[str, str]:
    found = desk.run("store", "find", "--status", "all", "--json").json()
    return {f["file_id"]: f["status"] for f in found}


def _on_disk(root: Path, records: list[dict[str, Any]]) -> dict[str, bytes]:
    return {r["path"]: (root / r["path"]).read_bytes() for r in records}


def test_a_store_root_that_is_not_there_is_refused_and_nothing_is_marked(
    desk: Desk, tmp_path: Path
) -> None:
    root = _on_nas(desk, tmp_path / "nas" / "exchange")
    records = _three(desk)
    before = _on_disk(root, records)
    away = tmp_path / "nas_away"
    root.rename(away)  # the drive is not mounted

    refused = (
        f"ita-rules: store.root: {root} does not exist, but the database holds 3 record(s) "
        "whose files are stored there: mount the drive or fix store.root (ita.toml or "
        "ITA_STORE_ROOT); "
    )
    r = desk.run("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (2, "", refused + "nothing was checked or marked\n")
    r = desk.run("store", "fsck", "--repair")
    assert (r.code, r.out, r.err) == (2, "", refused + "nothing was checked or changed\n")
    desk.write("shot3.png", "chart three")
    r = desk.run("store", "put", "shot3.png", "--type", "screenshot")
    assert (r.code, r.out, r.err) == (2, "", refused + "nothing was stored\n")
    r = desk.run("store", "tag", records[2]["file_id"], "keep")
    assert (r.code, r.out, r.err) == (2, "", refused + "nothing was changed\n")
    assert not root.exists()  # no new, empty store started under the mount point
    assert set(_statuses(desk).values()) == {"live"}

    root.mkdir()  # an empty mount point is no better
    r = desk.run("store", "verify", "--all")
    assert (r.code, r.err) == (
        2,
        refused.replace("does not exist", "is empty") + "nothing was checked or marked\n",
    )
    assert list(root.iterdir()) == []
    root.rmdir()

    away.rename(root)  # the drive is back
    r = desk.run("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (
        0,
        "",
        "3 file(s) verified for 3 record(s), 0 corrupt, 0 missing\n",
    )
    r = desk.run("store", "fsck", "--repair")
    assert (r.code, r.out) == (0, ""), r.err
    assert _on_disk(root, records) == before
    assert r.err.endswith(" 0 problem(s)\n")


def test_records_marked_missing_are_found_again_and_fsck_deletes_none_of_their_files(
    desk: Desk, tmp_path: Path
) -> None:
    root = desk.root / "exchange"
    result, important, plain = _three(desk)
    before = _on_disk(root, [result, important, plain])
    backup = tmp_path / "backup"
    backup.mkdir()
    for rec in (result, important):  # two files taken away (a folder on another mount)
        shutil.move(root / rec["path"], backup / rec["file_id"])
    r = desk.run("store", "verify", "--all")
    assert r.code == 1
    assert r.out.splitlines() == [
        f"{rec['path']}: missing (record {rec['file_id']}, now marked missing)"
        for rec in (result, important)
    ]
    assert [f["file_id"] for f in desk.run("store", "find", "--json").json()] == [plain["file_id"]]

    # still away: counted, not marked again; fsck --repair leaves them as they are
    r = desk.run("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (
        0,
        "",
        "3 file(s) verified for 3 record(s), 0 corrupt, 0 missing, 2 still marked missing\n",
    )
    r = desk.run("store", "fsck", "--repair")
    assert (r.code, r.out) == (0, "")

    for rec in (result, important):  # they come back intact
        shutil.move(backup / rec["file_id"], root / rec["path"])
    r = desk.run("store", "fsck")
    assert r.code == 1
    assert "no live record needs" not in r.out
    assert r.out.splitlines() == [
        f"{rec['path']}: stored file on disk again with its SHA-256; 1 record(s) marked "
        "missing point to it (--repair marks them live again)"
        for rec in sorted((result, important), key=lambda rec: rec["path"])
    ]
    r = desk.run("store", "fsck", "--repair")
    assert r.code == 0, r.out + r.err
    assert r.out.splitlines() == [
        f"{rec['path']}: stored file on disk again with its SHA-256; 1 record(s) marked "
        "missing point to it (marked live again) (repaired)"
        for rec in sorted((result, important), key=lambda rec: rec["path"])
    ]
    assert _on_disk(root, [result, important, plain]) == before
    assert set(_statuses(desk).values()) == {"live"}
    assert len(desk.run("store", "find", "--json").json()) == 3
    assert (
        desk.run("store", "find", "--tag", "important", "--json").json()[0]["file_id"]
        == (important["file_id"])
    )
    r = desk.run("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (
        0,
        "",
        "3 file(s) verified for 3 record(s), 0 corrupt, 0 missing\n",
    )
    r = desk.run("store", "fsck", "--repair")
    assert (r.code, r.out) == (0, "")


def test_verify_finds_a_missing_file_back(desk: Desk, tmp_path: Path) -> None:
    root = desk.root / "exchange"
    result, _, _ = _three(desk)
    shutil.move(root / result["path"], tmp_path / "away.json")
    assert desk.run("store", "verify", "--all").code == 1
    shutil.move(tmp_path / "away.json", root / result["path"])
    r = desk.run("store", "verify", "--all")
    assert (r.code, r.out, r.err) == (
        0,
        f"{result['path']}: back: content matches {result['hash']} again "
        f"(record {result['file_id']}, now live again)\n",
        "3 file(s) verified for 3 record(s), 0 corrupt, 0 missing, 1 back\n",
    )
    assert _statuses(desk)[result["file_id"]] == "live"


def test_a_corrupt_result_restored_from_a_backup_is_kept_and_found_again(
    desk: Desk, tmp_path: Path
) -> None:
    root = desk.root / "exchange"
    result, _, _ = _three(desk)
    good = (root / result["path"]).read_bytes()
    (root / result["path"]).write_bytes(good.replace(b"1.5", b"9.9"))  # damaged
    r = desk.run("store", "verify", "--all")
    assert r.code == 1
    assert _statuses(desk)[result["file_id"]] == "corrupt"
    (root / result["path"]).write_bytes(good)  # the trader copies the good bytes back

    r = desk.run("store", "fsck", "--repair")
    assert r.code == 0, r.out + r.err
    assert r.out == (
        f"{result['path']}: stored file on disk again with its SHA-256; 1 record(s) marked "
        "corrupt point to it (marked live again) (repaired)\n"
    )
    assert (root / result["path"]).read_bytes() == good
    assert _statuses(desk)[result["file_id"]] == "live"


def test_fsck_never_deletes_the_file_of_a_record_marked_corrupt(desk: Desk) -> None:
    root = desk.root / "exchange"
    result, _, _ = _three(desk)
    (root / result["path"]).write_bytes(b'{"damaged": true}')
    assert desk.run("store", "verify", "--all").code == 1
    r = desk.run("store", "fsck", "--repair")
    assert (r.code, r.out) == (0, ""), r.out + r.err
    assert (root / result["path"]).read_bytes() == b'{"damaged": true}'
    assert _statuses(desk)[result["file_id"]] == "corrupt"

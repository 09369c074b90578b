"""`retention status`: what is soft-deleted, until when and why, and what waits for a verified
remote copy before the sweep may remove it. It changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from ita_rules.core import times
from ita_rules.remote import remote_key
from ita_rules.remote.tables import RemoteCopy, save
from ita_rules.retention.status import retention_status
from tests.conftest import snapshot
from tests.retention.conftest import RetWs
from tests.vectors.conftest import INACTIVE_RUN, VecWs, chroma_server, unique, vec_ws

__all__ = ["chroma_server", "vec_ws"]  # the vector fixtures, borrowed

NOTHING = "nothing is soft-deleted: `ita-rules retention plan` shows what apply would soft-delete\n"


def _soft_delete(ret_ws: RetWs, cli: Any) -> dict[str, str]:
    ids = {
        "shot": ret_ws.put("a.png", b"png", type="screenshot", days_old=100),
        "old": ret_ws.put("old.csv", b"t,o\n1,2\n", type="candles", days_old=400),
        "copied": ret_ws.put("copied.csv", b"t,o\n3,4\n", type="candles", days_old=401),
        "young": ret_ws.put("young.csv", b"t,o\n5,6\n", type="candles", days_old=10),
    }
    r = cli("retention", "apply", "--as-of", "2026-01-15T12:00:00Z")
    assert r.code == 0, r.err
    return ids


def test_nothing_soft_deleted_is_one_helpful_line(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ret_ws.put("a.png", b"png", type="screenshot", days_old=1)
    r = cli("retention", "status")
    assert (r.code, r.out, r.err) == (0, NOTHING, "")
    doc = json.loads(cli("retention", "status", "--json").out)
    assert (doc["soft_deleted"], doc["count"], doc["bytes"], doc["due"]) == ([], 0, 0, 0)


def test_each_soft_deleted_file_until_when_and_why(ret_ws: RetWs, cli) -> None:  # type: ignore[no-untyped-def]
    ids = _soft_delete(ret_ws, cli)
    doc = json.loads(cli("retention", "status", "--json").out)
    assert (doc["count"], doc["bytes"], doc["due"], doc["remote"]) == (3, 19, 0, None)
    entries = {e["file_id"]: e for e in doc["soft_deleted"]}
    assert set(entries) == {ids["shot"], ids["old"], ids["copied"]}  # the young one stays live
    shot = entries[ids["shot"]]
    deleted = times.parse_iso(shot["deleted_at"])
    assert shot["purge_after"] == times.iso(deleted + dt.timedelta(days=7))
    assert (shot["type"], shot["size"], shot["due"]) == ("screenshot", 3, False)
    assert shot["reason"] == "older than 90 days (100 days old), strategy delete"
    assert (shot["needs_remote_copy"], shot["waits_for_remote_copy"]) == (False, False)
    old = entries[ids["old"]]
    assert old["reason"] == "older than 365 days (400 days old), strategy archive_to_remote"
    assert (old["needs_remote_copy"], old["waits_for_remote_copy"]) == (True, True)
    assert doc["waiting_for_remote_copy"] == sorted([ids["old"], ids["copied"]])

    r = cli("retention", "status")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == (
        "3 file(s) soft-deleted, 19 bytes; 0 past the 7-day safety window; 2 wait for a "
        "verified copy on the remote: none is configured (remote.name)"
    )
    assert (
        f"  {ids['shot']}  screenshot             3  {shot['path']}  deleted "
        f"{shot['deleted_at']}, purge after {shot['purge_after']}"
    ) in lines
    assert "    reason: older than 90 days (100 days old), strategy delete" in lines
    assert (
        lines.count("    waits for a verified copy on the remote: none is configured (remote.name)")
        == 2
    )


def test_a_verified_copy_on_the_remote_stops_the_wait(
    ret_ws: RetWs, cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ids = _soft_delete(ret_ws, cli)
    folder = str(tmp_path / "remote")
    monkeypatch.setenv("ITA_REMOTE", folder)
    store = ret_ws.store()
    try:
        copied = store.get(ids["copied"])
        at = "2026-01-16T00:00:00.000000Z"
        row = RemoteCopy(copied.hash, remote_key(folder), copied.path, 8, None, at, at, None)
        save(store.db, [row])
    finally:
        store.db.dispose()
    ret_ws.days_pass(8)  # the safety window has passed for all of them
    from ita_rules.workspace import Workspace

    found = retention_status(Workspace.open(ret_ws.root))
    assert found.remote == folder
    assert [s.file_id for s in found.waiting] == [ids["old"]]
    assert len(found.due) == 3
    doc = json.loads(cli("retention", "status", "--json").out)
    entry = next(e for e in doc["soft_deleted"] if e["file_id"] == ids["copied"])
    assert (entry["remote_verified_at"], entry["waits_for_remote_copy"], entry["due"]) == (
        at,
        False,
        True,
    )
    r = cli("retention", "status")
    assert r.out.splitlines()[0] == (
        f"3 file(s) soft-deleted, 19 bytes; 3 past the 7-day safety window; 1 wait for a "
        f"verified copy on {folder}"
    )
    assert f"    remote copy verified {at}" in r.out.splitlines()
    assert r.out.count(", due now\n") == 3


def test_status_changes_nothing_and_needs_a_workspace(
    ret_ws: RetWs, cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _soft_delete(ret_ws, cli)
    before = _files(ret_ws.root)
    assert cli("retention", "status").code == 0
    assert cli("retention", "status", "--json").code == 0
    assert _files(ret_ws.root) == before
    monkeypatch.chdir(tmp_path)
    r = cli("retention", "status")
    assert (r.code, r.out, r.err) == (
        2,
        "",
        f"ita-rules: no ita-rules workspace at {tmp_path} or above (no ita.toml); "
        "run `ita-rules init` or pass --workspace DIR\n",
    )


@pytest.mark.parametrize(
    "command",
    [
        ("retention", "status"),
        ("runs", "compare", "run_2026_01_15_001", "run_2026_01_15_002"),
        ("runs", "list", "--version", "IB_raid_v1@1.2", "--metrics"),
    ],
)
def test_an_unreachable_database_is_one_line_exit_2(
    ret_ws: RetWs, cli: Any, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("ITA_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    r = cli(*command)
    assert (r.code, r.out) == (2, "")
    assert r.err == (
        "ita-rules: cannot connect to the database postgresql://nobody@127.0.0.1:1/none: "
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
        "refused Is the server running on that host and accepting TCP/IP connections?\n"
    )


def _files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if not k.endswith(("-shm", "-wal"))}


def test_soft_deleted_vectors_are_listed_with_their_window(vec_ws: VecWs, cli: Any) -> None:
    name = unique()
    vec_ws.save(name, ["a1", "a2", "a3", "a4"], run_id=INACTIVE_RUN, days_old=[200] * 4)
    applied = cli("retention", "apply", "--json")
    assert json.loads(applied.out)["vectors_soft_deleted"] == 1, applied.err
    doc = json.loads(cli("retention", "status", "--json").out)
    assert (doc["count"], doc["bytes"], doc["waiting_for_remote_copy"]) == (1, 0, [])
    (entry,) = doc["soft_deleted"]
    assert (entry["file_id"], entry["type"], entry["size"]) == (f"vector:{name}/a1", "embedding", 0)
    deleted = times.parse_iso(entry["deleted_at"])
    assert entry["purge_after"] == times.iso(deleted + dt.timedelta(days=7))
    assert entry["reason"] is not None and entry["reason"].startswith("older than 180 days")
    vec_ws.vectors_days_pass(name, 8)
    assert json.loads(cli("retention", "status", "--json").out)["due"] == 1


def test_a_soft_deleted_file_protected_again_is_not_due_the_next_apply_restores_it(
    ret_ws: RetWs, cli: Any
) -> None:
    ids = _soft_delete(ret_ws, cli)
    store = ret_ws.store()
    try:
        store.tag(ids["shot"], "important")
    finally:
        store.db.dispose()
    ret_ws.days_pass(8)  # past the window: the sweep would keep it, apply restores it
    doc = json.loads(cli("retention", "status", "--json").out)
    shot = next(e for e in doc["soft_deleted"] if e["file_id"] == ids["shot"])
    assert (shot["due"], shot["restore"]) == (False, "protected tag 'important'")
    assert shot["reason"] == "older than 90 days (100 days old), strategy delete"  # apply's
    assert (shot["needs_remote_copy"], shot["waits_for_remote_copy"]) == (False, False)
    assert doc["due"] == 2 and ids["shot"] not in doc["waiting_for_remote_copy"]
    plan = json.loads(cli("retention", "plan", "--json").out)
    assert [(d["file_id"], d["reason"]) for d in plan["restore"]] == [
        (ids["shot"], "protected tag 'important'")
    ]
    lines = cli("retention", "status").out.splitlines()
    at = lines.index(
        f"  {ids['shot']}  screenshot             3  {shot['path']}  deleted "
        f"{shot['deleted_at']}, protected again: the next apply restores it"
    )
    assert lines[at + 1 : at + 3] == [
        "    restore: protected tag 'important'",
        "    reason: older than 90 days (100 days old), strategy delete",
    ]
    assert lines[0].startswith("3 file(s) soft-deleted, 19 bytes; 2 past the 7-day safety window")

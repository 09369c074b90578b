"""Retention on vectors in a real Chroma (embedded and a `chroma run` server): plan, apply,
sweep and restore list and act on vectors like files, with the same protections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.vectors.conftest import ACTIVE_RUN, INACTIVE_RUN, VecWs, unique


def _fill(ws: VecWs, name: str) -> None:
    # group a: five of an inactive rule's run, keep_last 3 keeps the newest three
    ws.save(name, ["a1", "a2", "a3", "a4", "a5"], run_id=INACTIVE_RUN,
            days_old=[10, 200, 210, 220, 230], groups=["a"] * 5)  # fmt: skip
    ws.save(name, ["p1"], run_id=ACTIVE_RUN, days_old=[300], groups=["b"])
    ws.save(name, ["t1"], run_id=INACTIVE_RUN, days_old=[400], groups=["c"], tags=["important"])
    ws.save(name, ["b1", "b2", "b3", "b4"], run_id=INACTIVE_RUN,
            days_old=[500, 501, 502, 503], groups=["d"] * 4)  # fmt: skip


def _vector_decisions(out: str) -> dict[str, dict[str, Any]]:
    doc = json.loads(out)
    return {
        d["file_id"].split("/")[-1]: d
        for d in doc["decisions"]
        if d["file_id"].startswith("vector:")
    }


def test_plan_lists_vectors_with_the_fields_and_reasons_of_files(vec_ws: VecWs, cli: Any) -> None:
    name = unique()
    _fill(vec_ws, name)
    result = cli("retention", "plan", "--json")
    assert result.code == 0, result.err
    got = _vector_decisions(result.out)
    assert set(got) == {"a1", "a2", "a3", "a4", "a5", "p1", "t1", "b1", "b2", "b3", "b4"}
    assert set(got["a1"]) == {
        "file_id",
        "type",
        "size",
        "created_at",
        "action",
        "reason",
        "protected",
    }
    assert got["a1"]["file_id"] == f"vector:{name}/a1" and got["a1"]["type"] == "embedding"
    actions = {k: d["action"] for k, d in got.items()}
    assert actions == {"a1": "keep", "a2": "keep", "a3": "keep", "a4": "delete", "a5": "delete",
                       "p1": "keep", "t1": "keep", "b1": "keep", "b2": "keep", "b3": "keep",
                       "b4": "delete"}  # fmt: skip
    assert got["a1"]["reason"] == "inside retain_days (10 < 180 days old)"
    assert got["a2"]["reason"] == f"one of the newest 3 of {name}/a"
    assert got["p1"]["reason"] == f"run {ACTIVE_RUN} of active rule version IB_raid_v1@1.2"
    assert got["p1"]["protected"] is True
    assert got["t1"]["reason"] == "protected tag 'important'"
    assert got["a4"]["reason"] == "older than 180 days (220 days old), strategy prune_old"


def test_apply_soft_deletes_sweep_deletes_after_the_window_restore_undoes(
    vec_ws: VecWs, cli: Any
) -> None:
    from ita_rules.provenance.embeddings import live

    name = unique()
    _fill(vec_ws, name)
    applied = cli("retention", "apply", "--json")
    assert applied.code == 0, applied.err
    report = json.loads(applied.out)
    assert report["vectors_soft_deleted"] == 3 and report["records_soft_deleted"] == 0
    coll = vec_ws.collection(name)
    assert sorted(coll.get(where=live(), include=[])["ids"]) == [
        "a1", "a2", "a3", "b1", "b2", "b3", "p1", "t1"]  # fmt: skip
    assert coll.count() == 11  # soft: still in the store
    assert cli("retention", "plan", "--json").out.count('"action": "delete"') == 0
    restored = cli("retention", "restore", f"vector:{name}/a4")
    assert restored.code == 0, restored.err
    assert "a4" in coll.get(where=live(), include=[])["ids"]
    again = cli("retention", "apply")
    assert again.out.splitlines()[1] == "  vectors: 1 soft-deleted"
    assert cli("retention", "restore", f"vector:{name}/a4").out.strip() == "restored 1 file(s)"
    assert json.loads(cli("retention", "sweep", "--json").out)["vectors_purged"] == 0
    vec_ws.vectors_days_pass(name, 8)
    swept = json.loads(cli("retention", "sweep", "--json").out)
    assert swept["vectors_purged"] == 2 and swept["total_files_purged"] == 0
    assert sorted(swept["affected_vector_ids"]) == [f"vector:{name}/a5", f"vector:{name}/b4"]
    assert sorted(coll.get(include=[])["ids"]) == [
        "a1", "a2", "a3", "a4", "b1", "b2", "b3", "p1", "t1"]  # fmt: skip
    log = [json.loads(x) for p in sorted((vec_ws.root / "logs").glob("purge_*.log"))
           for x in p.read_text().splitlines()]  # fmt: skip
    phases = sorted((e["phase"], e["action"]) for e in log if e.get("file_id", "").endswith("/a5"))
    assert phases == [("apply", "delete"), ("sweep", "purge")]
    status = cli("vectors", "status", "--json")
    assert json.loads(status.out)["collections"] == [
        {"collection": name, "live": 9, "soft_deleted": 0, "orphans": 0, "missing": 0}
    ]


def test_a_protection_gained_after_apply_keeps_the_vector_at_sweep(vec_ws: VecWs, cli: Any) -> None:
    name = unique()
    vec_ws.save(name, ["old", "n1", "n2", "n3"], run_id=INACTIVE_RUN, days_old=[400, 1, 1, 1])
    assert json.loads(cli("retention", "apply", "--json").out)["vectors_soft_deleted"] == 1
    coll = vec_ws.collection(name)
    coll.update(ids=["old"], metadatas=[{"ita_tags": "important"}])
    vec_ws.vectors_days_pass(name, 8)
    swept = json.loads(cli("retention", "sweep", "--json").out)
    assert swept["vectors_purged"] == 0
    assert swept["kept"] == [
        {"file_id": f"vector:{name}/old", "reason": "now protected: tag 'important'"}
    ]
    assert sorted(coll.get(include=[])["ids"]) == ["n1", "n2", "n3", "old"]


def test_bad_inputs_are_one_line_and_delete_nothing(vec_ws: VecWs, cli: Any) -> None:
    name = unique()
    vec_ws.save(name, ["x1", "x2"], run_id=INACTIVE_RUN, days_old=[400, 400])
    coll = vec_ws.collection(name)
    coll.update(ids=["x2"], metadatas=[{"created_at": "yesterday"}])
    result = cli("retention", "apply")
    assert result.code == 1
    assert result.err.strip() == (
        f"ita-rules: collection {name}: vector x2 has no numeric created_at; its age cannot be "
        "judged (nothing was changed)"
    )
    assert all(not m.get("ita_deleted_at") for m in coll.get(include=["metadatas"])["metadatas"])
    other = cli("vectors", "status", "--collection", "not-ours")
    assert other.code == 2
    assert other.err.strip() == (
        "ita-rules: collection not-ours: not managed by ita-rules (no vector in its manifest)"
    )


def test_status_and_reconcile_find_both_sides(vec_ws: VecWs, cli: Any) -> None:
    from ita_rules.provenance.embeddings import manifest

    name = unique()
    vec_ws.save(name, ["k1", "k2"], run_id=INACTIVE_RUN, days_old=[1, 1])
    vec_ws.collection(name).add(ids=["stray"], embeddings=[[0.0, 0.0, 0.0]])
    db = vec_ws.db()
    try:
        with db.write() as conn:
            conn.execute(manifest.insert().values(
                collection=name, vector_id="lost", run_id=INACTIVE_RUN,
                created_at="2026-01-01T00:00:00.000000Z"))  # fmt: skip
    finally:
        db.dispose()
    status = cli("vectors", "status")
    assert status.out.strip() == f"{name}: 2 live, 0 soft-deleted, 1 orphan(s), 1 missing"
    result = cli("vectors", "reconcile")
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{name}/stray: in the store, not in the manifest",
        f"{name}/lost: in the manifest, missing from the store",
    ]


def test_an_unreachable_server_is_one_line(in_git_repo: Path, cli: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (in_git_repo / "ita.toml").write_text(f'[vectors]\nurl = "http://127.0.0.1:{port}"\n')
    from ita_rules.core.config import load_settings
    from ita_rules.db import open_database
    from ita_rules.provenance.embeddings import manifest

    s = load_settings(in_git_repo)
    db = open_database(s.database_url, s.root)
    try:
        with db.write() as conn:
            conn.execute(manifest.insert().values(
                collection="docs-x", vector_id="a", created_at="2026-01-01T00:00:00.000000Z"))  # fmt: skip
    finally:
        db.dispose()
    result = cli("vectors", "status")
    assert result.code == 1
    assert result.err.startswith(
        f"ita-rules: vector store http://127.0.0.1:{port} cannot be reached: "
    )
    assert len(result.err.strip().splitlines()) == 1

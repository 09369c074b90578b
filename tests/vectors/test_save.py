"""``run.save_embeddings``: stamped metadata and the manifest; a missing collection; chromadb
stays out of the plain commands' imports."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.vectors.conftest import INACTIVE_RUN, VecWs, unique


@pytest.mark.parametrize("vec_ws", ["embedded"], indirect=True)
def test_save_embeddings_stamps_and_records_the_manifest(vec_ws: VecWs) -> None:
    import sqlalchemy as sa

    from ita_rules.core.errors import UsageError
    from ita_rules.provenance.embeddings import manifest
    from ita_rules.workspace import Workspace

    name = unique()
    with Workspace.open(vec_ws.root).start_run("train_flow") as run:
        added = run.save_embeddings(
            name, ids=["e1", "e2"], embeddings=[[1, 2, 3], [4, 5, 6]],
            documents=["one", "two"], metadatas=[{"source_id": "s1"}, {"source_id": "s2"}],
        )  # fmt: skip
        with pytest.raises(UsageError, match="id 'e1' is already in collection"):
            run.save_embeddings(name, ids=["e1"], embeddings=[[0, 0, 0]])
        with pytest.raises(UsageError, match="metadata key 'run_id' is stamped by ita-rules"):
            run.save_embeddings(
                name, ids=["e3"], embeddings=[[0, 0, 0]], metadatas=[{"run_id": "x"}]
            )
        run_id = run.run_id
    assert added == 2
    got = vec_ws.collection(name).get(include=["metadatas", "documents"])
    assert got["ids"] == ["e1", "e2"] and got["documents"] == ["one", "two"]
    meta = got["metadatas"][0]
    assert meta["run_id"] == run_id and meta["source_id"] == "s1" and meta["ita_deleted_at"] == 0
    assert isinstance(meta["created_at"], float) and meta["setup_id"] == ""
    db = vec_ws.db()
    try:
        with db.read() as conn:
            rows = conn.execute(sa.select(manifest.c.vector_id, manifest.c.run_id)).all()
    finally:
        db.dispose()
    assert sorted(rows) == [("e1", run_id), ("e2", run_id)]


@pytest.mark.parametrize("vec_ws", ["embedded"], indirect=True)
def test_a_managed_collection_missing_from_the_store_aborts(vec_ws: VecWs, cli: Any) -> None:
    from ita_rules.provenance import vectorstore

    keep, gone = unique(), unique()
    vec_ws.save(keep, ["k1", "k2", "k3", "k4"], run_id=INACTIVE_RUN, days_old=[400] * 4)
    vec_ws.save(gone, ["g1"], run_id=INACTIVE_RUN, days_old=[400])
    s = vec_ws.settings()
    vectorstore.open_store(vectorstore.address(s.vectors_url, s.root)).delete_collection(gone)
    result = cli("retention", "apply")
    assert (result.code, result.err.strip()) == (
        1,
        f"ita-rules: collection {gone}: not in the vector store",
    )
    metas = vec_ws.collection(keep).get(include=["metadatas"])["metadatas"]
    assert [m["ita_deleted_at"] for m in metas] == [0, 0, 0, 0]
    assert not (vec_ws.root / "logs").exists()


def test_plain_commands_do_not_import_chromadb(in_git_repo: Any) -> None:
    code = (
        "import sys\nfrom ita_rules.cli import main\n"
        "try:\n    main(['retention', '--help'])\nexcept SystemExit:\n    pass\n"
        "import ita_rules.retention.engine, ita_rules.vectors.side, ita_rules.provenance.runs\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('chromadb'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.splitlines()[-1]) == []

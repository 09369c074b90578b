"""A sweep killed (SIGKILL) in the middle of its deletes, then run again: no protected vector
lost, the counts consistent, every deleted vector in the audit log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.vectors.conftest import ACTIVE_RUN, INACTIVE_RUN, VecWs, unique

# Sweeps in batches of 10 and kills itself (SIGKILL) after the second batch left the store.
KILLER = """
import os, signal, sys
import ita_rules.vectors.side as side
from ita_rules.retention import jobs
from ita_rules.workspace import Workspace
side.BATCH = 10
calls = []
real = side.Vectors.collection
def collection(self, name):
    coll = real(self, name)
    class Killing:
        def __getattr__(self, attr):
            return getattr(coll, attr)
        def delete(self, ids):
            coll.delete(ids=ids)
            calls.append(ids)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
    return Killing()
side.Vectors.collection = collection
jobs.sweep(Workspace.open(sys.argv[1]))
"""


@pytest.mark.parametrize("vec_ws", ["embedded"], indirect=True)
def test_a_killed_sweep_is_completed_by_the_next(vec_ws: VecWs, cli: Any) -> None:
    name = unique("crash")
    old = [f"o{i:02d}" for i in range(45)]
    vec_ws.save(name, old, run_id=INACTIVE_RUN, days_old=[300] * len(old))
    vec_ws.save(name, ["p1", "p2"], run_id=ACTIVE_RUN, days_old=[300, 300])
    assert (
        json.loads(cli("retention", "apply", "--json").out)["vectors_soft_deleted"] == 44
    )  # keep_last: p1, p2, o44
    coll = vec_ws.collection(name)
    coll.update(ids=["o00"], metadatas=[{"ita_tags": "important"}])  # protected after apply
    vec_ws.vectors_days_pass(name, 8)
    proc = subprocess.run([sys.executable, "-c", KILLER, str(vec_ws.root)], cwd=vec_ws.root)
    assert proc.returncode == -signal.SIGKILL
    left = set(coll.get(include=[])["ids"])
    assert len(left) == 47 - 20  # two batches of ten were deleted before the kill
    swept = json.loads(cli("retention", "sweep", "--json").out)
    assert swept["vectors_purged"] == 43 - 20
    assert sorted(coll.get(include=[])["ids"]) == ["o00", "o44", "p1", "p2"]
    log = [json.loads(x) for p in sorted((vec_ws.root / "logs").glob("purge_*.log"))
           for x in p.read_text().splitlines()]  # fmt: skip
    purged = {e["file_id"] for e in log if e["phase"] == "sweep" and e["action"] == "purge"}
    assert purged == {f"vector:{name}/o{i:02d}" for i in range(1, 44)}
    assert json.loads(cli("vectors", "status", "--json").out)["collections"] == [
        {"collection": name, "live": 3, "soft_deleted": 1, "orphans": 0, "missing": 0}
    ]

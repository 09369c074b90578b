"""Kill -9 at random moments during puts, and many processes putting at once
(docs/architecture.md#reliability).

The workers are real processes (forked, so they start in milliseconds) doing real puts into a
real store and database; the crash test SIGKILLs them.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

from tests.store.conftest import FORK, Progress, StoreWs, kill_putter_and_check, start_putter

SINGLES = 100  # of the 500 files of each concurrent process; the rest go in bulk puts of 50


def _crashing_putter(root: str, seed: int, progress: Progress) -> None:
    """Put, bulk-put, tag and remove in a loop until killed."""
    from ita_rules.store import PutSpec

    mine: list[str] = []
    rnd, store, src = start_putter(root, seed, progress)
    for i in range(10**9):
        if i:
            progress.tick()
        roll = rnd.random()
        if roll < 0.55 or not mine:
            size = rnd.choice([16, 4096, 300_000])
            shared = rnd.random() < 0.3
            body = (f"shared {rnd.randrange(8)} " if shared else f"{seed}/{i} ").encode() * (
                size // 16
            )
            path = src / f"{i}.bin"
            path.write_bytes(body)
            mine.append(store.put(path, type="screenshot", symbol="GER40", tags=["crash"]).file_id)
        elif roll < 0.8:
            batch = []
            for j in range(5):
                path = src / f"{i}-{j}.bin"
                path.write_bytes(
                    f"batch {rnd.randrange(20)} {seed}".encode()
                    if j % 2
                    else f"b{seed}/{i}/{j}".encode()
                )
                batch.append(path)
            mine += [
                r.file_id
                for r in store.put_many(batch, PutSpec("screenshot", run_id=f"run_{seed}"))
            ]
        elif roll < 0.9:
            store.tag(rnd.choice(mine), f"t{i}")
        else:
            store.remove(mine.pop(rnd.randrange(len(mine))))


def test_kill_9_at_random_moments_never_leaves_a_record_without_its_file(store_ws: StoreWs) -> None:
    from ita_rules.recovery import fsck

    rnd = random.Random(20260115)
    store = store_ws.open()
    kills = 0
    try:
        for n in range(110):
            kill_putter_and_check(
                store,
                _crashing_putter,
                store_ws.root,
                n,
                rnd.uniform(0.0, 0.08),
                hashes=n % 10 == 9,
                first_done=n % 2 == 1,  # the others: from the start, within the first put
            )
            kills += 1
        fsck(store, repair=True)
        assert fsck(store).problems == []
        records = store.find(status=None)
    finally:
        store.close()
    assert kills >= 100
    assert len(records) > 30, "the workers were killed before they stored anything"
    for record in records:
        if record.status == "live":
            data = (store_ws.store_root / record.path).read_bytes()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == record.hash


def _concurrent_putter(root: str, proc_no: int, files: list[str], start: Any) -> None:
    from ita_rules.store import PutSpec, open_store
    from ita_rules.workspace import Workspace

    store = open_store(Workspace.open(root))
    start.wait(30)
    for i, name in enumerate(files[:SINGLES]):
        store.put(name, type="screenshot", metadata={"proc": proc_no, "i": i})
    for first in range(SINGLES, len(files), 50):
        batch = [Path(f) for f in files[first : first + 50]]
        # a bulk put records one metadata for the batch: the first index identifies it
        store.put_many(batch, PutSpec("screenshot", metadata={"proc": proc_no, "batch": first}))


def test_four_processes_put_500_files_each_nothing_lost_nothing_doubled(store_ws: StoreWs) -> None:
    procs, per_proc = 4, 500
    src = store_ws.root / "src"
    plan: dict[int, list[str]] = {}
    for p in range(procs):
        plan[p] = []
        for i in range(per_proc):
            path = src / str(p) / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"shared {i}".encode() if i % 5 == 0 else f"own {p} {i}".encode())
            plan[p].append(str(path))
    start = FORK.Event()
    workers = [
        FORK.Process(target=_concurrent_putter, args=(str(store_ws.root), p, plan[p], start))
        for p in range(procs)
    ]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(300)
        assert w.exitcode == 0
    store = store_ws.open()
    try:
        records = store.find()
    finally:
        store.close()
    assert len(records) == procs * per_proc
    assert len({r.file_id for r in records}) == procs * per_proc
    singles = sorted((r.metadata["proc"], r.metadata["i"]) for r in records if "i" in r.metadata)
    assert singles == [(p, i) for p in range(procs) for i in range(SINGLES)]
    batches: dict[tuple[int, int], int] = {}
    for r in records:
        if "batch" in r.metadata:
            key = (r.metadata["proc"], r.metadata["batch"])
            batches[key] = batches.get(key, 0) + 1
    assert batches == {(p, b): 50 for p in range(procs) for b in range(SINGLES, per_proc, 50)}
    distinct = 100 + procs * 400  # i % 5 == 0 is the same content in every process
    assert len({r.hash for r in records}) == distinct
    stored = sorted((store_ws.store_root / "to_vision").iterdir())
    assert len(stored) == distinct
    by_hash = {"sha256:" + hashlib.sha256(p.read_bytes()).hexdigest(): p for p in stored}
    assert len(by_hash) == distinct
    for r in records:
        assert by_hash[r.hash] == store_ws.store_root / r.path
    from ita_rules.recovery import fsck

    store = store_ws.open()
    try:
        assert fsck(store).problems == []
    finally:
        store.close()

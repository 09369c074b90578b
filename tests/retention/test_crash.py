"""Kill -9 at random moments of retention apply and sweep (acceptance: 100+ kills).

A forked worker opens the workspace once and loops apply + sweep over successive moments
(injected as both the plan's day and the clock the safety window runs on); the parent adds files (some protected, some sharing content, some re-using content
already purged) between kills and SIGKILLs the worker after a random 0-150 ms. After every
kill the database and the disk are checked directly: no live or soft-deleted record points to
a missing file, no protected file is gone. At the end a full re-run far in the future must
converge (every eligible unprotected file purged and gone, every protected one live and on
disk) and a second run must change nothing.

The workers are forked from the test process (as in the store's crash test): a fresh
interpreter would spend ~0.5 s importing per kill, forking costs milliseconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import multiprocessing
import os
import random
import signal
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.retention.conftest import NOW, RetWs
from tests.retention.test_audit_crash import _done, _log

FORK = multiprocessing.get_context("fork")
SEED = 20260115
KILLS = 110
STEP_DAYS = 4  # between a worker's successive as_of moments, and at least between workers
ACTIVE_RUN = "run_2025_06_01_001"  # IB_raid_v1 v1.2: active, its files are protected
ACTIVE_RUN_2 = "run_2025_06_01_003"  # Frank_raid_v1 v1.1: active
DEPRECATED_RUN = "run_2025_06_01_002"  # London_FVG_v1 v1.1: deprecated, no protection
ORPHAN_RUN = "run_2025_06_01_004"  # no row in runs: kept, its lineage cannot be checked
PROTECTING_RUNS = {ACTIVE_RUN, ACTIVE_RUN_2, ORPHAN_RUN}
PHASES = ("open", "apply", "sweep")
LIVE = ("live", "deleted")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _retention_loop(root: str, start: str, started: Any, phase: Any, ready: Any) -> None:
    """Apply then sweep at start, start + 4 days, ... until killed (forked: no re-import)."""
    from ita_rules.retention.engine import Retention
    from ita_rules.store import open_store
    from ita_rules.workspace import Workspace

    ws = Workspace.open(root)
    store = open_store(ws)
    first = dt.datetime.fromisoformat(start)
    ready.set()
    for i in itertools.count():
        started.value = i
        phase.value = 0
        moment = first + dt.timedelta(days=STEP_DAYS * i)
        retention = Retention.open(ws, store, moment, clock=lambda moment=moment: moment)
        phase.value = 1
        retention.apply()
        phase.value = 2
        retention.sweep()


@dataclass
class Row:
    file_id: str
    hash: str
    path: str
    type: str
    symbol: str | None
    timeframe: str | None
    run_id: str | None
    created_at: str
    status: str
    tags: frozenset[str]

    @property
    def protected(self) -> bool:
        return self.type == "result" or "important" in self.tags or self.run_id in PROTECTING_RUNS


def _rows(store: Any) -> dict[str, Row]:
    from ita_rules.db import tables as t

    with store.db.read() as conn:
        records = conn.execute(sa.select(t.records)).mappings().all()
        tag_rows = conn.execute(sa.select(t.tags.c.file_id, t.tags.c.tag)).all()
    tags: dict[str, set[str]] = defaultdict(set)
    for file_id, tag in tag_rows:
        tags[file_id].add(tag)
    return {
        r["file_id"]: Row(
            r["file_id"],
            r["hash"],
            r["path"],
            r["type"],
            r["symbol"],
            r["timeframe"],
            r["run_id"],
            r["created_at"],
            r["status"],
            frozenset(tags[r["file_id"]]),
        )
        for r in records
    }


def _blob_paths(store: Any) -> dict[str, str]:
    from ita_rules.db import tables as t

    with store.db.read() as conn:
        return dict(conn.execute(sa.select(t.blobs.c.hash, t.blobs.c.path)).all())


def _check_invariants(store: Any, protected_live: set[str], when: str) -> dict[str, Row]:
    """No live/deleted record without its file; no protected file gone; protected since their
    put are still live."""
    rows = _rows(store)
    missing = [
        (r.file_id, r.status, r.path)
        for r in rows.values()
        if r.status in LIVE and not store.abspath(r.path).is_file()
    ]
    assert not missing, f"{when}: records point to missing files: {missing[:5]}"
    gone = [(r.file_id, r.status) for r in rows.values() if r.protected and r.status not in LIVE]
    assert not gone, f"{when}: protected records purged: {gone[:5]}"
    demoted = [(f, rows[f].status) for f in protected_live if rows[f].status != "live"]
    assert not demoted, f"{when}: protected records soft-deleted: {demoted[:5]}"
    bad = [r.status for r in rows.values() if r.status not in ("live", "deleted", "purged")]
    assert not bad, f"{when}: unexpected statuses {Counter(bad)}"
    return rows


class Feeder:
    """Adds files between kills through the real store, back-dated against the moving clock."""

    def __init__(self, ws: RetWs, store: Any, rnd: random.Random) -> None:
        self.ws, self.store, self.rnd = ws, store, rnd
        self.contents: list[tuple[bytes, str]] = []  # (bytes, ext) ever stored: re-used later
        self.protected_live: set[str] = set()  # protected at their put: must stay live
        self.late_protected: set[str] = set()  # tagged important while soft-deleted
        self.n = 0

    def _put(
        self,
        bodies: list[tuple[bytes, str]],
        days_old: list[float],
        clock: dt.datetime,
        **spec: Any,
    ) -> list[str]:
        from ita_rules.db import tables as t
        from ita_rules.store import PutSpec

        paths = []
        for body, ext in bodies:
            self.n += 1
            path = self.ws.root / "incoming" / f"{self.n}.{ext}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(body)
            paths.append(path)
        records = self.store.put_many(paths, PutSpec(**spec))
        with self.store.db.write() as conn:
            for record, age in zip(records, days_old, strict=True):
                conn.execute(
                    t.records.update()
                    .where(t.records.c.file_id == record.file_id)
                    .values(created_at=_iso(clock - dt.timedelta(days=age)))
                )
        for path in paths:
            path.unlink()
        self.contents += bodies
        ids = [str(r.file_id) for r in records]
        if (
            spec["type"] == "result"
            or "important" in spec.get("tags", ())
            or (spec.get("run_id") in PROTECTING_RUNS)
        ):
            self.protected_live.update(ids)
        return ids

    def body(self, ext: str) -> tuple[bytes, str]:
        """New bytes, or (one time in five) bytes stored before: maybe purged since."""
        same_ext = [c for c in self.contents if c[1] == ext]
        if same_ext and self.rnd.random() < 0.2:
            return self.rnd.choice(same_ext)
        return (f"{ext} body {self.n} {self.rnd.random()}".encode() * self.rnd.randint(1, 40), ext)

    def round(self, clock: dt.datetime, rows: dict[str, Row]) -> None:
        rnd = self.rnd

        def ages(k: int) -> list[float]:
            return [rnd.uniform(0, 400) for _ in range(k)]

        k = rnd.randint(1, 4)
        run_id = rnd.choice(
            [None, None, None, DEPRECATED_RUN, ORPHAN_RUN, ACTIVE_RUN, ACTIVE_RUN_2]
        )
        tags = ["important"] if rnd.random() < 0.1 else []
        self._put(
            [self.body("png") for _ in range(k)],
            ages(k),
            clock,
            type="screenshot",
            symbol=rnd.choice(["GER40", "NAS100"]),
            run_id=run_id,
            tags=tags,
        )
        if rnd.random() < 0.5:
            k = rnd.randint(1, 3)
            self._put(
                [self.body("npy") for _ in range(k)],
                ages(k),
                clock,
                type="embedding",
                symbol=rnd.choice(["GER40", "NAS100"]),
                timeframe=rnd.choice(["M5", "M15"]),
                run_id=rnd.choice([None, None, ACTIVE_RUN]),
            )
        if rnd.random() < 0.3:
            self._put([self.body("csv")], ages(1), clock, type="candles", symbol="GER40")
        if rnd.random() < 0.1:
            doc = {"setup_id": "IB_raid_v1", "rule_version": "v1.2", "metrics": {"n": self.n}}
            self._put([(json.dumps(doc).encode(), "json")], ages(1), clock, type="result")
        deleted = sorted(f for f, r in rows.items() if r.status == "deleted")
        if deleted and rnd.random() < 0.15:  # protection gained inside the safety window
            fid = rnd.choice(deleted)
            self.store.tag(fid, "important")
            self.late_protected.add(fid)


def _expected_after_full_run(rows: dict[str, Row], far: dt.datetime) -> dict[str, str]:
    """What apply at ``far`` then sweep past the window must leave, from the state before it:
    file_id -> "live" | "deleted" | "purged"."""
    days = {"screenshot": 90, "candles": 365, "embedding": 180}
    live = [r for r in rows.values() if r.status == "live"]
    rank: dict[str, int] = {}
    groups: dict[tuple[str, str | None, str | None], list[Row]] = defaultdict(list)
    for r in live:
        if r.type == "embedding":
            groups[(r.type, r.symbol, r.timeframe)].append(r)
    for members in groups.values():
        members.sort(key=lambda r: (r.created_at, r.file_id), reverse=True)
        rank.update({r.file_id: i for i, r in enumerate(members)})
    # apply restores the late-protected first: their content is a protected live record's too
    protected_hashes = {r.hash for r in rows.values() if r.protected and r.status in LIVE}
    out: dict[str, str] = {}
    for r in rows.values():
        if r.status == "purged":
            out[r.file_id] = "purged"
        elif r.protected:
            out[r.file_id] = "live"  # live stays live; late-protected is restored by apply
        elif r.hash in protected_hashes:
            out[r.file_id] = r.status  # content a protected live record needs: kept as is
        elif r.status == "deleted":
            out[r.file_id] = "deleted" if r.type == "candles" else "purged"
        else:
            created = dt.datetime.fromisoformat(r.created_at.replace("Z", "+00:00"))
            assert (far - created).days > days[r.type]
            if r.type == "embedding" and rank[r.file_id] < 3:
                out[r.file_id] = "live"  # one of the newest 3 of its group
            elif r.type == "candles":
                out[r.file_id] = "deleted"  # archive_to_remote, no verified remote: never swept
            else:
                out[r.file_id] = "purged"
    return out


def _store_files(store_root: Path) -> list[str]:
    return sorted(
        p.relative_to(store_root).as_posix()
        for p in store_root.rglob("*")
        if p.is_file() and ".ita-store" not in p.relative_to(store_root).parts
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kill_9_during_apply_and_sweep_converges_and_loses_nothing_protected(
    ret_ws: RetWs, cli: Any
) -> None:
    ret_ws.add_run(ACTIVE_RUN, "IB_raid_v1", "v1.2")
    ret_ws.add_run(DEPRECATED_RUN, "London_FVG_v1", "v1.1")
    ret_ws.add_run(ACTIVE_RUN_2, "Frank_raid_v1", "v1.1")
    rnd = random.Random(SEED)
    store = ret_ws.store()
    feeder = Feeder(ret_ws, store, rnd)
    clock = NOW
    phases: Counter[str] = Counter()
    interrupted_removals = 0
    try:
        # warm the caches the forked workers inherit (schemas, imports): without this each
        # worker spends its first ~100 ms compiling them and few kills reach the sweep
        from ita_rules.retention.engine import Retention
        from ita_rules.workspace import Workspace

        Retention.open(Workspace.open(ret_ws.root), store, clock).plan()
        rows = _rows(store)
        for n in range(KILLS):
            feeder.round(clock, rows)
            store.db.dispose()  # no open SQLite connection across the fork
            # lock=False: a worker killed while holding a Value lock would hang the parent
            started, phase = FORK.Value("i", 0, lock=False), FORK.Value("i", 0, lock=False)
            ready = FORK.Event()
            proc = FORK.Process(
                target=_retention_loop,
                args=(str(ret_ws.root), clock.isoformat(), started, phase, ready),
            )
            proc.start()
            assert ready.wait(30), "the worker did not start"
            time.sleep(rnd.uniform(0.0, 0.4))  # an apply plans in ~0.1-0.3 s, then sweeps
            os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
            proc.join()
            assert proc.exitcode == -signal.SIGKILL, f"the worker died by itself (kill {n})"
            phases[PHASES[phase.value]] += 1
            # the next worker starts after every moment this one may have acted at
            clock = clock + dt.timedelta(days=STEP_DAYS * (started.value + 1))
            rows = _check_invariants(store, feeder.protected_live, f"after kill {n}")
            needed = {r.hash for r in rows.values() if r.status in LIVE}
            interrupted_removals += any(  # a kill between "purged" and the unlink
                r.status == "purged" and r.hash not in needed and store.abspath(r.path).is_file()
                for r in rows.values()
            )

        # the full re-run below must have work of its own whatever the last kill left: a
        # worker that outlived several of its cycles may have finished everything (the
        # convergence check would then compare a finished store with itself)
        # (new bytes: stored ones may be a protected record's content, which keeps it)
        fresh = (f"png fed after the kills {feeder.n}".encode(), "png")
        feeder._put([fresh], [30.0], clock, type="screenshot", symbol="GER40")
        before = _rows(store)
        far = clock + dt.timedelta(days=1000)
        expected = _expected_after_full_run(before, far)
        assert cli("retention", "apply", "--as-of", far.isoformat()).code == 0
        # the sweep runs on the clock: 8 days after the soft deletes (the CLI's were just now)
        past_window = max(far, dt.datetime.now(dt.UTC)) + dt.timedelta(days=8)
        Retention.open(
            Workspace.open(ret_ws.root), store, past_window, clock=lambda: past_window
        ).sweep()
        after = _check_invariants(store, feeder.protected_live, "after the full re-run")
        got = {f: row.status for f, row in after.items()}
        wrong = {f: (got[f], want) for f, want in expected.items() if got[f] != want}
        assert not wrong, f"{len(wrong)} record(s) not converged (got, expected): {wrong}"
        # every file on disk is a live/deleted record's name or the stored bytes one needs,
        # and each of those is there (a record's name may be a hard link to bytes stored once)
        needed = {r.hash for r in after.values() if r.status in LIVE}
        blobs = _blob_paths(store)
        on_disk = set(_store_files(store.root))
        names = {r.path for r in after.values() if r.status in LIVE}
        assert on_disk == names | {blobs[h] for h in needed}, "stored files and records disagree"
        for fid in feeder.protected_live:
            assert after[fid].status == "live"
        for fid in feeder.late_protected:
            assert after[fid].status in LIVE and store.abspath(after[fid].path).is_file()

        # a second run changes nothing (in the store: the audit log records its checks)
        again = far + dt.timedelta(days=30)
        for args in (("apply", "--as-of", again.isoformat()), ("sweep",)):
            r = cli("retention", *args, "--json")
            assert r.code == 0, r.err
            assert json.loads(r.out)["affected_file_ids"] == []
        assert {f: row.status for f, row in _rows(store).items()} == got
        assert set(_store_files(store.root)) == on_disk
        # the audit log, over every kill: each attempt closed once (by itself or by the next
        # run), and each purged record counted done by exactly one sweep, as the records say
        swept = _done(_log(ret_ws), "sweep")
        assert set(swept.values()) == {1}, swept.most_common(3)
        assert set(swept) == {f for f, status in got.items() if status == "purged"}
        assert not (ret_ws.root / ".ita/retention.attempt").exists()
    finally:
        store.db.dispose()

    statuses = Counter(expected.values())
    total = Counter(r.status for r in before.values())
    assert sum(phases.values()) >= 100
    # the kills landed in both phases and the workers had work to do (not vacuous); loose
    # bounds: on a loaded machine the workers get less done before their kill
    assert phases["apply"] >= 5 and phases["sweep"] >= 5, phases
    assert total["purged"] >= 20 and total["deleted"] >= 10, total
    assert statuses["purged"] > total["purged"] and statuses["live"] >= 20, statuses  # fed above
    print(
        f"kills by phase {dict(phases)}; before the re-run {dict(total)}; after {dict(statuses)}; "
        f"kills leaving a purged record's file to remove: {interrupted_removals}"
    )

"""Kill -9 in the middle of retention apply and sweep, at chosen moments: the audit log says
what really happened on disk and in the database, and the re-run counts no file twice.

Each apply or sweep is one attempt in ``logs/purge_YYYY_MM_DD.log``: its per-file lines are
intents written ahead of the act, one ``completed`` line closes it, and the next run closes a
killed one with an ``interrupted`` line saying, from the records, what was done. The worker is
a real forked process that SIGKILLs itself at the chosen point of the real store calls."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
from collections import Counter
from typing import Any

import pytest

from tests.retention.conftest import RetWs

FORK = multiprocessing.get_context("fork")
AS_OF = "2026-01-15T12:00:00Z"
N = 30
KILLED_AT_REMOVAL = 12  # the sweep dies as it starts the 12th removal: 11 done


def _worker(root: str, verb: str, when: str) -> None:
    """Run ``verb`` and SIGKILL this process at ``when`` (forked: no re-import)."""
    from ita_rules.retention.engine import Retention
    from ita_rules.store import open_store
    from ita_rules.workspace import Workspace

    ws = Workspace.open(root)
    store = open_store(ws)

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    set_status, remove = store.set_status, store.remove
    if when == "before the commit":
        store.set_status = lambda *a, **kw: die()
    elif when == "after the commit":
        store.set_status = lambda *a, **kw: (set_status(*a, **kw), die())
    else:
        calls = Counter[str]()

        def remove_then_die(file_id: str, **kw: Any) -> bool:
            calls["remove"] += 1
            if calls["remove"] == KILLED_AT_REMOVAL:
                die()
            return remove(file_id, **kw)  # type: ignore[no-any-return]

        store.remove = remove_then_die
    retention = Retention.open(ws, store, dt.datetime.fromisoformat(AS_OF))
    getattr(retention, verb)()
    raise SystemExit(3)  # not killed: the test fails on the exit code


def _killed(ret_ws: RetWs, verb: str, when: str) -> None:
    proc = FORK.Process(target=_worker, args=(str(ret_ws.root), verb, when))
    proc.start()
    proc.join(120)
    assert proc.exitcode == -signal.SIGKILL, proc.exitcode


def _log(ret_ws: RetWs) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((ret_ws.root / "logs").glob("purge_*.log"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def _attempts(log: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        out.setdefault(entry["attempt"], []).append(entry)
    return out


def _done(log: list[dict[str, Any]], phase: str) -> Counter[str]:
    """How many times the log says each file was acted on in ``phase``: the distinct file_ids
    of each closed attempt's intent lines, less its ``not_done``."""
    done: Counter[str] = Counter()
    for lines in _attempts(log).values():
        closing = [e for e in lines if e["action"] in ("completed", "interrupted")]
        assert len(closing) == 1, lines  # every attempt is closed, once
        if closing[0]["phase"] != phase:
            continue
        intents = {e["file_id"] for e in lines if e["action"] in ("delete", "archive", "purge")}
        assert closing[0]["done"] == len(intents - set(closing[0]["not_done"]))
        done.update(intents - set(closing[0]["not_done"]))
    return done


@pytest.mark.parametrize("when", ["before the commit", "after the commit"])
def test_apply_killed_then_rerun_logs_each_soft_delete_once(
    ret_ws: RetWs, cli: Any, when: str
) -> None:
    ids = sorted(
        ret_ws.put(f"s{i}.png", f"png {i}".encode(), type="screenshot", days_old=200)
        for i in range(N)
    )
    _killed(ret_ws, "apply", when)
    statuses = ret_ws.statuses()
    committed = when == "after the commit"
    assert set(statuses.values()) == {"deleted" if committed else "live"}
    (killed,) = _attempts(_log(ret_ws)).values()  # the intents, not closed yet
    assert sorted(e["file_id"] for e in killed) == ids
    assert {e["action"] for e in killed} == {"delete"}
    assert (ret_ws.root / ".ita/retention.attempt").is_file()

    r = cli("retention", "apply", "--as-of", AS_OF, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["records_soft_deleted"] == (0 if committed else N)
    log = _log(ret_ws)
    closing = [e for e in log if "file_id" not in e]
    first = killed[0]["attempt"]
    assert closing[0]["attempt"] == first and closing[0]["action"] == "interrupted"
    assert (closing[0]["done"], closing[0]["not_done"]) == ((N, []) if committed else (0, ids))
    if committed:  # nothing left to do: the re-run wrote no attempt of its own
        assert len(closing) == 1
    else:
        assert (closing[1]["action"], closing[1]["done"], closing[1]["not_done"]) == (
            "completed",
            N,
            [],
        )
    assert _done(log, "apply") == Counter(dict.fromkeys(ids, 1))
    assert set(ret_ws.statuses().values()) == {"deleted"}
    assert all(ret_ws.path_of(f).is_file() for f in ids)
    assert not (ret_ws.root / ".ita/retention.attempt").exists()


def test_sweep_killed_then_rerun_logs_each_removal_once_and_as_it_happened(
    ret_ws: RetWs, cli: Any
) -> None:
    ids = sorted(
        ret_ws.put(f"s{i}.png", f"png {i}".encode(), type="screenshot", days_old=200)
        for i in range(N)
    )
    assert cli("retention", "apply", "--as-of", AS_OF).code == 0
    ret_ws.days_pass(8)
    paths = {f: ret_ws.path_of(f) for f in ids}
    _killed(ret_ws, "sweep", "mid-sweep")
    statuses = ret_ws.statuses()
    gone = sorted(f for f in ids if statuses[f] == "purged")
    left = sorted(f for f in ids if statuses[f] == "deleted")
    assert len(gone) == KILLED_AT_REMOVAL - 1 and len(left) == N - len(gone)
    assert not any(paths[f].exists() for f in gone) and all(paths[f].is_file() for f in left)
    killed = _attempts(_log(ret_ws))
    sweep_attempt = next(a for a, lines in killed.items() if lines[0]["phase"] == "sweep")
    lines = killed[sweep_attempt]
    # the intents say what the removal is to do, true while the file is still there
    assert sorted(e["file_id"] for e in lines) == ids
    assert {(e["action"], e["disk"]) for e in lines} == {("purge", "remove the file from disk")}

    # The trader restores one of the files still on disk, then the daily sweep completes.
    back = left[0]
    r = cli("retention", "restore", back)
    assert r.code == 0, r.err
    r = cli("retention", "sweep", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["records_purged"] == report["total_files_purged"] == len(left) - 1
    log = _log(ret_ws)
    interrupted = [e for e in log if e["attempt"] == sweep_attempt][-1]
    assert (interrupted["action"], interrupted["done"], interrupted["not_done"]) == (
        "interrupted",
        len(gone),
        left,
    )
    rerun = _attempts(log)[report_attempt(log, sweep_attempt)]
    assert sorted(e["file_id"] for e in rerun if "file_id" in e) == left[1:]
    assert (rerun[-1]["action"], rerun[-1]["done"], rerun[-1]["files_removed"]) == (
        "completed",
        len(left) - 1,
        len(left) - 1,
    )
    done = _done(log, "sweep")
    assert done == Counter(dict.fromkeys([f for f in ids if f != back], 1))
    # against the disk and the database: what the log counts as done is what happened
    statuses = ret_ws.statuses()
    assert {f for f in ids if statuses[f] == "purged"} == set(done)
    assert {f for f in ids if paths[f].exists()} == {back} and statuses[back] == "live"
    restores = [e for e in log if e.get("file_id") == back and e["action"] == "restore"]
    assert len(restores) == 1
    assert not (ret_ws.root / ".ita/retention.attempt").exists()


def report_attempt(log: list[dict[str, Any]], killed: str) -> str:
    """The re-run's sweep attempt: the last one, other than the killed one."""
    return next(
        e["attempt"] for e in reversed(log) if e["phase"] == "sweep" and e["attempt"] != killed
    )

"""Write-ahead journal: a record is in the journal (fsynced) before its database commit, so a
rebuild never loses a record the database had; a journal entry whose commit never happened
restores only what the files on disk support.

The kill test runs the real CLI (``ita-rules store put DIR``, 200 files) and SIGKILLs
it 20 times, at a random moment after a point of the put it observed (staging, journal written,
records committed): not a fixed time, which a loaded machine would not honour.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store.conftest import StoreWs, ita
from tests.store.test_disk_faults import journaled, lose_database, record_ids

FILES = 200


def _db_ids(ws: StoreWs) -> set[str]:
    store = ws.open()
    try:
        return {r.file_id for r in store.find(status=None)}
    finally:
        store.close()


def _wait_until(proc: subprocess.Popen[bytes], reached: Callable[[], bool]) -> None:
    """Until ``reached()`` (or the process ends): progress observed, not a time guessed."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            if reached():
                return
        time.sleep(0.005)


def _staging(folder: Path, proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """The put's first temp file is in ``folder``."""
    mine = f".ita-tmp-{proc.pid}-"

    def reached() -> bool:
        with os.scandir(folder) as found:
            return any(entry.name.startswith(mine) for entry in found)

    return reached


# Each round waits for one point of the put, then kills it a random time later: while staging
# (the 200 files), once its journal entries are written (then between them and the commit, or
# just after), or once it prints its records (committed: so every run has records to check).
PHASES = ("staging", "journaled", "committed")


def _phase(ws: StoreWs, proc: subprocess.Popen[bytes], phase: str, out: Path) -> Callable[[], bool]:
    if phase == "staging":
        return _staging(ws.store_root / "archive" / "raw", proc)  # where candles go
    if phase == "journaled":
        journal = ws.store_root / ".ita-store" / "journal.jsonl"
        size = journal.stat().st_size if journal.exists() else 0
        return lambda: journal.stat().st_size > size
    return lambda: out.stat().st_size > 0  # the CLI prints the records once committed


def test_kill_9_during_bulk_puts_never_leaves_a_record_out_of_the_journal(
    store_ws: StoreWs,
) -> None:
    rnd = random.Random(20261126)
    env = dict(os.environ)
    killed = 0
    # puts until ten were killed: a put that ends before its kill lands tests nothing, and how
    # many do depends on the machine's load and on how quickly a put exits after its output
    for n in range(60):
        if killed >= 10:
            break
        src = store_ws.root / "src" / str(n)
        src.mkdir(parents=True)
        for i in range(FILES):
            (src / f"{i}.csv").write_text(f"{n},{i},{rnd.random()}\n" * (1 + i % 7))
        phase = PHASES[n % 3]
        out = store_ws.root / "src" / f"{n}.out"
        with out.open("wb") as stdout:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ita_rules", "store", "put", str(src), "--type", "candles"],
                cwd=store_ws.root,
                env=env,
                stdout=stdout,
                stderr=subprocess.DEVNULL,
            )
        _wait_until(proc, _phase(store_ws, proc, phase, out))
        time.sleep(rnd.uniform(0.0, 0.1 if phase == "staging" else 0.02))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        in_db = _db_ids(store_ws)
        missing = in_db - journaled(store_ws.store_root)
        assert not missing, f"kill {n}: {len(missing)} record(s) of the database not journaled"
    assert killed >= 10, "the puts finished before they were killed: nothing was tested"
    assert _db_ids(store_ws), "every put was killed before it stored anything"
    # a put killed between its journal entry and its commit left its files in place: fsck
    # --repair (as the rebuild does) restores it; then the database and a rebuild agree
    repair = ita(store_ws, "store", "fsck", "--repair")
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert "not on disk" not in repair.stdout + repair.stderr
    before = record_ids(store_ws)
    assert before == _db_ids(store_ws) - set()  # every record is live
    lose_database(store_ws)
    rebuilt = ita(store_ws, "store", "rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["skipped"] == []
    assert record_ids(store_ws) == before
    store = store_ws.open()
    try:
        for record in store.find():
            data = Path(store_ws.store_root / record.path).read_bytes()
            assert "sha256:" + hashlib.sha256(data).hexdigest() == record.hash
    finally:
        store.close()


def test_a_put_whose_journal_cannot_be_written_leaves_no_record(store_ws: StoreWs) -> None:
    """The journal alone is read-only (a read-only bind mount of the file): the put and the
    tag fail before their commit, and the database keeps nothing the journal lacks."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("a bind mount needs root (CI=true never skips)")
        pytest.skip("a bind mount needs root")
    (store_ws.root / "a.csv").write_text("a\n")
    (store_ws.root / "b.csv").write_text("b\n")
    first = ita(store_ws, "store", "put", "a.csv", "--type", "candles")
    assert first.returncode == 0, first.stderr
    file_id = first.stdout.split()[0]
    path = store_ws.store_root / ".ita-store" / "journal.jsonl"
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        before = store_ws.state()
        put = ita(store_ws, "store", "put", "b.csv", "--type", "candles")
        tag = ita(store_ws, "store", "tag", file_id, "london")
        after = store_ws.state()
    finally:
        subprocess.run(["umount", str(path)], check=False)
    assert (put.returncode, put.stderr) == (
        1,
        "ita-rules: exchange: cannot write to the store: Read-only file system; "
        "nothing was stored\n",
    )
    assert (tag.returncode, tag.stderr) == (
        1,
        "ita-rules: exchange: cannot write to the store: Read-only file system; "
        "nothing was changed\n",
    )
    assert after == before
    assert journaled(store_ws.store_root) == {file_id}


def _fail_commits(ws: StoreWs) -> None:
    """Make the database refuse at COMMIT (a deferred foreign key that cannot hold) every
    transaction that stores a record with symbol FAILCOMMIT or adds the tag failcommit."""
    import sqlalchemy as sa

    url = ws.db_url.replace("sqlite:///", f"sqlite:///{ws.root}/")
    engine = sa.create_engine(url)
    deferred = "DEFERRABLE INITIALLY DEFERRED"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE guard_parent (id VARCHAR(36) PRIMARY KEY)")
            conn.exec_driver_sql(
                f"CREATE TABLE guard (id VARCHAR(36) REFERENCES guard_parent (id) {deferred})"
            )
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql(
                    "CREATE TRIGGER guard_records AFTER INSERT ON store_records "
                    "WHEN NEW.symbol = 'FAILCOMMIT' BEGIN "
                    "INSERT INTO guard VALUES (NEW.file_id); END"
                )
                conn.exec_driver_sql(
                    "CREATE TRIGGER guard_tags AFTER INSERT ON store_tags "
                    "WHEN NEW.tag = 'failcommit' BEGIN "
                    "INSERT INTO guard VALUES (NEW.file_id); END"
                )
                return
            for table, test in (
                ("store_records", "NEW.symbol = 'FAILCOMMIT'"),
                ("store_tags", "NEW.tag = 'failcommit'"),
            ):
                conn.exec_driver_sql(
                    f"CREATE FUNCTION guard_{table}() RETURNS trigger AS $$ BEGIN "
                    f"IF {test} THEN INSERT INTO guard VALUES (NEW.file_id); END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
                conn.exec_driver_sql(
                    f"CREATE TRIGGER guard_{table} AFTER INSERT ON {table} "
                    f"FOR EACH ROW EXECUTE FUNCTION guard_{table}()"
                )
    finally:
        engine.dispose()


def test_a_commit_that_fails_after_the_journal_append_takes_the_entries_back(
    store_ws: StoreWs,
) -> None:
    (store_ws.root / "a.csv").write_text("a\n")
    (store_ws.root / "b").mkdir()
    for i in range(3):
        (store_ws.root / "b" / f"{i}.csv").write_text(f"b{i}\n")
    first = ita(store_ws, "store", "put", "a.csv", "--type", "candles")
    assert first.returncode == 0, first.stderr
    file_id = first.stdout.split()[0]
    _fail_commits(store_ws)
    journal = (store_ws.store_root / ".ita-store" / "journal.jsonl").read_bytes()
    before = store_ws.state()
    put = ita(store_ws, "store", "put", "b", "--type", "candles", "--symbol", "FAILCOMMIT")
    tag = ita(store_ws, "store", "tag", file_id, "failcommit")
    for failed in (put, tag):
        assert failed.returncode == 1, failed.stderr
        assert failed.stderr.startswith("ita-rules: database "), failed.stderr
        assert failed.stderr.count("\n") == 1
    assert store_ws.state() == before  # no record, no tag, no file placed
    assert (store_ws.store_root / ".ita-store" / "journal.jsonl").read_bytes() == journal
    lose_database(store_ws)
    rebuilt = ita(store_ws, "store", "rebuild", "--json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["records"] == 1
    assert record_ids(store_ws) == {file_id}


def test_a_journaled_record_whose_file_is_gone_is_named_not_restored(store_ws: StoreWs) -> None:
    (store_ws.root / "a.csv").write_text("a\n")
    (store_ws.root / "b.csv").write_text("b\n")
    kept = ita(store_ws, "store", "put", "a.csv", "--type", "candles").stdout.split()
    gone = ita(store_ws, "store", "put", "b.csv", "--type", "candles").stdout.split()
    (store_ws.store_root / gone[1]).unlink()
    lose_database(store_ws)
    fsck = ita(store_ws, "store", "fsck")
    assert fsck.returncode == 1
    assert (
        f".ita-store/journal.jsonl: record {gone[0]} is in the journal but not in the database, "
        "and its file is not on disk (a put whose commit never happened, or a file lost since)"
    ) in fsck.stdout.splitlines()
    rebuilt = ita(store_ws, "store", "rebuild")
    assert (rebuilt.returncode, rebuilt.stderr) == (
        0,
        f"record {gone[0]}: its file is not on disk; not restored\n",
    )
    assert record_ids(store_ws) == {kept[0]}
    repair = ita(store_ws, "store", "fsck", "--repair")
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert gone[0] not in journaled(store_ws.store_root)
    clean = ita(store_ws, "store", "fsck")
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stdout

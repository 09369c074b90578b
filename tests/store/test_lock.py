"""The store lock (ita_rules/store/lock.py): another process holding it, with filelock's
FileLock as older releases and other tools take it, makes a put wait and then refuse in one
line; once it lets go, the put goes through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write
from tests.store.conftest import StoreWs

HOLD = """
import sys, time
from filelock import FileLock
with FileLock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_put_waits_for_a_filelock_holder_then_refuses(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ita_rules.store import PutSpec, StoreBusy, core

    src = write(tmp_path / "chart.png", b"png bytes")
    lock = store_ws.store_root / ".ita-store" / "lock"
    lock.parent.mkdir(parents=True)
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        try:
            assert holder.stdout.readline() == b"held\n"
            monkeypatch.setattr(core, "LOCK_TIMEOUT_S", 0.3)
            store = store_ws.open()
            try:
                with pytest.raises(StoreBusy) as caught:
                    store.put_many([src], PutSpec("screenshot"))
                expected = f"the store {store_ws.store_root} stayed locked for 0 s"
                assert str(caught.value) == expected
                assert store.find() == []
                holder.stdin.write(b"\n")
                holder.stdin.flush()
                assert holder.wait(timeout=30) == 0
                [record] = store.put_many([src], PutSpec("screenshot"))
                assert (store_ws.store_root / record.path).read_bytes() == b"png bytes"
            finally:
                store.close()
        finally:
            holder.kill()

"""A large file is copied by the kernel while the copy is hashed behind it
(``ita_rules/store/kernelcopy.py``): whichever way a file is copied, the stored bytes and the
recorded hash are the bytes read, and a disk that fills up mid-copy is one line, nothing kept.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ita_rules.store import blobs, kernelcopy
from tests.store.conftest import StoreWs, ita
from tests.store.test_disk_faults import leftovers, tmpfs


def spy_copy_file_range(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what each real ``os.copy_file_range`` call did: bytes copied, or the error."""
    calls: list[str] = []
    real: Callable[..., int] = os.copy_file_range

    def spy(*args: Any) -> int:
        try:
            n = real(*args)
        except OSError as exc:
            calls.append(os.strerror(exc.errno or 0))
            raise
        calls.append(str(n))
        return n

    monkeypatch.setattr(os, "copy_file_range", spy)
    return calls


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_large_put_is_copied_by_the_kernel_in_steps_and_hashed_from_the_copy(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = kernelcopy.STEP
    data = os.urandom(2 * step + 12345)  # two whole steps and a short one
    (store_ws.root / "model.bin").write_bytes(data)
    calls = spy_copy_file_range(monkeypatch)
    with store_ws.open() as store:
        record = store.put(store_ws.root / "model.bin", type="model")
    assert calls == [str(step), str(step), "12345", "0"]
    assert (record.hash, record.size) == (sha(data), len(data))
    assert (store_ws.store_root / record.path).read_bytes() == data
    assert leftovers(store_ws.store_root) == []


def test_a_source_on_another_file_system_is_copied_by_reading(
    store_ws: StoreWs, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(blobs.LARGE + 4321)
    with tmpfs(store_ws.root / "elsewhere", "16m") as elsewhere:
        (elsewhere / "model.bin").write_bytes(data)
        calls = spy_copy_file_range(monkeypatch)
        with store_ws.open() as store:
            record = store.put(elsewhere / "model.bin", type="model")
    assert calls == [os.strerror(18)]  # EXDEV: the kernel refuses, nothing was written
    assert (record.hash, record.size) == (sha(data), len(data))
    assert (store_ws.store_root / record.path).read_bytes() == data


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("grow", lambda data: data + b"appended after fstat"),
        ("shrink", lambda data: data[:1000]),
        ("empty", lambda data: b""),
    ],
)
def test_a_source_that_changes_after_fstat_is_stored_and_hashed_as_copied(
    tmp_path: Path, change: str, expected: Callable[[bytes], bytes]
) -> None:
    data = os.urandom(blobs.LARGE + 1)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    fd, size = blobs.open_sized(source)
    try:
        if change == "grow":
            with open(source, "ab") as fh:
                fh.write(b"appended after fstat")
        else:
            os.truncate(source, len(expected(data)))
        staged = blobs.stage(fd, tmp_path / "store", "source.bin", size_hint=size)
    finally:
        os.close(fd)
    stored = Path(staged.path).read_bytes()
    assert stored == expected(data)
    assert (staged.hash, staged.size) == (sha(stored), len(stored))


def test_a_disk_that_fills_up_during_the_kernel_copy_is_one_line_and_keeps_nothing(
    store_ws: StoreWs,
) -> None:
    (store_ws.root / "model.bin").write_bytes(os.urandom(3 * kernelcopy.STEP))
    with tmpfs(store_ws.store_root, "12m"):
        ran = ita(store_ws, "store", "put", "model.bin", "--type", "model")
        message = (
            "ita-rules: exchange: cannot write to the store: No space left on device; "
            "nothing was stored\n"
        )
        assert (ran.returncode, ran.stdout, ran.stderr) == (1, "", message)
        assert leftovers(store_ws.store_root) == []

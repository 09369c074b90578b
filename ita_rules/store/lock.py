"""The store lock (:meth:`ita_rules.store.core.Store.locked`): an exclusive lock on the file
``.ita-store/lock`` under the store root, held while files are placed, the database changes and
the journal grows.

On POSIX it is ``flock(LOCK_EX)`` on that file, which is what ``filelock.FileLock`` takes there
too, so processes of either kind exclude each other. ``filelock`` itself is imported only
elsewhere (Windows): its import costs ~50 ms of CPU (it imports ``asyncio``), a sixth of a
whole ``store put`` of 1,000 files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

POLL_S = 0.05  # how often a waiting process tries again (filelock's default too)


class LockTimeout(Exception):
    """The lock stayed taken for the whole timeout."""


@contextmanager
def exclusive(path: str, timeout: float) -> Iterator[None]:
    """Hold the lock on the file ``path`` (created when missing), waiting at most ``timeout``
    seconds for another holder to let go; :class:`LockTimeout` when it does not."""
    if os.name != "posix":  # pragma: no cover - exercised on Windows only
        with _filelock(path, timeout):
            yield
        return
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(path) from None
                time.sleep(POLL_S)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def _filelock(path: str, timeout: float) -> Iterator[None]:  # pragma: no cover - Windows
    from filelock import FileLock, Timeout

    try:
        with FileLock(path, timeout=timeout):
            yield
    except Timeout:
        raise LockTimeout(path) from None

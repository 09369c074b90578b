"""Stored bytes: open a source safely, copy it into a temp file while hashing (one pass,
constant memory), then move it into place atomically.

A put first *stages* the file (temp file in the target folder, SHA-256 computed during the
copy, fsync), and only under the store lock *places* it (``os.replace`` to a name that is
free) inside the database transaction, before its commit. A crash leaves at most a temp file
or a file without a record; ``store fsck`` finds both.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import stat
import sys
from pathlib import Path
from typing import Any, NamedTuple

from ita_rules.core import fsutil as _fsutil
from ita_rules.core.fsutil import sync_dir as sync_dir  # re-exported: callers use blobs.sync_dir
from ita_rules.store.errors import SourceError
from ita_rules.store.naming import TMP_PREFIX

CHUNK = 1 << 20  # 1 MiB: large enough for full hashlib/syscall speed, small enough for RSS


class Staged(NamedTuple):
    """A complete temp copy of a source (fsynced unless a bulk put syncs later), with its hash.
    (A NamedTuple: a dataclass's methods are written and compiled at every start.)"""

    path: str  # the temp file
    hash: str
    size: int
    source: str

    @property
    def tmp(self) -> Path:
        return Path(self.path)


def check_source(path: str | Path, shown: str) -> None:
    """Refuse missing files, links, folders and special files (without opening them)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise SourceError(f"{shown}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{shown}: cannot read: {exc.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise SourceError(f"{shown}: is a symbolic link; store the file it points to")
    if stat.S_ISDIR(st.st_mode):
        raise SourceError(
            f"{shown}: is a directory; pass files, or a directory to the CLI for a bulk put"
        )
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{shown}: is not a regular file")


def open_source(path: str | Path, shown: str | None = None, *, checked: bool = False) -> int:
    """An fd for reading ``path``; refuses missing files, links, folders and special files.

    ``checked=True`` skips the ``lstat`` that :func:`check_source` already did; the open
    still refuses a link (``O_NOFOLLOW``) and ``fstat`` still refuses a non-file.
    """
    return open_sized(path, shown, checked=checked)[0]


_OPEN_SOURCE = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def open_sized(
    path: str | Path, shown: str | None = None, *, checked: bool = False
) -> tuple[int, int]:
    """:func:`open_source`, plus the size ``fstat`` saw when it opened (a hint: it may change)."""
    shown = shown if shown is not None else str(path)
    if not checked:
        check_source(path, shown)
    try:
        fd = os.open(path, _OPEN_SOURCE)
    except FileNotFoundError:
        raise SourceError(f"{shown}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SourceError(f"{shown}: is a symbolic link; store the file it points to") from None
        raise SourceError(f"{shown}: cannot read: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # replaced between lstat and open
        os.close(fd)
        raise SourceError(f"{shown}: is not a regular file")
    return fd, st.st_size


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        written = os.write(fd, data)
        data = data[written:]


WRITEBACK_WINDOW = 32 << 20  # start the disk write of every 32 MiB as soon as it is copied
SMALL = 256 << 10  # smaller (as fstat saw it): one read, hashed from the bytes, no 1 MiB buffer
LARGE = 4 << 20  # larger (as fstat saw it): copied by the kernel, hashed behind it (kernelcopy)


def stage(
    src_fd: int, folder: str | Path, shown: str, *, sync: bool = True, size_hint: int = -1
) -> Staged:
    """Copy an open source into a temp file in ``folder``, hashing in the same pass.

    ``sync=False`` skips the per-file fsync (a bulk put syncs once for all files instead).
    Memory stays constant whatever the size: one 1 MiB buffer, or for a large file one 8 MiB
    window of its copy mapped at a time. The disk write of every window
    is started as soon as it is copied, so the final fsync is short. ``size_hint`` (the size
    :func:`open_sized` saw) lets a small file be read in one call, and a large one be copied
    by the kernel in one thread while the copy is hashed in this one
    (:mod:`ita_rules.store.kernelcopy`); the copy goes on until the end in every case, so a
    file that grows or shrinks meanwhile is stored and hashed exactly as copied.
    """
    out, tmp = create_temp(folder)
    try:
        try:
            digest, size = _copy(src_fd, out, sync, size_hint)
        except OSError as exc:
            if getattr(exc, "ita_source", False):
                raise SourceError(f"{shown}: cannot read: {exc.strerror}") from None
            raise
        if sync:
            os.fsync(out)
    except BaseException:
        os.close(out)
        discard(tmp)
        raise
    os.close(out)
    return Staged(tmp, "sha256:" + digest, size, shown)


def discard(path: str) -> None:
    """Remove a temp file that may already be gone."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _read(src_fd: int, buf: bytearray) -> int:
    try:
        return (
            os.readv(src_fd, [buf]) if hasattr(os, "readv") else _read_into(src_fd, memoryview(buf))
        )
    except OSError as exc:
        exc.ita_source = True  # type: ignore[attr-defined]
        raise


def _read_bytes(src_fd: int, size: int) -> bytes:
    try:
        return os.read(src_fd, size)
    except OSError as exc:
        exc.ita_source = True  # type: ignore[attr-defined]
        raise


def _copy(src_fd: int, out: int, sync: bool, size_hint: int = -1) -> tuple[str, int]:
    if size_hint >= LARGE:
        from ita_rules.store import kernelcopy  # its threads and mmap: for large files only

        pace = _start_writeback if sync else None
        done = kernelcopy.copy_and_hash(src_fd, out, pace, WRITEBACK_WINDOW)
        if done is not None:
            return done
    size = flushed = 0
    if 0 <= size_hint < SMALL:
        data = _read_bytes(src_fd, size_hint + 1)  # one byte more: shows a file that grew
        # the size fstat saw, and not the byte more: the end (a read of a regular file stops
        # short only there); otherwise one more read tells (b"": the end, as expected)
        more = _read_bytes(src_fd, CHUNK) if data and len(data) != size_hint else b""
        written = os.write(out, data)
        if written != len(data):  # a short write: the rest
            _write_all(out, memoryview(data)[written:])
        if not more:
            return hashlib.sha256(data).hexdigest(), len(data)
        digest = hashlib.sha256(data)  # it grew since fstat: go on streaming
        digest.update(more)
        _write_all(out, memoryview(more))
        size = len(data) + len(more)
    else:
        digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := _read(src_fd, buf):
        chunk = view[:n]
        digest.update(chunk)
        _write_all(out, chunk)
        size += n
        if sync and size - flushed >= WRITEBACK_WINDOW:
            _start_writeback(out, flushed, size - flushed)
            flushed = size
    return digest.hexdigest(), size


_SYNC_FILE_RANGE: Any = None


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``: begin writing a range to disk now,
    without waiting. Elsewhere a no-op (the final fsync does the work)."""
    global _SYNC_FILE_RANGE
    if _SYNC_FILE_RANGE is None:
        _SYNC_FILE_RANGE = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                fn = ctypes.CDLL(None, use_errno=True).sync_file_range
                fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
                _SYNC_FILE_RANGE = fn
            except (OSError, AttributeError):
                pass
    if _SYNC_FILE_RANGE:
        _SYNC_FILE_RANGE(fd, offset, length, 2)  # SYNC_FILE_RANGE_WRITE


_TEMP_TOKEN = os.urandom(6).hex()  # per process (a forked child differs by its pid)
_TEMP_COUNT = itertools.count()
_PID = [os.getpid()]  # os.getpid() is a system call: once, and again in a forked child
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))
# read and write: kernelcopy reads the copy back to hash it
_CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def create_temp(folder: str | Path) -> tuple[int, str]:
    """A new empty file ``.ita-tmp-{pid}-{unique}`` (mode 0644) in ``folder``: fd and path.

    The pid lets ``store fsck`` tell a dead process's leftover from a put in progress. The
    name is a per-process random token plus a counter (``O_EXCL`` makes it safe; a clash, e.g.
    with a dead process's leftover under a reused pid, retries with a fresh random name).
    """
    base = os.fspath(folder)
    unique = f"{_TEMP_TOKEN}{next(_TEMP_COUNT):x}"
    for _ in range(100):
        path = f"{base}{os.sep}{TMP_PREFIX}{_PID[0]}-{unique}"
        try:
            return os.open(path, _CREATE, 0o644), path
        except FileExistsError:
            unique = os.urandom(8).hex()
        except FileNotFoundError:
            os.makedirs(base, exist_ok=True)
    raise OSError(errno.EEXIST, f"cannot create a temporary file in {folder}")


def _read_into(fd: int, view: memoryview) -> int:  # pragma: no cover - platforms without readv
    data = os.read(fd, len(view))
    view[: len(data)] = data
    return len(data)


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a stored file, streaming in constant memory."""
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            digest.update(view[:n])
            size += n
    return "sha256:" + digest.hexdigest(), size


# Making many written files durable has one home, shared with validate --fix: fsync each of a
# few, one syncfs of the file system for many (ita_rules/core/fsutil.py).
SYNC_EACH_UP_TO = _fsutil.SYNC_EACH_UP_TO
sync_all = _fsutil.sync_files

"""What a put reads: a file (opened without following links) or bytes, checked and staged.

Every source of a batch is checked before anything is written; a result is read fully (it is
small) so that exactly the checked bytes are stored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ita_rules.core.errors import UsageError
from ita_rules.store import blobs
from ita_rules.store.errors import SourceError

if TYPE_CHECKING:
    from ita_rules.rules.registry import Registry

BYTES_SHOWN = "<bytes>"  # how bytes put from memory are shown: "<bytes>.json"
CANDLE_EXTENSIONS = ("csv", "parquet", "pq", "tsv", "txt")  # what run inputs hash as candles


def check_candles(sources: list[Source]) -> None:
    """Refuse a candles put of files that are not candle files (by extension), naming the
    first; nothing of the batch is stored."""
    from ita_rules.store import naming

    bad = [s.shown for s in sources if naming.extension(s.shown).lower() not in CANDLE_EXTENSIONS]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        kinds = ", ".join(f".{e}" for e in CANDLE_EXTENSIONS[:-1])
        raise SourceError(
            f"{bad[0]}: not a candle file{more}: --type candles takes {kinds} or "
            f".{CANDLE_EXTENSIONS[-1]} files; nothing was stored"
        )


class Listed(str):
    """A path that the listing of its directory (:func:`expand`) saw as a regular file, from
    the entry's type the listing returns (no ``lstat``): its check before the batch's first
    write is that. The open still refuses a link (``O_NOFOLLOW``) and ``fstat`` a non-file,
    so a path changed since the listing is refused when it is read."""

    __slots__ = ()


class Source:
    """One thing to store: a path (opened safely) or bytes."""

    __slots__ = ("checked", "data", "fd", "path", "shown")

    def __init__(
        self, shown: str, *, path: str | Path | None = None, data: bytes | None = None
    ) -> None:
        self.shown = shown  # also gives the stored file its extension
        self.path = path
        self.data = data
        self.fd: int | None = None
        self.checked = False

    def check(self) -> None:
        if self.path is not None:
            if not isinstance(self.path, Listed):  # a listed regular file needs no lstat
                blobs.check_source(self.path, self.shown)
            self.checked = True

    def open(self) -> None:
        if self.path is not None and self.fd is None:
            self.fd = blobs.open_source(self.path, self.shown, checked=self.checked)

    def load_result(self, registry: Registry) -> None:
        """Read a result fully (bounded), check it, and keep the exact bytes that were checked."""
        from ita_rules.store.results import MAX_BYTES, check_result

        if self.data is None:
            self.open()
            assert self.fd is not None
            chunks = []
            total = 0
            try:
                while chunk := os.read(self.fd, 1 << 20):
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > MAX_BYTES:
                        break
            except OSError as exc:
                raise SourceError(f"{self.shown}: cannot read: {exc.strerror}") from None
            self.data = b"".join(chunks)
            self.close()
        check_result(self.data, self.shown, registry)

    def stage(self, folder: str | Path, *, sync: bool) -> blobs.Staged:
        if self.data is not None:
            return stage_bytes(self.data, folder, self.shown, sync=sync)
        size = -1  # unknown when already open
        if self.fd is None:
            assert self.path is not None
            self.fd, size = blobs.open_sized(self.path, self.shown, checked=self.checked)
        try:
            return blobs.stage(self.fd, folder, self.shown, sync=sync, size_hint=size)
        finally:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def stage_all(
    sources: list[Source], folder: str | Path, progress: Callable[[int, int], None] | None
) -> list[blobs.Staged]:
    """Stage many sources one after the other (threads measured slower here: file creation in
    one folder is serialised by the kernel). On any error remove what was staged and raise."""
    staged: list[blobs.Staged] = []
    total = len(sources)
    try:
        for done, src in enumerate(sources, 1):
            staged.append(src.stage(folder, sync=False))
            if progress:
                progress(done, total)
    except BaseException:
        for item in staged:
            blobs.discard(item.path)
        raise
    return staged


def stage_bytes(data: bytes, folder: str | Path, shown: str, *, sync: bool) -> blobs.Staged:
    fd, tmp = blobs.create_temp(folder)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        blobs.discard(tmp)
        raise
    os.close(fd)
    return blobs.Staged(tmp, "sha256:" + hashlib.sha256(data).hexdigest(), len(data), shown)


def expand(paths: Sequence[str]) -> list[str]:
    """The files a put of ``paths`` stores: each file as given; a directory (not a link)
    stands for every file under it, sorted (in the order of sorted ``Path`` objects: by their
    parts; plain strings are much cheaper for 10,000 files). An empty directory is a usage
    error."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path) and not os.path.islink(path):
            found: list[str] = []
            _files_under(path, found)
            if not found:
                raise UsageError(f"{path}: no files to store in this directory")
            found.sort(key=_path_order)
            out.extend(found)
        else:
            out.append(path)
    return out


def _path_order(path: str) -> str:
    """A key that sorts paths by their parts: a NUL (never in a path) sorts before every
    other character, so comparing the parts joined by NUL compares the parts in turn, as
    comparing the lists would (with one string compared instead of two lists, ~3x cheaper)."""
    return os.path.normcase(path).replace(os.sep, "\0")


def _files_under(folder: str, found: list[str]) -> None:
    """Everything under ``folder`` that is not a directory (links included: put refuses them);
    symbolic links to directories are not followed. A regular file is :class:`Listed` (where
    the listing gives no entry types, ``DirEntry`` asks ``lstat`` itself)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _files_under(entry.path, found)
            elif entry.is_file(follow_symlinks=False):
                found.append(Listed(entry.path))
            else:
                found.append(entry.path)

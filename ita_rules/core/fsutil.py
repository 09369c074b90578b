"""Small file-system helpers shared by every writer: atomic replace, directory fsync, display
paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part.

    A temporary file in the same directory is written and fsynced, then ``os.replace``d.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sync_dir(folder: str | Path) -> None:
    """fsync a directory so that a new name or a rename in it survives a power loss (POSIX
    only: elsewhere directories cannot be fsynced)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def display_path(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` with ``/`` separators when inside it, else as given; the
    bytes of a name that is not UTF-8 are shown escaped (``v1.1\\xff.yaml``), see
    :func:`printable`."""
    return printable(relative_path(path, root))


def relative_path(path: Path, root: Path | None) -> str:
    """:func:`display_path` without the escaping: a name git or the file system can take."""
    if root is not None:
        try:
            return path.absolute().relative_to(root.absolute()).as_posix()
        except ValueError:
            pass
    return str(path)


def printable(name: str) -> str:
    """A path (or a message naming one) that can be printed: the bytes of a file name that is
    not UTF-8 (surrogate escapes, as Python and git reading decode them) become ``\\xNN``.
    Any other text is returned unchanged."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name

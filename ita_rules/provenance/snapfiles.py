"""The runs' snapshot files, ``{provenance folder}/{run_id}_snapshot.json``: the durable record
of every run, from which the ``runs`` table is rebuilt.

A new run id is claimed by creating its file exclusively (:func:`claim`): a complete temp file
is hard-linked to the name, which fails when the name exists, so two processes (even with
different databases) never get the same id and a run's file is never overwritten by another
run's. Where the file system has no hard links, the file is created with ``O_EXCL`` instead.
"""

from __future__ import annotations

import errno
import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ita_rules.core.fsutil import sync_dir

RUN_ID_RE = re.compile(r"run_([0-9]{4}_[0-9]{2}_[0-9]{2})_([0-9]{3,})")
SNAPSHOT_SUFFIX = "_snapshot.json"
STATUSES = ("running", "succeeded", "failed", "abandoned")
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV)


def text(snapshot: Mapping[str, Any]) -> str:
    """The snapshot file's text."""
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def sha256(content: str) -> str:
    """``sha256:<hex>`` of the bytes a snapshot file with that text holds."""
    from ita_rules.core.canonical import sha256_of

    return sha256_of(content.encode("utf-8"))


def listed(folder: Path) -> list[tuple[str, str, int]]:
    """``(run_id, day, seq)`` of every file in ``folder`` named like a snapshot, by name."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        if name.endswith(SNAPSHOT_SUFFIX):
            match = RUN_ID_RE.fullmatch(name[: -len(SNAPSHOT_SUFFIX)])
            if match is not None:
                out.append((match.group(0), match.group(1), int(match.group(2))))
    return out


def highest_seq(folder: Path, day: str) -> int:
    """The highest sequence number of ``day`` (``YYYY_MM_DD``) that has a file (0: none)."""
    return max((seq for _run_id, d, seq in listed(folder) if d == day), default=0)


def claim(path: Path, content: str) -> bool:
    """Create ``path`` with ``content``, complete and durable, only if no file has that name;
    False when one has (the run id is taken)."""
    from ita_rules.store.naming import TMP_PREFIX

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}")
    try:
        _write_new(tmp, content)
        try:
            os.link(tmp, path)  # atomic, and refuses an existing name
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            try:
                _write_new(path, content)
            except FileExistsError:
                return False
    finally:
        tmp.unlink(missing_ok=True)
    sync_dir(path.parent)
    return True


def read_snapshot(path: Path, run_id: str) -> dict[str, Any] | None:
    """A snapshot file's content when it is a run's snapshot with that run id, else None."""
    try:
        snap = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(snap, dict)
        or snap.get("run_id") != run_id
        or snap.get("status") not in STATUSES
        or not isinstance(snap.get("flow_type"), str)
        or not isinstance(snap.get("started_at"), str)
    ):
        return None
    return snap


def _write_new(path: Path, content: str) -> None:
    """Create ``path`` (``FileExistsError`` when it exists), write ``content``, fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    try:
        view = memoryview(content.encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)

"""OpenLineage dataset names of files whose content has a verified copy on an S3 remote
(docs/architecture.md#lineage): namespace ``s3://{bucket}``, name the object key.

The copies are read from the ``remote_copies`` table of the database's one schema
(``db/steps.py`` creates it; the remote layer writes it): only copies whose ``remote`` is the
workspace's ``remote.name`` as written and that were verified count. ``remote.name`` is S3 when
it is a connection string ``:s3,...:bucket/prefix`` or names a configured remote of type
``s3`` (``RCLONE_CONFIG_{NAME}_TYPE``, else ``rclone listremotes --long``, asked once per
process). Anything else (no remote, another backend, rclone missing) keeps the ``file`` naming.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable

import sqlalchemy as sa

from ita_rules.db import Database

COPIES = sa.table(
    "remote_copies",
    sa.column("hash"),
    sa.column("remote"),
    sa.column("remote_path"),
    sa.column("verified_at"),
)
_CONNECTION = re.compile(r"^:s3(?:,[^:]*)?:(?P<root>.+)$")
_NAMED = re.compile(r"^(?P<name>[\w.][\w. -]*):(?P<root>.+)$")


@functools.lru_cache(maxsize=16)
def _remote_type(name: str) -> str | None:
    """The backend type of a configured rclone remote, or None when unknown."""
    var = f"RCLONE_CONFIG_{name.upper().replace('-', '_').replace('.', '_')}_TYPE"
    if os.environ.get(var):
        return os.environ[var].strip().lower()
    exe = shutil.which("rclone")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "listremotes", "--long"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        listed, _, kind = line.partition(":")
        if listed.strip() == name:
            return kind.strip().lower() or None
    return None


def s3_root(remote: str) -> tuple[str, str] | None:
    """``(bucket, prefix)`` of an S3 remote path, or None when ``remote`` is not S3."""
    found = _CONNECTION.match(remote)
    if found is None:
        named = _NAMED.match(remote)
        if named is None or _remote_type(named["name"]) != "s3":
            return None
        found = named
    bucket, _, prefix = found["root"].strip("/").partition("/")
    return (bucket, prefix) if bucket else None


def s3_names(remote: str, db: Database, hashes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """``{content hash: ("s3://bucket", key)}`` for the ``hashes`` with a verified copy."""
    wanted = sorted(set(hashes))
    root = s3_root(remote) if remote and wanted else None
    if root is None:
        return {}
    bucket, prefix = root
    query = sa.select(COPIES.c.hash, COPIES.c.remote_path).where(
        COPIES.c.hash.in_(wanted),
        COPIES.c.remote == remote,
        COPIES.c.verified_at.is_not(None),
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
    return {
        hash_: (f"s3://{bucket}", f"{prefix}/{path}" if prefix else str(path))
        for hash_, path in rows
    }

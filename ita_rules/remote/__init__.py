"""Remote object storage through rclone (docs/architecture.md#remote-copies): push, pull and
check the store against the configured ``remote.name`` (any rclone remote path: S3, Google
Drive, a local folder...).

    from ita_rules import Workspace
    from ita_rules.remote import open_remote
    remote = open_remote(Workspace.open())
    try:
        report = remote.push(remote.store.find(type="candles"))
    finally:
        remote.close()

Retention calls :func:`ensure_remote_copy` before it deletes a stored file (re-checks the
copy on the remote now, pushes it when needed); :func:`has_verified_copy` and
:func:`verified_copies` read what push and check recorded. See :mod:`ita_rules.remote.sync` for
what "verified" means.
"""

from __future__ import annotations

from collections.abc import Sequence

from ita_rules.db import Database
from ita_rules.remote.outcomes import FileOutcome, SyncReport
from ita_rules.remote.rclone import (
    Rclone,
    RcloneMissing,
    RemoteConfigError,
    RemoteError,
    RemoteSpec,
)
from ita_rules.remote.sync import Remote
from ita_rules.remote.tables import RemoteCopy
from ita_rules.store import Desk, Store


def open_remote(desk: Desk) -> Remote:
    """Check rclone and ``remote.name`` first (nothing is opened or written when either is
    wrong), then open the store of ``desk`` (a :class:`~ita_rules.workspace.Workspace`); its
    database's schema, the ``remote_copies`` table with it, is current once it is open."""
    from ita_rules.remote import rclone
    from ita_rules.store import open_store

    spec = rclone.parse_remote(desk.settings.remote_name)
    program = rclone.find(spec)
    hashes = _hashes(program, spec)
    return Remote(open_store(desk), spec, program, hashes)


def _hashes(program: Rclone, spec: RemoteSpec) -> tuple[str, ...]:
    """The remote's hash types; a remote name rclone does not know is a clear error."""
    try:
        return program.hashes(spec.text)
    except RemoteError:
        # one rclone run in the usual case; the remotes are listed only to explain a failure
        if spec.name is not None and spec.name not in program.remotes():
            raise RemoteConfigError(
                f"remote.name: rclone has no remote named {spec.name!r} "
                "(see `rclone listremotes`; add it with `rclone config` or RCLONE_CONFIG_"
                f"{spec.name.upper()}_TYPE=...)"
            ) from None
        raise


def verified_copies(
    db: Database, hashes: Sequence[str], remote: str | None = None
) -> dict[str, RemoteCopy]:
    """For each content hash that has a verified remote copy (on ``remote`` when given: the
    ``remote.name`` as configured, secrets redacted), its most recently verified copy."""
    from ita_rules.remote.tables import copies

    out: dict[str, RemoteCopy] = {}
    for hash_, found in copies(db, hashes, remote).items():
        verified = [c for c in found if c.verified_at is not None]
        if verified:
            out[hash_] = max(verified, key=lambda c: c.verified_at or "")
    return out


def has_verified_copy(db: Database, content_hash: str, remote: str | None = None) -> bool:
    """True when the stored content ``content_hash`` (``sha256:...``) has a copy on the remote
    that push or check verified and no later check or pull found missing or different."""
    return content_hash in verified_copies(db, [content_hash], remote)


_FOUND: dict[tuple[object, ...], tuple[RemoteSpec, Rclone, tuple[str, ...]]] = {}


def remote_for(store: Store) -> Remote:
    """The configured remote of an open store. rclone and the remote are looked up once per
    remote name and rclone environment; the store and its database stay the caller's (do not
    ``close()`` the result)."""
    import os

    from ita_rules.remote import rclone

    name = store.settings.remote_name
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k == "PATH" or "RCLONE" in k))
    key = (name, env)
    if key not in _FOUND:
        spec = rclone.parse_remote(name)
        program = rclone.find(spec)
        _FOUND[key] = (spec, program, _hashes(program, spec))
    spec, program, hashes = _FOUND[key]
    return Remote(store, spec, program, hashes)


def ensure_remote_copy(store: Store, content_hash: str, path: str) -> bool:
    """Retention's check before it deletes a stored file: True only when the content has a
    verified copy on the configured remote *now*. A recorded copy is re-checked on the remote
    (size + hash, one listing); a missing or different one, or none, is pushed and verified.
    ``path`` is the name of one of the content's records (each record has its own name, all
    of them links to the bytes stored once); a path no record of ``content_hash`` has is not
    that content: False. Raises :class:`RemoteError` (rclone failed), :class:`RcloneMissing`,
    :class:`RemoteConfigError`."""
    remote = remote_for(store)
    records = store.find(hash=content_hash, status=None)
    if path not in {record.path for record in records}:
        return False
    if remote.recheck(content_hash, records):
        return True
    report = remote.push(records)
    return any(f.hash == content_hash and f.status in ("verified", "already") for f in report.files)


def remote_key(remote_name: str) -> str:
    """How a ``remote.name`` is recorded in ``remote_copies.remote`` (secrets redacted)."""
    from ita_rules.remote.rclone import parse_remote

    return parse_remote(remote_name).shown


__all__ = [
    "FileOutcome",
    "RcloneMissing",
    "Remote",
    "RemoteConfigError",
    "RemoteCopy",
    "RemoteError",
    "SyncReport",
    "ensure_remote_copy",
    "has_verified_copy",
    "open_remote",
    "remote_for",
    "remote_key",
    "verified_copies",
]

"""``remote pull``: restore stored files from the remote, each re-verified before it is placed.

Objects are copied (``rclone copy``) into a staging folder under ``.ita-store/`` (which
``store fsck`` does not scan); each one's SHA-256 is re-computed against its record, and only
then is the file fsynced and moved to its stored path with ``os.replace`` under the store lock,
and its records marked present again (``missing``/``corrupt`` -> ``live``; ``purged`` -> ``live``
for the records the pull named). A stored path therefore never holds a partial file, whatever
moment the process is killed; the staging folder of a killed pull is removed by the next one.
A copy that does not match its record is refused (the local file is not touched) and loses its
verified status.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ita_rules.core.errors import NotFound
from ita_rules.remote.outcomes import Blob, FileOutcome, SyncReport, group
from ita_rules.remote.rclone import RemoteError
from ita_rules.store import Store
from ita_rules.store import blobs as store_blobs
from ita_rules.store.records import LIVE, Record

if TYPE_CHECKING:
    from ita_rules.remote.sync import Progress, Remote

REVIVE = ("missing", "corrupt")  # statuses a restored file makes "live" again
BATCH = 1000  # files per rclone copy


def select(store: Store, file_id: str | None = None, run_id: str | None = None) -> list[Record]:
    """The records a pull restores: one, a run's (purged ones included), or by default
    every record whose file should be on disk (live, deleted, missing, corrupt)."""
    if file_id is not None:
        return [store.get(file_id)]
    if run_id is not None:
        found = store.find(run_id=run_id, status=None)
        if not found:
            raise NotFound(f"no records of run {run_id!r} in the store")
        return found
    return store.find(status=(*LIVE, *REVIVE))


def pull(remote: Remote, records: Sequence[Record], progress: Progress | None = None) -> SyncReport:
    """Restore the stored files of ``records`` from the remote where they are missing (or
    differ from their record), each re-verified by SHA-256 before it is moved into place;
    then mark their records present (``missing``/``corrupt``/``purged`` -> ``live``)."""
    report = SyncReport("pull", remote.key, "sha256")
    _clean_staging(remote.store)
    need: list[Blob] = []
    for blob in group(records, remote.store.stored_paths(r.hash for r in records)):
        if _present(remote.store, blob):
            _revive(remote.store, blob)
            report.files.append(remote.outcome(blob, "present"))
        else:
            need.append(blob)
    done = 0
    for start in range(0, len(need), BATCH):
        batch = need[start : start + BATCH]
        report.files.extend(_pull_batch(remote, batch))
        done += len(batch)
        if progress:
            progress(done, len(need))
    return report


def _clean_staging(store: Store) -> None:
    """Remove staging folders of pulls whose process is gone (killed mid-pull)."""
    for folder in store.housekeeping.glob("pull-*"):
        try:
            pid = int(folder.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _present(store: Store, blob: Blob) -> bool:
    path = store.abspath(blob.path)
    if not path.is_file() or path.is_symlink() or path.stat().st_size != blob.size:
        return False
    if all(r.status in LIVE for r in blob.records):
        return True  # the store's own state: `store verify` re-hashes live files
    return store_blobs.hash_file(path)[0] == blob.hash


def _revive(store: Store, blob: Blob) -> None:
    """Mark present the records of a restored file: those of the pull that were purged,
    and every record of the same content that was marked missing or corrupt."""
    ids = {r.file_id for r in blob.records if r.status == "purged"}
    ids |= {r.file_id for r in store.find(hash=blob.hash, status=REVIVE)}
    if ids:
        store.set_status(sorted(ids), "live")
    store.relink(blob.hash)  # the records' own names of the content (hard links)


def _pull_batch(remote: Remote, batch: list[Blob]) -> list[FileOutcome]:
    out: list[FileOutcome] = []
    staging = remote.store.housekeeping / f"pull-{os.getpid()}-{secrets.token_hex(6)}"
    staging.mkdir(parents=True)
    try:
        copied = remote.rclone.copy_files(remote.spec.text, str(staging), [b.path for b in batch])
        errors = copied.object_errors()
        if not copied.ok and not any((staging / b.path).is_file() for b in batch):
            raise RemoteError(
                f"pull from {remote.key} failed: {copied.reason()}; nothing was restored"
            )
        ready: list[tuple[Blob, Path]] = []
        for blob in batch:
            staged = staging / blob.path
            if not staged.is_file():
                reason = errors.get(blob.path) or (
                    copied.reason() if not copied.ok else "no such file there"
                )
                out.append(remote.outcome(blob, "failed", f"not on {remote.key}: {reason}"))
                continue
            sha = store_blobs.hash_file(staged)[0]
            if sha != blob.hash:
                problem = (
                    f"the copy on {remote.key} does not match its record: {sha}, expected "
                    f"{blob.hash}; the local file was not touched"
                )
                remote.unverify(blob, problem)
                out.append(remote.outcome(blob, "failed", problem))
                continue
            ready.append((blob, staged))
        _place(remote.store, ready)
        for blob, _ in ready:
            _revive(remote.store, blob)
            out.append(remote.outcome(blob, "restored"))
        return out
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _place(store: Store, ready: list[tuple[Blob, Path]]) -> None:
    """Move verified files to their stored paths: fsync, then ``os.replace`` under the
    store lock (a copy into a temp file beside the target when on another file system)."""
    if not ready:
        return
    store_blobs.sync_all([staged for _, staged in ready])
    parents: set[Path] = set()
    with store.locked():
        for blob, staged in ready:
            target = store.abspath(blob.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged, 0o644)
            try:
                os.replace(staged, target)
            except OSError as exc:  # another file system: copy beside the target, replace
                if exc.errno != errno.EXDEV:
                    raise
                fd = store_blobs.open_source(staged)
                try:
                    copy = store_blobs.stage(fd, target.parent, blob.path)
                finally:
                    os.close(fd)
                if copy.hash != blob.hash:  # pragma: no cover - changed while copied
                    copy.tmp.unlink(missing_ok=True)
                    raise RemoteError(f"{blob.path}: changed while it was restored") from None
                os.replace(copy.tmp, target)
            parents.add(target.parent)
        for parent in parents:
            store_blobs.sync_dir(parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True

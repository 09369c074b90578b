"""push, pull and check between the store and its rclone remote
(docs/architecture.md#remote-copies).

Layout: the remote mirrors the store root. The stored file of each distinct content (the store
keeps one file per SHA-256) is copied once to ``{remote.name}/{its path under the store root}``,
so the remote reads like the archive and one object stands for every record of that content.

What "verified" means: after ``rclone copy --checksum`` the object is listed with
``rclone lsjson --hash`` and its size and hash must equal those of the local bytes, which were
themselves checked against the record's SHA-256 just before. The hash is the best one both sides
can compute: SHA-256 where the backend has it (local folders, Google Drive...), else SHA-1, else
MD5 (S3's native checksum). A backend that reports none of them (or no value for an object,
e.g. an S3 multipart upload without rclone's MD5 metadata) is verified by downloading the object
and re-computing its SHA-256. Only then is ``verified_at`` recorded (``remote_copies``, and the
store's journal, from which a lost database is rebuilt); a failed or partial upload records
nothing as verified, and a re-run copies what is still missing.

``pull`` (:mod:`ita_rules.remote.pull`) restores files, each SHA-256 re-verified first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ita_rules.core.times import iso
from ita_rules.core.times import now as now_utc
from ita_rules.remote import tables
from ita_rules.remote.outcomes import Blob, FileOutcome, SyncReport, group, hash_local
from ita_rules.remote.rclone import Rclone, RemoteError, RemoteFile, RemoteSpec
from ita_rules.remote.tables import RemoteCopy
from ita_rules.store import Store
from ita_rules.store.records import LIVE, Record

Progress = Callable[[int, int], None]
BATCH = 1000  # files per rclone process: one copy and one listing each
LOCAL_HASHES = ("sha256", "sha1", "md5")  # what hashlib computes, best first


class Remote:
    """A store and its rclone remote. Open it with :func:`ita_rules.remote.open_remote`."""

    def __init__(self, store: Store, spec: RemoteSpec, rclone: Rclone, hashes: Sequence[str]):
        self.store = store
        self.spec = spec
        self.rclone = rclone
        self.key = spec.shown  # how the remote is named in the database and in output
        self.hash_type = next((h for h in LOCAL_HASHES if h in hashes), None)

    def close(self) -> None:
        self.store.close()

    def outcome(
        self, blob: Blob, status: str, detail: str | None = None, at: str | None = None
    ) -> FileOutcome:
        return FileOutcome(
            blob.path, blob.hash, blob.size, tuple(blob.file_ids), status, detail, at
        )

    def _row(self, blob: Blob, expected: str | None, at: str, problem: str | None) -> RemoteCopy:
        return RemoteCopy(
            blob.hash, self.key, blob.path, blob.size, expected,
            None if problem else at, at, problem,
        )  # fmt: skip

    def _save(self, rows: Sequence[RemoteCopy]) -> None:
        """Record what was found about copies: in the store's journal first (what a rebuild
        of the database restores), then in ``remote_copies``; under the store lock."""
        if not rows:
            return
        with self.store.locked():
            self.store.journal.append([row.journal_entry() for row in rows])
            tables.save(self.store.db, rows)

    # -- push ----------------------------------------------------------------------------
    def push(self, records: Sequence[Record], progress: Progress | None = None) -> SyncReport:
        """Copy the stored files of ``records`` that have no verified copy yet, then verify
        them. Files verified before an rclone failure stay recorded; the failure is raised."""
        report = SyncReport("push", self.key, self.hash_type)
        blobs = group(records, self.store.stored_paths(r.hash for r in records))
        known = tables.copies(self.store.db, [b.hash for b in blobs], self.key)
        todo: list[Blob] = []
        for blob in blobs:
            copy = next((c for c in known.get(blob.hash, []) if c.verified), None)
            if copy is not None:
                report.files.append(self.outcome(blob, "already", None, copy.verified_at))
            else:
                todo.append(blob)
        done = 0
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            try:
                report.files.extend(self._push_batch(batch))
            except RemoteError as exc:
                verified = report.count("verified") + report.count("already")
                raise RemoteError(
                    f"push to {self.key} stopped: {exc.message}; {verified} of {len(blobs)} "
                    "file(s) verified, run `ita-rules remote push` again to complete it"
                ) from None
            done += len(batch)
            if progress:
                progress(done, len(todo))
        return report

    def _push_batch(self, batch: list[Blob]) -> list[FileOutcome]:
        out: list[FileOutcome] = []
        ready: list[tuple[Blob, str]] = []  # blob, expected remote hash ("md5:...")
        for blob in batch:
            path = self.store.abspath(blob.path)
            if not path.is_file() or path.is_symlink():
                out.append(self.outcome(blob, "missing_local",
                    f"not on disk and no verified copy on {self.key}: nothing to push "
                    "(see `ita-rules store fsck`)"))  # fmt: skip
                continue
            try:
                sha, extra, size = hash_local(path, self.hash_type)
            except FileNotFoundError:  # removed meanwhile (e.g. by a retention sweep)
                out.append(self.outcome(blob, "missing_local",
                    f"not on disk and no verified copy on {self.key}: nothing to push "
                    "(see `ita-rules store fsck`)"))  # fmt: skip
                continue
            if sha != blob.hash or size != blob.size:
                out.append(self.outcome(blob, "corrupt_local",
                    f"does not match its record {blob.hash}: not pushed "
                    "(see `ita-rules store verify`)"))  # fmt: skip
                continue
            ready.append((blob, f"{self.hash_type}:{extra}" if self.hash_type else ""))
        if not ready:
            return out
        paths = [blob.path for blob, _ in ready]
        copied = self.rclone.copy_files(str(self.store.root), self.spec.text, paths)
        copy_errors = copied.object_errors()
        listed = self.rclone.list_files(self.spec.text, paths, self.hash_type)
        at = iso(now_utc())
        rows: list[RemoteCopy] = []
        for blob, expected in ready:
            found = listed.get(blob.path)
            problem: str | None
            if found is None:
                reason = copy_errors.get(blob.path) or (
                    copied.reason() if not copied.ok else "not on the remote after the copy"
                )
                problem = f"not copied to {self.key}: {reason}"
            else:
                problem = self._compare(blob, found, expected or None)
            rows.append(self._row(blob, expected or None, at, problem))
            out.append(self.outcome(blob, "failed" if problem else "verified", problem,
                                     None if problem else at))  # fmt: skip
        self._save(rows)
        return out

    def _compare(self, blob: Blob, found: RemoteFile, expected: str | None) -> str | None:
        """None when the remote object is intact, else what is wrong (one line)."""
        if found.size != blob.size:
            return (
                f"the copy on {self.key} does not match: {found.size} bytes, expected {blob.size}"
            )
        if expected and found.hash and expected.split(":", 1)[0] == self.hash_type:
            got = f"{self.hash_type}:{found.hash}"
            if got != expected:
                return f"the copy on {self.key} does not match: {got}, expected {expected}"
            return None
        try:
            sha = self.download_hash(blob.path)
        except RemoteError as exc:
            return exc.message
        if sha != blob.hash:
            return f"the copy on {self.key} does not match: {sha}, expected {blob.hash}"
        return None

    def recheck(self, content_hash: str, records: Sequence[Record]) -> bool:
        """Is the recorded, verified copy of ``content_hash`` still intact on the remote? One
        listing (size + hash); the answer is recorded (a bad copy loses its verification)."""
        row = next(
            (c for c in tables.copies(self.store.db, [content_hash], self.key).get(content_hash, [])
             if c.verified),
            None,
        )  # fmt: skip
        if row is None:
            return False
        blob = Blob(content_hash, row.remote_path, row.size, tuple(records))
        found = self.rclone.list_files(self.spec.text, [row.remote_path], self.hash_type).get(
            row.remote_path
        )
        problem = (
            f"missing on {self.key}"
            if found is None
            else self._compare(blob, found, row.remote_hash)
        )
        at = iso(now_utc())
        self._save([self._row(blob, row.remote_hash, at, problem)])
        return problem is None

    def download_hash(self, relative: str) -> str:
        """SHA-256 of a remote object, streamed through ``rclone cat`` (nothing kept)."""
        digest = hashlib.sha256()
        outcome = self.rclone.stream(self.spec.join(relative), digest.update)
        if not outcome.ok:
            raise RemoteError(f"cannot read the copy on {self.key}: {outcome.reason()}")
        return "sha256:" + digest.hexdigest()

    # -- check ---------------------------------------------------------------------------
    def check(self, *, download: bool = False, progress: Progress | None = None) -> SyncReport:
        """Re-verify every recorded copy on the remote (size + hash, or SHA-256 by download);
        a copy found missing or different loses its ``verified_at``."""
        report = SyncReport("check", self.key, None if download else self.hash_type)
        rows = tables.all_copies(self.store.db, self.key)
        live = self.store.find(status=LIVE)
        stored = self.store.stored_paths(r.hash for r in live)
        by_hash = {blob.hash: blob for blob in group(live, stored)}
        try:
            listed = self.rclone.list_files(
                self.spec.text, [r.remote_path for r in rows], None if download else self.hash_type
            )
        except RemoteError as exc:
            raise RemoteError(f"check of {self.key} failed: {exc.message}") from None
        at = iso(now_utc())
        saved: list[RemoteCopy] = []
        for done, row in enumerate(rows, 1):
            blob = by_hash.get(row.hash) or Blob(row.hash, row.remote_path, row.size, ())
            blob = Blob(row.hash, row.remote_path, row.size, blob.records)
            found = listed.get(row.remote_path)
            problem: str | None
            if found is None:
                problem, status = f"missing on {self.key}", "missing"
            else:
                expected = None if download else row.remote_hash
                problem = self._compare(blob, found, expected)
                status = "corrupt" if problem else "ok"
            saved.append(self._row(blob, row.remote_hash, at, problem))
            report.files.append(self.outcome(blob, status, problem, None if problem else at))
            if progress:
                progress(done, len(rows))
        self._save(saved)
        recorded = {r.hash for r in rows}
        for blob in by_hash.values():
            if blob.hash not in recorded:
                report.files.append(self.outcome(blob, "not_pushed", f"not pushed to {self.key}"))
        return report

    # -- pull (ita_rules.remote.pull) ------------------------------------------------------
    def select_pull(self, file_id: str | None = None, run_id: str | None = None) -> list[Record]:
        """The records a pull restores: one, a run's (purged ones included), or by default
        every record whose file should be on disk (live, deleted, missing, corrupt)."""
        from ita_rules.remote.pull import select

        return select(self.store, file_id, run_id)

    def pull(self, records: Sequence[Record], progress: Progress | None = None) -> SyncReport:
        """Restore the stored files of ``records`` (see :func:`ita_rules.remote.pull.pull`)."""
        from ita_rules.remote.pull import pull

        return pull(self, records, progress)

    def unverify(self, blob: Blob, problem: str) -> None:
        """The copy of ``blob`` on this remote is not intact: it is no longer verified."""
        known = tables.copies(self.store.db, [blob.hash], self.key).get(blob.hash, [])
        at = iso(now_utc())
        self._save(
            [RemoteCopy(c.hash, c.remote, c.remote_path, c.size, c.remote_hash, None, at, problem)
             for c in known],
        )  # fmt: skip

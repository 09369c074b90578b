"""Where the files of a put go (:func:`place`): decided in the put's transaction, before any
file is moved; :func:`ita_rules.store.batch.commit` then carries the plan out."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ita_rules.core import times
from ita_rules.store import blobs, names, naming
from ita_rules.store.records import Record
from ita_rules.store.sources import BYTES_SHOWN

if TYPE_CHECKING:
    import datetime as _dt

    from ita_rules.store.core import Store
    from ita_rules.store.spec import PutSpec


BlobRow = tuple[str, str, int, str]  # a new store_blobs row: hash, path, size, created_at


class Known(NamedTuple):
    """What the database knows of a batch's hashes, read in the put's transaction. (These
    are NamedTuples and plain classes, not dataclasses: the dataclass decorator writes and
    compiles its methods at every start, ~4 million instructions a class.)"""

    stored: dict[str, str]  # hash -> its stored file (the first path its bytes got)
    needed: set[str]  # hashes some live record needs
    same: dict[str, str]  # hash -> path of a live record of the same type, symbol and run


class Plan(NamedTuple):
    """The records of a batch and what their put writes: the new blob rows, the stale blobs
    stored again under a new name, and the file operations (see :func:`place`)."""

    records: list[Record]
    new_blobs: list[BlobRow]
    moved: dict[str, str]  # hash -> new path of a stored content no live record needed
    ops: list[tuple[str, str, str | None]]  # (source, target, spare temp file or None)


def place(
    store: Store,
    staged: Sequence[blobs.Staged],
    spec: PutSpec,
    known: Known,
    folder_rel: str,
    folder: str,
    now: _dt.datetime,
) -> Plan:
    """One record per staged file (not yet inserted), the new blob rows, the stale blobs
    stored again under a new name, and the file operations: ``(temp file, target, None)``
    renames a new content into place, ``(stored file, target, temp file)`` gives a record
    its own name for bytes already stored (a hard link; the temp copy when the file system
    cannot link).

    Each record's path is in its type's folder and named after its own symbol and run: bytes
    first stored as candles and put again as a screenshot get a second name under the
    screenshot folder. A record of the same content, type, symbol and run shares the path
    that record has. ``known.stored`` grows with what is placed, so a content that appears
    twice in a batch is stored once."""
    created = times.iso(now)
    placer = _Placer(store, spec, known, folder_rel, folder, times.stamp(now), created)
    placer.start({s.hash for s in staged})
    out: list[Record] = []
    meta = spec.metadata or {}
    kind = (spec.type, spec.symbol, spec.timeframe, spec.run_id, spec.tags)
    shared = Record("", "", "", 0, *kind, {}, created).__dict__
    for s, file_id in zip(staged, ids_in_hash_order(staged), strict=True):
        blob = known.stored.get(s.hash)
        if blob is None or s.hash in placer.stale:
            rel, dedup = placer.new_content(s, blob), False
        else:
            rel, dedup = placer.stored_content(s, blob)
        # Record(file_id, rel, s.hash, ..., deduplicated=dedup), each with its own metadata
        # dict, made from the fields every record of the batch shares (the call of
        # Record's __init__ with its 16 arguments costs more)
        record = _new(Record)
        fields = record.__dict__
        fields.update(shared)
        fields["file_id"] = file_id
        fields["path"] = rel
        fields["hash"] = s.hash
        fields["size"] = s.size
        fields["metadata"] = dict(meta)
        fields["original_name"] = original_name(s.source)
        fields["deduplicated"] = dedup
        out.append(record)
    return Plan(out, placer.new_blobs, placer.moved, placer.ops)


_new = object.__new__


class _Placer:
    """Where each file of a batch goes, decided one file after the other (see :func:`place`)."""

    def __init__(
        self,
        store: Store,
        spec: PutSpec,
        known: Known,  # .stored and .same grow with what this batch places
        folder_rel: str,
        folder: str,
        stamp: str,
        created: str,
    ) -> None:
        self.store = store
        self.spec = spec
        self.known = known
        self.folder_rel = folder_rel
        self.folder = folder
        self.stamp = stamp
        self.created = created
        self.names: dict[str, str] = {}  # suffix -> this batch's file name
        self.here: set[str] = set()  # paths this batch places: known to exist
        self.stale: set[str] = set()
        self.gone: set[str] = set()
        self.taken: set[str] = set()  # names in ``folder`` that must stay free
        self.present: set[str] | None = None  # the names in ``folder`` (a large batch lists it)
        self.new_blobs: list[BlobRow] = []
        self.moved: dict[str, str] = {}  # hash -> its new stored file
        self.ops: list[tuple[str, str, str | None]] = []

    def start(self, hashes: set[str]) -> None:
        """Sort the batch's contents that are stored already: ``stale`` when no live record
        needs them (purged, or marked corrupt or missing: stored again under the new record's
        own name, which becomes their stored file), ``gone`` when needed but removed from disk
        since (their bytes go back to their stored paths, which new contents of this batch
        must not take)."""
        stored = self.known.stored
        seen = hashes & stored.keys()
        self.stale = {h for h in seen if h not in self.known.needed}
        root = self.store.root
        self.gone = {h for h in seen - self.stale if not os.path.lexists(root / stored[h])}
        old_paths = [os.fspath(root / stored[h]) for h in self.gone]
        self.taken = {os.path.basename(p) for p in old_paths if os.path.dirname(p) == self.folder}
        self.present = names.listing(self.folder, len(hashes))

    def own_name(self, source: str) -> str:
        """The name this batch gives a file put from ``source``: made once for each suffix
        (``splitext``'s, which :func:`naming.extension` checks), not once for each file."""
        suffix = os.path.splitext(source)[1]
        name = self.names.get(suffix)
        if name is None:
            spec = self.spec
            ext = naming.extension(source)
            name = self.names[suffix] = naming.file_name(spec.symbol, spec.run_id, self.stamp, ext)
        return name

    def new_content(self, s: blobs.Staged, blob: str | None) -> str:
        """Bytes not stored (or stale): the temp file becomes the stored file."""
        used = names.free_name(
            s.hash, self.folder, self.own_name(s.source), self.taken, self.present
        )
        self.ops.append((s.path, f"{self.folder}{os.sep}{used}", None))
        rel = self.known.stored[s.hash] = self.known.same[s.hash] = f"{self.folder_rel}/{used}"
        self.here.add(rel)
        if blob is None:
            self.new_blobs.append((s.hash, rel, s.size, self.created))
        else:
            self.moved[s.hash] = rel
            self.stale.discard(s.hash)
        return rel

    def stored_content(self, s: blobs.Staged, blob: str) -> tuple[str, bool]:
        """Bytes stored already under ``blob``: put back there first when they were lost
        from disk; the record gets its own name (a hard link) unless a live record of the
        same type, symbol and run has one. Returns the path and whether the put was
        deduplicated."""
        dedup = True
        store = self.store
        if s.hash in self.gone and blob not in self.here:
            target = store.abspath(blob)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.ops.append((s.path, str(target), None))
            self.here.add(blob)
            dedup = False
        rel = self.known.same.get(s.hash, "")
        if not rel or (rel not in self.here and not os.path.lexists(store.root / rel)):
            used = names.free_name(
                s.hash, self.folder, self.own_name(s.source), self.taken, self.present
            )
            rel = self.known.same[s.hash] = f"{self.folder_rel}/{used}"
            spare = s.path if dedup else ""  # the temp file, unless it restored the bytes
            self.ops.append((os.fspath(store.abspath(blob)), f"{self.folder}{os.sep}{used}", spare))
            self.here.add(rel)
        return rel, dedup


def ids_in_hash_order(staged: Sequence[blobs.Staged]) -> list[str]:
    """A new file id for each staged file (:func:`file_ids`), handed out in the order of the
    files' hashes: the smallest id to the smallest hash. The put inserts its rows in hash
    order (:func:`ita_rules.store.batch._insert`), so its file ids then come in ascending
    order too, and SQLite adds them to the file_id index page after page instead of at
    random. A statement of many rows copies each page it changes to its statement journal
    once (:func:`ita_rules.store.batch.insert_rows`): with the ids at random, one page for
    nearly every row (10,000 files into a new store in statements of 100 rows: ~14,400 more
    pwrite calls than one row a statement, ~5,700 with the ids in this order)."""
    ids = sorted(file_ids(len(staged)))
    by_hash = sorted(range(len(staged)), key=lambda i: staged[i].hash)  # stable: ties in order
    out = [""] * len(staged)
    for file_id, i in zip(ids, by_hash, strict=True):
        out[i] = file_id
    return out


def file_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text (what ``str(uuid.uuid4())`` gives), from one
    read of the system's random source (``uuid.uuid4()`` reads it once per id: a system call
    per file of a bulk put), formatted from one hex string (uuid.UUID objects cost ~3x)."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION_4)  # as uuid.UUID(bytes=..., version=4) sets
    raw[8::16] = raw[8::16].translate(_RFC_4122)
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
        f"{h[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))  # byte 6: version 4
_RFC_4122 = bytes((b & 0x3F) | 0x80 for b in range(256))  # byte 8: the RFC 4122 variant


def original_name(shown: str) -> str | None:
    """The base name of the file that was put (None for bytes from memory), as valid text."""
    if shown.startswith(BYTES_SHOWN):
        return None
    name = os.path.basename(shown)[:255]
    if name.isascii():  # valid as it is (the round trip below only changes undecodable bytes)
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

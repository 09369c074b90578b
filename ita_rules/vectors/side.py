"""The managed collections as retention sees them: their live vectors as plan rows, the soft
delete (``ita_deleted_at`` set), the restore, the soft-deleted vectors due for the sweep, and
the purge (the manifest marks ``purged_at``, then the store deletes by id, in batches).

Only collections the manifest names are read; a managed collection missing from the store, or a
vector without a numeric ``created_at``, aborts the run before anything is changed.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.core.errors import UsageError
from ita_rules.provenance import vectorstore
from ita_rules.provenance.embeddings import BATCH, managed, manifest
from ita_rules.provenance.vectorstore import VectorStoreError
from ita_rules.retention.decisions import Item
from ita_rules.vectors.ids import file_id, split

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.db.engine import Database

TYPE = "embedding"
PAGE = 10_000  # vectors per read
Row = tuple[str, str, int, str, str, frozenset[str], "str | None", str, "str | None"]


class Vectors:
    """The vectors of one workspace's managed collections (``names``)."""

    def __init__(self, settings: Settings, db: Database, names: Sequence[str]) -> None:
        self.settings = settings
        self.db = db
        self.names = list(names)
        self.group_key = settings.vectors_group_key
        self._client: Any = None
        self._collections: dict[str, Any] = {}

    @classmethod
    def open(cls, settings: Settings, db: Database) -> Vectors | None:
        """None when the manifest names no collection (and then chromadb is not imported)."""
        names = managed(db)
        return cls(settings, db, names) if names else None

    def collection(self, name: str) -> Any:
        if name not in self.names:
            raise UsageError(
                f"collection {name}: not managed by ita-rules (no vector in its manifest)"
            )
        if name not in self._collections:
            if self._client is None:
                where = vectorstore.address(self.settings.vectors_url, self.settings.root)
                self._client = vectorstore.open_store(where)
            self._collections[name] = vectorstore.collection(self._client, name)
        return self._collections[name]

    def pages(self, name: str) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
        """Every vector of collection ``name``: (ids, metadatas), a page at a time."""
        coll = self.collection(name)
        offset = 0
        while True:
            got = coll.get(include=["metadatas"], limit=PAGE, offset=offset)
            ids = list(got["ids"])
            if not ids:
                return
            yield ids, [m or {} for m in got["metadatas"]]
            offset += len(ids)

    def rows(self, deleted: bool = False) -> Iterator[tuple[Row, float]]:
        """The plan rows (:class:`~ita_rules.retention.decisions.Item`'s fields, the group as
        symbol = collection, timeframe = the group key's value) of the live vectors (or of the
        soft-deleted ones), each with its ``ita_deleted_at``."""
        for name in self.names:
            for ids, metas in self.pages(name):
                for vid, meta in zip(ids, metas, strict=True):
                    gone = deleted_at(meta)
                    if (gone > 0) != deleted:
                        continue
                    yield self._row(name, vid, meta), gone

    def _row(self, name: str, vid: str, meta: dict[str, Any]) -> Row:
        created = _number(meta.get("created_at"))
        if created is None:
            raise VectorStoreError(
                f"collection {name}: vector {vid} has no numeric created_at; its age "
                "cannot be judged (nothing was changed)"
            )
        fid = file_id(name, vid)
        tags = frozenset(t for t in str(meta.get("ita_tags") or "").split(",") if t)
        group = meta.get(self.group_key) if self.group_key else None
        return (
            fid, TYPE, 0, times.iso(_moment(created)), fid, tags,
            str(meta["run_id"]) if meta.get("run_id") else None, name,
            None if group is None else str(group),
        )  # fmt: skip

    def set_deleted(self, file_ids: Sequence[str], at: float) -> None:
        """Soft delete (``at`` > 0) or restore (``at`` 0), in batches per collection."""
        for name, vids in _by_collection(file_ids).items():
            coll = self.collection(name)
            for start in range(0, len(vids), BATCH):
                chunk = vids[start : start + BATCH]
                coll.update(ids=chunk, metadatas=[{"ita_deleted_at": at}] * len(chunk))

    def deleted_among(self, file_ids: Sequence[str]) -> list[str]:
        """Those of ``file_ids`` that are soft-deleted; an id the store lacks is an error."""
        out = []
        for name, vids in _by_collection(file_ids).items():
            got = self.collection(name).get(ids=vids, include=["metadatas"])
            found = dict(zip(got["ids"], got["metadatas"], strict=True))
            for vid in vids:
                if vid not in found:
                    raise UsageError(f"no such vector: {file_id(name, vid)}")
                if deleted_at(found[vid] or {}) > 0:
                    out.append(file_id(name, vid))
        return out

    def of_run(self, run_id: str) -> list[str]:
        m = manifest.c
        query = sa.select(m.collection, m.vector_id).where(
            m.run_id == run_id, m.purged_at.is_(None)
        )
        with self.db.read() as conn:
            return [
                file_id(c, v) for c, v in conn.execute(query.order_by(m.collection, m.vector_id))
            ]

    def due(self, cutoff: _dt.datetime) -> list[tuple[Item, dict[str, Any]]]:
        """The vectors soft-deleted at or before ``cutoff``, longest first."""
        limit = cutoff.timestamp()
        out = []
        for row, gone in self.rows(deleted=True):
            if gone <= limit:
                fid, type_, size, created, hash_, tags, run_id, coll, group = row
                item = Item(
                    fid, type_, size, times.parse_iso(created), hash_, tags, run_id, coll, group
                )
                at = times.iso(_moment(gone))
                out.append((item, {"file_id": fid, "path": self.path(fid), "deleted_at": at}))
        out.sort(key=lambda pair: (pair[1]["deleted_at"], pair[0].file_id))
        return out

    def path(self, fid: str) -> str:
        """Where a vector lives, as the audit log names it."""
        return f"{self.settings.vectors_url}#{split(fid)[0]}"

    def purge(self, file_ids: Sequence[str], at: str) -> None:
        """Delete by id, a batch at a time: the manifest marks the batch purged first, so a
        sweep killed between the two is completed by :meth:`finish_interrupted`."""
        m = manifest.c
        for name, vids in _by_collection(file_ids).items():
            coll = self.collection(name)
            for start in range(0, len(vids), BATCH):
                chunk = vids[start : start + BATCH]
                with self.db.write() as conn:
                    for s in range(0, len(chunk), 500):
                        conn.execute(
                            manifest.update()
                            .where(m.collection == name, m.vector_id.in_(chunk[s : s + 500]))
                            .values(purged_at=at)
                        )
                coll.delete(ids=chunk)

    def finish_interrupted(self) -> list[str]:
        """Vectors the manifest marks purged but the store still holds (a sweep killed between
        the two): deleted now, the purge was decided and logged. Returns their file_ids."""
        m = manifest.c
        done = []
        for name in self.names:
            query = sa.select(m.vector_id).where(m.collection == name, m.purged_at.is_not(None))
            with self.db.read() as conn:
                marked = [row[0] for row in conn.execute(query)]
            coll = self.collection(name)
            for start in range(0, len(marked), BATCH):
                chunk = marked[start : start + BATCH]
                left = list(coll.get(ids=chunk, include=[])["ids"])
                if left:
                    coll.delete(ids=left)
                    done += [file_id(name, v) for v in left]
        return done


def _by_collection(file_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for fid in file_ids:
        name, vid = split(fid)
        out.setdefault(name, []).append(vid)
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def deleted_at(meta: dict[str, Any]) -> float:
    """A vector's ``ita_deleted_at`` (0: live; missing or not a number: live)."""
    return _number(meta.get("ita_deleted_at")) or 0.0


def _moment(seconds: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, _dt.UTC)

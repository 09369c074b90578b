"""Embeddings with provenance: what ``Run.save_embeddings`` does, and the manifest of every
vector ita-rules added (docs/architecture.md#vectors).

Each vector's metadata is stamped with ``run_id``, ``setup_id``, ``rule_version``, a numeric
``created_at`` (seconds since the epoch: Chroma's ``where`` compares numbers only),
``ita_deleted_at`` 0 (live; retention's apply sets the time of the soft delete) and
``ita_tags`` (the tags, comma-separated: Chroma keeps scalars). The manifest
(``vector_manifest``, one row per vector: collection, id, run, time, ``purged_at`` once swept)
is what makes a collection managed: retention only ever judges collections it names.

This sits with the runs (layer 4), below retention, so a run can stamp and record vectors
without importing the layer that prunes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core import times
from ita_rules.core.errors import UsageError
from ita_rules.provenance import vectorstore

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.db.engine import Database

metadata = sa.MetaData()

manifest = sa.Table(
    "vector_manifest",
    metadata,
    sa.Column("collection", sa.String(512), primary_key=True),
    sa.Column("vector_id", sa.String(512), primary_key=True),
    sa.Column("run_id", sa.String(40), index=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("purged_at", sa.String(32)),  # set by the sweep just before the delete
)

STAMPED = ("run_id", "setup_id", "rule_version", "created_at", "ita_deleted_at", "ita_tags")
BATCH = 5000  # ids per call to the store


def stamp(
    snapshot: Mapping[str, Any],
    count: int,
    metadatas: Sequence[Mapping[str, Any]] | None,
    created_at: float,
    tags: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The metadata of ``count`` vectors, each the caller's (if any) plus the stamps; a caller's
    key that ita-rules stamps is refused (it would lie about provenance)."""
    if metadatas is not None and len(metadatas) != count:
        raise UsageError(f"save_embeddings: {len(metadatas)} metadatas for {count} ids")
    own = {
        "run_id": str(snapshot["run_id"]),
        "setup_id": str(snapshot.get("rule_id") or ""),
        "rule_version": str(snapshot.get("rule_version") or ""),
        "created_at": created_at,
        "ita_deleted_at": 0,
        "ita_tags": ",".join(sorted(set(tags))),
    }
    out = []
    for given in metadatas or [{}] * count:
        clash = sorted(set(given) & set(STAMPED))
        if clash:
            raise UsageError(f"save_embeddings: metadata key {clash[0]!r} is stamped by ita-rules")
        out.append({**given, **own})
    return out


def save(
    settings: Settings,
    db: Database,
    snapshot: Mapping[str, Any],
    name: str,
    ids: Sequence[str],
    embeddings: Sequence[Sequence[float]],
    **extra: Any,
) -> int:
    """Add the vectors to collection ``name`` (made if needed) with stamped metadata and record
    them in the manifest; returns how many. ``extra``: ``documents``, ``metadatas``, ``tags``.
    An id the manifest already knows in that collection is refused before anything is
    written; when the manifest cannot be written, the vectors just added are removed again."""
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids) or len(embeddings) != len(ids) or not ids:
        raise UsageError("save_embeddings: expected unique ids, one embedding per id")
    now = times.now()
    metas = stamp(
        snapshot, len(ids), extra.get("metadatas"), now.timestamp(), extra.get("tags", ())
    )
    known = known_ids(db, name, ids)
    if known:
        raise UsageError(f"save_embeddings: id {known[0]!r} is already in collection {name}")
    client = vectorstore.open_store(vectorstore.address(settings.vectors_url, settings.root))
    coll = vectorstore.collection(client, name, create=True)
    documents = extra.get("documents")
    for start in range(0, len(ids), BATCH):
        part = slice(start, start + BATCH)
        coll.add(
            ids=ids[part],
            embeddings=[list(map(float, e)) for e in embeddings[part]],
            metadatas=metas[part],
            documents=None if documents is None else list(documents[part]),
        )
    rows = [
        {
            "collection": name,
            "vector_id": i,
            "run_id": own_run(snapshot),
            "created_at": times.iso(now),
        }
        for i in ids
    ]
    try:
        with db.write() as conn:
            conn.execute(manifest.insert(), rows)
    except BaseException:
        for start in range(0, len(ids), BATCH):
            coll.delete(ids=ids[start : start + BATCH])
        raise
    return len(ids)


def own_run(snapshot: Mapping[str, Any]) -> str:
    return str(snapshot["run_id"])


def known_ids(db: Database, name: str, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` the manifest holds for collection ``name``."""
    m = manifest.c
    found: list[str] = []
    with db.read() as conn:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            query = sa.select(m.vector_id).where(m.collection == name, m.vector_id.in_(chunk))
            found += [row[0] for row in conn.execute(query)]
    return sorted(found)


def managed(db: Database) -> list[str]:
    """The collections the manifest names (the ones ita-rules manages), sorted."""
    query = sa.select(manifest.c.collection).distinct().order_by(manifest.c.collection)
    with db.read() as conn:
        if not sa.inspect(conn).has_table("vector_manifest"):
            return []
        return [row[0] for row in conn.execute(query)]


def live(where: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A Chroma ``where`` filter that leaves out soft-deleted vectors (and vectors ita-rules
    did not stamp), combined with the caller's: ``collection.query(..., where=live(w))``."""
    flag = {"ita_deleted_at": 0}
    return flag if not where else {"$and": [dict(where), flag]}

"""``vectors status`` and ``vectors reconcile``: the managed collections counted (live,
soft-deleted, orphans: ids in the store the manifest does not know), and the ids on one side
only (in the store, not in the manifest; in the manifest, not purged, missing from the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.core.errors import UsageError
from ita_rules.provenance.embeddings import manifest
from ita_rules.vectors.side import Vectors, deleted_at

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.db.engine import Database

SHOWN = 20  # ids listed per side (the counts are complete)


@dataclass
class CollectionState:
    name: str
    live: int = 0
    soft_deleted: int = 0
    orphans: list[str] = field(default_factory=list)  # in the store, not in the manifest
    missing: list[str] = field(default_factory=list)  # in the manifest, not in the store

    def as_dict(self, ids: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "collection": self.name,
            "live": self.live,
            "soft_deleted": self.soft_deleted,
            "orphans": len(self.orphans),
            "missing": len(self.missing),
        }
        if ids:
            out["orphan_ids"] = self.orphans[:SHOWN]
            out["missing_ids"] = self.missing[:SHOWN]
        return out


def states(settings: Settings, db: Database, only: str | None = None) -> list[CollectionState]:
    """Each managed collection (or only ``only``, which must be managed) as it is now."""
    vectors = Vectors.open(settings, db)
    names = [] if vectors is None else vectors.names
    if only is not None and only not in names:
        raise UsageError(f"collection {only}: not managed by ita-rules (no vector in its manifest)")
    if vectors is None:
        return []
    m = manifest.c
    out = []
    for name in [only] if only is not None else names:
        query = sa.select(m.vector_id).where(m.collection == name, m.purged_at.is_(None))
        with db.read() as conn:
            known = {row[0] for row in conn.execute(query)}
        state, seen = CollectionState(name), set()
        for ids, metas in vectors.pages(name):
            for vid, meta in zip(ids, metas, strict=True):
                seen.add(vid)
                if vid not in known:
                    state.orphans.append(vid)
                elif deleted_at(meta) > 0:
                    state.soft_deleted += 1
                else:
                    state.live += 1
        state.orphans.sort()
        state.missing = sorted(known - seen)
        out.append(state)
    return out

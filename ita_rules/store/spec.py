"""What a put records (:class:`PutSpec`): checked once for a whole batch, before any write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ita_rules.core.errors import UsageError
from ita_rules.store import naming
from ita_rules.store.records import dump_metadata


class PutSpec(NamedTuple):
    """What to record with a put, checked once for a whole batch. (A NamedTuple, not a
    dataclass: a put then imports neither the dataclasses module nor inspect, and writes no
    methods at its start. ``spec._replace(...)`` is ``dataclasses.replace``.)"""

    type: str
    symbol: str | None = None
    timeframe: str | None = None
    run_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] | None = None

    def checked(self) -> PutSpec:
        naming.check_type(self.type)
        if self.symbol is not None:
            naming.check_part("symbol", self.symbol)
        if self.run_id is not None:
            naming.check_part("run_id", self.run_id)
        if self.timeframe is not None:
            naming.check_timeframe(self.timeframe)
        tags = tuple(sorted({naming.check_tag(tag) for tag in self.tags}))
        metadata = dict(self.metadata or {})
        for key in metadata:
            if not isinstance(key, str) or not key:
                raise UsageError(f"metadata: keys must be non-empty strings, got {key!r}")
        try:  # stored as JSON text: refuse now what the database or the journal cannot hold
            dump_metadata(metadata).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UsageError(_not_text(exc)) from None
        except (TypeError, ValueError) as exc:
            raise UsageError(f"metadata: cannot be stored as JSON: {exc}") from None
        return self._replace(tags=tags, metadata=metadata)


def _not_text(exc: UnicodeEncodeError) -> str:
    """Metadata holds characters UTF-8 cannot encode: from a command line, bytes that were not
    UTF-8 (shown as those bytes); from the Python API, any lone surrogate (shown as itself)."""
    bad = exc.object[exc.start : exc.end]
    try:
        return f"metadata: not valid UTF-8 text (bytes {bad.encode('utf-8', 'surrogateescape')!r})"
    except UnicodeEncodeError:
        return f"metadata: not valid UTF-8 text (a lone surrogate {bad[:1]!r})"

"""Whether the store root is there. A store root that does not exist, or holds nothing but
its housekeeping (``.ita-store``), while the database holds records stored in it is a drive
not mounted, or a ``store.root`` that points elsewhere (changed by hand or by a pulled
``ita.toml``): what would follow -- every record marked missing, a new store started under the
mount point -- must not. The commands that would write refuse instead (:func:`check`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ita_rules.core.errors import ConfigError
from ita_rules.store.records import CLAIMING

if TYPE_CHECKING:
    from ita_rules.store.core import Store


class StoreRootAway(ConfigError):
    """The store root is not there while the database holds records stored in it (exit 2)."""


def check(store: Store, outcome: str) -> None:
    """Raise :class:`StoreRootAway` when the store root does not exist, cannot be listed, or
    holds nothing but its housekeeping while the database holds records whose files should
    be in it; ``outcome`` says what that left (e.g. ``nothing was stored``). A root with no
    such record (a new workspace, everything purged) may be made by the first put."""
    try:
        with os.scandir(store.root) as entries:
            away = "" if any(e.name != store.housekeeping.name for e in entries) else "is empty"
    except FileNotFoundError:
        away = "does not exist"
    except NotADirectoryError:
        away = "is not a folder"
    except OSError as exc:
        away = f"cannot be read ({exc.strerror})"
    if not away:
        return
    marks = ", ".join("?" * len(CLAIMING))
    with store.db.sql_write() as sql:  # plain SQL: a put does not import SQLAlchemy
        query = f"SELECT COUNT(*) FROM store_records WHERE status IN ({marks})"
        held = int(sql.scalar(query, CLAIMING) or 0)
    if held:
        raise StoreRootAway(
            f"store.root: {store.root} {away}, but the database holds {held} record(s) whose "
            "files are stored there: mount the drive or fix store.root (ita.toml or "
            f"ITA_STORE_ROOT); {outcome}"
        )


def check_before_creating(store: Store, outcome: str) -> None:
    """:func:`check`, when the store's housekeeping folder is not there (one ``stat``
    otherwise): called before a write that would create the store root."""
    if not os.path.isdir(store.housekeeping):
        check(store, outcome)

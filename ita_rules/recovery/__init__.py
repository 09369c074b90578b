"""Recovery across the parts that share the store root, the journal and the metadata database
(docs/architecture.md#packages): ``store fsck`` (:func:`fsck`: the store's files and records,
the runs' snapshot files, the remote copies) and the rebuild of a lost database
(:func:`rebuild_database`: records, runs and remote copies from the disk).

    from ita_rules import Workspace
    from ita_rules.recovery import rebuild_database
    print(rebuild_database(Workspace.open()))
"""

from __future__ import annotations

from ita_rules.recovery.fsck import FsckReport, Problem, fsck
from ita_rules.recovery.rebuild import Rebuilt, rebuild_database, rebuild_from_journal

__all__ = [
    "FsckReport",
    "Problem",
    "Rebuilt",
    "fsck",
    "rebuild_database",
    "rebuild_from_journal",
]

"""What ``store fsck`` found: one :class:`Problem` per finding, in a :class:`FsckReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ita_rules.store.core import HOUSEKEEPING

if TYPE_CHECKING:
    from ita_rules.store.core import Store


@dataclass(frozen=True)
class Problem:
    kind: str  # temp | orphan | unneeded | missing | mismatch | unjournaled | unrecorded | journal
    # | unbacked (a journaled record the database lacks whose file is not on disk)
    # | run (a snapshot file whose run the database lacks) | snapshot (an unreadable one)
    # | back (the file of records marked missing or corrupt, on disk again with its hash)
    path: str
    message: str
    file_ids: tuple[str, ...] = ()
    repaired: bool = False

    def __str__(self) -> str:
        done = " (repaired)" if self.repaired else ""
        return f"{self.path}: {self.message}{done}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "file_ids": list(self.file_ids)}


@dataclass
class FsckReport:
    files: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return all(p.repaired for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "clean": self.clean,
            "problems": [p.as_dict() for p in self.problems],
        }


def journal_name(store: Store) -> str:
    """How problems of the journal are named: ``.ita-store/journal.jsonl``."""
    return f"{HOUSEKEEPING}/{store.journal.path.name}"

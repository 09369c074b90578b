"""The first part of ``runs verify``: a run's record against itself.

The run's snapshot file must be there, hold the bytes whose SHA-256 was recorded when it was
last written, and say field by field what the database copy says; the row's own columns must
match its copy. Which side was edited is told by the recorded hash, and where the two disagree
by the hash the store's journal kept. A row restored from its file after the database was lost
(``restored_at``) has no independent copy: only the journal's hash checks the file then, the
changed fields cannot be named, and a file the journal holds no hash for is reported as not
checked (a note, not a difference).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.provenance.verify import Difference

if TYPE_CHECKING:
    from ita_rules.provenance.runstore import RunStore


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def record_differences(
    runs: RunStore, root: Path, run_id: str, notes: list[str]
) -> list[Difference]:
    """The run's snapshot file against the hash recorded at its last write and the database
    copy; the row's columns against that copy. What could not be checked goes to ``notes``."""
    from ita_rules.core.canonical import sha256_of
    from ita_rules.core.fsutil import display_path

    row = runs.row(run_id)
    path = runs.snapshot_path(run_id)
    if row is None:
        return []
    found = _columns(row)
    shown = display_path(path, root)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        why = "is missing (`ita-rules store fsck --repair` writes it again from the database)"
        return [*found, Difference("snapshot", "file", f"{shown} {why}")]
    except OSError as exc:
        return [*found, Difference("snapshot", "file", f"{shown} cannot be read: {exc.strerror}")]
    now, recorded = sha256_of(raw), row["snapshot_sha256"]
    in_file = _json_object(raw)
    if in_file is None:
        why = f"snapshot file changed after the run: {shown} is not a JSON object any more"
        return [*found, Difference("snapshot", "file", why, recorded, now)]
    restored = row["restored_at"]
    if restored is not None and recorded is None:
        notes.append(
            f"{shown} could not be checked: the database was rebuilt from it at {restored} "
            "and the store's journal holds no hash of it (written before ita-rules kept one)"
        )
    file_changed = _file_changed(runs, run_id, recorded, now)
    fields = _fields(in_file, json.loads(row["snapshot"]), file_changed)
    return [*found, *(fields or _hash_only(file_changed, restored is not None, recorded, now))]


def _columns(row: dict[str, Any]) -> list[Difference]:
    """The row's columns that its own snapshot copy contradicts."""
    from ita_rules.provenance.rundb import columns_of

    found = []
    expected = columns_of(json.loads(row["snapshot"]))
    for column in sorted(expected):
        if column != "snapshot" and row[column] != expected[column]:
            found.append(
                Difference(
                    "snapshot",
                    column,
                    f"database row changed after the run: {column} {_shown(row[column])} "
                    f"in its column, {_shown(expected[column])} in its snapshot copy",
                    expected[column],
                    row[column],
                )
            )
    return found


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _file_changed(runs: RunStore, run_id: str, recorded: str | None, now: str) -> bool | None:
    """Whether the file (True) or the row (False) was written after the run's last write;
    None when no hash was recorded, so which side changed is unknown."""
    if recorded is None:
        return None
    if now == recorded:
        return False
    # the row's hash and the file disagree: the journal tells which one was written
    return runs.journaled_hash(run_id) != now


def _fields(
    in_file: dict[str, Any], in_db: dict[str, Any], file_changed: bool | None
) -> list[Difference]:
    """One difference for each field on which the file and the database copy disagree."""
    found = []
    for key in sorted(
        k for k in {*in_file, *in_db} if in_file.get(k, _ABSENT) != in_db.get(k, _ABSENT)
    ):
        a, b = in_file.get(key, _ABSENT), in_db.get(key, _ABSENT)
        if file_changed is False:
            message = (
                f"database copy changed after the run: {key} {_shown(b)} in the database, "
                f"{_shown(a)} in the snapshot file"
            )
        elif file_changed:
            message = (
                f"snapshot file changed after the run: {key} {_shown(a)} in the file, "
                f"{_shown(b)} in the database"
            )
        else:
            message = (
                f"snapshot file and database copy differ: {key} {_shown(a)} in the file, "
                f"{_shown(b)} in the database"
            )
        found.append(Difference("snapshot", key, message, _plain(b), _plain(a)))
    return found


def _hash_only(
    file_changed: bool | None, restored: bool, recorded: str | None, now: str
) -> list[Difference]:
    """Every field reads the same: a hash that still tells which side was written."""
    if file_changed and restored:
        message = (
            f"snapshot file changed after the run: its hash {now} is not the one the "
            "store's journal kept when the run last wrote it (the database was rebuilt "
            "from this file, so the changed fields cannot be named)"
        )
        return [Difference("snapshot", "sha256", message, recorded, now)]
    if file_changed:
        message = (
            f"snapshot file changed after the run: its hash {now} is not the one "
            "recorded when the run last wrote it (every field reads the same)"
        )
        return [Difference("snapshot", "sha256", message, recorded, now)]
    if file_changed is False and recorded != now:
        message = (
            f"database row changed after the run: snapshot_sha256 {recorded} in the "
            f"database, but the file's {now} is the one the store's journal kept"
        )
        return [Difference("snapshot", "snapshot_sha256", message, now, recorded)]
    return []


def _plain(value: Any) -> Any:
    return None if value is _ABSENT else value


def _shown(value: Any) -> str:
    """A value as a difference line shows it: strings as they are, the rest as JSON."""
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."

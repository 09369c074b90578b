"""``runs verify``: recompute every part of a snapshot and list what differs.

First the record itself (:func:`_snapshot_file`): the run's snapshot file must be there, hold
the bytes whose SHA-256 was recorded when it was last written, and say field by field what the
database copy says; the row's own columns must match its copy. Which side was edited is told
by the recorded hash, and where the two disagree by the hash the store's journal kept. A row
restored from its file after the database was lost (``restored_at``) has no independent copy:
only the journal's hash checks the file then, the changed fields cannot be named, and a file
the journal holds no hash for is reported as not checked (a note, not a difference).

Then the run is recomputed: each input (its canonical range hash over the same range, or its
plain hash when it has no range) and the ``data_hash``; the rule version (still present, same
``params_hash``); the commit (present and reachable from a branch or tag); the dirty state of
the run (code that was never committed cannot be reproduced from the commit; declared inputs
are data, not code); the Python version and every installed distribution
(``{name: version}``, compared name by name).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError
from ita_rules.provenance import capture
from ita_rules.provenance.datahash import (
    DataRange,
    InputSpec,
    data_hash,
    file_hash,
    input_entry,
)

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk


@dataclass(frozen=True)
class Difference:
    part: str  # data | rule | git | env
    what: str  # the field, e.g. "inputs[data/GER40.csv].range_hash", "packages.numpy"
    message: str
    recorded: Any = None
    now: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "what": self.what,
            "message": self.message,
            "recorded": self.recorded,
            "now": self.now,
        }

    def __str__(self) -> str:
        return f"{self.part}: {self.what}: {self.message}"


@dataclass
class Verification:
    run_id: str
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why

    @property
    def reproducible(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "reproducible": self.reproducible,
            "differences": [d.as_dict() for d in self.differences],
            "notes": list(self.notes),
        }


def verify_snapshot(workspace: Desk, snap: Mapping[str, Any]) -> Verification:
    out = Verification(str(snap["run_id"]))
    out.differences += _snapshot_file(workspace, snap, out.notes)
    out.differences += _data(workspace, snap)
    out.differences += _rule(workspace, snap)
    out.differences += _git(workspace, snap)
    out.differences += _env(snap)
    return out


def _snapshot_file(workspace: Desk, snap: Mapping[str, Any], notes: list[str]) -> list[Difference]:
    """The run's snapshot file against the hash recorded at its last write and the database
    copy; the row's columns against that copy."""
    from ita_rules.core.canonical import sha256_of
    from ita_rules.core.fsutil import display_path
    from ita_rules.provenance.runstore import RunStore, columns_of

    run_id = str(snap["run_id"])
    with RunStore.open(workspace.settings) as runs:
        row = runs.row(run_id)
        path = runs.snapshot_path(run_id)
        if row is None:
            return []
        found: list[Difference] = []
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
        shown = display_path(path, workspace.root)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return [
                *found,
                Difference(
                    "snapshot",
                    "file",
                    f"{shown} is missing (`ita-rules store fsck --repair` writes it again from "
                    "the database)",
                ),
            ]
        except OSError as exc:
            return [
                *found,
                Difference("snapshot", "file", f"{shown} cannot be read: {exc.strerror}"),
            ]
        now, recorded = sha256_of(raw), row["snapshot_sha256"]
        try:
            in_file: Any = json.loads(raw)
        except ValueError:
            in_file = None
        if not isinstance(in_file, dict):
            return [
                *found,
                Difference(
                    "snapshot",
                    "file",
                    f"snapshot file changed after the run: {shown} is not a JSON object any more",
                    recorded,
                    now,
                ),
            ]
        in_db: dict[str, Any] = json.loads(row["snapshot"])
        fields = sorted(
            k for k in {*in_file, *in_db} if in_file.get(k, _ABSENT) != in_db.get(k, _ABSENT)
        )
        if recorded is not None and now == recorded:
            file_changed: bool | None = False
        elif recorded is not None:
            # the row's hash and the file disagree: the journal tells which one was written
            file_changed = runs.journaled_hash(run_id) != now
        else:
            file_changed = None  # no hash recorded: which side changed is unknown
        restored = row["restored_at"]
        if restored is not None and recorded is None:
            notes.append(
                f"{shown} could not be checked: the database was rebuilt from it at {restored} "
                "and the store's journal holds no hash of it (written before ita-rules kept one)"
            )
        for key in fields:
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
        if not fields and file_changed:
            if restored is not None:
                message = (
                    f"snapshot file changed after the run: its hash {now} is not the one the "
                    "store's journal kept when the run last wrote it (the database was rebuilt "
                    "from this file, so the changed fields cannot be named)"
                )
            else:
                message = (
                    f"snapshot file changed after the run: its hash {now} is not the one "
                    "recorded when the run last wrote it (every field reads the same)"
                )
            found.append(Difference("snapshot", "sha256", message, recorded, now))
        elif not fields and file_changed is False and recorded != now:
            found.append(
                Difference(
                    "snapshot",
                    "snapshot_sha256",
                    f"database row changed after the run: snapshot_sha256 {recorded} in the "
                    f"database, but the file's {now} is the one the store's journal kept",
                    now,
                    recorded,
                )
            )
        return found


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


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


def _data(workspace: Desk, snap: Mapping[str, Any]) -> list[Difference]:
    found: list[Difference] = []
    rng = DataRange.parse(snap["data_range"]) if snap.get("data_range") else None
    entries = []
    for old in snap.get("inputs", []):
        path = old["path"]
        spec = InputSpec(path, old.get("time_column"), "range_hash" in old)
        try:
            new = input_entry(spec, workspace.root, rng if "range_hash" in old else None)
        except ItaRulesError as exc:
            found.append(Difference("data", f"inputs[{path}]", f"cannot be read: {exc.message}"))
            continue
        entries.append(new)
        if "range_hash" in old:
            if new.get("range_hash") != old["range_hash"]:
                what = "candles inside the range differ"
                counts = [
                    f"{k} {old.get(k)} -> {new.get(k)}"
                    for k in ("rows", "first", "last")
                    if old.get(k) != new.get(k)
                ]
                found.append(
                    Difference(
                        "data",
                        f"inputs[{path}].range_hash",
                        what
                        + (f" ({', '.join(counts)})" if counts else " (same count, other values)")
                        + "; "
                        + _which_candle(workspace, old, spec, rng),
                        old["range_hash"],
                        new.get("range_hash"),
                    )
                )
        elif new["hash"] != old["hash"]:
            found.append(
                Difference(
                    "data", f"inputs[{path}].hash", "file content differs", old["hash"], new["hash"]
                )
            )
    if len(entries) == len(snap.get("inputs", [])):
        now = data_hash(entries, rng)
        if now != snap.get("data_hash"):
            found.append(
                Difference(
                    "data", "data_hash", "recomputed data hash differs", snap.get("data_hash"), now
                )
            )
    return found


def _which_candle(
    workspace: Desk, old: Mapping[str, Any], spec: InputSpec, rng: DataRange | None
) -> str:
    """The first candle inside the range that differs, read from the recorded bytes when the
    store holds them (any record with the input's recorded file hash)."""
    from ita_rules.provenance.candlediff import first_difference, read_candles
    from ita_rules.provenance.runstore import RunStore

    recorded = None
    if rng is not None:
        with RunStore.open(workspace.settings) as runs:
            found = runs.store.find(hash=str(old["hash"]), status=None)
            for record in sorted(found, key=lambda r: r.status != "live"):  # live ones first
                path = runs.store.abspath(record.path)
                if path.is_file() and file_hash(path)[0] == old["hash"]:  # intact bytes only
                    recorded = path
                    break
    if recorded is None or rng is None:
        return (
            "the recorded file is not in the store, so the candle cannot be named (store "
            "inputs with `ita-rules store put` to see it next time)"
        )
    try:
        before = read_candles(recorded, rng, spec.time_column, spec.path)
        now = read_candles(workspace.root / spec.path, rng, spec.time_column, spec.path)
    except ItaRulesError as exc:
        return f"the candles cannot be compared: {exc}"
    return first_difference(before, now) or "no candle differs as read now"


def _rule(workspace: Desk, snap: Mapping[str, Any]) -> list[Difference]:
    setup_id, version = snap.get("rule_id"), snap.get("rule_version")
    if not setup_id or not version:
        return []
    ref = f"{setup_id}@{version}"
    try:
        rule = workspace.registry.get(setup_id, version)
    except ItaRulesError as exc:
        return [Difference("rule", ref, f"no longer available: {exc.message}")]
    if rule.params_hash != snap.get("params_hash"):
        return [
            Difference(
                "rule",
                f"{ref}.params_hash",
                "params_hash differs",
                snap.get("params_hash"),
                rule.params_hash,
            )
        ]
    return []


def _git(workspace: Desk, snap: Mapping[str, Any]) -> list[Difference]:
    found: list[Difference] = []
    commit = snap.get("git_commit")
    root = workspace.root
    if not commit:
        found.append(Difference("git", "git_commit", "the run had no commit to reproduce from"))
    elif not capture.commit_exists(root, commit):
        found.append(
            Difference(
                "git", "git_commit", f"commit {commit} is not in this repository", commit, None
            )
        )
    elif not capture.commit_reachable(root, commit):
        found.append(
            Difference(
                "git",
                "git_commit",
                f"commit {commit} is not reachable from any branch or tag (git gc may delete it)",
                commit,
                None,
            )
        )
    recorded = [*snap.get("git_changed", []), *snap.get("git_untracked", {})]
    # declared inputs are data, compared above (older snapshots counted them as dirty code)
    inputs = {entry["path"] for entry in snap.get("inputs", [])}
    changed = [path for path in recorded if path not in inputs]
    if snap.get("git_dirty") and (changed or not recorded):
        stored = snap.get("git_diff_file_id")
        found.append(
            Difference(
                "git",
                "git_dirty",
                "the run used uncommitted changes ("
                + ", ".join(changed[:10])
                + (f"; diff {snap.get('git_diff_hash')} stored as {stored}" if stored else "")
                + "): the commit alone does not reproduce it",
                True,
                None,
            )
        )
    return found


def _env(snap: Mapping[str, Any]) -> list[Difference]:
    """Python and package versions then and now. The package map is flat (name -> version):
    set operations on its keys say what changed, was removed or was added."""
    env = snap.get("env") or {}
    found: list[Difference] = []
    now_python = capture.environment()["python"]
    if env.get("python") != now_python:
        found.append(
            Difference("env", "python", "Python version differs", env.get("python"), now_python)
        )
    old = dict(env.get("packages") or {})
    new = capture.packages()
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name), new.get(name)
        if was == now:
            continue
        if now is None:
            why = f"{name} {was} is not installed now"
        elif was is None:
            why = f"{name} {now} is installed now, not at the run"
        else:
            why = f"{name} {was} -> {now}"
        found.append(Difference("env", f"packages.{name}", why, was, now))
    found.sort(key=lambda d: d.what)
    return found

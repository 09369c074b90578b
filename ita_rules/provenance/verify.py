"""``runs verify``: recompute every part of a snapshot and list what differs.

First the record itself (:mod:`ita_rules.provenance.snapcheck`): the run's snapshot file
against the hash recorded when it was last written, and against the database copy.

Then the run is recomputed: each input (its canonical range hash over the same range, or its
plain hash when it has no range) and the ``data_hash``; the rule version (still present, same
``params_hash``); the commit (present and reachable from a branch or tag); the dirty state of
the run (code that was never committed cannot be reproduced from the commit; declared inputs
are data, not code); the Python version and every installed distribution
(``{name: version}``, compared name by name).
"""

from __future__ import annotations

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
    # False when the part could not be recomputed at all (a file that cannot be read, a rule
    # version or commit that is gone): the run cannot be verified, rather than drifted
    checked: bool = True

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

    @property
    def outcome(self) -> str:
        """``reproducible``; ``unverifiable`` when a part could not be recomputed at all;
        else ``drifted``."""
        if not self.differences:
            return "reproducible"
        if any(not d.checked for d in self.differences):
            return "unverifiable"
        return "drifted"

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "reproducible": self.reproducible,
            "outcome": self.outcome,
            "differences": [d.as_dict() for d in self.differences],
            "notes": list(self.notes),
        }


def verify_snapshot(workspace: Desk, snap: Mapping[str, Any]) -> Verification:
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.provenance.snapcheck import record_differences

    out = Verification(str(snap["run_id"]))
    with RunStore.open(workspace.settings) as runs:
        out.differences += record_differences(runs, workspace.root, out.run_id, out.notes)
    out.differences += _data(workspace, snap)
    out.differences += _rule(workspace, snap)
    out.differences += _git(workspace, snap)
    out.differences += _env(snap)
    return out


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
            why = f"cannot be read: {exc.message}"
            found.append(Difference("data", f"inputs[{path}]", why, checked=False))
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
        changed = _released_changed(workspace, setup_id, version)
        if changed is not None:  # edited in place: a drift, not a rule that is gone
            return [Difference("rule", ref, changed)]
        return [Difference("rule", ref, f"no longer available: {exc.message}", checked=False)]
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


def _released_changed(workspace: Desk, setup_id: str, version: str) -> str | None:
    """The release's diff when the registry refuses a released version because its file was
    edited in place (its params_hash left stale), else None."""
    from ita_rules.provenance.release import ReleasedRuleModified, refuse_changed_release
    from ita_rules.rules.model import Version

    try:
        v = Version.parse(version)
        refuse_changed_release(workspace, workspace.registry.path_of(setup_id, v), setup_id, str(v))
    except ReleasedRuleModified as exc:
        return str(exc)
    except ItaRulesError:
        return None
    return None


def _git(workspace: Desk, snap: Mapping[str, Any]) -> list[Difference]:
    found: list[Difference] = []
    commit = snap.get("git_commit")
    root = workspace.root
    if not commit:
        why = "the run had no commit to reproduce from"
        found.append(Difference("git", "git_commit", why, checked=False))
    elif not capture.commit_exists(root, commit):
        found.append(
            Difference(
                "git",
                "git_commit",
                f"commit {commit} is not in this repository",
                commit,
                None,
                checked=False,
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
    """Python and package versions then and now."""
    now = {"python": capture.environment()["python"], "packages": capture.packages()}
    return env_differences(snap.get("env") or {}, now)


def env_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    """The Python version and the packages of two environments (``env`` of a snapshot: then,
    now; or two runs'), sorted by what differs. The package map is flat (name -> version):
    set operations on its keys say what changed, was removed or was added. ``runs verify``
    and ``runs compare`` both use it."""
    found: list[Difference] = []
    if old.get("python") != new.get("python"):
        found.append(
            Difference(
                "env", "python", "Python version differs", old.get("python"), new.get("python")
            )
        )
    then, now = dict(old.get("packages") or {}), dict(new.get("packages") or {})
    for name in sorted(then.keys() | now.keys()):
        was, is_ = then.get(name), now.get(name)
        if was == is_:
            continue
        if is_ is None:
            why = f"{name} {was} is not installed now"
        elif was is None:
            why = f"{name} {is_} is installed now, not at the run"
        else:
            why = f"{name} {was} -> {is_}"
        found.append(Difference("env", f"packages.{name}", why, was, is_))
    found.sort(key=lambda d: d.what)
    return found

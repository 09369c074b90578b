"""``runs compare``: the drift between two runs' snapshots (docs/architecture.md#runs).

Every field of a snapshot that says how a run was made falls in one of four groups:

* ``params``: the rule version (id, version, params hash, file, blob, active, released) and the
  run's own parameters (flow type and name, strict);
* ``code``: the git commit, branch, dirty state, the diff's hash and stored copy, the changed
  and untracked files;
* ``data``: the data hash and range, symbol, timeframe, and each input by path (its hashes,
  size, candle count and first and last candle);
* ``environment``: Python, platform, every package (the comparison ``runs verify`` makes,
  :func:`ita_rules.provenance.verify.env_differences`), the host and the ita-rules version.

What names or ends a run rather than how it was made (run id, status, times, error, outputs,
the orchestrator's run id) is not drift. A field one snapshot lacks compares as None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk

GROUPS = ("params", "code", "data", "environment")
PARAMS = (
    "rule_id", "rule_version", "params_hash", "rule_path", "rule_blob", "rule_active",
    "rule_released", "flow_type", "flow_name", "strict",
)  # fmt: skip
CODE = (
    "git_commit", "git_branch", "git_dirty", "git_diff_hash", "git_diff_file_id",
    "git_changed", "git_untracked", "git_diff_redacted",
)  # fmt: skip
DATA = ("data_hash", "data_range", "symbol", "timeframe")
ENVIRONMENT = ("host", "ita_rules_version")
_ENV_DONE = ("python", "packages")  # compared by env_differences


@dataclass(frozen=True)
class Drift:
    """One field on which the two runs differ (None: the run lacks it)."""

    field: str
    a: Any
    b: Any

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "a": self.a, "b": self.b}


@dataclass
class RunComparison:
    a: str
    b: str
    drift: dict[str, list[Drift]] = field(default_factory=lambda: {g: [] for g in GROUPS})

    @property
    def same(self) -> bool:
        return not any(self.drift.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "drift": {g: [d.as_dict() for d in self.drift[g]] for g in GROUPS},
            "same": self.same,
        }


def compare_runs(desk: Desk, run_a: str, run_b: str) -> RunComparison:
    """The drift between the snapshots of ``run_a`` and ``run_b`` (a malformed run id is a
    :class:`~ita_rules.core.errors.UsageError`, an unknown one
    :class:`~ita_rules.core.errors.NotFound`, as ``runs show`` says)."""
    from ita_rules.provenance import show_run
    from ita_rules.provenance.runstore import check_run_id

    check_run_id(run_a), check_run_id(run_b)
    return compare_snapshots(show_run(desk, run_a), show_run(desk, run_b))


def compare_snapshots(a: Mapping[str, Any], b: Mapping[str, Any]) -> RunComparison:
    """:func:`compare_runs` on two snapshots already read."""
    from ita_rules.provenance.verify import env_differences

    out = RunComparison(str(a["run_id"]), str(b["run_id"]))
    out.drift["params"] = _fields(a, b, PARAMS)
    out.drift["code"] = _fields(a, b, CODE)
    out.drift["data"] = _fields(a, b, DATA) + _inputs(a.get("inputs"), b.get("inputs"))
    env_a, env_b = a.get("env") or {}, b.get("env") or {}
    out.drift["environment"] = [
        Drift(d.what, d.recorded, d.now) for d in env_differences(env_a, env_b)
    ]
    others = sorted((env_a.keys() | env_b.keys()) - set(_ENV_DONE))
    out.drift["environment"] += _fields(env_a, env_b, others, prefix="env.")
    out.drift["environment"] += _fields(a, b, ENVIRONMENT)
    return out


def _fields(
    a: Mapping[str, Any], b: Mapping[str, Any], names: Sequence[str], prefix: str = ""
) -> list[Drift]:
    return [Drift(prefix + n, a.get(n), b.get(n)) for n in names if a.get(n) != b.get(n)]


def _inputs(a: Any, b: Any) -> list[Drift]:
    """Inputs matched by path: a field that differs, or an input only one run read (shown by
    its hash: the range hash, else the file hash)."""
    by_a = {str(e["path"]): e for e in a or [] if isinstance(e, Mapping)}
    by_b = {str(e["path"]): e for e in b or [] if isinstance(e, Mapping)}
    found: list[Drift] = []
    for path in sorted(by_a.keys() | by_b.keys()):
        one, other = by_a.get(path), by_b.get(path)
        if one is None or other is None:
            found.append(Drift(f"inputs[{path}]", _digest(one), _digest(other)))
            continue
        names = sorted((one.keys() | other.keys()) - {"path"})
        found += _fields(one, other, names, prefix=f"inputs[{path}].")
    return found


def _digest(entry: Mapping[str, Any] | None) -> Any:
    return None if entry is None else entry.get("range_hash") or entry.get("hash")

"""The reproduction key of a run, and ``runs dedupe`` (docs/architecture.md#lineage).

``key = "sha256:" + hex(sha256(JCS(doc)))``, JCS the RFC 8785 form and ``doc``::

    {"params_hash": ..., "commit": ..., "diff_hash": ...,
     "inputs": [{"data_hash": <range hash, else file hash>, "range": [from, to] | null}, ...],
     "packages": {name: version, ...}, "ita_rules_version": ...}

Two runs with the same key read the same candles with the same rule parameters, code and
libraries: their results must be equal. :func:`dedupe` groups runs by key and flags each key
whose runs' results differ (same inputs, different metrics = not reproducible).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ita_rules.core.canonical import canonical_json, sha256_of

if TYPE_CHECKING:
    from ita_rules.core.config import Settings

# What names a run rather than what it computed: left out when results are compared.
IDENTITY_FIELDS = frozenset({"run_id"})


def key_document(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """What the reproduction key hashes (see the module docstring)."""
    data_range = snapshot.get("data_range")
    inputs = [
        {
            "data_hash": entry.get("range_hash") or entry.get("hash"),
            "range": list(data_range) if data_range else None,
        }
        for entry in snapshot.get("inputs") or []
    ]
    return {
        "params_hash": snapshot.get("params_hash"),
        "commit": snapshot.get("git_commit"),
        "diff_hash": snapshot.get("git_diff_hash"),
        "inputs": inputs,
        "packages": dict((snapshot.get("env") or {}).get("packages") or {}),
        "ita_rules_version": snapshot.get("ita_rules_version"),
    }


def reproduction_key(snapshot: Mapping[str, Any]) -> str:
    return sha256_of(canonical_json(key_document(snapshot)))


def result_fingerprint(document: Mapping[str, Any]) -> str:
    """The hash of what a result says about the run's outcome: its ``metrics`` when it has
    them, else the whole result without its identity fields (``run_id``)."""
    if isinstance(document.get("metrics"), Mapping):
        compared: Any = document["metrics"]
    else:
        compared = {k: v for k, v in document.items() if k not in IDENTITY_FIELDS}
    return sha256_of(canonical_json(compared))


@dataclass
class KeyGroup:
    """The runs of one reproduction key and the fingerprints of their results."""

    key: str
    runs: list[str] = field(default_factory=list)
    results: dict[str, list[str]] = field(default_factory=dict)  # run_id -> fingerprints

    @property
    def differs(self) -> bool:
        seen = {tuple(sorted(prints)) for prints in self.results.values()}
        return len(seen) > 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "runs": self.runs,
            "results": self.results,
            "reproducible": not self.differs,
        }


def dedupe(
    snapshots: Iterable[Mapping[str, Any]],
    results_of: Callable[[Mapping[str, Any]], Sequence[bytes]],
) -> list[KeyGroup]:
    """Group ``snapshots`` by reproduction key (groups of two or more runs, oldest run first);
    ``results_of`` gives the stored result documents of a run (their bytes)."""
    groups: dict[str, KeyGroup] = {}
    for snap in sorted(snapshots, key=lambda s: str(s["run_id"])):
        key = reproduction_key(snap)
        group = groups.setdefault(key, KeyGroup(key))
        group.runs.append(str(snap["run_id"]))
        prints = [result_fingerprint(json.loads(data)) for data in results_of(snap)]
        if prints:
            group.results[str(snap["run_id"])] = prints
    return [g for g in groups.values() if len(g.runs) > 1]


def run_keys(settings: Settings, run_ids: Sequence[str]) -> dict[str, str]:
    """The reproduction key of each run."""
    from ita_rules.provenance.runstore import RunStore

    with RunStore.open(settings) as runs:
        return {run_id: reproduction_key(runs.get(run_id)) for run_id in run_ids}


def dedupe_runs(settings: Settings, *, status: str | None = "succeeded") -> list[KeyGroup]:
    """:func:`dedupe` over the workspace's runs (of ``status``; None: all), the results read
    from the store."""
    from ita_rules.provenance.runstore import RunStore

    with RunStore.open(settings) as runs:
        runs.reap()
        snapshots = [runs.get(row["run_id"]) for row in runs.list(status=status)]
        store = runs.store

        def results_of(snapshot: Mapping[str, Any]) -> list[bytes]:
            found = []
            for file_id in snapshot.get("outputs") or []:
                for record in store.find(file_id=str(file_id), type="result", status=None):
                    path = store.abspath(record.path)
                    if path.is_file():
                        found.append(path.read_bytes())
            return found

        return dedupe(snapshots, results_of)

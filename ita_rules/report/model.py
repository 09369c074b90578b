"""Everything one report shows, gathered from the library in plain dataclasses
(docs/architecture.md#report): the registry with its history (:mod:`.registry_data`), the runs
with their metrics and verifications (:mod:`.runs_data`), the store with its retention plan
(:mod:`.storage_data`). Nothing here renders or writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ita_rules.core import times
from ita_rules.report.registry_data import SetupView, gather_setups
from ita_rules.report.runs_data import RunView, gather_runs
from ita_rules.report.storage_data import StorageView, gather_storage

if TYPE_CHECKING:
    from ita_rules.core.findings import Finding
    from ita_rules.rules.index import Progress
    from ita_rules.workspace import Workspace


@dataclass
class ReportModel:
    """A desk at one moment."""

    generated_at: str
    workspace: str
    setups: list[SetupView] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)  # rule files that are not valid
    runs: list[RunView] = field(default_factory=list)  # newest first
    storage: StorageView = field(default_factory=StorageView)

    def runs_of(self, setup_id: str) -> list[RunView]:
        return [r for r in self.runs if r.snapshot.get("rule_id") == setup_id]


def gather(ws: Workspace, progress: Progress | None = None) -> ReportModel:
    """Read the whole desk: registry and index, runs, store, retention plan and status."""
    setups, problems = gather_setups(ws, progress)
    return ReportModel(
        generated_at=times.iso(times.now()),
        workspace=ws.root.name,
        setups=setups,
        problems=problems,
        runs=gather_runs(ws),
        storage=gather_storage(ws),
    )

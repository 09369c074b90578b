"""A run: the snapshot written at its start, its outputs, and its end (docs/architecture.md#runs).

    with ws.start_run("backtest_flow", rule=rule, symbol="GER40", timeframe="M15",
                      inputs=["data/GER40_M15.csv"],
                      data_range=("2025-05-01", "2025-10-31")) as run:
        run.save_result(result)   # stamps run_id, setup_id, rule_version, params_hash
        run.save_file("chart.png", type="screenshot")

Everything that can refuse a run (unknown flow type, inactive rule in a live flow, a released
rule version whose file was changed locally, dirty tree with ``strict``, unreadable inputs) is
checked before a run id is allocated, so a refused run leaves nothing behind. A result that the
store refuses is kept next to the snapshot (``{run_id}_result_rejected.json``): the compute
that produced it is never lost.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError, RuleError, UsageError
from ita_rules.provenance.release import rule_released
from ita_rules.provenance.runstore import RunStore, checked_lease
from ita_rules.provenance.snapshot import RuleRef, build_snapshot
from ita_rules.provenance.stamp import encode, keep_rejected, stamped

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk, DeskStore
    from ita_rules.store import Record

HEARTBEAT_S = 15.0
LEASE_FACTOR = 4  # the lease lasts this many heartbeats


class DirtyTree(ItaRulesError):
    """``strict`` refuses a run from uncommitted code."""


class Run:
    """One run of a flow. Use it as a context manager (or :meth:`start` / :meth:`finish`)."""

    def __init__(
        self,
        workspace: Desk,
        flow_type: str,
        *,
        rule: RuleRef = None,
        symbol: str | None = None,
        timeframe: str | None = None,
        inputs: Sequence[Any] = (),
        data_range: Sequence[str] | None = None,
        strict: bool = False,
        flow_run_id: str | None = None,
        flow_name: str | None = None,
        heartbeat: float = HEARTBEAT_S,
        lease: float | None = None,
        track_process: bool = True,
    ) -> None:
        self.workspace = workspace
        self.flow_type = flow_type
        self.rule = rule
        self.symbol = symbol
        self.timeframe = timeframe
        self.inputs = list(inputs)
        self.data_range = data_range
        self.strict = strict
        self.flow_run_id = flow_run_id
        self.flow_name = flow_name
        self.heartbeat_s = heartbeat
        # refused here, before anything is opened or written
        self.lease_s = checked_lease(lease if lease is not None else heartbeat * LEASE_FACTOR)
        self.track_process = track_process
        self.snapshot: dict[str, Any] = {}
        self._runs: RunStore | None = None
        self._store: DeskStore | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def run_id(self) -> str:
        if not self.snapshot:
            raise UsageError("the run has not started")
        return str(self.snapshot["run_id"])

    @property
    def status(self) -> str:
        return str(self.snapshot.get("status", "new"))

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Run:
        if self.snapshot:
            raise UsageError(f"run {self.run_id} has already started")
        draft, git = build_snapshot(
            self.workspace,
            self.flow_type,
            rule=self.rule,
            symbol=self.symbol,
            timeframe=self.timeframe,
            inputs=self.inputs,
            data_range=self.data_range,
            strict=self.strict,
            flow_run_id=self.flow_run_id,
            flow_name=self.flow_name,
        )
        if self.flow_type == "live_flow" and draft.get("rule_active") is False:
            raise RuleError(
                f"{draft['rule_id']}@{draft['rule_version']} is deprecated; "
                "a live flow may only use an active rule version"
            )
        draft["rule_released"] = rule_released(self.workspace, draft)
        if self.strict and git.dirty:
            shown = ", ".join([*git.changed, *git.untracked][:10])
            raise DirtyTree(
                f"strict run refused: the work tree has uncommitted changes ({shown}); "
                "commit them or run without --strict"
            )
        self._runs = RunStore.open(self.workspace.settings)
        try:
            self._runs.reap()
            pid = os.getpid() if self.track_process else None
            self.snapshot = self._runs.allocate(draft, pid=pid, lease_s=self.lease_s)
            self._runs.write_file(self.snapshot)
            if git.diff:
                from ita_rules.store import Store

                # the run's own diff, stored before its first heartbeat: the desk's check
                # (DeskStore) has nothing to say of it, and would look the run up, marking it
                # abandoned when a short lease ran out meanwhile
                spec = _spec("provenance", self, {"kind": "git_diff"})
                record = Store.put_bytes(self.store, git.diff, ext="patch", spec=spec)
                self._update(git_diff_file_id=record.file_id)
        except BaseException as exc:
            if self.snapshot:
                with contextlib.suppress(ItaRulesError):
                    self._end("failed", f"could not start: {type(exc).__name__}: {exc}")
            self._close()
            raise
        if self.heartbeat_s > 0:
            self._beat = threading.Thread(
                target=self._heartbeat, name=f"ita-{self.run_id}", daemon=True
            )
            self._beat.start()
        return self

    def finish(self, status: str = "succeeded", error: str | None = None) -> dict[str, Any]:
        """End the run; a run that was marked abandoned meanwhile stays abandoned (error)."""
        try:
            return self._end(status, error)
        finally:
            self._close()

    def detach(self) -> dict[str, Any]:
        """Leave the run running (another process finishes it: ``runs finish``); stop beating."""
        snapshot = self.snapshot
        self._stop.set()
        self._close()
        return snapshot

    def __enter__(self) -> Run:
        return self.start() if not self.snapshot else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.snapshot:
            return
        if exc is None:
            self.finish("succeeded")
        else:
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            with contextlib.suppress(ItaRulesError):  # the flow's own exception matters more
                self.finish("failed", message)

    def _end(self, status: str, error: str | None) -> dict[str, Any]:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=10)
        assert self._runs is not None
        with self._lock:
            self.snapshot = self._runs.finish(self.run_id, status, error=error)
        return self.snapshot

    def _close(self) -> None:
        self._stop.set()
        self._store = None  # its database is shared (see rundb.database)
        if self._runs is not None:
            self._runs.close()
            self._runs = None

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            runs = self._runs
            if runs is None:
                return
            try:
                if not runs.heartbeat(self.run_id, self.lease_s):
                    return
            except Exception:
                continue

    # -- outputs -------------------------------------------------------------------------
    @property
    def store(self) -> DeskStore:
        """The desk's store on the run's database: what the run stores is checked against the
        desk as ``store put --run-id`` checks it (:class:`~ita_rules.provenance.desk.DeskStore`)."""
        if self._store is None:
            from ita_rules.provenance.desk import DeskStore
            from ita_rules.provenance.rundb import database

            self._store = DeskStore(self.workspace, database(self.workspace.settings))
        return self._store

    def _running(self) -> None:
        if self.status != "running":
            raise UsageError(f"run {self.snapshot.get('run_id', '(not started)')} is not running")

    def save_result(self, result: Mapping[str, Any]) -> Record:
        """Store a backtest result stamped with run_id, setup_id, rule_version, params_hash and
        rule_released. A result the store refuses is written next to the snapshot, and the
        error names that file (so the compute is not lost)."""
        self._running()
        if not isinstance(result, Mapping):
            raise UsageError(f"save_result: expected a mapping, got {type(result).__name__}")
        if not self.snapshot.get("rule_id"):
            raise UsageError("save_result: this run has no rule; start it with rule=...")
        document = stamped(result, self.snapshot)
        data, problem = encode(document)
        assert self._runs is not None
        folder = self._runs.snapshot_path(self.run_id).parent
        if problem is not None:
            raise keep_rejected(folder, self.run_id, self.workspace.root, data, problem)
        from ita_rules.provenance.release import ReleasedRuleModified
        from ita_rules.store import ResultRejected

        try:
            record = self.store.put_bytes(data, ext="json", spec=_spec("result", self, None))
        except ResultRejected as exc:
            raise keep_rejected(
                folder, self.run_id, self.workspace.root, data, exc.message, exc.location
            ) from None
        except ReleasedRuleModified as exc:  # its version's file was changed since the start
            raise keep_rejected(folder, self.run_id, self.workspace.root, data, str(exc)) from None
        self._add_output(record.file_id)
        return record

    def save_file(
        self,
        path: str | os.PathLike[str],
        *,
        type: str,
        tags: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Record:
        """Store a file produced by the run (screenshot, model...) with the run's id; a result
        is checked against the run as ``store put --run-id`` checks it (a run that used no rule
        version has none)."""
        self._running()
        record = self.store.put(
            Path(path),
            type=type,
            symbol=self.symbol,
            timeframe=self.timeframe,
            run_id=self.run_id,
            tags=tags,
            metadata=metadata,
        )
        self._add_output(record.file_id)
        return record

    def save_embeddings(
        self,
        collection: str,
        *,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        documents: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        tags: Iterable[str] = (),
    ) -> int:
        """Add vectors to ``collection`` of the vector store (``[vectors] url``), stamped with
        run_id, setup_id, rule_version and a numeric created_at, and record them in the
        manifest (:mod:`.embeddings`); returns how many were added."""
        self._running()
        from ita_rules.provenance import embeddings as emb

        extra = {"documents": documents, "metadatas": metadatas, "tags": tags}
        return emb.save(
            self.workspace.settings,
            self.store.db,
            self.snapshot,
            collection,
            ids,
            embeddings,
            **extra,
        )

    def _add_output(self, file_id: str) -> None:
        outputs = [*self.snapshot.get("outputs", []), file_id]
        self._update(outputs=outputs)

    def _update(self, **changes: Any) -> None:
        assert self._runs is not None
        with self._lock:
            snapshot = {**self.snapshot, **changes}
            self._runs.update_running(snapshot)
            self.snapshot = snapshot


def _spec(type_: str, run: Run, metadata: Mapping[str, Any] | None) -> Any:
    from ita_rules.store import PutSpec

    return PutSpec(type_, run.symbol, run.timeframe, run.run_id, (), metadata)


def start_run(workspace: Desk, flow_type: str, **options: Any) -> Run:
    """A new :class:`Run`; it starts when its ``with`` block is entered."""
    return Run(workspace, flow_type, **options)

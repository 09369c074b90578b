"""OpenLineage events out: the live emitter, its queue, and ``runs export --openlineage``
(docs/architecture.md#lineage).

With ``lineage.url`` set, :func:`announce` sends START when a run is allocated and COMPLETE /
FAIL / ABORT when it ends or is reaped as abandoned, one HTTP POST per event to
``{lineage.url}/api/v1/lineage`` through the official ``openlineage-python`` client's
``HttpTransport`` (the ``lineage`` extra, imported only when an event is sent). An event that
cannot be delivered (receiver down, client not installed) never fails the run: it is appended
to ``.ita/lineage_queue.jsonl``, and while that queue holds events new ones join its end, so a
consumer never sees a run end before it started. ``runs export --openlineage --resend`` sends
the queue again, in order. Without ``lineage.url`` nothing is imported and nothing is written.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import UsageError
from ita_rules.core.fsutil import atomic_write_text
from ita_rules.provenance.lineage import Output, drop_event, run_event
from ita_rules.provenance.lineage_names import s3_names

if TYPE_CHECKING:
    from ita_rules.core.config import Settings
    from ita_rules.provenance.runstore import RunStore
    from ita_rules.store.core import Store
    from ita_rules.store.records import Record

QUEUE_NAME = "lineage_queue.jsonl"
ENDPOINT = "api/v1/lineage"
TIMEOUT_S = 3.0
RETRY = {"total": 1, "connect": 1, "read": 1, "backoff_factor": 0.1}


def queue_path(settings: Settings) -> Path:
    return settings.root / ".ita" / QUEUE_NAME


def line(event: Mapping[str, Any]) -> str:
    """One event as one JSON line (sorted keys), as exported, queued and sent."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# -- building --------------------------------------------------------------------------------
def outputs_of(store: Store, snapshot: Mapping[str, Any]) -> list[Record]:
    """The records of a run's outputs (whatever their status; an unknown id is skipped)."""
    found: list[Record] = []
    for file_id in snapshot.get("outputs") or []:
        found += store.find(file_id=str(file_id), status=None)
    return found


def as_output(store: Store, record: Record) -> Output:
    return Output(store.abspath(record.path), record.hash, record.type, record.status == "purged")


def events_of(
    store: Store, settings: Settings, snapshot: Mapping[str, Any], *, live: bool = False
) -> list[dict[str, Any]]:
    """The events of one run: START, and when it ended COMPLETE / FAIL / ABORT; in an export
    (``live`` False) also an OTHER event naming its purged outputs (DROP)."""
    namespace, root = settings.lineage_namespace, settings.root
    records = outputs_of(store, snapshot) if snapshot["status"] != "running" or not live else []
    hashes = [str(e["hash"]) for e in snapshot.get("inputs") or []] + [r.hash for r in records]
    names = s3_names(settings.remote_name, store.db, hashes)
    start = run_event(snapshot, namespace=namespace, root=root, status="running", names=names)
    if snapshot["status"] == "running":
        return [start]
    kept = [Output(store.abspath(r.path), r.hash, r.type) for r in records]
    end = run_event(snapshot, namespace=namespace, root=root, outputs=kept, names=names)
    events = [start, end]
    gone = [r for r in records if r.status == "purged"]
    if gone and not live:
        moment = max(str(r.deleted_at or snapshot["finished_at"]) for r in gone)
        purged = [as_output(store, r) for r in gone]
        events.append(drop_event(snapshot, purged, namespace=namespace, moment=moment, names=names))
    return events


# -- the live emitter ------------------------------------------------------------------------
def announce(runs: RunStore, snapshot: Mapping[str, Any]) -> None:
    """Send the event of the run's new state (START, or its end) when ``lineage.url`` is set.
    Never raises: a failure to build the event is a warning, one to deliver it is queued."""
    settings = runs.settings
    if not settings.lineage_url:
        return
    try:
        event = events_of(runs.store, settings, snapshot, live=True)[-1]
    except Exception as exc:  # the run matters more than its lineage
        warnings.warn(f"lineage: no event for {snapshot.get('run_id')}: {exc}", stacklevel=2)
        return
    try:
        deliver(settings, [event])
    except Exception as exc:  # the queue could not be written either (lock, disk)
        lost = f"{event['eventType']} of {snapshot.get('run_id')}"
        warnings.warn(f"lineage: {lost} lost: {exc}", stacklevel=2)


def announce_drop(settings: Settings, store: Store, records: Sequence[Record]) -> None:
    """An OTHER event per run whose outputs were purged: their datasets with
    ``lifecycleStateChange`` DROP (called by retention after a purge)."""
    if not settings.lineage_url or not records:
        return
    from ita_rules.provenance.runstore import RunStore

    events = []
    try:
        with RunStore.open(settings) as runs:
            for run_id in sorted({r.run_id for r in records if r.run_id}):
                snapshot = runs.get(run_id)
                mine = [r for r in records if r.run_id == run_id]
                moment = max(str(r.deleted_at or snapshot["finished_at"]) for r in mine)
                outputs = [as_output(store, r) for r in mine]
                names = s3_names(settings.remote_name, store.db, [r.hash for r in mine])
                namespace = settings.lineage_namespace
                events.append(
                    drop_event(snapshot, outputs, namespace=namespace, moment=moment, names=names)
                )
        deliver(settings, events)
    except Exception as exc:  # the purge is done: its lineage must not undo or fail it
        warnings.warn(f"lineage: no DROP event: {exc}", stacklevel=2)


@contextlib.contextmanager
def _queue_lock(settings: Settings) -> Iterator[Path]:
    from filelock import FileLock

    path = queue_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        yield path


def deliver(settings: Settings, events: Sequence[Mapping[str, Any]]) -> int:
    """Send ``events`` in order after any queued ones; queue what could not be sent. The number
    of events sent."""
    with _queue_lock(settings) as path:
        waiting = _read_queue(path)
        pending = [*waiting, *(line(e) for e in events)]
        sent = _send_lines(settings.lineage_url, pending)
        left = pending[sent:]
        if left or waiting:
            atomic_write_text(path, "".join(f"{text}\n" for text in left))
    return sent


def resend(settings: Settings) -> tuple[int, int]:
    """Send the queued events again, in order: (sent, still queued)."""
    if not settings.lineage_url:
        raise UsageError("--resend: lineage.url is not set in ita.toml (or ITA_LINEAGE_URL)")
    try:
        import openlineage.client  # noqa: F401
    except ImportError:
        raise UsageError(
            "--resend: the OpenLineage client is not installed: pip install 'ita-rules[lineage]'"
        ) from None
    with _queue_lock(settings) as path:
        pending = _read_queue(path)
        sent = _send_lines(settings.lineage_url, pending)
        if pending:
            atomic_write_text(path, "".join(f"{text}\n" for text in pending[sent:]))
    return sent, len(pending) - sent


def _read_queue(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [text for text in path.read_text(encoding="utf-8").splitlines() if text.strip()]


def _send_lines(url: str, texts: Sequence[str]) -> int:
    """POST each event in order with the client's HttpTransport; stop at the first failure."""
    if not texts:
        return 0
    try:
        from openlineage.client.transport.http import HttpConfig, HttpTransport
    except ImportError:
        return 0  # the lineage extra is not installed: everything stays queued
    try:  # a malformed url is refused here: everything stays queued
        transport = HttpTransport(
            HttpConfig(url=url, endpoint=ENDPOINT, timeout=TIMEOUT_S, retry=dict(RETRY))
        )
    except ValueError:
        return 0
    sent = 0
    try:
        for text in texts:
            # Serde.to_json, which the transport applies, passes a dict through unchanged
            transport.emit(json.loads(text))
            sent += 1
    except Exception:
        pass  # unreachable or refused: the rest stays queued
    finally:
        transport.close()
    return sent


# -- export ----------------------------------------------------------------------------------
def export_events(
    runs: RunStore, run_ids: Sequence[str] = (), since: str | None = None
) -> Iterable[dict[str, Any]]:
    """The events of the named runs (or of every run started at or after ``since``, or of
    every run), oldest run first."""
    if run_ids and since:
        raise UsageError("give run ids or --since, not both")
    if run_ids:
        snapshots = [runs.get(run_id) for run_id in run_ids]
    else:
        rows = runs.list()
        chosen = sorted(r["run_id"] for r in rows if since is None or r["started_at"] >= since)
        snapshots = [runs.get(run_id) for run_id in chosen]
    for snapshot in snapshots:
        yield from events_of(runs.store, runs.settings, snapshot)


def announce_purged(store: Store, file_ids: Sequence[str]) -> None:
    """DROP events for the purged records among ``file_ids`` that a run wrote (retention calls
    this after a sweep or an admin purge); nothing without ``lineage.url``."""
    if not store.settings.lineage_url or not file_ids:
        return
    records = [r for fid in file_ids for r in store.find(file_id=fid, status=("purged",))]
    announce_drop(store.settings, store, [r for r in records if r.run_id])


def export_runs(
    settings: Settings, run_ids: Sequence[str], since: str | None, output: Path | None
) -> tuple[list[str], int]:
    """The JSON lines of the runs' events, and how many runs they cover; with ``output`` the
    file is written atomically, after every event was built (an error writes nothing)."""
    from ita_rules.core import times
    from ita_rules.provenance.runstore import RunStore

    bound = times.iso(times.parse_bound(since, "--since")) if since is not None else None
    with RunStore.open(settings) as runs:
        runs.reap()
        events = list(export_events(runs, run_ids, bound))
    lines = [line(event) for event in events]
    if output is not None:
        atomic_write_text(output, "".join(f"{text}\n" for text in lines))
    return lines, len({event["run"]["runId"] for event in events})

"""The metrics of runs' results, and the runs of one rule version (``runs list --version
SETUP@VERSION --metrics``; docs/architecture.md#runs).

A run's results are the stored backtest results (``type=result``) stamped with its run id whose
file is still on disk (live or soft-deleted). A result's metrics are the scalars (numbers,
strings, booleans) of its ``metrics`` object when it has one; otherwise its top-level numbers
(backtesting.py's ``"# Trades": 3``, ``"Return [%]": 1.2``). A run with several results takes
the metrics of all of them, a later result's value winning on a shared name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ita_rules.db import tables as t

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.rules.model import Version

Metric = float | int | str
_CHUNK = 500


def result_metrics(document: Mapping[str, Any]) -> dict[str, Metric]:
    """The metrics of one result document (see the module docstring)."""
    inner = document.get("metrics")
    if isinstance(inner, Mapping):
        return {str(k): v for k, v in inner.items() if isinstance(v, int | float | str)}
    return {
        str(k): v
        for k, v in document.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def metrics_by_run(
    desk: Desk, run_ids: Sequence[str] | None = None
) -> dict[str, dict[str, Metric]]:
    """The metrics of each run's results: every run of ``run_ids`` (``{}`` when it has no
    result on disk), or, with None, every run that has one."""
    from ita_rules.provenance.rundb import database

    out: dict[str, dict[str, Metric]] = {r: {} for r in run_ids or ()}
    root = str(desk.settings.store_root)  # os.path, not pathlib: 10,000 joins add up
    with database(desk.settings).read() as conn:
        if not sa.inspect(conn).has_table(t.records.name):
            return out
        for run_id, path in _results(conn, run_ids):
            try:
                with open(os.path.join(root, path), "rb") as fh:
                    document = json.loads(fh.read())
            except (OSError, ValueError):
                continue  # gone or damaged: `store verify` names it
            if isinstance(document, dict):
                out.setdefault(run_id, {}).update(result_metrics(document))
    return out


def _results(conn: sa.Connection, run_ids: Sequence[str] | None) -> Iterator[tuple[str, str]]:
    """``(run_id, path)`` of the results on disk, oldest first."""
    r = t.records.c
    query = (
        sa.select(r.run_id, r.path)
        .where(r.type == "result", r.status.in_(("live", "deleted")), r.run_id.is_not(None))
        .order_by(r.created_at, r.file_id)
    )
    if run_ids is None:
        yield from ((str(a), str(b)) for a, b in conn.execute(query))
        return
    ids = sorted(set(run_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = conn.execute(query.where(r.run_id.in_(ids[start : start + _CHUNK])))
        yield from ((str(a), str(b)) for a, b in chunk)


def parse_version_ref(text: str, option: str = "--version") -> tuple[str, Version]:
    """``SETUP_ID@VERSION`` (``@1.2`` or ``@v1.2``); a one-line
    :class:`~ita_rules.core.errors.UsageError` naming ``option`` otherwise."""
    from ita_rules.core.errors import UsageError
    from ita_rules.rules.model import parse_ref

    try:
        setup_id, version = parse_ref(text)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc.message}") from None
    if version is None:
        raise UsageError(f"{option}: name the version: {text}@VERSION (e.g. {text}@1.2)")
    return setup_id, version


def version_runs(
    desk: Desk, ref: str, *, limit: int | None = None, **filters: str | None
) -> list[dict[str, Any]]:
    """The summaries of the runs of one rule version ``SETUP_ID@VERSION``, newest first, as
    ``runs list`` shows them (abandoned runs marked first); ``filters`` are other columns
    (``status``, ``flow_type``, ``symbol``) that must be equal when given."""
    from ita_rules.provenance.rundb import summaries
    from ita_rules.provenance.runstore import RunStore

    setup_id, version = parse_version_ref(ref)
    with RunStore.open(desk.settings) as runs:
        runs.reap()
        with runs.db.read() as conn:
            wanted = {**filters, "setup_id": setup_id, "rule_version": version.tag}
            return summaries(conn, wanted, limit)


def with_metrics(
    desk: Desk, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run summaries (``runs list``'s rows) each with its ``metrics``, and the union of the
    metric names, sorted."""
    found = metrics_by_run(desk, [str(r["run_id"]) for r in rows])
    names = sorted({name for metrics in found.values() for name in metrics})
    return [{**r, "metrics": found[str(r["run_id"])]} for r in rows], names

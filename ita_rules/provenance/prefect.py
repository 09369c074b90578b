"""Prefect integration (``pip install 'ita-rules[prefect]'``): a run snapshot for every flow run,
with the flow run id and the flow name, without touching the flow body.

    from prefect import flow
    from ita_rules.provenance.prefect import track

    @track("backtest_flow", rule="IB_raid_v1@1.2")
    @flow
    def backtest(symbol: str, timeframe: str, inputs: list[str], data_range: list[str]) -> dict:
        ...

``track`` goes above ``@flow`` (it returns the same flow with its function wrapped) or below it
(it wraps the plain function). ``rule``, ``symbol``, ``timeframe``, ``inputs`` and
``data_range`` not given to ``track`` are taken from the flow's parameters of those names. The
run starts before the body, ends ``succeeded`` or ``failed`` with it (each retry is a run of its
own), and an exception that refuses the run (strict and dirty, a live flow on a deprecated rule)
fails the flow run. Inside the body, :func:`current_run` gives the run.

``workspace`` is where the runs are recorded: a :class:`~ita_rules.workspace.Workspace` the
caller opened (any :class:`~ita_rules.provenance.desk.Desk`), or a folder in one; by default the
workspace at the current directory when the flow runs, opened from its ``ita.toml``
(:func:`~ita_rules.provenance.desk.open_desk`).
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ita_rules.core.errors import UsageError

if TYPE_CHECKING:
    from ita_rules.provenance.desk import Desk
    from ita_rules.provenance.runs import Run

F = TypeVar("F")
FROM_PARAMETERS = ("rule", "symbol", "timeframe", "inputs", "data_range")
_CURRENT: ContextVar[Run | None] = ContextVar("ita_rules_run", default=None)


def current_run() -> Run:
    """The run of the tracked flow being executed here."""
    run = _CURRENT.get()
    if run is None:
        raise UsageError("no ita-rules run here: the flow is not decorated with track(...)")
    return run


def track(
    flow_type: str,
    *,
    workspace: Desk | str | os.PathLike[str] | None = None,
    strict: bool = False,
    **fixed: Any,
) -> Callable[[F], F]:
    """Record every call of a Prefect flow (or a plain function) as a run of ``flow_type``.

    ``fixed`` may hold ``rule``, ``symbol``, ``timeframe``, ``inputs``, ``data_range`` and the
    other options of :class:`~ita_rules.provenance.runs.Run` (``heartbeat``...).
    """

    def decorate(obj: F) -> F:
        flow_class = _flow_class()
        if flow_class is not None and isinstance(obj, flow_class):
            flow: Any = obj
            tracked = flow.with_options()
            tracked.fn = _wrap(flow.fn, flow_type, workspace, strict, fixed)
            return cast(F, tracked)
        if not callable(obj):
            raise UsageError(f"track: expected a flow or a function, got {type(obj).__name__}")
        return cast(F, _wrap(obj, flow_type, workspace, strict, fixed))

    return decorate


def _flow_class() -> type[Any] | None:
    try:
        from prefect import Flow
    except ImportError:
        return None
    return cast("type[Any]", Flow)


def _wrap(
    fn: Any,
    flow_type: str,
    workspace: Desk | str | os.PathLike[str] | None,
    strict: bool,
    fixed: Mapping[str, Any],
) -> Any:
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with _tracked(fn, args, kwargs, flow_type, workspace, strict, fixed):
                return await fn(*args, **kwargs)

        return run_async

    @functools.wraps(fn)
    def run_sync(*args: Any, **kwargs: Any) -> Any:
        with _tracked(fn, args, kwargs, flow_type, workspace, strict, fixed):
            return fn(*args, **kwargs)

    return run_sync


@contextmanager
def _tracked(
    fn: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flow_type: str,
    workspace: Desk | str | os.PathLike[str] | None,
    strict: bool,
    fixed: Mapping[str, Any],
) -> Iterator[Run]:
    from ita_rules.provenance.desk import open_desk
    from ita_rules.provenance.runs import Run

    if workspace is None or isinstance(workspace, str | os.PathLike):
        workspace = open_desk(workspace)
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        parameters = dict(bound.arguments)
    except (TypeError, ValueError):
        parameters = dict(kwargs)
    options = dict(fixed)
    for name in FROM_PARAMETERS:
        if options.get(name) is None and parameters.get(name) is not None:
            options[name] = parameters[name]
    flow_run_id, flow_name = _prefect_context()
    run = Run(
        workspace,
        flow_type,
        strict=strict,
        flow_run_id=flow_run_id,
        flow_name=flow_name or getattr(fn, "__name__", None),
        **options,
    )
    with run:
        token = _CURRENT.set(run)
        try:
            yield run
        finally:
            _CURRENT.reset(token)


def _prefect_context() -> tuple[str | None, str | None]:
    """(flow run id, flow name) when called inside a Prefect flow run."""
    try:
        from prefect.context import FlowRunContext
    except ImportError:
        return None, None
    ctx = FlowRunContext.get()
    if ctx is None:
        return None, None
    flow_run = getattr(ctx, "flow_run", None)
    flow = getattr(ctx, "flow", None)
    return (
        str(flow_run.id) if flow_run is not None else None,
        getattr(flow, "name", None),
    )

"""Rendering and writing the pages (docs/architecture.md#report): the three summary pages in
this process, one page per setup and per run in chunks, spread over ``os.cpu_count()`` worker
processes when there are enough of them to pay for the forks.

The workers are forked after the model is read: they inherit it and the compiled templates
(nothing is pickled but a chunk's bounds on the way out and its page count on the way back),
render their pages and write them into the staging folder themselves. Fewer than
:data:`MIN_PAGES` pages, one CPU, or no ``fork`` on this platform: everything is rendered here,
in the same order, into the same bytes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ita_rules.core.errors import ItaRulesError
from ita_rules.report.render import ReportError

if TYPE_CHECKING:
    from ita_rules.report.model import ReportModel
    from ita_rules.report.pages import Pages

Progress = Callable[[int, int], None]
MIN_PAGES = 400  # below this a fork costs more than the pages it would render
CHUNKS_PER_WORKER = 8  # so the progress moves and a slow chunk does not hold up the others
Chunk = tuple[str, int, int]  # "setup" or "run", and a slice of the model's list

_JOB: tuple[Pages, Path] | None = None  # set before the workers fork; they inherit it


def write_pages(
    pages: Pages, folder: Path, progress: Progress | None = None, workers: int | None = None
) -> int:
    """Render every page of ``pages`` into ``folder``; the number written. ``workers``: how many
    processes (default ``os.cpu_count()``)."""
    model = pages.model
    total = 3 + len(model.setups) + len(model.runs)
    done = 0
    for relative, render in (
        ("index.html", pages.registry),
        ("runs.html", pages.runs),
        ("storage.html", pages.storage),
    ):
        _write(folder / relative, _rendered(render))
        done += 1
        if progress is not None:
            progress(done, total)
    count = workers if workers is not None else (os.cpu_count() or 1)
    forking = "fork" in multiprocessing.get_all_start_methods()
    if count < 2 or total - 3 < MIN_PAGES or not forking:
        for chunk in chunks(model, 1):
            done += _write_chunk(pages, folder, chunk)
            if progress is not None:
                progress(done, total)
        return done
    return done + _in_workers(pages, folder, count, progress, done, total)


def chunks(model: ReportModel, workers: int) -> list[Chunk]:
    """The setup and run pages cut into about ``CHUNKS_PER_WORKER`` slices per worker."""
    out: list[Chunk] = []
    for kind, items in (("setup", model.setups), ("run", model.runs)):
        size = max(1, -(-len(items) // (workers * CHUNKS_PER_WORKER)))
        out.extend(
            (kind, start, min(start + size, len(items))) for start in range(0, len(items), size)
        )
    return out


def _in_workers(
    pages: Pages, folder: Path, workers: int, progress: Progress | None, done: int, total: int
) -> int:
    global _JOB
    _JOB = (pages, folder)
    written = 0
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_worker, chunk) for chunk in chunks(pages.model, workers)]
            try:
                for future in as_completed(futures):
                    written += future.result()
                    if progress is not None:
                        progress(done + written, total)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    finally:
        _JOB = None
    return written


def _worker(chunk: Chunk) -> int:
    """In a worker process: one chunk of pages, from the inherited job."""
    assert _JOB is not None, "the job is set before the workers fork"
    pages, folder = _JOB
    return _write_chunk(pages, folder, chunk)


def _write_chunk(pages: Pages, folder: Path, chunk: Chunk) -> int:
    _, start, stop = chunk
    for relative, render in _chunk_pages(pages, chunk):
        _write(folder / relative, _rendered(render))
    return stop - start


def _chunk_pages(pages: Pages, chunk: Chunk) -> Iterator[tuple[str, Callable[[], str]]]:
    kind, start, stop = chunk
    model = pages.model
    if kind == "setup":
        for s in model.setups[start:stop]:
            yield f"setup/{s.setup_id}.html", partial(pages.setup, s)
    else:
        for r in model.runs[start:stop]:
            yield f"run/{r.run_id}.html", partial(pages.run, r)


def _rendered(render: Callable[[], str]) -> str:
    try:
        return render()
    except ItaRulesError:
        raise
    except Exception as exc:  # a template error is a bug in the report, named as such
        raise ReportError(
            f"report: a page could not be rendered: {type(exc).__name__}: {exc}"
        ) from exc


def _write(path: Path, html: str) -> None:
    data = html.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)

"""Python's cyclic garbage collector paused for work that makes many objects and no garbage
cycles (standard library only: imported before anything else of the work)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block, as it was after it. Each collection goes over every
    object made since the last one (and, every tenth, over those that survived it): a rebuild
    of the registry index makes ~100,000 tuples, rows and strings that live until it ends,
    and its imports ~50,000 functions, classes and dicts that live as long as the process, so
    it paid ~4 ms of CPU over 5,000 commits for collections that found nothing. Reference
    counting still frees everything else at once; a cycle made meanwhile waits for the next
    collection after the block."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def freeze_at_exit() -> None:
    """Freeze the objects made so far (``gc.freeze``) when nothing but the process's exit
    follows, so that the full collection of the interpreter's shutdown skips them: it found no
    garbage there and cost a put of 1,000 small files ~5 ms of CPU. Frozen objects are never
    collected: only an entry point that ends the process calls this (the console script, not a
    program calling it with its arguments)."""
    gc.freeze()

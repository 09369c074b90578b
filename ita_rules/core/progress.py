"""A tiny progress bar for long work (index rebuild): on a terminal only, silent when piped.

Library code takes an optional ``progress(done, total)`` callback; the CLI passes a :class:`Bar`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

MIN_TOTAL = 200  # below this the work is short: no bar
WIDTH = 30


class Bar:
    """``label [#####.....]  120/5000`` redrawn in place on ``stream`` (stderr by default)."""

    def __init__(
        self, label: str, stream: TextIO | None = None, *, min_total: int = MIN_TOTAL
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.min_total = min_total
        self.enabled = _isatty(self.stream)
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.min_total:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = WIDTH * done // total if total else WIDTH
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line (only when something was drawn)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

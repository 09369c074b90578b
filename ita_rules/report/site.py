"""Writing the site (docs/architecture.md#report): ``build_report(desk, out_dir)`` gathers the
model, renders every page into a temporary folder beside the target and then swaps it in, so a
failed build never leaves half a site and the previous report stays until the new one is whole.

A folder is only ever replaced when it is empty or holds a report (its :data:`MARKER` file):
``-o ~/Documents`` is refused rather than emptied. Pages are written without an fsync each (a
report is derived and written again in seconds; the swap is what must not be half done).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError, UsageError
from ita_rules.core.fsutil import printable
from ita_rules.report.render import environment

if TYPE_CHECKING:
    from ita_rules.report.model import ReportModel
    from ita_rules.workspace import Workspace

Progress = Callable[[int, int], None]
# Default folder, in the workspace's sidecar .ita/ (git-ignored by `init`, derived like the
# index: deleting it loses nothing); -o writes anywhere else.
DEFAULT_DIR = ".ita/report"
MARKER = ".ita-report"  # written into every report: the folder may be replaced by the next one
ASSETS = ("site.css", "site.js")


@dataclass(frozen=True)
class ReportSummary:
    """What was written: the folder, its index page, and how many pages, setups and runs."""

    out: Path
    pages: int
    setups: int
    runs: int

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "pages": self.pages, "setups": self.setups, "runs": self.runs}


def target_dir(ws: Workspace, out_dir: Path | None) -> Path:
    """The folder to write (default ``.ita/report/`` in the workspace), checked before anything is
    read or written: not a file, not inside the rules folder or the store, not a folder that
    holds something other than a report; its parent writable."""
    out = Path(os.path.abspath(out_dir if out_dir is not None else ws.root / DEFAULT_DIR))
    shown = printable(str(out_dir)) if out_dir is not None else DEFAULT_DIR
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise UsageError(f"-o {shown}: is a file; give a folder for the report")
    for inside, what in ((ws.settings.rules_dir, "rules"), (ws.settings.store_root, "store")):
        if out.resolve() == inside.resolve() or out.resolve().is_relative_to(inside.resolve()):
            raise UsageError(f"-o {shown}: inside the {what} folder; write the report elsewhere")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(
            f"-o {shown}: the folder holds files that are not a report; give an empty or new folder"
        )
    parent = _existing_parent(out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ItaRulesError(f"-o {shown}: cannot write in {printable(str(parent))}")
    return out


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor)


def build_report(
    ws: Workspace, out_dir: Path | None = None, progress: Progress | None = None
) -> ReportSummary:
    """Write the report of ``ws`` into ``out_dir`` (default ``.ita/report/``); every page, then the
    swap. The model is read completely before the first page is written."""
    out = target_dir(ws, out_dir)
    env = environment()  # Jinja2 missing: said before anything is read
    from ita_rules.report.model import gather

    model = gather(ws)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the report from a static host
    try:
        pages = _write_pages(model, env, staging, progress)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReportSummary(out, pages, len(model.setups), len(model.runs))


def _write_pages(model: ReportModel, env: Any, folder: Path, progress: Progress | None) -> int:
    from ita_rules.report.pages import Pages
    from ita_rules.report.workers import write_pages

    pages = Pages(model, env)
    (folder / "assets").mkdir()
    (folder / "setup").mkdir()
    (folder / "run").mkdir()
    static = resources.files("ita_rules.report").joinpath("static")
    for name in ASSETS:
        (folder / "assets" / name).write_bytes(static.joinpath(name).read_bytes())
    (folder / MARKER).write_text("written by ita-rules report; replaced by the next one\n")
    return write_pages(pages, folder, progress)


def _swap(staging: Path, out: Path) -> None:
    """Put ``staging`` where ``out`` is: the old report moves aside first and is removed only
    after the new one is in place."""
    if not out.exists():
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        staging.rename(out)
    except BaseException:
        old.rename(out)
        raise
    _remove(old)


REMOVERS = 8  # threads unlinking a replaced report's files


def _remove(folder: Path) -> None:
    """Remove a replaced report. Its files are unlinked from :data:`REMOVERS` threads: on a
    busy file system each unlink may wait for the journal, and the waits then overlap (12,004
    files at load 11: 26.7 s in one thread, 5.7 s in eight); then the folders go."""
    files: list[str] = []
    for dirpath, _, names in os.walk(folder):
        files.extend(os.path.join(dirpath, name) for name in names)
    if len(files) >= 4 * REMOVERS:
        with ThreadPoolExecutor(REMOVERS) as pool:
            for _ in pool.map(_unlink_all, [files[i::REMOVERS] for i in range(REMOVERS)]):
                pass
    shutil.rmtree(folder, ignore_errors=True)


def _unlink_all(paths: list[str]) -> None:
    for path in paths:  # as rmtree(ignore_errors=True): what is left goes with the folder
        with suppress(OSError):
            os.unlink(path)

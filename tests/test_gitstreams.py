"""The streaming git reads of the registry index (``git log`` and ``git cat-file --batch
--buffer``, :meth:`ita_rules.core.gitio.Git.popen`) where the process around them is unusual:
its stdin closed, file sizes limited, a git that fails midway or says much on stderr."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.test_check import (
    _no_git_env,  # noqa: F401 (an autouse fixture)
    commit,
    put,
)

BIG = 300_000  # bytes of the big blob: more than a pipe holds, more than the file size limit

# Reads every blob through a BlobReader in a process of its own (argv: the repository, the
# ids) and prints how many bytes each gave.
READ_BLOBS = """
import sys
from pathlib import Path
from ita_rules.core import gitio, gitobjects
reader = gitobjects.BlobReader(gitio.Git(Path(sys.argv[1])))
for oid in sys.argv[2:]:
    reader.request(oid)
got = reader.finish()
print(" ".join(str(len(got.get(oid, b""))) for oid in sys.argv[2:]))
"""


def _blob(root: Path, data: bytes) -> str:
    """The id of a new blob holding ``data``."""
    done = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=root, input=data, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


def _read_blobs(
    root: Path, oids: list[str], before: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", READ_BLOBS, str(root), *oids],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=before,
    )


def test_a_blob_reader_with_stdin_closed_gets_its_answers(in_git_repo: Path) -> None:
    """With the process's stdin closed, the memory file (or a pipe) is descriptor 0: cat-file
    must still get its stdout there and its requests on its stdin (it used to write its
    answers into its own stdin pipe: one request gave nothing, more an exit 128)."""
    small, big = _blob(in_git_repo, b"small\n"), _blob(in_git_repo, b"x" * BIG)
    for oids in ([small], [small, big]):
        done = _read_blobs(in_git_repo, oids, before=lambda: os.close(0))
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [str(6 if oid == small else BIG) for oid in oids]


def test_a_blob_reader_under_a_file_size_limit_reads_through_a_pipe(in_git_repo: Path) -> None:
    """Under ``ulimit -f`` the answers do not go into a memory file (a file: cat-file would be
    killed by SIGXFSZ once they pass the limit) but through the reading thread's pipe."""
    big = _blob(in_git_repo, b"y" * BIG)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (BIG // 3, resource.RLIM_INFINITY))

    small = _blob(in_git_repo, b"small\n")
    done = _read_blobs(in_git_repo, [big, small], before=limited)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(BIG), "6"]


def _wrap_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """A ``git`` first on PATH that runs ``script`` (bash; ``$REAL`` is the real git, ``$SUB``
    the subcommand after ``-C DIR``) and else the real git."""
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "wrapper"
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(
        f'#!/bin/bash\nREAL={real}\nSUB="$1"; [ "$1" = "-C" ] && SUB="$3"\n{script}\n'
        'exec "$REAL" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def _history(ws: Path, versions: int) -> None:
    for n in range(versions):
        put(ws, f"S{n}", "1.0", params={"atr_mult": float(n)})
        commit(ws, f"S{n}")


def test_a_git_log_that_fails_midway_is_a_git_error_and_no_index(
    in_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    """git log cut off midway (its output ends inside a commit, then exit 128) is git's
    error (exit 1, git's last line), not an internal error parsing the cut-off commit; no
    index is written."""
    _history(in_git_repo, 30)
    _wrap_git(
        tmp_path,
        monkeypatch,
        'if [ "$SUB" = log ]; then "$REAL" "$@" | head -c 3000; '
        'echo "fatal: bad object deadbeef" >&2; exit 128; fi',
    )
    r = cli("index", "--rebuild")
    assert r.code == 1, r.err
    assert "git log failed: fatal: bad object deadbeef (exit 128)" in r.err
    assert "internal error" not in r.err
    assert not (in_git_repo / ".ita" / "index.sqlite").exists()


def test_a_failing_cat_file_says_why(
    in_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    """cat-file's failure names git's last line on stderr and its exit code."""
    _history(in_git_repo, 3)
    _wrap_git(
        tmp_path,
        monkeypatch,
        'if [ "$SUB" = cat-file ] && [[ " $* " == *" --buffer "* ]]; then cat >/dev/null; '
        'echo "fatal: object 1234 is corrupt" >&2; exit 128; fi',
    )
    r = cli("index", "--rebuild")
    assert r.code == 1, r.err
    assert "git cat-file failed: fatal: object 1234 is corrupt (exit 128)" in r.err


def test_a_cat_file_that_says_much_on_stderr_does_not_stop_the_rebuild(
    in_git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    """More on stderr than a pipe holds (warnings) cannot stop cat-file: its stderr is a
    file, read only if it fails (a pipe nobody read made it wait forever, and us with it).
    The index is the same as without the warnings. Run in a process of its own, with a
    timeout, so that a regression fails instead of hanging."""
    _history(in_git_repo, 3)
    db = in_git_repo / ".ita" / "index.sqlite"
    assert cli("index", "--rebuild").code == 0
    with closing(sqlite3.connect(db)) as conn:
        quiet = list(conn.iterdump())
    _wrap_git(
        tmp_path,
        monkeypatch,
        'if [ "$SUB" = cat-file ]; then yes "warning: something noisy" | head -c 200000 >&2; fi',
    )
    done = subprocess.run(
        [sys.executable, "-m", "ita_rules", "index", "--rebuild"],
        cwd=in_git_repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with closing(sqlite3.connect(db)) as conn:
        assert list(conn.iterdump()) == quiet


def test_a_cat_file_that_cannot_start_leaves_no_git_log_running(
    in_git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cat-file is started after git log: if it cannot start, git log is ended and reaped
    (it was left running, then a zombie), and the error is the one cat-file's start gave."""
    from ita_rules.core import gitio
    from ita_rules.rules.gitlog import read_history

    _history(in_git_repo, 3)
    started: list[gitio.Process] = []
    popen = gitio.Git.popen

    def recorded(self: gitio.Git, args: Any, **kw: Any) -> gitio.Process:
        if args[0] == "cat-file":
            raise OSError("no more processes")
        started.append(popen(self, args, **kw))
        return started[-1]

    monkeypatch.setattr(gitio.Git, "popen", recorded)
    with pytest.raises(OSError, match="no more processes"):
        read_history(gitio.Git(in_git_repo), ["HEAD"], "rules")
    assert len(started) == 1
    assert started[0].returncode is not None  # reaped

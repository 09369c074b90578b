"""Every git call of ita-rules goes through this module.

git runs as a subprocess with the inherited ``GIT_*`` variables removed (like pre-commit's
``no_git_env``): inside a hook git exports ``GIT_DIR``, ``GIT_INDEX_FILE`` and friends, and a
nested git would otherwise read the wrong repository. Two exceptions: a server hook
(pre-receive) keeps the quarantine variables to see the pushed objects
(``keep_quarantine=True``); and ``GIT_INDEX_FILE`` is kept when it is the index of the
repository git runs in (``git commit -a`` builds the commit in ``.git/index.lock`` and hands
that to the pre-commit hooks: the staged check must read it, not the old ``.git/index``).

Replace objects (``refs/replace/*``, ``git replace``) are always disabled
(``GIT_NO_REPLACE_OBJECTS=1``): they rewrite what a commit or a blob reads as, and a check that
honoured them would compare what a replace ref shows instead of what was committed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ita_rules.core.errors import GitError

if TYPE_CHECKING:
    import subprocess

# Variables that describe *how* to run git rather than *which repository*: kept.
_KEEP = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_COUNT",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
    }
)
_QUARANTINE = frozenset(
    {"GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"}
)


def git_env(
    environ: Mapping[str, str] | None = None,
    *,
    keep_quarantine: bool = False,
    cwd: Path | str | None = None,
) -> dict[str, str]:
    """A copy of the environment without the ``GIT_*`` variables that select a repository,
    and with replace objects disabled. ``GIT_INDEX_FILE`` stays when it is an absolute path
    inside the ``.git`` folder of the work tree that holds ``cwd``."""
    env = dict(os.environ if environ is None else environ)
    index = env.get("GIT_INDEX_FILE")
    keep_index = index is not None and cwd is not None and _own_index(Path(index), Path(cwd))
    for key in list(env):
        if key == "GIT_INDEX_FILE" and keep_index:
            continue
        if not key.startswith("GIT_") or key in _KEEP or key.startswith("GIT_CONFIG_KEY_"):
            continue
        if key.startswith("GIT_CONFIG_VALUE_") or (keep_quarantine and key in _QUARANTINE):
            continue
        del env[key]
    env["GIT_NO_REPLACE_OBJECTS"] = "1"
    return env


def _own_index(index: Path, cwd: Path) -> bool:
    """True when ``index`` is ``TOP/.git/<file>`` and ``cwd`` is ``TOP`` or below it."""
    if not index.is_absolute() or index.parent.name != ".git" or not index.is_file():
        return False
    top = index.parent.parent.resolve()
    here = cwd.resolve()
    return here == top or top in here.parents


def git_exe() -> str:
    """git's path on PATH, as ``shutil.which`` finds it."""
    exe = _which("git")
    if exe is None:
        raise GitError("git is not installed or not on PATH (install it: apt-get install git)")
    return exe


def _which(name: str) -> str | None:
    """``shutil.which(name)`` without importing shutil (and bz2, lzma, fnmatch with it): every
    commit runs this module. Off POSIX (PATHEXT and friends), shutil decides."""
    if os.name != "posix":
        import shutil

        return shutil.which(name)
    search = os.environ.get("PATH")
    if search == "":  # as shutil.which: an empty PATH finds nothing
        return None
    for folder in (os.defpath if search is None else search).split(os.pathsep):
        path = os.path.join(folder, name)
        if os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path):
            return path
    return None


class Completed:
    """A finished git process: what callers read of ``subprocess.CompletedProcess``."""

    __slots__ = ("args", "returncode", "stderr", "stdout")

    def __init__(self, args: list[str], returncode: int, stdout: bytes, stderr: bytes) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr


def run(
    args: Sequence[str],
    cwd: Path | str,
    *,
    input: bytes | None = None,
    check: bool = True,
    keep_quarantine: bool = False,
) -> Completed:
    """Run ``git ARGS`` in ``cwd``; raise :class:`GitError` with git's own message on failure."""
    argv = [git_exe(), *args]
    env = git_env(keep_quarantine=keep_quarantine, cwd=cwd)
    proc = _spawned(argv, cwd, env, input)
    if proc is None:  # no posix_spawn (or no such folder: subprocess raises as it always did)
        import subprocess

        done = subprocess.run(argv, cwd=cwd, input=input, capture_output=True, env=env)
        proc = Completed(argv, done.returncode, done.stdout, done.stderr)
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = msg[-1] if msg else f"exit {proc.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed: {detail}")
    return proc


def _spawned(
    argv: list[str], cwd: Path | str, env: dict[str, str], input: bytes | None
) -> Completed | None:
    """``argv`` run to its end by ``os.posix_spawn`` (:func:`_start`), its stdin fed and its
    stdout and stderr read through one ``poll`` loop: what ``subprocess.run`` does, without
    importing subprocess (and selectors, threading, signal, locale with it), ~5 ms of every
    commit. None where posix_spawn or poll is missing, or ``cwd`` is not a folder."""
    started = _start(argv, cwd, env)
    if started is None:
        return None
    pid, stdin, stdout, stderr = started
    try:
        out, err = _communicate(stdin, stdout, stderr, input or b"")
    except BaseException:  # as subprocess.run: no git left running or unreaped
        _kill(pid)
        raise
    _, status = os.waitpid(pid, 0)
    return Completed(argv, os.waitstatus_to_exitcode(status), out, err)


def _start(
    argv: list[str], cwd: Path | str, env: dict[str, str]
) -> tuple[int, int, int, int] | None:
    """``argv`` started by ``os.posix_spawn`` (``git -C CWD``: posix_spawn cannot change the
    folder) with three pipes: its pid, and our ends of its stdin, stdout and stderr. As
    subprocess does, SIGPIPE and SIGXFSZ are reset to their defaults in the child (Python
    ignores them) and only the three pipes are inherited. None where posix_spawn or poll is
    missing, or ``cwd`` is not a folder."""
    import select

    if not (hasattr(os, "posix_spawn") and hasattr(select, "poll") and os.path.isdir(cwd)):
        return None
    import signal

    fds = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read end, write end)
    actions = [
        (os.POSIX_SPAWN_DUP2, fds[0][0], 0),
        (os.POSIX_SPAWN_DUP2, fds[1][1], 1),
        (os.POSIX_SPAWN_DUP2, fds[2][1], 2),
    ]
    try:
        pid = os.posix_spawn(
            argv[0],
            [argv[0], "-C", os.fspath(cwd), *argv[1:]],
            env,
            file_actions=actions,
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    except BaseException:
        for fd in (fds[0][1], fds[1][0], fds[2][0]):
            os.close(fd)
        raise
    finally:
        for fd in (fds[0][0], fds[1][1], fds[2][1]):
            os.close(fd)
    return pid, fds[0][1], fds[1][0], fds[2][0]


def _kill(pid: int) -> None:
    """Kill and reap a git that is no longer wanted (an interrupt, a failed read)."""
    import signal

    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _communicate(stdin: int, stdout: int, stderr: int, data: bytes) -> tuple[bytes, bytes]:
    """Write ``data`` to ``stdin`` (then close it) while reading ``stdout`` and ``stderr`` to
    their ends; every descriptor is closed on return. The pipes block: a write is at most
    ``PIPE_BUF`` bytes, which POLLOUT promises to take at once (a larger one could wait for
    git, which waits for us to read)."""
    import select

    chunks: dict[int, list[bytes]] = {stdout: [], stderr: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = set(chunks)
    view, sent = memoryview(data), 0
    if data:
        poller.register(stdin, select.POLLOUT)
        open_fds.add(stdin)
    else:
        os.close(stdin)
    try:
        while open_fds:
            for fd, _ in poller.poll():
                if fd == stdin:
                    try:
                        sent += os.write(stdin, view[sent : sent + select.PIPE_BUF])
                    except BrokenPipeError:  # git stopped reading: what it wrote still counts
                        sent = len(data)
                    if sent < len(data):
                        continue
                    chunk = b""
                else:
                    chunk = os.read(fd, 65536)
                    if chunk:
                        chunks[fd].append(chunk)
                        continue
                poller.unregister(fd)
                os.close(fd)
                open_fds.discard(fd)
    finally:
        for fd in open_fds:
            os.close(fd)
    return b"".join(chunks[stdout]), b"".join(chunks[stderr])


def text(args: Sequence[str], cwd: Path | str, *, keep_quarantine: bool = False) -> str:
    """stdout of a git command as text, stripped."""
    out = run(args, cwd, keep_quarantine=keep_quarantine).stdout
    return out.decode("utf-8", "replace").strip()


def toplevel(path: Path) -> Path | None:
    """The work tree root containing ``path``, or None outside a git repository."""
    proc = run(["rev-parse", "--show-toplevel"], path, check=False)
    if proc.returncode != 0:
        return None
    return Path(proc.stdout.decode("utf-8", "replace").strip())


def toplevel_and_head(path: Path) -> tuple[Path | None, str | None]:
    """:func:`toplevel`, and the commit HEAD names there (None when there is no commit yet),
    from one ``git rev-parse``: the pre-commit hook's first two questions in one process."""
    args = ["rev-parse", "--show-toplevel", "--verify", "--quiet", "--end-of-options"]
    proc = run([*args, "HEAD^{commit}"], path, check=False)
    out = proc.stdout.decode("utf-8", "replace").rstrip("\n")
    if proc.returncode == 0:
        top, _, head = out.rpartition("\n")
        return Path(top), head
    if proc.returncode == 1 and out:  # a repository whose HEAD names no commit yet
        return Path(out), None
    return None, None


def init(path: Path) -> None:
    run(["init", "--quiet", str(path)], path)


def config_get(key: str, cwd: Path) -> str | None:
    """``git config --get KEY`` or None when unset (or outside a repository)."""
    proc = run(["config", "--get", key], cwd, check=False)
    value = proc.stdout.decode("utf-8", "replace").strip()
    return value or None


# --- reading trees, the index and history (check, pre-receive, the registry index) ---------

SHALLOW_HINT = (
    "this clone is shallow and lacks that commit: fetch with depth 0 "
    "(`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout) or fetch the base "
    "(`git fetch origin BRANCH`)"
)


class Git:
    """git in one repository. ``keep_quarantine`` keeps the variables a pre-receive hook needs
    to see the objects being pushed."""

    def __init__(self, cwd: Path, *, keep_quarantine: bool = False) -> None:
        self.cwd = cwd
        self.keep_quarantine = keep_quarantine
        self._commits: dict[str, str | None] = {}  # see known_commit
        self._reader: ObjectReader | None = None  # see reading

    def known_commit(self, ref: str, commit: str | None) -> None:
        """Tell :meth:`commit_id` what ``ref`` names (None: nothing), as the caller just read
        it (e.g. :func:`toplevel_and_head`): one git process fewer."""
        self._commits[ref] = commit

    def run(
        self, args: Sequence[str], *, input: bytes | None = None, check: bool = True
    ) -> Completed:
        return run(args, self.cwd, input=input, check=check, keep_quarantine=self.keep_quarantine)

    def out(self, args: Sequence[str]) -> bytes:
        return self.run(args).stdout

    def commit_id(self, ref: str) -> str | None:
        """The full id of the commit ``ref`` names, or None when there is none."""
        if ref in self._commits:
            return self._commits[ref]
        proc = self.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
            check=False,
        )
        out = proc.stdout.decode("ascii", "replace").strip()
        return out if proc.returncode == 0 and out else None

    def is_shallow(self) -> bool:
        return self.run(["rev-parse", "--is-shallow-repository"]).stdout.strip() == b"true"

    def require_commit(self, ref: str, what: str = "ref") -> str:
        """The commit id of ``ref``; a :class:`UsageError` (exit 2) that says how to fetch it."""
        from ita_rules.core.errors import UsageError

        found = self.commit_id(ref)
        if found is not None:
            return found
        if self.is_shallow():
            raise UsageError(f"{what} {ref!r} is not in this repository: {SHALLOW_HINT}")
        raise UsageError(
            f"{what} {ref!r} is not a commit in this repository "
            "(a typo, or not fetched yet: git fetch origin)"
        )

    def has_head(self) -> bool:
        return self.commit_id("HEAD") is not None

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.run(["merge-base", "--is-ancestor", older, newer], check=False).returncode == 0

    def has_path(self, commit: str, path: str) -> bool:
        """True when ``path`` (a file or a folder) exists in ``commit``."""
        if path in ("", "."):
            return True
        if self._reader is not None and not self._reader.closed and not _unaskable(path):
            return f"{commit}:{path}" in self._reader.read([f"{commit}:{path}"])
        return self.run(["cat-file", "-e", f"{commit}:{path}"], check=False).returncode == 0

    def empty_tree(self) -> str:
        return self.run(["hash-object", "-t", "tree", "--stdin"], input=b"").stdout.decode().strip()

    def tree_entries(self, ref: str | None, *paths: str) -> dict[str, tuple[str, str]]:
        """``{path: (mode, blob id)}`` under ``paths`` in commit ``ref`` (None: the index)."""
        if ref is None:  # "MODE BLOB STAGE\tNAME"
            raw, blob_at = self.out(["ls-files", "-s", "-z", "--", *paths]), 1
        else:  # "MODE TYPE BLOB\tNAME"
            raw, blob_at = self.out(["ls-tree", "-r", "-z", "--full-tree", ref, "--", *paths]), 2
        out = {}
        for item in raw.split(b"\0"):
            if item:
                meta, name = item.split(b"\t", 1)
                fields = meta.split(b" ")
                out[name.decode("utf-8", "surrogateescape")] = (
                    fields[0].decode(),
                    fields[blob_at].decode(),
                )
        return out

    def changes(self, base: str, head: str | None, path: str) -> list[DiffEntry]:
        """What changed under ``path`` between ``base`` and ``head`` (None: the staged index),
        from ``git diff -M --raw``: each file's status letter, old and new path, and the mode
        and blob id of each side."""
        args = ["diff", "--raw", "-z", "-M", "--no-abbrev", "--no-ext-diff", "--no-textconv"]
        args += ["--cached", base] if head is None else [base, head]
        fields = self.out([*args, "--", path]).split(b"\0")
        out: list[DiffEntry] = []
        i = 0
        while i < len(fields) and fields[i]:
            # ":OLDMODE NEWMODE OLDBLOB NEWBLOB STATUS[SCORE]", then one path or (R, C) two
            old_mode, new_mode, old_blob, new_blob, status = fields[i][1:].decode().split(" ")
            paths = fields[i + 1 : i + (3 if status[0] in "RC" else 2)]
            i += 1 + len(paths)
            old, new = (p.decode("utf-8", "surrogateescape") for p in (paths[0], paths[-1]))
            out.append(DiffEntry(status[0], old, new, old_mode, old_blob, new_mode, new_blob))
        return out

    def reading(self) -> ObjectReader:
        """One ``git cat-file --batch`` that answers this Git's :meth:`blobs`,
        :meth:`files_in` and :meth:`has_path` until it is closed (``with git.reading():``):
        one git process for several rounds of questions instead of one a round."""
        if self._reader is not None and not self._reader.closed:
            raise RuntimeError("this Git already has an open object reader: close it first")
        self._reader = ObjectReader(self)
        return self._reader

    def objects(self, names: Iterable[str]) -> dict[str, GitObject]:
        """The objects ``names`` name (ids, ``REV:PATH``), read by the open :meth:`reading`
        or else by a ``git cat-file --batch`` of their own; a name that names nothing is left
        out."""
        if self._reader is not None and not self._reader.closed:
            return self._reader.read(names)
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        request = "".join(f"{i}\n" for i in wanted).encode("utf-8", "surrogateescape")
        return parse_objects(self.run(["cat-file", "--batch"], input=request).stdout, wanted)

    def files_in(self, ref: str, folders: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``{path: (mode, blob id)}`` of the files directly in each of ``folders`` (not in
        their subfolders) in commit ``ref``, as ``git ls-tree`` prints them: read as the
        folders' tree objects (see :meth:`objects`)."""
        if any(_unaskable(f) for f in folders):  # a name cat-file cannot be asked for
            wanted = set(folders)
            listed = self.tree_entries(ref, *folders).items()
            return {p: e for p, e in listed if (p.rpartition("/")[0] or ".") in wanted}
        names = {f"{ref}:{'' if f == '.' else f}": f for f in folders}
        out: dict[str, tuple[str, str]] = {}
        for name, (oid, kind, data) in self.objects(names).items():
            if kind != "tree":  # a file where a folder was named: nothing is in it
                continue
            prefix = "" if names[name] == "." else f"{names[name]}/"
            for mode, entry, blob in tree_items(data, len(oid) // 2):
                if mode != "040000":
                    out[prefix + entry] = (mode, blob)
        return out

    def blobs(self, ids: Iterable[str]) -> dict[str, bytes]:
        """The contents of many blobs in one ``git cat-file --batch`` process (or through the
        open :meth:`reading`)."""
        return {name: obj[2] for name, obj in self.objects(ids).items()}

    def popen(self, args: Sequence[str], *, stdin: bool = False) -> subprocess.Popen[bytes]:
        """A running ``git ARGS`` with its stdout (and stdin) as pipes, for reads that take
        the output in chunks and never wait for the answer to one request before sending the
        next: git writes in full buffers (``GIT_FLUSH=0``; on a pipe ``git log`` would
        otherwise write each commit by itself), so an answer may wait in git's buffer until
        stdin is closed. Ask and wait with :class:`ObjectReader` instead."""
        import subprocess

        env = git_env(keep_quarantine=self.keep_quarantine, cwd=self.cwd)
        env["GIT_FLUSH"] = "0"
        return subprocess.Popen(
            [git_exe(), *args],
            cwd=self.cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )


class BlobReader:
    """One ``git cat-file --batch`` that takes blob ids while the caller is still finding them
    (e.g. while ``git log`` streams), so that both git processes work at the same time. Its
    answers are read whole at the end, so cat-file buffers them (``--buffer``) instead of
    writing each object's header, contents and newline by themselves."""

    def __init__(self, git: Git) -> None:
        import threading

        self.proc = git.popen(["cat-file", "--batch", "--buffer"], stdin=True)
        self.order: list[str] = []
        self._seen: set[str] = set()
        self._out = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        self._out = self.proc.stdout.read()

    def request(self, oid: str) -> None:
        if oid in self._seen:
            return
        self._seen.add(oid)
        self.order.append(oid)
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{oid}\n".encode())

    def close(self) -> None:
        """Stop the process and close its pipes (idempotent). A cat-file that is gone
        already (killed with the rest by Ctrl-C) leaves the requests no pipe to flush into:
        that is no error of its own (:meth:`finish` reports its exit), and it must not hide
        the KeyboardInterrupt being handled."""
        import contextlib

        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        self._reader.join()
        self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def finish(self) -> dict[str, bytes]:
        """Every requested blob's contents (missing ones are left out)."""
        self.close()
        if self.proc.returncode != 0:
            raise GitError(f"git cat-file failed: exit {self.proc.returncode}")
        return parse_batch(self._out, self.order)


class DiffEntry(NamedTuple):
    """One file of ``git diff --raw``: its status letter (``A``, ``M``, ``R``...), old and new
    path (the same unless renamed), and the mode and blob id of each side (zeros where a
    side has no file)."""

    status: str
    old: str
    new: str
    old_mode: str
    old_blob: str
    new_mode: str
    new_blob: str


class GitObject(NamedTuple):
    """An object as ``git cat-file --batch`` gives it."""

    oid: str
    kind: str  # "blob", "tree", "commit" or "tag"
    data: bytes


class ObjectReader:
    """One ``git cat-file --batch`` kept open for several rounds of questions, each asked once
    the answers to the one before are read (the staged check asks for the ``ita.toml`` files,
    then for the changed folders' trees and files, then for the predecessors of new versions).
    cat-file answers each object as soon as it is asked (it flushes every answer). Without
    posix_spawn, each round is a ``git cat-file --batch`` of its own."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self.closed = False
        self._process: tuple[int, int, int, int] | None = None
        self._stderr: list[bytes] = []
        env = git_env(keep_quarantine=git.keep_quarantine, cwd=git.cwd)
        self._process = _start([git_exe(), "cat-file", "--batch"], git.cwd, env)

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.close()
            return
        with contextlib.suppress(GitError):  # the error already on its way is the one to see
            self.close()

    def read(self, names: Iterable[str]) -> dict[str, GitObject]:
        """The objects ``names`` name; a name that names nothing is left out."""
        if self.closed:
            raise ValueError("the git object reader is closed")
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        request = "".join(f"{i}\n" for i in wanted).encode("utf-8", "surrogateescape")
        if self._process is None:
            proc = self.git.run(["cat-file", "--batch"], input=request)
            return parse_objects(proc.stdout, wanted)
        pid, stdin, stdout, stderr = self._process
        try:
            answers = self._ask(request, len(wanted))
        except BaseException:  # no git left running or unreaped, no pipe left open
            self.closed, self._process = True, None
            for fd in (stdin, stdout, stderr):
                os.close(fd)
            _kill(pid)
            raise
        return parse_objects(answers, wanted)

    def _ask(self, request: bytes, count: int) -> bytes:
        """Write ``request`` while reading stdout until it holds ``count`` answers (and stderr,
        kept for an error): what :func:`_communicate` does, the pipes left open."""
        import select

        _, stdin, stdout, stderr = self._process or (0, -1, -1, -1)
        poller = select.poll()
        poller.register(stdout, select.POLLIN)
        poller.register(stderr, select.POLLIN)
        poller.register(stdin, select.POLLOUT)
        view, sent = memoryview(request), 0
        buf = bytearray()
        end = answered = 0
        while answered < count:
            for fd, _ in poller.poll():
                if fd == stdin:
                    try:
                        sent += os.write(stdin, view[sent : sent + select.PIPE_BUF])
                    except BrokenPipeError:  # git is gone: its stdout's end says how
                        sent = len(request)
                    if sent == len(request):
                        poller.unregister(stdin)
                    continue
                chunk = os.read(fd, 65536)
                if fd == stderr:
                    self._stderr.append(chunk)
                    if not chunk:
                        poller.unregister(stderr)
                    continue
                if not chunk:
                    said = b"".join(self._stderr).decode("utf-8", "replace").strip().splitlines()
                    detail = said[-1] if said else "it stopped answering"
                    raise GitError(f"git cat-file --batch failed: {detail}")
                buf += chunk
                end, answered = _answers_end(buf, end, answered, count)
        return bytes(buf)

    def close(self) -> None:
        """End the git process (idempotent); a :class:`GitError` if it failed."""
        if self.closed:
            return
        self.closed = True
        if self._process is None:
            return
        pid, stdin, stdout, stderr = self._process
        self._process = None
        try:
            _, err = _communicate(stdin, stdout, stderr, b"")
        except BaseException:
            _kill(pid)
            raise
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            said = (b"".join(self._stderr) + err).decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git cat-file --batch failed: {said[-1] if said else 'exit'}")


def _unaskable(path: str) -> bool:
    """True for a path ``cat-file --batch`` would not read as given: it ends a name at a
    newline and drops a carriage return before it."""
    return "\n" in path or path.endswith("\r")


def _answers_end(data: bytes | bytearray, pos: int, answered: int, count: int) -> tuple[int, int]:
    """How far the complete ``git cat-file --batch`` answers in ``data`` reach, counted on
    from ``pos`` (where the ``answered`` ones before end), up to ``count`` of them."""
    while answered < count:
        eol = data.find(b"\n", pos)
        if eol < 0:
            break
        found = _found(bytes(data[pos:eol]))
        size = 0 if found is None else found[2] + 1
        if eol + 1 + size > len(data):
            break
        pos, answered = eol + 1 + size, answered + 1
    return pos, answered


def tree_items(data: bytes, oid_size: int) -> Iterator[tuple[str, str, str]]:
    """``(mode, name, object id)`` of each entry of a tree object's contents, in its order;
    the mode as ``git ls-tree`` prints it (``100644``, ``040000``), ``oid_size`` the bytes of
    an object id (20 for SHA-1, 32 for SHA-256)."""
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = f"{int(data[pos:space], 8):06o}"
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        pos = nul + 1 + oid_size
        yield mode, name, data[nul + 1 : pos].hex()


def parse_objects(data: bytes, order: Sequence[str]) -> dict[str, GitObject]:
    """The output of ``git cat-file --batch`` for the names in ``order`` (as asked):
    ``{name: object}``, missing objects left out."""
    out: dict[str, GitObject] = {}
    pos = 0
    for name in order:
        end = data.index(b"\n", pos)
        found = _found(data[pos:end])
        pos = end + 1
        if found is not None:
            oid, kind, size = found
            out[name] = GitObject(oid, kind, data[pos : pos + size])
            pos += size + 1
    return out


def _found(header: bytes) -> tuple[str, str, int] | None:
    """The id, type and size an answer's first line gives (``OID TYPE SIZE``); None for an
    object that is not there (``NAME missing``, ``NAME ambiguous``: a name may hold spaces)."""
    fields = header.split(b" ")
    if len(fields) != 3 or fields[1] not in _KINDS or not fields[2].isdigit():
        return None
    return fields[0].decode(), fields[1].decode(), int(fields[2])


_KINDS = frozenset({b"blob", b"tree", b"commit", b"tag"})


def parse_batch(data: bytes, order: Sequence[str]) -> dict[str, bytes]:
    """The output of ``git cat-file --batch`` for the object ids in ``order`` (as asked):
    ``{oid: content}``, missing objects left out."""
    return {name: obj.data for name, obj in parse_objects(data, order).items()}

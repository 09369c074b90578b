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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple, Protocol, Self

from ita_rules.core.errors import GitError

if TYPE_CHECKING:
    from types import TracebackType

    from ita_rules.core.gitobjects import GitObject, ObjectReader

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
        detail = last_line(proc.stderr) or f"exit {proc.returncode}"
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
    """``argv`` started by :func:`_spawn` with three pipes: its pid, and our ends of its
    stdin, stdout and stderr. None where posix_spawn or poll is missing, or ``cwd`` is not a
    folder."""
    import select

    if not (hasattr(os, "posix_spawn") and hasattr(select, "poll") and os.path.isdir(cwd)):
        return None
    fds = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read end, write end)
    try:
        pid = _spawn(argv, cwd, env, fds[0][0], fds[1][1], fds[2][1])
    except BaseException:
        for fd in (fds[0][1], fds[1][0], fds[2][0]):
            os.close(fd)
        raise
    finally:
        for fd in (fds[0][0], fds[1][1], fds[2][1]):
            os.close(fd)
    return pid, fds[0][1], fds[1][0], fds[2][0]


def _spawn(argv: list[str], cwd: Path | str, env: dict[str, str], *fds: int) -> int:
    """The pid of ``argv`` started by ``os.posix_spawn`` (``git -C CWD``: posix_spawn cannot
    change the folder) with ``fds`` (stdin, stdout, stderr; the caller closes them) as its
    0, 1 and 2, and no other descriptor of ours. As subprocess does, SIGPIPE and SIGXFSZ are
    reset to their defaults in the child (Python ignores them), and a descriptor below 3 is
    first copied above 2: with our own stdin closed a new pipe or file is descriptor 0, and
    the child's descriptors are set one after the other, so a later one that an earlier one
    replaced would be lost (cat-file's stdout became its stdin pipe)."""
    import signal

    low: list[int] = []  # copies made here, closed once the child has them
    try:
        given = []
        for fd in fds:
            if fd < 3:
                import fcntl

                fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
                low.append(fd)
            given.append(fd)
        return os.posix_spawn(
            argv[0],
            [argv[0], "-C", os.fspath(cwd), *argv[1:]],
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate(given)],
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )
    finally:
        for fd in low:
            os.close(fd)


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


def toplevel_and_head(path: Path, ref: str = "HEAD") -> tuple[Path | None, str | None]:
    """:func:`toplevel`, and the commit HEAD (or ``ref``) names there (None when there is no
    commit yet, or ``ref`` names none), from one ``git rev-parse``: the pre-commit hook's
    first two questions in one process (and the registry index's)."""
    args = ["rev-parse", "--show-toplevel", "--verify", "--quiet", "--end-of-options"]
    proc = run([*args, f"{ref}^{{commit}}"], path, check=False)
    out = proc.stdout.decode("utf-8", "replace").rstrip("\n")
    if proc.returncode == 0:
        top, _, head = out.rpartition("\n")
        return Path(top), head
    if out:  # the top, and a ref that names no commit (yet) or that git cannot read
        return Path(out.partition("\n")[0]), None  # (``HEAD@{99}``: exit 128)
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
        self._next_commits: dict[str, str | None] = {}  # the same, for one question only
        self._reader: ObjectReader | None = None  # see reading

    def known_commit(self, ref: str, commit: str | None, *, once: bool = False) -> None:
        """Tell :meth:`commit_id` what ``ref`` names (None: nothing), as the caller just read
        it (e.g. :func:`toplevel_and_head`): one git process fewer. ``once``: for its next
        question only, then git is asked again (a Git that lives on while the ref moves)."""
        (self._next_commits if once else self._commits)[ref] = commit

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
        if ref in self._next_commits:
            return self._next_commits.pop(ref)
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
        from ita_rules.core.gitobjects import unaskable

        if self._reader is not None and not self._reader.closed and not unaskable(path):
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
        from ita_rules.core.gitobjects import ObjectReader

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
        from ita_rules.core.gitobjects import read_once

        return read_once(self, names)

    def files_in(self, ref: str, folders: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``{path: (mode, blob id)}`` of the files directly in each of ``folders`` (not in
        their subfolders) in commit ``ref``, as ``git ls-tree`` prints them: read as the
        folders' tree objects (see :meth:`objects`)."""
        from ita_rules.core.gitobjects import tree_items, unaskable

        if any(unaskable(f) for f in folders):  # a name cat-file cannot be asked for
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
        return {name: obj.data for name, obj in self.objects(ids).items()}

    def popen(
        self, args: Sequence[str], *, stdin: bool = False, stdout: int | None = None
    ) -> Process:
        """A running ``git ARGS`` for reads that take the output in chunks and never wait for
        the answer to one request before sending the next: its stdout (or the descriptor
        ``stdout``) and stdin when asked as pipes, its stderr in an anonymous file (read it
        with :func:`failure` once git has ended: nothing has to read it meanwhile, so git
        cannot stop on a full stderr pipe while we wait for its stdout). git writes in full
        buffers (``GIT_FLUSH=0``; on a pipe ``git log`` would otherwise write each commit by
        itself), so an answer may wait in git's buffer until stdin is closed: ask and wait
        with :class:`.gitobjects.ObjectReader` instead. Started by :func:`_spawn` where there
        is posix_spawn, so that neither ``subprocess`` nor the threading, selectors and locale
        modules it imports are loaded (~2 ms of CPU, a twentieth of what an index rebuild
        spends in Python besides the replay); by ``subprocess.Popen`` elsewhere."""
        env = git_env(keep_quarantine=self.keep_quarantine, cwd=self.cwd)
        env["GIT_FLUSH"] = "0"
        err = scratch_file()
        try:
            if hasattr(os, "posix_spawn") and os.path.isdir(self.cwd):
                return _spawned_streams([git_exe(), *args], self.cwd, env, stdin, stdout, err)
            import subprocess

            proc = subprocess.Popen(
                [git_exe(), *args],
                cwd=self.cwd,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout is None else stdout,
                stderr=err,
                env=env,
            )
        except BaseException:
            os.close(err)
            raise
        proc.stderr = os.fdopen(err, "rb")  # closed with the process (``with``)
        return proc


class Process(Protocol):
    """A running git of :meth:`Git.popen`: ``subprocess.Popen``'s pipes as files (stderr a
    file to read once it has ended: :func:`failure`), its exit code, wait and kill, and
    closing all with ``with``."""

    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None
    returncode: int | None

    def wait(self) -> int: ...

    def kill(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...


class Spawned:
    """A git started by :func:`_spawn` for :meth:`Git.popen`, with what :class:`Process` asks
    of it: its pipes as files, wait, kill (which reaps it), and closing them with ``with``
    as ``subprocess.Popen`` does (stdout and stderr, then stdin, then the wait)."""

    def __init__(
        self,
        pid: int,
        stdin: IO[bytes] | None,
        stdout: IO[bytes] | None,
        stderr: IO[bytes] | None,
    ) -> None:
        self.pid = pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            import signal

            os.kill(self.pid, signal.SIGKILL)
            self.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in (self.stdout, self.stderr):
            if pipe is not None:
                pipe.close()
        if self.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.stdin.close()
        self.wait()


def _spawned_streams(
    argv: list[str], cwd: Path, env: dict[str, str], stdin: bool, stdout: int | None, err: int
) -> Spawned:
    """:meth:`Git.popen`'s process started by :func:`_spawn`; ``err`` its stderr (ours)."""
    theirs: list[int] = []  # the child's ends, closed here once it has them
    ours: list[int] = []
    try:
        if stdin:
            child_in, our_in = os.pipe()
            theirs.append(child_in)
            ours.append(our_in)
        else:
            child_in = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            theirs.append(child_in)
        if stdout is None:
            our_out, child_out = os.pipe()
            theirs.append(child_out)
            ours.append(our_out)
        else:
            child_out = stdout
        pid = _spawn(argv, cwd, env, child_in, child_out, err)
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    return Spawned(
        pid,
        open(our_in, "wb") if stdin else None,  # closed by Spawned
        open(our_out, "rb") if stdout is None else None,
        open(err, "rb"),
    )


def memory_file(name: str) -> int | None:
    """A new anonymous memory file (its descriptor), or None where the system has none."""
    make = getattr(os, "memfd_create", None)
    if make is None:
        return None
    try:
        fd: int = make(name, os.MFD_CLOEXEC)
    except OSError:  # e.g. a kernel without it, or a sandbox that refuses it
        return None
    return fd


def scratch_file() -> int:
    """A new anonymous file for a git's stderr (its descriptor): a memory file, or else a
    temporary file already removed."""
    fd = memory_file("ita-rules-git-stderr")
    if fd is not None:
        return fd
    import tempfile

    with tempfile.TemporaryFile() as f:
        return os.dup(f.fileno())


def failure(proc: Process) -> str:
    """Why the ended ``proc`` failed: the last line it wrote to stderr, and its exit code or
    the signal that killed it (``fatal: bad object 1234 (exit 128)``, ``killed by SIGXFSZ``)."""
    code = proc.returncode
    if code is not None and code < 0:
        import signal

        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit {code}"
    said = b""
    if proc.stderr is not None and not proc.stderr.closed:  # its last 64 KB say enough
        fd = proc.stderr.fileno()
        said = os.pread(fd, 1 << 16, max(0, os.fstat(fd).st_size - (1 << 16)))
    line = last_line(said)
    return f"{line} ({how})" if line else how


def last_line(stderr: bytes) -> str | None:
    """The last line git wrote to stderr (what says why it failed), or None."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else None


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

"""Reading git's objects: ``git cat-file --batch`` kept open for several rounds of questions
(:class:`ObjectReader`, the pre-commit hook's reads), fed while ``git log`` streams
(:class:`BlobReader`, the history replay's), and the parsers of its answers and of tree objects.

The processes are started by :mod:`ita_rules.core.gitio`, as every git (its environment, its
``posix_spawn``); this module only speaks the batch protocol.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ita_rules.core import gitio
from ita_rules.core.errors import GitError

if TYPE_CHECKING:
    from threading import Thread

    from ita_rules.core.gitio import Git


class BlobReader:
    """One ``git cat-file --batch`` that takes blob ids while the caller is still finding them
    (e.g. while ``git log`` streams), so that both git processes work at the same time.
    cat-file buffers its answers (``--buffer``) instead of writing each object's header,
    contents and newline by themselves.

    Where the system has anonymous memory files (Linux's ``memfd_create``), cat-file writes
    its answers into one: no pipe fills while the caller is busy, so nothing has to read it
    meanwhile, and the answers written so far can be taken at any time (:meth:`take`).
    Elsewhere a thread reads a pipe as cat-file writes it, and the answers come at the end
    (:meth:`finish`); in a rebuild over 5,000 commits that thread's wake-ups and lock
    handovers cost ~6 ms of CPU of the ~20 ms that reading the history takes in Python. The
    thread is used as well where files may not grow without bound (``ulimit -f``): the
    memory file counts as one, and cat-file would be killed by SIGXFSZ."""

    def __init__(self, git: Git) -> None:
        self._memory = _memory_file()
        try:
            self.proc = git.popen(
                ["cat-file", "--batch", "--buffer"], stdin=True, stdout=self._memory
            )
        except BaseException:  # the memory file is not left open
            if self._memory is not None:
                os.close(self._memory)
            raise
        self.order: list[str] = []
        self.answered = 0  # how many of the requests in order have been taken
        self._seen: set[str] = set()
        self._sent = 0  # how many of the requests in order cat-file has been given
        self._gone = False  # cat-file's stdin is a broken pipe
        self._out = b""  # written, not parsed yet
        self._read_to = 0  # how far the memory file has been read
        self._reader: Thread | None = None
        if self._memory is None:
            import threading

            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        self._out = self.proc.stdout.read()

    def request(self, oid: str) -> None:
        """Ask for ``oid`` (once: a repeated request is ignored), sent with the next
        :meth:`send` or at the end."""
        if oid in self._seen:
            return
        self._seen.add(oid)
        self.order.append(oid)

    def send(self) -> None:
        """Hand the requests made since the last send to cat-file. A cat-file that is gone
        (killed with the rest by Ctrl-C) leaves them no pipe to go into: that is no error of
        its own (:meth:`finish` reports its exit), and it must not hide the KeyboardInterrupt
        being handled nor pass for a closed stdout."""
        if self._sent < len(self.order) and not self._gone:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(_request(self.order[self._sent :]))
                self.proc.stdin.flush()
            except BrokenPipeError:
                self._gone = True
            self._sent = len(self.order)

    def take(self) -> dict[str, bytes]:
        """The contents of the blobs cat-file has answered since the last take, in the order
        asked (:attr:`answered` counts them all); nothing before :meth:`finish` without a
        memory file. A blob that is not there is counted and left out."""
        if self._memory is not None:
            size = os.fstat(self._memory).st_size
            if size > self._read_to:
                self._out += _contents(self._memory, self._read_to, size)
                self._read_to = size
        elif self._reader is not None and self._reader.is_alive():
            return {}  # the thread gives the whole output once cat-file has ended
        answers, end = _answers(self._out, 0, len(self.order) - self.answered)
        out: dict[str, bytes] = {}
        data, order, n = self._out, self.order, self.answered
        for found, start in answers:
            if found is not None:
                out[order[n]] = data[start : start + found[2]]
            n += 1
        self.answered = n
        self._out = data[end:]
        return out

    def close(self) -> None:
        """Stop the process and close its pipes and memory file (idempotent)."""
        self._end()
        self._forget()

    def _end(self) -> None:
        """Close cat-file's stdin and wait for its end (idempotent)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        if self._reader is not None:
            self._reader.join()
        self.proc.wait()

    def _forget(self) -> None:
        """Close cat-file's stdout and stderr and the memory file (idempotent)."""
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        if self._memory is not None:
            os.close(self._memory)
            self._memory = None

    def finish(self) -> dict[str, bytes]:
        """The contents of every requested blob not taken yet (missing ones are left out),
        once cat-file has ended."""
        self.send()
        self._end()
        try:
            if self.proc.returncode != 0:
                raise GitError(f"git cat-file failed: {gitio.failure(self.proc)}")
            return self.take()
        finally:
            self._forget()


def _memory_file() -> int | None:
    """A new anonymous memory file for cat-file's answers (its descriptor), or None where the
    system has none or limits the size of files (``ulimit -f``, RLIMIT_FSIZE): the answers
    hold every blob of the history, and cat-file would be killed on reaching the limit."""
    if not hasattr(os, "memfd_create"):
        return None
    import resource

    if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
        return None
    return gitio.memory_file("ita-rules-blobs")


def _contents(fd: int, start: int, end: int) -> bytes:
    """The bytes of the file ``fd`` from ``start`` to ``end`` (whatever its offset)."""
    parts, pos = [], start
    while pos < end:
        part = os.pread(fd, end - pos, pos)
        if not part:
            break
        parts.append(part)
        pos += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


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
        self._stderr: list[bytes] = []
        env = gitio.git_env(keep_quarantine=git.keep_quarantine, cwd=git.cwd)
        # pid, stdin, stdout, stderr; None without posix_spawn (then each round runs its own)
        self._process = gitio._start([gitio.git_exe(), "cat-file", "--batch"], git.cwd, env)

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
        if self._process is None:
            return read_once(self.git, names)
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        pid, stdin, stdout, stderr = self._process
        try:
            answers = self._ask(_request(wanted), len(wanted), stdin, stdout, stderr)
        except BaseException:  # no git left running or unreaped, no pipe left open
            self.closed, self._process = True, None
            for fd in (stdin, stdout, stderr):
                os.close(fd)
            gitio._kill(pid)
            raise
        return parse_objects(answers, wanted)

    def _ask(self, request: bytes, count: int, stdin: int, stdout: int, stderr: int) -> bytes:
        """Write ``request`` while reading stdout until it holds ``count`` answers (and stderr,
        kept for an error): what :func:`.gitio._communicate` does, the pipes left open."""
        import select

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
                    detail = gitio.last_line(b"".join(self._stderr)) or "it stopped answering"
                    raise GitError(f"git cat-file --batch failed: {detail}")
                buf += chunk
                more, end = _answers(buf, end, count - answered)
                answered += len(more)
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
            _, err = gitio._communicate(stdin, stdout, stderr, b"")
        except BaseException:
            gitio._kill(pid)
            raise
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            said = gitio.last_line(b"".join(self._stderr) + err) or "exit"
            raise GitError(f"git cat-file --batch failed: {said}")


def read_once(git: Git, names: Iterable[str]) -> dict[str, GitObject]:
    """The objects ``names`` name, read by a ``git cat-file --batch`` of their own; a name
    that names nothing is left out."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    return parse_objects(git.run(["cat-file", "--batch"], input=_request(wanted)).stdout, wanted)


def _request(names: Sequence[str]) -> bytes:
    """The names one to a line, in the bytes git gave them (a name that is not UTF-8 holds
    surrogate escapes)."""
    return "".join(f"{name}\n" for name in names).encode("utf-8", "surrogateescape")


def unaskable(path: str) -> bool:
    """True for a path ``cat-file --batch`` would not read as given: it ends a name at a
    newline and drops a carriage return before it."""
    return "\n" in path or path.endswith("\r")


def _answers(
    data: bytes | bytearray, pos: int, count: int
) -> tuple[list[tuple[tuple[str, str, int] | None, int]], int]:
    """The complete ``git cat-file --batch`` answers in ``data`` from ``pos`` on, up to
    ``count`` of them: each as its header's id, type and size (None for an object that is
    not there) and where its contents start; and where the last of them ends."""
    out: list[tuple[tuple[str, str, int] | None, int]] = []
    while len(out) < count:
        eol = data.find(b"\n", pos)
        if eol < 0:
            break
        found = _found(bytes(data[pos:eol]))
        end = eol + 1 + (0 if found is None else found[2] + 1)
        if end > len(data):
            break
        out.append((found, eol + 1))
        pos = end
    return out, pos


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
    answers, _ = _answers(data, 0, len(order))
    if len(answers) < len(order):
        raise GitError(f"git cat-file --batch gave {len(answers)} of {len(order)} answers")
    out: dict[str, GitObject] = {}
    for name, (found, start) in zip(order, answers, strict=True):
        if found is not None:
            oid, kind, size = found
            out[name] = GitObject(oid, kind, data[start : start + size])
    return out


def _found(header: bytes) -> tuple[str, str, int] | None:
    """The id, type and size an answer's first line gives (``OID TYPE SIZE``); None for an
    object that is not there (``NAME missing``, ``NAME ambiguous``: a name may hold spaces)."""
    fields = header.split(b" ")
    if len(fields) != 3 or fields[1] not in _KINDS or not fields[2].isdigit():
        return None
    return fields[0].decode(), fields[1].decode(), int(fields[2])


_KINDS = frozenset({b"blob", b"tree", b"commit", b"tag"})

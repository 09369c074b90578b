"""Reading git's objects: ``git cat-file --batch`` kept open for several rounds of questions
(:class:`ObjectReader`, the pre-commit hook's reads), fed while ``git log`` streams
(:class:`BlobReader`, the history replay's), and the parsers of its answers and of tree objects.

The processes are started as :mod:`ita_rules.core.gitio` starts every git (its environment, its
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
    from ita_rules.core.gitio import Git


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
            _, err = gitio._communicate(stdin, stdout, stderr, b"")
        except BaseException:
            gitio._kill(pid)
            raise
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            said = (b"".join(self._stderr) + err).decode("utf-8", "replace").strip().splitlines()
            raise GitError(f"git cat-file --batch failed: {said[-1] if said else 'exit'}")


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

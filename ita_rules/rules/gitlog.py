"""The history of the rules folder as git gives it: every commit that touched it with its raw
diff against its first parent, in one ``git log --raw -z`` process, and the blob contents the
replay needs in one ``git cat-file --batch`` that runs while the log streams (never one git
process per commit)."""

from __future__ import annotations

from collections.abc import Collection, Generator, Sequence
from contextlib import closing
from typing import NamedTuple

from ita_rules.core import gitio, gitobjects
from ita_rules.core.errors import GitError
from ita_rules.rules.blobs import is_rule_path

LOG_FORMAT = "%x01%H%x00%P%x00%an <%ae>%x00%cI"


class Entry(NamedTuple):
    """One line of ``git log --raw``. Named tuples (Entry, Commit): a rebuild makes one of each
    per commit, and a frozen dataclass costs an ``object.__setattr__`` per field (~25 % of
    :func:`parse_log`)."""

    status: str  # A, M, D, R, T, C
    old_blob: str
    new_blob: str
    old_path: str
    new_path: str


class Commit(NamedTuple):
    id: str
    parents: tuple[str, ...]
    author: str
    at: str
    entries: tuple[Entry, ...]


def read_history(
    git: gitio.Git, revs: list[str], rules_path: str, within: Sequence[str] = ()
) -> tuple[list[Commit], dict[str, bytes]]:
    """Every commit of ``revs`` that touched ``rules_path`` (``within``: only these paths of
    it), oldest first, with its raw diff against its first parent (merges included), and the
    contents of every blob the replay needs: :func:`history_steps` taken in one piece."""
    commits: list[Commit] = []
    blobs: dict[str, bytes] = {}
    with closing(history_steps(git, revs, rules_path, within)) as steps:
        for found, contents in steps:
            commits += found
            blobs.update(contents)
    return commits, blobs


def history_steps(
    git: gitio.Git, revs: list[str], rules_path: str, within: Sequence[str] = ()
) -> Generator[tuple[list[Commit], dict[str, bytes]], None, None]:
    """What :func:`read_history` reads, given as git gives it: the commits in order, each step
    with the blobs they need that no step before gave, so that the caller replays the first
    commits while git reads the next ones (a rebuild then ends about when ``git log`` does,
    not the replay's time later). Where cat-file's answers can only be read at its end (see
    :class:`~ita_rules.core.gitobjects.BlobReader`) every commit comes in the last step. Take
    it with :func:`contextlib.closing`: the git processes end when it is closed."""
    proc = git.popen(
        [
            "log",
            "--reverse",
            "--topo-order",
            "--full-history",
            "--diff-merges=first-parent",
            "--raw",
            "-z",
            "--no-abbrev",
            "-M",
            f"--format={LOG_FORMAT}",
            *revs,
            "--",
            *(within or [rules_path]),
        ],
    )
    with proc:
        try:
            blobs = gitobjects.BlobReader(git)
        except BaseException:  # no git log left running or unreaped
            proc.kill()
            raise
        try:
            yield from _steps(proc, blobs, rules_path)
        except BaseException:
            blobs.close()
            raise


def _steps(
    proc: gitio.Process, blobs: gitobjects.BlobReader, rules_path: str
) -> Generator[tuple[list[Commit], dict[str, bytes]], None, None]:
    """:func:`history_steps` read from ``git log``'s ``proc``, the blobs asked of ``blobs``.
    The last commit is parsed only once git log has ended well: one that failed midway
    (a bad object, a killed git) leaves a cut-off commit there."""
    assert proc.stdout is not None
    waiting: list[tuple[Commit, int]] = []  # read, not given yet: with the requests up to it
    pending = b""
    while True:
        chunk = proc.stdout.read(1 << 16)
        if chunk:
            pending += chunk
            cut = pending.rfind(b"\x01")
            if cut <= 0:
                continue
            done, pending = pending[:cut], pending[cut:]
        else:
            if proc.wait() != 0:
                raise GitError(f"git log failed: {gitio.failure(proc)}")
            done, pending = pending, b""
        for c in parse_log(done):
            for e in c.entries:
                if e.status != "D" and is_rule_path(e.new_path, rules_path):
                    blobs.request(e.new_blob)
                if e.status in "MT" and is_rule_path(e.old_path, rules_path):
                    blobs.request(e.old_blob)
            waiting.append((c, len(blobs.order)))
        if not chunk:
            break
        blobs.send()
        answered = blobs.take()
        ready = _answered_up_to(waiting, blobs.answered)
        if ready:
            yield [c for c, _ in waiting[:ready]], answered
            del waiting[:ready]
        elif answered:
            yield [], answered
    yield [c for c, _ in waiting], blobs.finish()


def _answered_up_to(waiting: list[tuple[Commit, int]], answered: int) -> int:
    """How many of the ``waiting`` commits have all their blobs among the ``answered``
    first requests (a commit needs those up to the count it is paired with)."""
    n = 0
    for _, needed in waiting:
        if needed > answered:
            break
        n += 1
    return n


def parse_log(raw: bytes) -> list[Commit]:
    """Commits from ``git log --raw -z --format=`` :data:`LOG_FORMAT` output.

    The output is decoded once (paths keep undecodable bytes as surrogates); a header field
    (author, ...) that holds some is decoded again from its bytes with replacement characters,
    as it always was: only then does the field differ from the one-pass decoding."""
    commits: list[Commit] = []
    for chunk in raw.decode("utf-8", "surrogateescape").split("\x01")[1:]:
        tokens = chunk.split("\0")
        cid, parents, author, at = tokens[:4]
        if not chunk.isascii():  # (a flag CPython keeps: no scan)
            cid, parents, author, at = (t if t.isascii() else _replaced(t) for t in tokens[:4])
        entries: list[Entry] = []
        i, n = 4, len(tokens)
        while i < n:
            tok = tokens[i]
            i += 1
            if tok[:1] != ":":
                tok = tok.lstrip("\n")
                if not tok.startswith(":"):
                    continue
            meta = tok[1:].split(" ")
            status = meta[4][0]
            old = new = tokens[i]
            i += 1
            if status in "RC":
                new = tokens[i]
                i += 1
            entries.append(Entry(status, meta[2], meta[3], old, new))
        commits.append(Commit(cid, tuple(parents.split()), author, at, tuple(entries)))
    return commits


def _replaced(field: str) -> str:
    """A header field as ``bytes.decode("utf-8", "replace")`` reads it."""
    return field.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def touched_folders(git: gitio.Git, commits: Collection[str], rules_path: str) -> list[str]:
    """The folders of the rule files that ``commits`` add, change, delete or rename (each
    against its first parent, as the replay reads them), in one ``git log`` process. A finding
    of these commits is about such a file, and depends only on the history of its folder (the
    versions there before it), so replaying those folders finds what the whole replay would."""
    if not commits:
        return []
    args = ["log", "--stdin", "--no-walk=unsorted", "--diff-merges=first-parent", "--raw", "-z"]
    args += ["--no-abbrev", "-M", f"--format={LOG_FORMAT}", "--", rules_path]
    raw = git.run(args, input="".join(f"{c}\n" for c in commits).encode()).stdout
    found: dict[str, None] = {}
    for c in parse_log(raw):
        for e in c.entries:
            for path in (e.old_path, e.new_path):
                if is_rule_path(path, rules_path):
                    found[path.rpartition("/")[0] or rules_path] = None
    return list(found)

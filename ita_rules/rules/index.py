"""The registry index (docs/architecture.md#registry-index): a sidecar SQLite file
``.ita/index.sqlite`` derived from git.

For every version file: who introduced it (commit, git author, date), its params_hash, its
lifecycle state and when that last changed, every lifecycle event, and the findings of the
history audit. It is refreshed incrementally from the last indexed commit; when that commit is
no longer an ancestor of the indexed ref (a force-push rewrote history) it is rebuilt, and
every version whose content or presence differs from what was indexed before is reported.
Deleting ``.ita/`` loses nothing but those rewrite reports: the rest comes back from git.
What the index answers is in :mod:`ita_rules.rules.queries`.

The standard library's ``sqlite3`` keeps this light (no SQLAlchemy import: a rebuild over
5,000 commits must cost at most 3x ``git log --raw``).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from functools import partial
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from ita_rules.core import fsutil, gitio, times
from ita_rules.core.errors import UsageError
from ita_rules.rules.folders import rules_path_in_repo
from ita_rules.rules.gitlog import history_steps, read_history
from ita_rules.rules.history import ROW_COLUMNS, AuditFinding, Replay, VersionRow

INDEX_DIR = ".ita"
INDEX_NAME = "index.sqlite"
SCHEMA_VERSION = "1"
Progress = Callable[[int, int], None]

_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions (
  file_path TEXT PRIMARY KEY, setup_id TEXT NOT NULL, version TEXT NOT NULL,
  author TEXT, git_author TEXT NOT NULL, created TEXT,
  introduced_commit TEXT NOT NULL, introduced_at TEXT NOT NULL,
  params_hash TEXT, active INTEGER NOT NULL, deprecation_reason TEXT,
  active_changed_commit TEXT, active_changed_at TEXT, blob TEXT NOT NULL,
  deleted_commit TEXT, deleted_at TEXT
);
CREATE TABLE events (
  id INTEGER PRIMARY KEY, file_path TEXT NOT NULL, kind TEXT NOT NULL, commit_id TEXT NOT NULL,
  at TEXT NOT NULL, git_author TEXT NOT NULL, detail TEXT NOT NULL
);
CREATE TABLE findings (
  id INTEGER PRIMARY KEY, path TEXT NOT NULL, code TEXT NOT NULL, field TEXT NOT NULL,
  message TEXT NOT NULL, commit_id TEXT NOT NULL, at TEXT NOT NULL
);
"""
# made after a rebuild's inserts (one sort instead of a B-tree insert per row)
_INDEXES = """
CREATE INDEX versions_setup ON versions (setup_id);
CREATE INDEX events_path ON events (file_path);
"""
_ROW_VALUES = attrgetter(*ROW_COLUMNS)
_LIVE_COLUMNS = tuple(c for c in ROW_COLUMNS if c not in ("deleted_commit", "deleted_at"))
_LIVE_VALUES = attrgetter(*_LIVE_COLUMNS)
_DELETED = attrgetter("deleted_commit")


class IndexStats(NamedTuple):
    """What a refresh did."""

    path: str
    ref: str
    head: str | None
    action: str  # "up to date", "refreshed", "rebuilt"
    reason: str
    commits: int
    versions: int
    findings: int

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


class Source(NamedTuple):
    """Where the index comes from: the repository, its rules folder and the indexed ref."""

    git: gitio.Git
    rules_path: str
    ref: str
    db: Path
    prefix: str = ""  # the workspace's folder in the repository ("" at its root)


def source(root: Path, rules_dir: Path, protected_ref: str = "") -> Source:
    """The index of the workspace at ``root``. The repository's top and the commit the
    indexed ref names come from one ``git rev-parse``, that commit serving the first
    :func:`refresh` only (a later one reads the ref again: it may have moved)."""
    ref = protected_ref or "HEAD"
    top, commit = gitio.toplevel_and_head(root, ref)
    if top is None:
        raise UsageError(f"{root} is not inside a git repository; the index is read from git")
    git = gitio.Git(top)
    git.known_commit(ref, commit, once=True)
    return Source(
        git,
        rules_path_in_repo(top, rules_dir),
        ref,
        root / INDEX_DIR / INDEX_NAME,
        rules_path_in_repo(top, root),
    )


def refresh(src: Source, *, rebuild: bool = False, progress: Progress | None = None) -> IndexStats:
    """Bring the index up to date with ``src.ref``: incrementally when possible."""
    head = src.git.commit_id(src.ref)
    if head is None and src.ref != "HEAD":
        src.git.require_commit(src.ref, "protected ref (rules.protected_ref)")
    if rebuild:  # what the index holds does not matter, but the rewrites it saw: git lost them
        return _rebuild(src, head, "asked", progress, carry=True)
    meta = _read_meta(src.db)
    same_config = (
        meta.get("schema") == SCHEMA_VERSION
        and meta.get("ref") == src.ref
        and meta.get("rules_path") == src.rules_path
    )
    last = meta.get("head") or None
    if same_config and src.db.exists():
        if last == head:
            return _stats(src, head, "up to date", "", 0)
        if last is not None and head is not None and src.git.is_ancestor(last, head):
            return _incremental(src, last, head, progress)
    branch = _branch(src)
    if not src.db.exists() or not meta:
        reason = "no index yet"
    elif not same_config:
        reason = "the index was built for another ref, rules folder or format"
    elif "branch" in meta and meta["branch"] != branch:
        # HEAD names another branch (or none): the index follows it, nothing was rewritten
        was, now = (_shown_branch(b) for b in (meta["branch"], branch))
        return _rebuild(src, head, f"HEAD moved from {was} to {now}", progress, carry=True)
    else:
        reason = f"history rewritten: {last} is no longer an ancestor of {src.ref}"
    return _rebuild(src, head, reason, progress, compare_old=reason.startswith("history rewritten"))


def _branch(src: Source) -> str:
    """The branch HEAD names when the index follows HEAD ("" detached, or another ref): read
    from ``.git/HEAD`` where it is one (no git process), else asked of git."""
    if src.ref != "HEAD":
        return ""
    head = src.git.cwd / ".git" / "HEAD"
    if "GIT_DIR" not in os.environ and head.is_file():
        text = head.read_text("utf-8", "surrogateescape").strip()
        return text.removeprefix("ref: ") if text.startswith("ref: refs/") else ""
    proc = src.git.run(["symbolic-ref", "-q", "HEAD"], check=False)
    return proc.stdout.decode("utf-8", "surrogateescape").strip()


def _shown_branch(ref: str) -> str:
    return ref.removeprefix("refs/heads/") if ref else "a detached HEAD"


# what :func:`_rewrites` writes of the version's commit: "(introduced in commit 0123abcd4567)"
_REWRITTEN_AT = re.compile(r"\(introduced in commit ([0-9a-f]{7,40})\)")


def _stale_rewrites(git: gitio.Git, head: str | None, rows: Iterable[tuple[Any, ...]]) -> set[int]:
    """The positions of ``rows`` (findings: path, code, field, message, ...) that report a
    rewrite of a version whose commit is in the history of ``head`` again (a branch switched
    back, merged, fast-forwarded): the version is there as it was, the report no longer
    true."""
    stale: set[int] = set()
    for n, row in enumerate(rows):
        found = _REWRITTEN_AT.search(row[3]) if row[1] == "history-rewritten" else None
        if found is not None and head is not None and git.is_ancestor(found.group(1), head):
            stale.add(n)
    return stale


def _read_meta(db: Path) -> dict[str, str]:
    if not db.exists():
        return {}
    try:
        with closing(sqlite3.connect(db)) as conn:
            return dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        return {}


def _rebuild(
    src: Source,
    head: str | None,
    reason: str,
    progress: Progress | None,
    *,
    compare_old: bool = False,
    carry: bool = False,
) -> IndexStats:
    """Replay the whole history; with ``compare_old`` (a rewrite) every version whose content
    or presence differs from what was indexed is reported, and with it or ``carry`` (HEAD on
    another branch) the rewrite reports already made stay, but those of a version that is
    in the history again (:func:`_stale_rewrites`): only the index knows of them (the
    commits they name may be gone), so ``index --rebuild`` keeps them too; deleting the
    index file drops them."""
    replay, commits = _replay_all(src, head, progress)
    old_rows: dict[str, VersionRow] = {}
    carried: list[tuple[Any, ...]] = []
    if src.db.exists() and (compare_old or carry):
        with closing(sqlite3.connect(src.db)) as old:
            if compare_old:
                old_rows = {r.file_path: r for r in _load_rows(old)}
            carried = old.execute(
                "SELECT path, code, field, message, commit_id, at FROM findings "
                "WHERE code = 'history-rewritten'"
            ).fetchall()
        stale = _stale_rewrites(src.git, head, carried)
        carried = [row for n, row in enumerate(carried) if n not in stale]
    rewritten = _rewrites(old_rows, replay.rows, src.ref, head)
    src.db.parent.mkdir(parents=True, exist_ok=True)
    tmp = src.db.with_name(f".{src.db.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(tmp)) as conn:
            # a scratch file, renamed into place when complete: no journal needed
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.executescript(_DDL)
            with conn:
                _write(conn, src, head, replay, replace_rows=True)
                conn.executemany(
                    "INSERT INTO findings (path, code, field, message, commit_id, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [*carried, *rewritten],
                )
            conn.executescript(_INDEXES)
        # written with synchronous = OFF (nothing to recover in a file thrown away unless
        # complete): on the disk before it takes the index's name, in case of a crash
        fsutil.sync_files([tmp])
        os.replace(tmp, src.db)
    finally:
        tmp.unlink(missing_ok=True)
    # what _stats would count in the file just written, without opening it again
    versions = sum(1 for row in replay.rows.values() if row.deleted_commit is None)
    findings = len(replay.findings) + len(carried) + len(rewritten)
    return IndexStats(str(src.db), src.ref, head, "rebuilt", reason, commits, versions, findings)


def _replay_all(src: Source, head: str | None, progress: Progress | None) -> tuple[Replay, int]:
    """The replay of the whole history of ``head`` and the number of commits in it, each
    commit replayed as soon as git has given it and its blobs (:func:`history_steps`).
    ``progress(done, total)``: the total is what git has given so far, all at the end."""
    replay = Replay(tip=head)
    done = 0
    if head is None:
        return replay, done
    with closing(history_steps(src.git, [head], src.rules_path)) as steps:
        for commits, blobs in steps:
            given = done + len(commits)
            step = None
            if progress is not None:
                step = partial(_shifted, progress, done, given)
            replay.apply(src.git, commits, src.rules_path, step, blobs)
            done = given
    return replay, done


def _shifted(progress: Progress, before: int, total: int, done: int, _of: int) -> None:
    """``progress`` of a step that follows ``before`` commits, of ``total`` given so far."""
    progress(before + done, total)


def _rewrites(
    old: dict[str, VersionRow], new: dict[str, VersionRow], ref: str, head: str | None
) -> list[tuple[Any, ...]]:
    now = times.iso(times.now())
    out = []
    for path, row in sorted(old.items()):
        if row.deleted_commit is not None:
            continue
        cur = new.get(path)
        intro = row.introduced_commit[:12]
        if cur is None or cur.deleted_commit is not None:
            msg = (
                f"history rewritten: this version (introduced in commit {intro}) is no longer "
                f"in the history of {ref}"
            )
        elif cur.params_hash != row.params_hash:
            msg = (
                f"history rewritten: params_hash was {row.params_hash} (introduced in commit "
                f"{intro}), now {cur.params_hash} (commit {cur.introduced_commit[:12]})"
            )
        else:
            continue
        out.append((path, "history-rewritten", "", msg, head or "", now))
    return out


def _incremental(src: Source, last: str, head: str, progress: Progress | None) -> IndexStats:
    commits, blobs = read_history(src.git, [f"{last}..{head}"], src.rules_path)
    with closing(sqlite3.connect(src.db)) as conn:
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA synchronous = NORMAL")  # derived data: git has the truth
        folders = {
            path.rpartition("/")[0]
            for c in commits
            for e in c.entries
            for path in (e.old_path, e.new_path)
        }
        replay = Replay(rows={r.file_path: r for r in _load_rows(conn, folders)}, tip=head)
        replay.apply(src.git, commits, src.rules_path, progress, blobs)
        reports = conn.execute(
            "SELECT path, code, field, message, id FROM findings WHERE code = 'history-rewritten'"
        ).fetchall()
        stale = [(reports[n][4],) for n in _stale_rewrites(src.git, head, reports)]
        with conn:
            _write(conn, src, head, replay, replace_rows=False)
            conn.executemany("DELETE FROM findings WHERE id = ?", stale)
    return _stats(
        src, head, "refreshed", f"{len(commits)} new commit(s) touching the rules", len(commits)
    )


def _write(
    conn: sqlite3.Connection, src: Source, head: str | None, replay: Replay, *, replace_rows: bool
) -> None:
    rows: Iterable[VersionRow] = replay.rows.values()
    if replace_rows:
        conn.execute("DELETE FROM versions")
    else:
        rows = [replay.rows[p] for p in replay.dirty if p in replay.rows]
    # A version never deleted (nearly all) is written without its two deletion columns, which
    # SQLite leaves NULL: sqlite3 sends every None it binds through its adapter lookup first
    # (~2 % of a rebuild's CPU in Python for these two). Runs of rows keep their order.
    for deleted, run in groupby(rows, key=_DELETED):
        columns = ROW_COLUMNS if deleted is not None else _LIVE_COLUMNS
        _insert(
            conn,
            f"INSERT OR REPLACE INTO versions ({','.join(columns)}) VALUES ",
            len(columns),
            map(_ROW_VALUES if deleted is not None else _LIVE_VALUES, run),
        )
    _insert(
        conn,
        "INSERT INTO events (file_path, kind, commit_id, at, git_author, detail) VALUES ",
        6,
        replay.events,  # tuples in the columns' order
    )
    conn.executemany(
        "INSERT INTO findings (path, code, field, message, commit_id, at) VALUES (?,?,?,?,?,?)",
        [_finding_row(a) for a in replay.findings],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [
            ("schema", SCHEMA_VERSION),
            ("ref", src.ref),
            ("rules_path", src.rules_path),
            ("head", head or ""),
            ("branch", _branch(src)),
        ],
    )


_ROWS_PER_INSERT = 50  # x 16 columns: within SQLite's oldest limit of 999 parameters


def _insert(conn: sqlite3.Connection, head: str, width: int, rows: Iterable[Iterable[Any]]) -> None:
    """``rows`` inserted in order by ``head`` (``INSERT ... VALUES``), :data:`_ROWS_PER_INSERT`
    to a statement: sqlite3's ``executemany`` binds and runs one row at a time, which made
    writing a rebuild's ~5,000 rows ~20 % slower; the rows get the same ids either way."""
    one = "(" + ",".join("?" * width) + ")"
    full = head + ",".join([one] * _ROWS_PER_INSERT)
    values: list[Any] = []
    count = 0
    for row in rows:
        values += row
        count += 1
        if count == _ROWS_PER_INSERT:
            conn.execute(full, values)
            values, count = [], 0
    if count:
        conn.execute(head + ",".join([one] * count), values)


def _finding_row(a: AuditFinding) -> tuple[Any, ...]:
    f = a.finding
    return (f.path, f.code, f.field, f.message, a.commit, a.at)


def _load_rows(conn: sqlite3.Connection, folders: Iterable[str] | None = None) -> list[VersionRow]:
    """Every recorded version file, or those under ``folders`` only (a range scan each)."""
    select = f"SELECT {','.join(ROW_COLUMNS)} FROM versions"
    if folders is None:
        found = conn.execute(select).fetchall()
    else:
        found = []
        for folder in sorted(folders):  # '0' sorts right after '/': the folder's key range
            found += conn.execute(
                f"{select} WHERE file_path >= ? AND file_path < ?", (folder + "/", folder + "0")
            ).fetchall()
    return [VersionRow(*values) for values in found]  # (the columns in VersionRow's order)


def _stats(src: Source, head: str | None, action: str, reason: str, commits: int) -> IndexStats:
    with closing(sqlite3.connect(src.db)) as conn:
        versions = conn.execute(
            "SELECT count(*) FROM versions WHERE deleted_commit IS NULL"
        ).fetchone()[0]
        findings = conn.execute("SELECT count(*) FROM findings").fetchone()[0]
    return IndexStats(str(src.db), src.ref, head, action, reason, commits, versions, findings)


@contextmanager
def opened(src: Source, progress: Progress | None = None) -> Iterator[sqlite3.Connection]:
    """The refreshed index, open for reading."""
    refresh(src, progress=progress)
    with closing(sqlite3.connect(src.db)) as conn:
        conn.row_factory = sqlite3.Row
        yield conn

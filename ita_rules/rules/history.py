"""The history audit: replay the commits that touched ``rules/`` and derive, for every version
file, who introduced it and how its lifecycle changed, plus every past violation of the rules of
docs/architecture.md#released-versions (a released version changed, deleted or renamed; a
version out of order or skipping one).

History is read in one batch (``git log --raw -z``) and blob contents in one
``git cat-file --batch``: never one git process per commit. Blobs are not fully parsed when a
cheap reading is exact: the top-level scalar fields are read line by line, and a change that
only touches lifecycle lines is recognised without YAML; anything unusual falls back to the
safe loader. The state lives in :mod:`ita_rules.rules.index` (SQLite) between refreshes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ita_rules.core import gitio
from ita_rules.core.errors import GitError
from ita_rules.core.findings import FieldPath, Finding
from ita_rules.rules.blobs import is_rule_path, version_of
from ita_rules.rules.diffing import diff_lines, mutation
from ita_rules.rules.model import Version
from ita_rules.rules.scan import full_data, full_document, load_fields, strip_lifecycle

LOG_FORMAT = "%x01%H%x00%P%x00%an <%ae>%x00%cI"
ZERO_BLOB = "0" * 40


@dataclass(frozen=True)
class Entry:
    status: str  # A, M, D, R, T, C
    old_blob: str
    new_blob: str
    old_path: str
    new_path: str


@dataclass(frozen=True)
class Commit:
    id: str
    parents: tuple[str, ...]
    author: str
    at: str
    entries: tuple[Entry, ...]


def read_log(git: gitio.Git, revs: list[str], rules_path: str) -> list[Commit]:
    """Every commit of ``revs`` that touched ``rules_path``, oldest first, with its raw diff
    against its first parent (merges included), in one ``git log`` process."""
    return read_history(git, revs, rules_path)[0]


def read_history(
    git: gitio.Git, revs: list[str], rules_path: str, within: Sequence[str] = ()
) -> tuple[list[Commit], dict[str, bytes]]:
    """:func:`read_log` plus the contents of every blob the replay needs, read by one
    ``git cat-file --batch`` that runs while ``git log`` streams. ``within``: only these
    paths of the rules folder (default: all of it)."""
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
        ]
    )
    blobs = gitio.BlobReader(git)
    commits: list[Commit] = []
    try:
        with proc:
            assert proc.stdout is not None and proc.stderr is not None
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
                    done, pending = pending, b""
                for c in parse_log(done):
                    commits.append(c)
                    for e in c.entries:
                        if e.status != "D" and is_rule_path(e.new_path, rules_path):
                            blobs.request(e.new_blob)
                        if e.status in "MT" and is_rule_path(e.old_path, rules_path):
                            blobs.request(e.old_blob)
                if not chunk:
                    break
            err = proc.stderr.read()
    except BaseException:
        blobs.close()
        raise
    if proc.returncode != 0:
        blobs.close()
        msg = err.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git log failed: {msg[-1] if msg else proc.returncode}")
    return commits, blobs.finish()


def parse_log(raw: bytes) -> list[Commit]:
    """Commits from ``git log --raw -z --format=`` :data:`LOG_FORMAT` output."""
    commits: list[Commit] = []
    for chunk in raw.split(b"\x01")[1:]:
        tokens = chunk.split(b"\0")
        cid, parents, author, at = (t.decode("utf-8", "replace") for t in tokens[:4])
        entries: list[Entry] = []
        i = 4
        while i < len(tokens):
            tok = tokens[i].lstrip(b"\n")
            i += 1
            if not tok.startswith(b":"):
                continue
            meta = tok[1:].decode().split(" ")
            status = meta[4][0]
            old = tokens[i].decode("utf-8", "surrogateescape")
            i += 1
            new = old
            if status in "RC":
                new = tokens[i].decode("utf-8", "surrogateescape")
                i += 1
            entries.append(Entry(status, meta[2], meta[3], old, new))
        commits.append(Commit(cid, tuple(parents.split()), author, at, tuple(entries)))
    return commits


# --- the replay -------------------------------------------------------------------------------


@dataclass
class VersionRow:
    """One version file as the index records it (the ``versions`` table)."""

    file_path: str
    setup_id: str
    version: str
    author: str | None
    git_author: str
    created: str | None
    introduced_commit: str
    introduced_at: str
    params_hash: str | None
    active: bool
    deprecation_reason: str | None
    active_changed_commit: str | None
    active_changed_at: str | None
    blob: str
    deleted_commit: str | None = None
    deleted_at: str | None = None


@dataclass(frozen=True)
class Event:
    file_path: str
    kind: str  # introduced, deprecated, activated, deleted, renamed, restored, changed
    commit: str
    at: str
    git_author: str
    detail: str = ""


@dataclass(frozen=True)
class AuditFinding:
    finding: Finding
    commit: str
    at: str


@dataclass
class Replay:
    """The audit state: every version file seen so far, and what the replay produced."""

    rows: dict[str, VersionRow] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    findings: list[AuditFinding] = field(default_factory=list)
    _missing: _Lazy | None = field(default=None, repr=False)
    _folders: dict[str, dict[Version, VersionRow]] | None = field(default=None, repr=False)
    dirty: set[str] = field(default_factory=set)  # rows created or touched by this replay

    def apply(
        self,
        git: gitio.Git,
        commits: list[Commit],
        rules_path: str,
        progress: Callable[[int, int], None] | None = None,
        blobs: dict[str, bytes] | None = None,
    ) -> None:
        """Replay ``commits`` (oldest first) on top of the current state. ``blobs``: the
        contents already read (see :func:`read_history`); anything else is read on demand."""
        self._missing = _Lazy(git, dict(blobs or {}))
        total = len(commits)
        for n, c in enumerate(commits, 1):
            for e in c.entries:
                self._entry(c, e, rules_path)
            if progress is not None:
                progress(n, total)

    def _folder(self, path: str) -> dict[Version, VersionRow]:
        """The version files already seen in ``path``'s folder, by version."""
        if self._folders is None:
            self._folders = {}
            for row in self.rows.values():
                sv = version_of(row.file_path)
                if sv is not None:
                    self._folders.setdefault(row.file_path.rpartition("/")[0], {})[sv[1]] = row
        return self._folders.setdefault(path.rpartition("/")[0], {})

    def _blobs(self) -> _Lazy:
        assert self._missing is not None
        return self._missing

    def _entry(self, c: Commit, e: Entry, rules_path: str) -> None:
        self.dirty.update((e.old_path, e.new_path))
        if e.status == "D":
            if is_rule_path(e.old_path, rules_path):
                self._delete(c, e.old_path, None)
            return
        if e.status == "R" and is_rule_path(e.old_path, rules_path):
            self._delete(c, e.old_path, e.new_path)
        if not is_rule_path(e.new_path, rules_path) or version_of(e.new_path) is None:
            return
        row = self.rows.get(e.new_path)
        if row is None:
            self._introduce(c, e.new_path, e.new_blob)
        elif row.deleted_commit is not None:
            self._change(c, row, row.blob, e.new_blob, readded=True)
        elif e.new_blob == row.blob:
            return  # already there: a merge bringing in a branch's version or change
        elif e.status in "MT":
            self._change(c, row, e.old_blob, e.new_blob, readded=False)
        else:  # added again while present: two branches made this version differently
            self._change(c, row, row.blob, e.new_blob, readded=False, again=True)

    def _find(
        self,
        c: Commit,
        path: str,
        message: str,
        code: str,
        field_: str = "",
        at: tuple[bytes, FieldPath] | None = None,
    ) -> None:
        """Record a finding; ``at``: the blob and the field whose place (line, col) it names."""
        line, col = _position(at[0], path, at[1]) if at is not None else (None, None)
        self.findings.append(
            AuditFinding(Finding(path, message, line, col, field=field_, code=code), c.id, c.at)
        )

    def _introduce(self, c: Commit, path: str, blob: str) -> None:
        sv = version_of(path)
        assert sv is not None
        setup, version = sv
        folder = self._folder(path)
        raw = self._blobs().get(blob)
        fields, _ = load_fields(raw, path)
        f = fields or {}
        short = c.id[:12]
        if folder:
            latest = max(folder)
            lrow = folder[latest]
            if version < latest:
                self._find(
                    c,
                    path,
                    f"version {version} was added in commit {short} after version {latest} "
                    f"(commit {lrow.introduced_commit[:12]}); a new version must be greater than "
                    "every existing version",
                    "history-order",
                    "version",
                    (raw, ("version",)),
                )
            elif not version.follows(latest):
                self._find(
                    c,
                    path,
                    f"version {version} was added in commit {short} and skips versions: after "
                    f"{latest} comes {latest.next()} or {latest.next(major=True)}",
                    "history-skip",
                    "version",
                    (raw, ("version",)),
                )
        elif version not in (Version(1, 0), Version(0, 1)):
            self._find(
                c,
                path,
                f"version {version} was added in commit {short} as the first version of {setup}; "
                "the first version must be 1.0",
                "history-skip",
                "version",
                (raw, ("version",)),
            )
        active = f.get("active", True) is not False
        self.rows[path] = VersionRow(
            path,
            setup,
            str(version),
            _text(f.get("author")),
            c.author,
            _text(f.get("created")),
            c.id,
            c.at,
            _text(f.get("params_hash")),
            active,
            _text(f.get("deprecation_reason")),
            None,
            None,
            blob,
        )
        folder[version] = self.rows[path]
        self.events.append(
            Event(path, "introduced", c.id, c.at, c.author, "" if active else "inactive")
        )
        if not active and not f.get("deprecation_reason"):
            self._no_reason(c, path)

    def _no_reason(self, c: Commit, path: str) -> None:
        self._find(
            c,
            path,
            f"deactivated in commit {c.id[:12]} without a deprecation_reason "
            "(say why this version was retired)",
            "history-no-reason",
            "deprecation_reason",
        )

    def _delete(self, c: Commit, path: str, renamed_to: str | None) -> None:
        row = self.rows.get(path)
        if row is None or row.deleted_commit is not None:
            return
        row.deleted_commit, row.deleted_at = c.id, c.at
        intro = row.introduced_commit[:12]
        if renamed_to is None:
            msg = (
                f"released version deleted in commit {c.id[:12]} (introduced in commit {intro}); "
                "a released version is never deleted"
            )
            self._find(c, path, msg, "history-deleted")
            self.events.append(Event(path, "deleted", c.id, c.at, c.author))
        else:
            msg = (
                f"released version renamed to {renamed_to} in commit {c.id[:12]} (introduced "
                f"in commit {intro}); a released version is never renamed"
            )
            self._find(c, path, msg, "history-renamed")
            self.events.append(Event(path, "renamed", c.id, c.at, c.author, renamed_to))

    def _change(
        self,
        c: Commit,
        row: VersionRow,
        old_blob: str,
        new_blob: str,
        *,
        readded: bool,
        again: bool = False,
    ) -> None:
        if readded:
            self.events.append(Event(row.file_path, "restored", c.id, c.at, c.author))
            row.deleted_commit = row.deleted_at = None
        if old_blob == new_blob:
            return
        old_raw, new_raw = self._blobs().get(old_blob), self._blobs().get(new_blob)
        changes = self._mutation(old_raw, new_raw, row.file_path)
        if changes is None or changes:
            what = "re-added with different content" if readded or again else "changed"
            self._find(
                c,
                row.file_path,
                f"released version {what} in commit {c.id[:12]} (introduced in commit "
                f"{row.introduced_commit[:12]}); only active, deprecation_reason and tags may "
                "change"
                + (":" + diff_lines(changes) if changes else " (the file no longer loads)"),
                "history-changed",
                at=(new_raw, tuple(changes[0].path)) if changes else None,
            )
            self.events.append(Event(row.file_path, "changed", c.id, c.at, c.author))
        fields, _ = load_fields(new_raw, row.file_path)
        if fields is None:
            row.blob = new_blob
            return
        active = fields.get("active", True) is not False
        reason = _text(fields.get("deprecation_reason"))
        if active != row.active:
            kind = "activated" if active else "deprecated"
            self.events.append(Event(row.file_path, kind, c.id, c.at, c.author, reason or ""))
            row.active_changed_commit, row.active_changed_at = c.id, c.at
            if not active and not reason:
                self._no_reason(c, row.file_path)
        row.active, row.deprecation_reason, row.blob = active, reason, new_blob
        row.params_hash = _text(fields.get("params_hash")) or row.params_hash

    def _mutation(self, old_raw: bytes, new_raw: bytes, path: str) -> list[Any] | None:
        """[] when only lifecycle fields changed; the changes otherwise (None: unreadable)."""
        a = strip_lifecycle(old_raw.decode("utf-8", "replace"))
        b = strip_lifecycle(new_raw.decode("utf-8", "replace"))
        if a is not None and a == b:
            return []
        old, new = full_data(old_raw, path), full_data(new_raw, path)
        if old is None or new is None:
            return [] if old is None and new is None else None
        return mutation(old, new)


class _Lazy:
    """Blob contents read in one batch up front; anything missed is read on demand."""

    def __init__(self, git: gitio.Git, blobs: dict[str, bytes]) -> None:
        self.git = git
        self.blobs = blobs

    def get(self, blob: str) -> bytes:
        if blob not in self.blobs:
            self.blobs.update(self.git.blobs([blob]))
        return self.blobs.get(blob, b"")


def _position(raw: bytes, path: str, where: FieldPath) -> tuple[int | None, int | None]:
    """The 1-based (line, col) of the value at ``where`` in a rule blob (None: it does not load);
    read only for a finding, so the replay's usual path never loads YAML for it."""
    doc = full_document(raw, path)
    return doc.position(where) if doc is not None else (None, None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def findings_of(items: Iterable[AuditFinding]) -> list[Finding]:
    return [a.finding for a in items]


def audit_folders(
    git: gitio.Git, tip: str, folders: Sequence[str], commits: Collection[str] | None = None
) -> list[Finding]:
    """The history audit of ``tip`` in each rules folder of ``folders``, replayed from scratch
    (no index); only the findings made by ``commits`` when given (a push: the commits it sends;
    the whole history is still replayed, so a version released by any earlier commit counts).
    A finding that two folders share is reported once."""
    out: list[Finding] = []
    seen: set[tuple[str, str, str, str]] = set()
    for folder in dict.fromkeys(folders):
        within: list[str] = []
        if commits is not None:  # the setup folders they touch: the others cannot matter
            within = touched_folders(git, commits, folder)
            if not within:
                continue
        found, blobs = read_history(git, [tip], folder, within)
        replay = Replay()
        replay.apply(git, found, folder, blobs=blobs)
        for a in replay.findings:
            key = (a.commit, a.finding.path, a.finding.code, a.finding.message)
            if (commits is None or a.commit in commits) and key not in seen:
                seen.add(key)
                out.append(a.finding)
    return out


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

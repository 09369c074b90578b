"""The history audit: replay the commits that touched ``rules/`` and derive, for every version
file, who introduced it and how its lifecycle changed, plus every past violation of the rules of
docs/architecture.md#released-versions (a released version changed, deleted or renamed; a
version out of order or skipping one).

The commits and blobs come from :mod:`ita_rules.rules.gitlog` (one ``git log``, one ``git
cat-file --batch``). Blobs are not fully parsed when a cheap reading is exact: the top-level
scalar fields are read line by line, and a change that only touches lifecycle lines is
recognised without YAML; anything unusual falls back to the safe loader. The state lives in
:mod:`ita_rules.rules.index` (SQLite) between refreshes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from ita_rules.core import gitio
from ita_rules.core.findings import FieldPath, Finding
from ita_rules.core.fsutil import printable
from ita_rules.rules.blobs import is_rule_path, version_of
from ita_rules.rules.gitlog import Commit, Entry, read_history, touched_folders
from ita_rules.rules.model import Version
from ita_rules.rules.scan import full_data, full_document, load_fields, strip_lifecycle

# the versions table's columns: VersionRow's fields, in its order
ROW_COLUMNS = (
    "file_path",
    "setup_id",
    "version",
    "author",
    "git_author",
    "created",
    "introduced_commit",
    "introduced_at",
    "params_hash",
    "active",
    "deprecation_reason",
    "active_changed_commit",
    "active_changed_at",
    "blob",
    "deleted_commit",
    "deleted_at",
)


class VersionRow:
    """One version file as the index records it (the ``versions`` table, whose columns are
    :data:`ROW_COLUMNS`). A plain class with slots: the replay changes rows in place, and the
    ``index`` command starts without the dataclasses module (and the inspect module it
    imports: ~6 ms). ``active`` is 1 or 0, as the table stores it: sqlite3 binds an int as it
    is, a bool only after an adapter lookup that raises and clears an AttributeError (~3,300
    instructions a row, ~1 % of a rebuild's CPU in Python)."""

    __slots__ = ROW_COLUMNS

    def __init__(
        self,
        file_path: str,
        setup_id: str,
        version: str,
        author: str | None,
        git_author: str,
        created: str | None,
        introduced_commit: str,
        introduced_at: str,
        params_hash: str | None,
        active: int,
        deprecation_reason: str | None,
        active_changed_commit: str | None,
        active_changed_at: str | None,
        blob: str,
        deleted_commit: str | None = None,
        deleted_at: str | None = None,
    ) -> None:
        self.file_path = file_path
        self.setup_id = setup_id
        self.version = version
        self.author = author
        self.git_author = git_author
        self.created = created
        self.introduced_commit = introduced_commit
        self.introduced_at = introduced_at
        self.params_hash = params_hash
        self.active = active
        self.deprecation_reason = deprecation_reason
        self.active_changed_commit = active_changed_commit
        self.active_changed_at = active_changed_at
        self.blob = blob
        self.deleted_commit = deleted_commit
        self.deleted_at = deleted_at

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in ROW_COLUMNS)
        return f"VersionRow({fields})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionRow):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in ROW_COLUMNS)

    __hash__ = None  # type: ignore[assignment]  # changed in place: not a dict key


# One lifecycle event: a row of the ``events`` table, in its columns' order: file path, kind
# (introduced, deprecated, activated, deleted, renamed, restored, changed), commit, time, git
# author, detail. A plain tuple: the replay makes one per version and change, and a named
# tuple's constructor is a call of Python code (~3x the cost; a frozen dataclass, more).
Event = tuple[str, str, str, str, str, str]


class AuditFinding(NamedTuple):
    finding: Finding
    commit: str
    at: str


class Replay:
    """The audit state: every version file seen so far, and what the replay produced."""

    def __init__(self, rows: dict[str, VersionRow] | None = None, tip: str | None = None) -> None:
        self.rows: dict[str, VersionRow] = {} if rows is None else rows
        self.tip = tip  # the commit whose history is replayed: where two branches meet
        self.events: list[Event] = []
        self.findings: list[AuditFinding] = []
        self.dirty: set[str] = set()  # rows created or touched by this replay
        self._missing: _Blobs | None = None
        self._folders: dict[str, dict[Version, VersionRow]] | None = None

    def apply(
        self,
        git: gitio.Git,
        commits: list[Commit],
        rules_path: str,
        progress: Callable[[int, int], None] | None = None,
        blobs: dict[str, bytes] | None = None,
    ) -> None:
        """Replay ``commits`` (oldest first) on top of the current state. ``blobs``: the
        contents already read (see :func:`read_history`), kept for the next calls (the
        commits may come in steps: :func:`.gitlog.history_steps`); anything else is read on
        demand. ``progress(done, total)`` counts the commits of this call."""
        if self._missing is None:
            self._missing = _Blobs(git, {})
        if blobs:
            self._missing.blobs.update(blobs)
        total = len(commits)
        for n, c in enumerate(commits, 1):
            for e in c.entries:
                self._entry(git, c, e, rules_path)
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

    def _blobs(self) -> _Blobs:
        assert self._missing is not None
        return self._missing

    def _entry(self, git: gitio.Git, c: Commit, e: Entry, rules_path: str) -> None:
        self.dirty.update((e.old_path, e.new_path))
        if e.status == "D":
            if self._is_rule(c, e.old_path, rules_path, arriving=False):
                self._delete(c, e.old_path, None)
            return
        if e.status == "R" and self._is_rule(c, e.old_path, rules_path, arriving=False):
            self._delete(c, e.old_path, e.new_path)
        if not self._is_rule(c, e.new_path, rules_path, arriving=True):
            return
        sv = version_of(e.new_path)
        if sv is None:
            return
        row = self.rows.get(e.new_path)
        if row is None:
            self._introduce(c, e.new_path, e.new_blob, sv)
        elif row.deleted_commit is not None:
            self._change(c, row, row.blob, e.new_blob, readded=True)
        elif e.new_blob == row.blob:
            return  # already there: a merge bringing in a branch's version or change
        elif e.status in "MT":
            self._change(c, row, e.old_blob, e.new_blob, readded=False)
        else:  # added again while present: two branches made this version differently
            self._twice(git, c, row, e.new_blob)

    def _twice(self, git: gitio.Git, c: Commit, row: VersionRow, blob: str) -> None:
        """``c`` adds ``row``'s version, which another branch made (``row.introduced_commit``),
        with other content: the finding is the merge that brought both into this history
        (:func:`_meeting`), as it shows on the first-parent line (the content that line had
        is the version's: a merge that keeps it changes nothing there, one that takes the
        other side's is a change of its own, found when replayed). Neither commit did wrong
        alone; together the version has two contents, and runs of either may name it: the
        way out is to renumber the branch's version before merging."""
        changes = self._mutation(row.blob, blob, row.file_path)
        if changes == []:
            return  # the same version, lifecycle fields aside
        meeting = _meeting(git, self.tip, row.introduced_commit, c.id, row.file_path)
        mine, theirs = row.introduced_commit, c.id  # which is on the first-parent line
        if meeting is not None:
            if git.is_ancestor(c.id, meeting.first_parent):
                mine, theirs = c.id, row.introduced_commit
                self._take(row, blob)
            if meeting.takes_other_side:
                return  # the merge changes the first-parent line's file: its own finding
        from ita_rules.rules.diffing import diff_lines

        setup, version = version_of(row.file_path) or ("", "")
        where, joined = c, ""
        if meeting is not None:
            where = meeting.commit
            joined = f", and merge commit {meeting.commit.id[:12]} joined them"
        self._find(
            where,
            row.file_path,
            f"version {version} was made twice: commit {theirs[:12]} (on a merged branch) made "
            f"it with other content than commit {mine[:12]}{joined}; a released version has one "
            "content: undo the merge, renumber the branch's version (rebase the branch on the "
            f"released one, `ita-rules new-version {setup}`) and merge again"
            + (":" + diff_lines(changes) if changes else " (the file no longer loads)"),
            "history-changed",
            at=(self._blobs().get(row.blob), tuple(changes[0].path)) if changes else None,
        )

    def _take(self, row: VersionRow, blob: str) -> None:
        """``row`` with ``blob``'s content (the first-parent line's, read after another's)."""
        fields = self._blobs().fields(blob, row.file_path) or {}
        row.blob = blob
        row.active = int(fields.get("active", True) is not False)
        row.deprecation_reason = _text(fields.get("deprecation_reason"))
        row.params_hash = _text(fields.get("params_hash")) or row.params_hash

    def _is_rule(self, c: Commit, path: str, rules_path: str, *, arriving: bool) -> bool:
        """Whether ``path`` is a rule file to index. One whose name is not UTF-8 (git gives its
        bytes) cannot be a setup's folder or version: never indexed, and a finding where it
        arrives (added, changed, renamed to)."""
        if not is_rule_path(path, rules_path):
            return False
        if path.isascii():  # (a flag CPython keeps) UTF-8 then, surely
            return True
        shown = printable(path)
        if shown == path:
            return True
        if arriving:
            message = (
                f"the file name, committed in commit {c.id[:12]}, is not UTF-8, so it names "
                "no rule version"
            )
            self._find(c, shown, message, "history-name")
        return False

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

    def _introduce(self, c: Commit, path: str, blob: str, sv: tuple[str, Version]) -> None:
        setup, version = sv
        folder = self._folder(path)
        f = self._blobs().fields(blob, path) or {}
        found = _place(c, setup, version, folder)
        if found is not None:
            raw = self._blobs().get(blob)
            self._find(c, path, found[1], found[0], "version", (raw, ("version",)))
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
            int(active),
            _text(f.get("deprecation_reason")),
            None,
            None,
            blob,
        )
        folder[version] = self.rows[path]
        self.events.append((path, "introduced", c.id, c.at, c.author, "" if active else "inactive"))
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
            self.events.append((path, "deleted", c.id, c.at, c.author, ""))
        else:
            msg = (
                f"released version renamed to {renamed_to} in commit {c.id[:12]} (introduced "
                f"in commit {intro}); a released version is never renamed"
            )
            self._find(c, path, msg, "history-renamed")
            self.events.append((path, "renamed", c.id, c.at, c.author, renamed_to))

    def _change(
        self,
        c: Commit,
        row: VersionRow,
        old_blob: str,
        new_blob: str,
        *,
        readded: bool,
    ) -> None:
        if readded:
            self.events.append((row.file_path, "restored", c.id, c.at, c.author, ""))
            row.deleted_commit = row.deleted_at = None
        if old_blob == new_blob:
            return
        changes = self._mutation(old_blob, new_blob, row.file_path)
        if changes is None or changes:
            from ita_rules.rules.diffing import diff_lines

            what = "re-added with different content" if readded else "changed"
            self._find(
                c,
                row.file_path,
                f"released version {what} in commit {c.id[:12]} (introduced in commit "
                f"{row.introduced_commit[:12]}); only active, deprecation_reason and tags may "
                "change"
                + (":" + diff_lines(changes) if changes else " (the file no longer loads)"),
                "history-changed",
                at=(self._blobs().get(new_blob), tuple(changes[0].path)) if changes else None,
            )
            self.events.append((row.file_path, "changed", c.id, c.at, c.author, ""))
        fields = self._blobs().fields(new_blob, row.file_path)
        if fields is None:
            row.blob = new_blob
            return
        active = fields.get("active", True) is not False
        reason = _text(fields.get("deprecation_reason"))
        if active != row.active:
            kind = "activated" if active else "deprecated"
            self.events.append((row.file_path, kind, c.id, c.at, c.author, reason or ""))
            row.active_changed_commit, row.active_changed_at = c.id, c.at
            if not active and not reason:
                self._no_reason(c, row.file_path)
        row.active, row.deprecation_reason, row.blob = int(active), reason, new_blob
        row.params_hash = _text(fields.get("params_hash")) or row.params_hash

    def _mutation(self, old_blob: str, new_blob: str, path: str) -> list[Any] | None:
        """[] when only lifecycle fields changed; the changes otherwise (None: unreadable)."""
        blobs = self._blobs()
        a = blobs.stripped(old_blob)
        if a is not None and a == blobs.stripped(new_blob):
            return []
        old, new = full_data(blobs.get(old_blob), path), full_data(blobs.get(new_blob), path)
        if old is None or new is None:
            return [] if old is None and new is None else None
        from ita_rules.rules.diffing import mutation  # imported for a real change only

        return mutation(old, new)


class _Blobs:
    """Blob contents read in one batch up front (anything missed is read on demand), and
    what the replay reads from each, kept by blob id: a blob comes back whenever a lifecycle
    change is undone (active, then deprecated, then active again is the first blob again),
    and the blob a change leaves is the one the next change of that file starts from."""

    def __init__(self, git: gitio.Git, blobs: dict[str, bytes]) -> None:
        self.git = git
        self.blobs = blobs
        self._fields: dict[str, dict[str, Any] | None] = {}
        self._stripped: dict[str, str | None] = {}

    def get(self, blob: str) -> bytes:
        if blob not in self.blobs:
            self.blobs.update(self.git.blobs([blob]))
        return self.blobs.get(blob, b"")

    def fields(self, blob: str, path: str) -> dict[str, Any] | None:
        """The blob's top-level fields (:func:`.scan.load_fields`; ``path`` names the file
        in the loader's messages only, so the same blob gives the same fields anywhere).
        The dict is shared: read it, never change it."""
        if blob not in self._fields:
            self._fields[blob] = load_fields(self.get(blob), path)[0]
        return self._fields[blob]

    def stripped(self, blob: str) -> str | None:
        """The blob's text without its lifecycle entries (:func:`.scan.strip_lifecycle`)."""
        if blob not in self._stripped:
            self._stripped[blob] = strip_lifecycle(self.get(blob).decode("utf-8", "replace"))
        return self._stripped[blob]


LOG_FORMAT_SHORT = "%H%x00%P%x00%an <%ae>%x00%cI"  # gitlog.LOG_FORMAT without entries


class Meeting(NamedTuple):
    """The first merge whose history holds two given commits."""

    commit: Commit  # its id and date (no entries)
    first_parent: str
    takes_other_side: bool  # whether it changes the file its first parent had


def _meeting(git: gitio.Git, tip: str | None, one: str, other: str, path: str) -> Meeting | None:
    """The first commit of ``tip``'s history (oldest first) that has both ``one`` and
    ``other`` in its history: the merge that joined their branches (None without ``tip``),
    and whether it changes ``path`` against its first parent."""
    if tip is None:
        return None
    args = ["rev-list", "--topo-order", "--reverse", "--ancestry-path"]
    after_one = git.out([*args, tip, "--not", one]).decode().split()
    after_other = set(git.out([*args, tip, "--not", other]).decode().split())
    found = next((c for c in after_one if c in after_other), None)
    if found is None:
        return None
    out = git.out(["log", "-1", f"--format={LOG_FORMAT_SHORT}", found]).decode("utf-8", "replace")
    cid, parents, author, at = out.rstrip("\n").split("\0")
    first = parents.split()[0]
    changes = git.tree_entries(cid, path) != git.tree_entries(first, path)
    return Meeting(Commit(cid, tuple(parents.split()), author, at, ()), first, changes)


def _position(raw: bytes, path: str, where: FieldPath) -> tuple[int | None, int | None]:
    """The 1-based (line, col) of the value at ``where`` in a rule blob (None: it does not load);
    read only for a finding, so the replay's usual path never loads YAML for it."""
    doc = full_document(raw, path)
    return doc.position(where) if doc is not None else (None, None)


def _text(value: Any) -> str | None:
    if value.__class__ is str or value is None:  # (the usual cases first)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_NUMBERS = attrgetter("major", "minor")


def _place(
    c: Commit, setup: str, version: Version, folder: dict[Version, VersionRow]
) -> tuple[str, str] | None:
    """(code, message) when ``version``, added by ``c``, is lower than a version already in its
    ``folder``, skips versions after the latest one, or is a first version other than 1.0."""
    short = c.id[:12]
    major, minor = version.major, version.minor  # compared as numbers: Version's own
    if not folder:  # comparisons build objects and tuples each time
        if (major, minor) in ((1, 0), (0, 1)):
            return None
        return "history-skip", (
            f"version {version} was added in commit {short} as the first version of {setup}; "
            "the first version must be 1.0"
        )
    latest = max(folder, key=_NUMBERS)  # as max(folder), without Python-level comparisons
    top, last = latest.major, latest.minor
    if (major, minor) < (top, last):
        return "history-order", (
            f"version {version} was added in commit {short} after version {latest} "
            f"(commit {folder[latest].introduced_commit[:12]}); a new version must be greater "
            "than every existing version"
        )
    if not ((major == top and minor == last + 1) or (major == top + 1 and minor == 0)):
        return "history-skip", (
            f"version {version} was added in commit {short} and skips versions: after "
            f"{latest} comes {latest.next()} or {latest.next(major=True)}"
        )
    return None


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
        replay = Replay(tip=tip)
        replay.apply(git, found, folder, blobs=blobs)
        for a in replay.findings:
            key = (a.commit, a.finding.path, a.finding.code, a.finding.message)
            if (commits is None or a.commit in commits) and key not in seen:
                seen.add(key)
                out.append(a.finding)
    return out

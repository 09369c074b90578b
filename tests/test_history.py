"""The history audit and the registry index (.ita/index.sqlite) over real git histories."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import git, run_on_a_terminal, write
from tests.test_check import (
    _no_git_env,  # noqa: F401 (an autouse fixture)
    commit,
    put,
    rule_yaml,
)

BIN = Path(sys.executable).parent


def short(root: Path, rev: str = "HEAD") -> str:
    return git(root, "rev-parse", rev)[:12]


def history(cli: Any) -> Any:
    return cli("check", "--history")


def test_history_audit_reports_every_past_violation(in_git_repo: Path, cli: Any) -> None:
    ws = in_git_repo
    put(ws, "S1", "1.0")
    put(ws, "S2", "1.0")
    c1 = commit(ws, "first")[:12]
    git(ws, "checkout", "-q", "-b", "feature")
    put(ws, "S1", "1.1", params={"atr_mult": 1.5})
    c2 = commit(ws, "S1 1.1")[:12]
    git(ws, "checkout", "-q", "main")
    put(ws, "S2", "1.0", active=False, reason="replaced")  # lifecycle: allowed
    commit(ws, "deprecate S2 1.0")
    git(ws, "merge", "-q", "--no-edit", "feature")
    put(ws, "S1", "1.0", params={"atr_mult": 1.2})
    c5 = commit(ws, "mutate S1 1.0")[:12]
    (ws / "rules/S2/v1.0.yaml").unlink()
    c6 = commit(ws, "delete S2 1.0")[:12]
    git(ws, "mv", "rules/S1/v1.1.yaml", "rules/S1/v2.0.yaml")
    c7 = commit(ws, "rename S1 1.1")[:12]
    put(ws, "S2", "1.3", params={"atr_mult": 3.0})
    c8 = commit(ws, "skip")[:12]
    put(ws, "S2", "1.2", params={"atr_mult": 2.0})
    c9 = commit(ws, "out of order")[:12]

    r = history(cli)
    assert r.code == 1
    assert r.out.splitlines() == [
        f"rules/S1/v1.0.yaml: released version changed in commit {c5} (introduced in commit "
        f"{c1}); only active, deprecation_reason and tags may change:",
        "    ~ params.atr_mult: 1.0 -> 1.2",
        f'    ~ params_hash: "{canonical_hash()}" -> "{canonical_hash(params={"atr_mult": 1.2})}"',
        f"rules/S2/v1.0.yaml: released version deleted in commit {c6} (introduced in commit "
        f"{c1}); a released version is never deleted",
        f"rules/S1/v1.1.yaml: released version renamed to rules/S1/v2.0.yaml in commit {c7} "
        f"(introduced in commit {c2}); a released version is never renamed",
        f"rules/S2/v1.3.yaml: version: version 1.3 was added in commit {c8} and skips versions: "
        "after 1.0 comes 1.1 or 2.0",
        f"rules/S2/v1.2.yaml: version: version 1.2 was added in commit {c9} after version 1.3 "
        f"(commit {c8}); a new version must be greater than every existing version",
    ]
    assert "version file(s) checked against HEAD, 5 problem(s)" in r.err


def test_audit_of_some_commits_replays_only_their_folders(in_git_repo: Path) -> None:
    """audit_folders restricted to some commits (a push, a range) replays only the setup
    folders they touch, and finds exactly what the whole replay finds in those commits."""
    from ita_rules.core import gitio
    from ita_rules.rules.gitlog import read_history, touched_folders
    from ita_rules.rules.history import Replay, audit_folders

    ws = in_git_repo
    put(ws, "S1", "1.0")
    put(ws, "S2", "1.0")
    commit(ws, "first")
    put(ws, "S1", "1.0", params={"atr_mult": 1.2})
    commit(ws, "mutate S1 1.0")
    put(ws, "S1", "1.0")
    commit(ws, "put it back")
    put(ws, "S2", "1.2", params={"atr_mult": 2.0})
    commit(ws, "skip")
    g = gitio.Git(ws)
    found, blobs = read_history(g, ["HEAD"], "rules")
    replay = Replay()
    replay.apply(g, found, "rules", blobs=blobs)
    ids = git(ws, "rev-list", "HEAD").split()
    for n in range(1, len(ids) + 1):
        sent = set(ids[:n])
        expected = [a.finding for a in replay.findings if a.commit in sent]
        assert audit_folders(g, ids[0], ["rules"], sent) == expected, n
    assert touched_folders(g, ids[:1], "rules") == ["rules/S2"]
    assert touched_folders(g, ids[1:3], "rules") == ["rules/S1"]
    assert audit_folders(g, ids[0], ["rules"], ids[1:3]) != []


def canonical_hash(**kw: Any) -> str:
    return str(yaml.safe_load(rule_yaml("S1", "1.0", **kw))["params_hash"])


def test_clean_history_with_branches_merges_and_lifecycle(in_git_repo: Path, cli: Any) -> None:
    ws = in_git_repo
    put(ws, "S1", "1.0")
    c1 = commit(ws, "first")
    git(ws, "checkout", "-q", "-b", "feature")
    put(ws, "S1", "1.1", params={"atr_mult": 1.5})
    c2 = commit(ws, "S1 1.1")
    git(ws, "checkout", "-q", "main")
    put(ws, "S2", "1.0")
    commit(ws, "S2")
    git(ws, "merge", "-q", "--no-edit", "feature")
    put(ws, "S1", "1.0", active=False, reason="replaced by 1.1", tags=["old"])
    c4 = commit(ws, "deprecate")
    put(ws, "S1", "1.0", active=True, tags=["old"])
    c5 = commit(ws, "activate again")
    r = history(cli)
    assert (r.code, r.out) == (0, "")
    r = cli("log", "S1")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].startswith(f"v1.0  {c1[:12]}  ") and lines[0].endswith(
        "Test Trader <trader@example.test>  active"
    )
    assert lines[1].startswith(f"    deprecated (replaced by 1.1)  {c4[:12]}  ")
    assert lines[2].startswith(f"    activated  {c5[:12]}  ")
    assert lines[3].startswith(f"v1.1  {c2[:12]}  ")
    assert len(lines) == 4  # 1.1: no event from the merge that brought it to main
    doc = json.loads(cli("log", "S1", "--json").out)
    assert [v["version"] for v in doc["versions"]] == ["1.0", "1.1"]
    assert doc["versions"][0]["active_changed_commit"] == c5
    assert [e["kind"] for e in doc["versions"][0]["events"]] == [
        "introduced",
        "deprecated",
        "activated",
    ]


def test_log_of_unknown_setup(in_git_repo: Path, cli: Any) -> None:
    put(in_git_repo, "S1", "1.0")
    commit(in_git_repo)
    r = cli("log", "Nope")
    assert r.code == 1 and "no setup 'Nope' in the history" in r.err


def test_incremental_refresh_and_rebuild(in_git_repo: Path, cli: Any) -> None:
    ws = in_git_repo
    put(ws, "S1", "1.0")
    commit(ws)
    assert (
        cli("index").out
        == "index rebuilt (no index yet): 1 commit(s) read, 1 version(s), 0 audit finding(s)\n"
    )
    assert (
        cli("index").out == "index up to date: 0 commit(s) read, 1 version(s), 0 audit finding(s)\n"
    )
    put(ws, "S1", "1.1", params={"atr_mult": 2.0})
    commit(ws)
    commit(ws, "an empty commit: not read")
    assert cli("index").out == (
        "index refreshed (1 new commit(s) touching the rules): 1 commit(s) read, 2 version(s), "
        "0 audit finding(s)\n"
    )
    assert (
        cli("index", "--rebuild").out
        == "index rebuilt (asked): 2 commit(s) read, 2 version(s), 0 audit finding(s)\n"
    )
    stats = json.loads(cli("index", "--json").out)
    assert stats["action"] == "up to date" and stats["head"] == git(ws, "rev-parse", "HEAD")


def test_a_rebuilt_index_is_on_the_disk_before_it_takes_the_name(
    in_git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild writes its scratch file without SQLite's syncs (synchronous = OFF), so it
    syncs the file itself before renaming it over the index: a crash after the rename must
    not leave the index's name on pages that never reached the disk."""
    from ita_rules.rules.index import refresh, source

    put(in_git_repo, "S1", "1.0")
    commit(in_git_repo)
    synced: set[tuple[int, int]] = set()  # (device, inode) of each file synced
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        st = os.fstat(fd)
        synced.add((st.st_dev, st.st_ino))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        st = os.stat(src)
        calls.append("synced" if (st.st_dev, st.st_ino) in synced else "not synced")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)  # the os module index.py uses
    monkeypatch.setattr(os, "replace", replace)
    src = source(in_git_repo, in_git_repo / "rules")
    assert refresh(src, rebuild=True).versions == 1
    assert calls == ["synced"]


def test_a_kept_source_reads_its_ref_again_for_each_refresh(
    in_git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """source() reads the repository's top and the ref's commit in one git process, and that
    commit serves the first refresh only: a Source kept while commits arrive sees them."""
    from ita_rules.core import gitio
    from ita_rules.rules.index import refresh, source

    put(in_git_repo, "S1", "1.0")
    first = commit(in_git_repo)
    asked: list[list[str]] = []
    real_run = gitio.run

    def run(args: Any, *rest: Any, **kw: Any) -> Any:
        asked.append(list(args))
        return real_run(args, *rest, **kw)

    monkeypatch.setattr(gitio, "run", run)
    src = source(in_git_repo, in_git_repo / "rules")
    stats = refresh(src)
    assert (stats.head, stats.action) == (first, "rebuilt")
    assert [a[0] for a in asked] == ["rev-parse"]  # the top and HEAD: one process
    put(in_git_repo, "S1", "1.1")
    second = commit(in_git_repo)
    stats = refresh(src)
    assert (stats.head, stats.action, stats.versions) == (second, "refreshed", 2)


@pytest.mark.parametrize("ref", ["origin/main", "HEAD@{99}"])
def test_an_index_of_a_protected_ref_that_names_no_commit_is_a_usage_error(
    in_git_repo: Path, cli: Any, ref: str
) -> None:
    """The top and the protected ref's commit come from one rev-parse; a ref that names no
    commit, even one git fails on (a reflog entry that is not there: exit 128), still says
    so, not that the workspace is outside git."""
    put(in_git_repo, "S1", "1.0")
    commit(in_git_repo)
    (in_git_repo / "ita.toml").write_text(f'[rules]\nprotected_ref = "{ref}"\n')
    r = cli("index")
    assert r.code == 2
    assert f"protected ref (rules.protected_ref) {ref!r} is not a commit" in r.err


def test_incremental_refreshes_equal_a_rebuild(in_git_repo: Path, cli: Any) -> None:
    ws = in_git_repo
    put(ws, "S1", "1.0")
    put(ws, "S2", "1.0")
    commit(ws)
    steps: list[Callable[[], object]] = [
        lambda: put(ws, "S1", "1.0", active=False, reason="old"),
        lambda: put(ws, "S1", "1.1", params={"atr_mult": 2.0}),
        lambda: (ws / "rules/S2/v1.0.yaml").unlink(),
        lambda: put(ws, "S2", "1.0"),
        lambda: put(ws, "S1", "1.0", active=True),
        lambda: put(ws, "S1", "1.3", params={"atr_mult": 3.0}),
    ]
    for step in steps:
        assert cli("index").code == 0
        step()
        commit(ws)
    incremental = [cli("log", s, "--json").out for s in ("S1", "S2")]
    audit = history(cli).out
    assert cli("index", "--rebuild").code == 0
    assert [cli("log", s, "--json").out for s in ("S1", "S2")] == incremental
    assert history(cli).out == audit
    assert "rules/S2/v1.0.yaml: released version deleted in commit" in audit
    assert "rules/S1/v1.3.yaml: version: version 1.3 was added" in audit


def test_force_push_rewrite_triggers_a_rebuild_and_is_reported(in_git_repo: Path, cli: Any) -> None:
    ws = in_git_repo
    put(ws, "S1", "1.0")
    c1 = commit(ws)
    put(ws, "S1", "1.1", params={"atr_mult": 2.0})
    c2 = commit(ws)
    assert cli("index").code == 0
    old_hash = canonical_hash(params={"atr_mult": 2.0})
    git(ws, "reset", "-q", "--hard", c1)  # rewrite: 1.1 is made again with other params
    put(ws, "S1", "1.1", params={"atr_mult": 2.5})
    c2b = commit(ws, "rewritten")
    new_hash = canonical_hash(params={"atr_mult": 2.5})
    r = cli("index")
    assert r.out.startswith(
        f"index rebuilt (history rewritten: {c2} is no longer an ancestor of HEAD)"
    )
    r = history(cli)
    assert r.code == 1
    assert r.out == (
        f"rules/S1/v1.1.yaml: history rewritten: params_hash was {old_hash} (introduced in commit "
        f"{c2[:12]}), now {new_hash} (commit {c2b[:12]})\n"
    )
    put(ws, "S2", "1.0")
    commit(ws)
    assert history(cli).out == r.out  # kept by later refreshes
    assert cli("index", "--rebuild").code == 0
    assert (history(cli).code, history(cli).out) == (1, r.out)  # and by a rebuild (walk2 F6)


def test_switching_branches_is_no_history_rewrite(in_git_repo: Path, cli: Any) -> None:
    """The index follows HEAD: checking out another branch rebuilds it for that branch, with
    no "history rewritten" report, and a fast-forward merge afterwards reports nothing
    either (walk2 F10)."""
    ws = in_git_repo
    put(ws, "S1", "1.0")
    commit(ws, "first")
    git(ws, "checkout", "-q", "-b", "feat")
    put(ws, "S1", "1.1", params={"atr_mult": 1.5})
    commit(ws, "1.1")
    assert (history(cli).code, history(cli).out) == (0, "")
    git(ws, "checkout", "-q", "main")
    r = cli("index")
    assert r.out.startswith("index rebuilt (HEAD moved from feat to main)")
    r = history(cli)
    assert (r.code, r.out) == (0, "")
    assert "1 version file(s) checked against HEAD, 0 problem(s)" in r.err
    git(ws, "merge", "-q", "--ff-only", "feat")
    r = history(cli)
    assert (r.code, r.out) == (0, "")
    assert "2 version file(s) checked against HEAD, 0 problem(s)" in r.err


def test_a_rewrite_report_goes_once_its_version_is_in_the_history_again(
    in_git_repo: Path, cli: Any
) -> None:
    """An index made before the branch was recorded took a branch switch for a rewrite; the
    report ("no longer in the history of HEAD") goes when the version's commit is in the
    history again (here: the branch fast-forwarded to it)."""
    ws = in_git_repo
    put(ws, "S1", "1.0")
    commit(ws, "first")
    git(ws, "checkout", "-q", "-b", "feat")
    put(ws, "S1", "1.1", params={"atr_mult": 1.5})
    c2 = commit(ws, "1.1")
    assert cli("index").code == 0
    with closing(sqlite3.connect(ws / ".ita/index.sqlite")) as conn, conn:
        conn.execute("DELETE FROM meta WHERE key = 'branch'")  # as an older index has it
    git(ws, "checkout", "-q", "main")
    r = history(cli)
    assert (r.code, r.out) == (
        1,
        f"rules/S1/v1.1.yaml: history rewritten: this version (introduced in commit {c2[:12]}) "
        "is no longer in the history of HEAD\n",
    )
    git(ws, "merge", "-q", "--ff-only", "feat")
    r = history(cli)
    assert (r.code, r.out) == (0, "")


def test_deleting_the_index_loses_nothing(in_git_repo: Path, cli: Any) -> None:
    ws = in_git_repo
    put(ws, "S1", "1.0")
    commit(ws)
    put(ws, "S1", "1.0", active=False, reason="bad")
    put(ws, "S1", "1.1", params={"atr_mult": 2.0})
    commit(ws)
    before = cli("export", "--format", "json").out
    csv_before = cli("export", "--format", "csv").out
    shutil.rmtree(ws / ".ita")
    assert cli("export", "--format", "json").out == before
    assert cli("export", "--format", "csv").out == csv_before
    rows = json.loads(before)["versions"]
    assert [(r["version"], r["active"], r["deprecation_reason"]) for r in rows] == [
        ("1.0", False, "bad"),
        ("1.1", True, None),
    ]
    assert csv_before.splitlines()[0].startswith(
        "setup_id,version,rule_version,file_path,author,git_author"
    )
    assert cli("export", "--format", "csv", "-o", "m.csv").code == 0
    assert (ws / "m.csv").read_text() == csv_before


def test_list_active_at_a_past_date(
    in_git_repo: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = in_git_repo

    def at(date: str) -> None:
        monkeypatch.setenv("GIT_COMMITTER_DATE", f"{date}T12:00:00+00:00")
        monkeypatch.setenv("GIT_AUTHOR_DATE", f"{date}T12:00:00+00:00")

    at("2025-01-10")
    put(ws, "S1", "1.0")
    commit(ws)
    at("2025-03-10")
    put(ws, "S1", "1.1", params={"atr_mult": 2.0})
    commit(ws)
    at("2025-05-10")
    put(ws, "S1", "1.0", active=False, reason="superseded")
    commit(ws)

    def versions(date: str, *extra: str) -> list[tuple[str, bool]]:
        doc = json.loads(cli("list", "--at", date, "--json", *extra).out)
        return [(r["version"], r["active"]) for r in doc["rules"]]

    assert versions("2025-01-01", "--active") == []
    assert versions("2025-02-01", "--active") == [("1.0", True)]
    assert versions("2025-04-01", "--active") == [("1.0", True), ("1.1", True)]
    assert versions("2025-06-01", "--active") == [("1.1", True)]
    assert versions("2025-06-01") == [("1.0", False), ("1.1", True)]
    r = cli("list", "--active", "--at", "2025-04-01")
    assert r.out.splitlines()[0].split() == [
        "SETUP",
        "VERSION",
        "INTRODUCED",
        "COMMIT",
        "PARAMS_HASH",
    ]
    bad = cli("list", "--at", "yesterday")
    assert bad.code == 2
    assert "--at: expected a date YYYY-MM-DD or an ISO time, got 'yesterday'" in bad.err


def test_list_at_a_date_covers_the_whole_day(
    in_git_repo: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--at DATE`` ends at the next midnight, exclusive (docs/architecture.md#times): a version
    committed in the last second of the day is there; an ISO time is an exclusive bound too."""
    ws = in_git_repo
    for name in ("GIT_COMMITTER_DATE", "GIT_AUTHOR_DATE"):
        monkeypatch.setenv(name, "2025-01-10T23:59:59+00:00")
    put(ws, "S1", "1.0")
    commit(ws)

    def versions(at: str) -> list[str]:
        doc = json.loads(cli("list", "--at", at, "--json").out)
        return [r["version"] for r in doc["rules"]]

    assert versions("2025-01-10") == ["1.0"]
    assert versions("2025-01-09") == []
    assert versions("2025-01-10T23:59:59Z") == []
    assert versions("2025-01-11T00:00:00+01:00") == []  # 23:00 UTC
    assert versions("2025-01-11T00:00:00Z") == ["1.0"]


def test_shallow_clone_can_be_indexed(
    in_git_repo: Path, tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(in_git_repo, "S1", "1.0")
    commit(in_git_repo)
    put(in_git_repo, "S1", "1.0", active=False, reason="x")
    commit(in_git_repo)
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{in_git_repo}", str(clone))
    monkeypatch.chdir(clone)
    r = history(cli)
    assert (r.code, r.out) == (0, "")
    rows = json.loads(cli("export").out)["versions"]
    assert rows[0]["introduced_commit"] == git(clone, "rev-parse", "HEAD")


def fast_history(root: Path, commits: int) -> None:
    """``commits`` commits adding one version each (setups of 20 versions), via fast-import."""
    out = []
    for n in range(commits):
        setup, minor = f"S{n // 20}", n % 20
        text = rule_yaml(setup, f"1.{minor}", params={"atr_mult": 1.0 + minor})
        data = text.encode()
        out.append(
            f"commit refs/heads/main\ncommitter T <t@example.test> {1700000000 + n} +0000\n"
            "data 1\nx\n"
            f"M 100644 inline rules/{setup}/v1.{minor}.yaml\ndata {len(data)}\n{text}\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=root, input="".join(out).encode(), check=True
    )
    git(root, "reset", "-q", "--hard", "main")


def test_progress_bar_on_a_terminal_only(in_git_repo: Path) -> None:
    fast_history(in_git_repo, 220)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    piped = subprocess.run(
        ["ita-rules", "index", "--rebuild"],
        cwd=in_git_repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0 and piped.stderr == ""
    assert "220 commit(s) read, 220 version(s), 0 audit finding(s)" in piped.stdout
    proc, seen = run_on_a_terminal(["ita-rules", "index", "--rebuild"], in_git_repo, env)
    assert proc.returncode == 0
    assert b"indexing history [" in seen and b"] 220/220" in seen


# --- the cheap paths agree with the full ones --------------------------------------------------

# every indicator, tabs, Unicode spaces YAML does not strip (NBSP, ideographic, form feed) and
# a non-ASCII letter
_word = st.text(
    alphabet="abcnoyXYZ_ -:#'\"0123456789.&*!|>@`%?+,[]{}~=\t\u00a0\u3000\x0cé",
    min_size=0,
    max_size=12,
)


@settings(max_examples=1000, deadline=None)
@given(
    author=_word,
    reason=st.one_of(st.none(), _word),
    active=st.sampled_from(["true", "false", "yes", "no", "True", "'true'", "1"]),
    quote=st.sampled_from(['"{}"', "'{}'", "{}"]),
)
def test_scan_agrees_with_the_yaml_loader(
    author: str, reason: str | None, active: str, quote: str
) -> None:
    from ita_rules.core import yamlio
    from ita_rules.rules.scan import FIELDS, scan

    text = (
        f'setup_id: S1\nversion: "1.0"\nauthor: {quote.format(author)}\ncreated: 2025-01-01\n'
        f"components: [A]\nactive: {active}\n"
        + (f"deprecation_reason: {quote.format(reason)}\n" if reason is not None else "")
        + "params_hash: sha256:abc\n"
    )
    fast = scan(text)
    doc, _ = yamlio.loads(text, "x", raw_scalars=("version",))
    if doc is None:  # the loader refuses the text: so must the cheap reading
        assert fast is None, text
        return
    if fast is None:
        return
    assert fast == {k: doc.data[k] for k in FIELDS if k in doc.data}, text


@pytest.mark.parametrize(
    "author, reason",
    [
        ("alice\t# lead", "see v2\u00a0"),  # a comment after a tab; a trailing NBSP is kept
        ("bob", "moved to v2 # why"),
        ("'it''s me'  # quoted", '"v2" # later'),
        ("Zoë", "see\u3000v2"),
    ],
)
def test_scan_reads_what_the_loader_reads(author: str, reason: str) -> None:
    from ita_rules.core import yamlio
    from ita_rules.rules.scan import FIELDS, scan

    text = (
        f'setup_id: S1\nversion: "1.0"\nauthor: {author}\ncreated: 2025-01-01\n'
        f"active: false\ndeprecation_reason: {reason}\nparams_hash: sha256:abc\n"
    )
    doc, _ = yamlio.loads(text, "x", raw_scalars=("version",))
    assert doc is not None
    assert scan(text) == {k: doc.data[k] for k in FIELDS if k in doc.data}


_leaf = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"]), st.booleans())
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("xyz"), inner, max_size=3)
    ),
    max_leaves=6,
)


_section = st.dictionaries(st.sampled_from("pqr"), _value, max_size=3).map(lambda d: {"k": 1, **d})


@settings(max_examples=200, deadline=None)
@given(
    a=st.fixed_dictionaries(
        {"rules": _section, "targets": _section}, optional={"params": _section}
    ),
    b=st.fixed_dictionaries(
        {"rules": _section, "targets": _section}, optional={"params": _section}
    ),
    ca=st.lists(st.sampled_from(["C1", "C2", "C3"]), min_size=1, max_size=3),
    cb=st.lists(st.sampled_from(["C1", "C2", "C3"]), min_size=1, max_size=3),
)
def test_quick_bump_agrees_with_deepdiff(
    a: dict[str, Any], b: dict[str, Any], ca: list[str], cb: list[str]
) -> None:
    from ita_rules.rules.diffing import classify, required_bump

    old, new = {**a, "components": ca}, {**b, "components": cb}
    level, _ = required_bump(old, new)
    expected, _ = classify(old, new)
    if level == "none":
        assert expected in ("none", "minor")  # equal under RFC 8785 (1 == 1.0), not to deepdiff
    elif level == "minor" and expected == "none":
        # deepdiff takes True == 1; RFC 8785 (and so params_hash) tells them apart
        from ita_rules.core import canonical

        assert canonical.canonical_json(old) != canonical.canonical_json(new)
    else:
        assert level == expected


def test_scan_reads_the_usual_layouts_without_the_yaml_loader() -> None:
    from ita_rules.core import yamlio
    from ita_rules.rules.scan import FIELDS, scan, strip_lifecycle
    from tests.conftest import SAMPLE_RULES

    texts = [p.read_text() for p in sorted(SAMPLE_RULES.glob("*/*.yaml"))]
    texts.append(rule_yaml(reason="retired", tags=["a", "b"], active=False))
    for text in texts:
        doc, _ = yamlio.loads(text, "x", raw_scalars=("version",))
        assert doc is not None
        assert scan(text) == {k: doc.data[k] for k in FIELDS if k in doc.data}
    deprecated = rule_yaml(active=False, reason="retired", tags=["x"])
    assert strip_lifecycle(rule_yaml()) == strip_lifecycle(deprecated)
    assert strip_lifecycle(rule_yaml()) != strip_lifecycle(rule_yaml(params={"atr_mult": 2.0}))
    assert scan("rules: {a: 1}\nactive: |\n  no\n") is None
    assert strip_lifecycle("tags: &t [a]\nrules: {x: *t}\n") is None


def _two_branches_make_v11(ws: Path) -> tuple[str, str]:
    """S1 1.0 on main; branch ``a`` makes 1.1 with atr_mult 1.5, branch ``b`` (from main)
    with 1.7. Returns the two commits."""
    put(ws, "S1", "1.0")
    commit(ws)
    git(ws, "checkout", "-q", "-b", "a")
    put(ws, "S1", "1.1", params={"atr_mult": 1.5})
    a = commit(ws, "1.1 on a")[:12]
    git(ws, "checkout", "-q", "-b", "b", "main")
    put(ws, "S1", "1.1", params={"atr_mult": 1.7})
    b = commit(ws, "1.1 on b")[:12]
    return a, b


def _merge_keeping(ws: Path, into: str, other: str, side: str) -> str:
    """Merge ``other`` into ``into`` (an add/add conflict), keeping ``side``'s v1.1."""
    git(ws, "checkout", "-q", into)
    subprocess.run(["git", "merge", "-q", other], cwd=ws, capture_output=True)  # conflicts
    git(ws, "checkout", f"--{side}", "rules/S1/v1.1.yaml")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "--no-edit")
    return short(ws)


TWICE = (
    "rules/S1/v1.1.yaml: version 1.1 was made twice: commit {theirs} (on a merged branch) made "
    "it with other content than commit {mine}, and merge commit {merge} joined them; a "
    "released version has one content: undo the merge, renumber the branch's version (rebase "
    "the branch on the released one, `ita-rules new-version S1`) and merge again:"
)


@pytest.mark.parametrize("into", ["a", "b"])
def test_two_branches_releasing_the_same_version_differently(
    in_git_repo: Path, cli: Any, into: str
) -> None:
    """The merge keeps its first parent's v1.1 (the tree does not change there), but the
    other branch's v1.1 is in the history now too: the version has two contents, and a run
    of either could name it. The finding is the merge (not the branch's commit, which did
    nothing wrong alone), with the way out; the index keeps the first parent's content and
    shows no change event (walk2 F1)."""
    ws = in_git_repo
    commits = dict(zip("ab", _two_branches_make_v11(ws), strict=True))
    other = "b" if into == "a" else "a"
    merge = _merge_keeping(ws, into, other, "ours")
    r = history(cli)
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0] == TWICE.format(theirs=commits[other], mine=commits[into], merge=merge)
    mine, theirs = (1.5, 1.7) if into == "a" else (1.7, 1.5)
    assert lines[1] == f"    ~ params.atr_mult: {mine} -> {theirs}"
    assert len(lines) == 3  # and the params_hash
    r = cli("log", "S1")
    assert r.code == 0
    assert r.out.splitlines()[1].startswith(f"v1.1  {commits[into]}  ")
    assert len(r.out.splitlines()) == 2  # no "changed" event: the merge changed nothing there
    doc = json.loads(cli("log", "S1", "--json").out)
    assert (
        doc["versions"][1]["params_hash"]
        == yaml.safe_load((ws / "rules/S1/v1.1.yaml").read_text())["params_hash"]
    )


def test_a_merge_taking_the_other_branchs_version_is_a_change_of_its_own(
    in_git_repo: Path, cli: Any
) -> None:
    """Taking the merged branch's v1.1 changes the first-parent line's released file: that
    change, in the merge, is the one finding."""
    ws = in_git_repo
    a, _b = _two_branches_make_v11(ws)
    merge = _merge_keeping(ws, "a", "b", "theirs")
    r = history(cli)
    assert r.code == 1
    assert r.out.splitlines()[0] == (
        f"rules/S1/v1.1.yaml: released version changed in commit {merge} (introduced in "
        f"commit {a}); only active, deprecation_reason and tags may change:"
    )
    assert "made twice" not in r.out


def test_index_start_up_imports_only_what_it_needs(sample_ws: Path) -> None:
    """docs/architecture.md#speed-budgets (rebuild <= 2x git log): the `index` command must not pay for the YAML loader,
    jsonschema, the store's SQLAlchemy or pydantic (typer 0.29 imports it for every option), nor
    for typer and click (cli/plain.py serves it) or the dataclasses module (with inspect), nor
    for subprocess and threading (git runs by posix_spawn, cat-file answers into memory)."""
    code = (
        "import sys; from ita_rules.cli import main\n"
        "try:\n    main(['index', '--rebuild'])\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = ('pydantic', 'yaml', 'ruamel', 'jsonschema', 'sqlalchemy', 'deepdiff', 'git',\n"
        "         'typer', 'click', 'dataclasses', 'inspect', 'subprocess', 'threading')\n"
        "print(rc, [m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr
    assert "index rebuilt (asked): 1 commit(s) read, 8 version(s)" in out.stdout


def _with_hash(text: str) -> str:
    """``text`` with ``HASH`` replaced by the params_hash of what it loads as."""
    from ita_rules.core import canonical

    return text.replace("HASH", canonical.params_hash(yaml.safe_load(text.replace("HASH", ""))))


def _flow_document(risk: int) -> str:
    """S1 1.0 as a flow mapping written by hand, its last line starting with ``active:``."""
    return _with_hash(
        "{setup_id: S1, version: '1.0', author: trader, created: '2025-01-01',\n"
        "components: [Detect_Sessions], rules: {market: GER40}, targets: {tp: 2.0, sl: 1.0},\n"
        f"active: true, params: {{risk: {risk}}}, params_hash: 'HASH'}}\n"
    )


def _flow_value(risk: int) -> str:
    """A block file whose flow ``params`` goes on at column 0 with a ``tags`` key of its own."""
    return _with_hash(
        "setup_id: S1\nversion: '1.0'\nauthor: trader\ncreated: '2025-01-01'\n"
        "components: [Detect_Sessions]\nrules: {market: GER40}\ntargets: {tp: 2.0, sl: 1.0}\n"
        f"active: true\nparams: {{size: 1,\ntags: [{risk}]}}\nparams_hash: 'HASH'\n"
    )


@pytest.mark.parametrize(
    ("layout", "change"),
    [
        (_flow_document, "params.risk: 1 -> 5"),
        (_flow_value, "params.tags[0]: 1 -> 5"),
    ],
    ids=["flow-document", "flow-value-continued-at-column-0"],
)
def test_history_finds_a_mutation_of_a_flow_style_file(
    in_git_repo: Path, cli: Any, layout: Any, change: str
) -> None:
    """The audit compares like ``check --base`` does, whatever the layout of the file."""
    ws = in_git_repo
    (ws / "rules/S1").mkdir(parents=True)
    (ws / "rules/S1/v1.0.yaml").write_text(layout(1))
    c1 = commit(ws, "first")[:12]
    assert cli("validate").code == 0
    (ws / "rules/S1/v1.0.yaml").write_text(layout(5))
    c2 = commit(ws, "mutate")[:12]
    ranged = cli("check", "--base", "HEAD~1")
    assert ranged.code == 1
    assert f"    ~ {change}" in ranged.out
    r = history(cli)
    assert r.code == 1, r.err
    assert r.out.splitlines()[:2] == [
        f"rules/S1/v1.0.yaml: released version changed in commit {c2} (introduced in commit "
        f"{c1}); only active, deprecation_reason and tags may change:",
        f"    ~ {change}",
    ]
    assert "version file(s) checked against HEAD, 1 problem(s)" in r.err


# every line break YAML knows: \r alone, NEL, LS and PS are not line breaks for re's ^ and .
_BREAKS = st.sampled_from(["\n", "\r\n", "\r", "\x85", "\u2028", "\u2029"])


@settings(max_examples=300, deadline=None)
@given(
    a=_section,
    b=_section,
    flow=st.sampled_from([True, False, None]),
    width=st.sampled_from([12, 30, 80, 1000]),
    order=st.permutations(["rules", "params", "active", "tags", "deprecation_reason"]),
    active_b=st.booleans(),
    breaks=st.tuples(_BREAKS, _BREAKS),
)
def test_strip_lifecycle_never_hides_a_change(
    a: dict[str, Any],
    b: dict[str, Any],
    flow: bool | None,
    width: int,
    order: list[str],
    active_b: bool,
    breaks: tuple[str, str],
) -> None:
    """Equal stripped texts mean equal content outside the lifecycle fields, whatever the
    layout (flow style, wrapped lines, the line breaks YAML knows besides ``\n``): the audit's
    shortcut agrees with ``check``."""
    from ita_rules.rules.diffing import mutation
    from ita_rules.rules.scan import full_data, strip_lifecycle

    def text(params: dict[str, Any], active: bool) -> str:
        data = {"rules": {"m": 1}, "params": params, "active": active, "tags": ["t", "u"]}
        data["deprecation_reason"] = None if active else "retired"
        doc = {k: data[k] for k in order}
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=flow, width=width)

    old, new = text(a, True).replace("\n", breaks[0]), text(b, active_b).replace("\n", breaks[1])
    sa, sb = strip_lifecycle(old), strip_lifecycle(new)
    da, db = full_data(old.encode(), "x"), full_data(new.encode(), "x")
    if da is not None and db is not None and sa is not None and sa == sb:
        assert mutation(da, db) == []


def test_strip_lifecycle_refuses_lines_that_go_on() -> None:
    from ita_rules.rules.scan import strip_lifecycle
    from tests.conftest import SAMPLE_RULES

    for path in sorted(SAMPLE_RULES.glob("*/*.yaml")):  # the usual layout keeps the fast path
        assert strip_lifecycle(path.read_text()) is not None, path
    assert strip_lifecycle("params: {a: 1,\ntags: [x]}\n") is None
    assert strip_lifecycle("{a: 1,\nactive: true, params: {r: 1}}\n") is None
    assert strip_lifecycle("note: 'it is\nactive: x'\n") is None
    assert strip_lifecycle("note: it's fine\nactive: true\n") == "note: it's fine\n"
    for brk in ("\r", "\x85", "\u2028", "\u2029"):  # a line break only YAML sees
        assert strip_lifecycle(f"tags: []{brk}params: {{r: 1}}\n") is None
    assert strip_lifecycle("tags: []\r\nparams: {r: 1}\r\n") == "params: {r: 1}\r\n"


def test_history_audits_every_folder_rules_dir_named(in_git_repo: Path, cli: Any) -> None:
    """The folders come from the commits: a version changed while ``rules.dir`` named another
    folder is found, and a work tree whose ita.toml points elsewhere hides nothing."""
    ws = in_git_repo
    (ws / "ita.toml").write_text('[rules]\ndir = "registry"\n')
    write(ws / "registry/S1/v1.0.yaml", rule_yaml("S1", "1.0"))
    c1 = commit(ws, "the registry lives in registry/")[:12]
    write(ws / "registry/S1/v1.0.yaml", rule_yaml("S1", "1.0", params={"atr_mult": 1.2}))
    c2 = commit(ws, "mutate S1 1.0 in registry/")[:12]
    (ws / "ita.toml").write_text("")  # back to the default folder, rules/
    put(ws, "S2", "1.0")
    put(ws, "S2", "1.0", params={"atr_mult": 2.0})
    commit(ws, "S2 in rules/")
    put(ws, "S2", "1.0", params={"atr_mult": 3.0})
    c4 = commit(ws, "mutate S2 1.0 in rules/")[:12]
    expected = [
        f"rules/S2/v1.0.yaml: released version changed in commit {c4} (introduced in commit ",
        f"registry/S1/v1.0.yaml: released version changed in commit {c2} (introduced in commit "
        f"{c1}); only active, deprecation_reason and tags may change:",
    ]
    r = history(cli)
    assert r.code == 1
    changed = [line for line in r.out.splitlines() if not line.startswith("    ")]
    assert len(changed) == 2, r.out
    assert changed[0].startswith(expected[0]), r.out
    assert changed[1] == expected[1], r.out
    # the work tree names a folder no commit ever named: the audit is the same
    (ws / "ita.toml").write_text('[rules]\ndir = "nowhere"\n')
    r = history(cli)
    assert r.code == 1
    assert [line for line in r.out.splitlines() if not line.startswith("    ")][-1] == expected[1]
    assert "rules/S2/v1.0.yaml: released version changed" in r.out


def test_parse_log_decodes_like_git_bytes_per_field() -> None:
    """The log is decoded in one pass: paths keep undecodable bytes as surrogates (as a
    per-token ``surrogateescape`` decode gave), header fields get replacement characters."""
    from ita_rules.rules.gitlog import parse_log

    one, two = "1" * 40, "2" * 40
    raw = (
        b"\x01" + b"a" * 40 + b"\0" + b"b" * 40 + b"\0Bad \xff N\xc3\xa9 <x@y>\0"
        b"2025-01-01T00:00:00+00:00\0\n:100644 100644 "
        + one.encode()
        + b" "
        + two.encode()
        + b" M\0rules/X/v\xff1.0.yaml\0:100644 100644 "
        + one.encode()
        + b" "
        + two.encode()
        + b" R100\0rules/a\xe9.yaml\0rules/b\xc3\xa9.yaml\0"
    )
    (c,) = parse_log(raw)
    assert (c.id, c.parents, c.author) == ("a" * 40, ("b" * 40,), "Bad \ufffd N\xe9 <x@y>")
    assert [tuple(e) for e in c.entries] == [
        ("M", one, two, "rules/X/v\udcff1.0.yaml", "rules/X/v\udcff1.0.yaml"),
        ("R", one, two, "rules/a\udce9.yaml", "rules/b\xe9.yaml"),
    ]


def test_a_blob_reader_whose_cat_file_is_gone_closes_quietly(in_git_repo: Path) -> None:
    """Ctrl-C kills git cat-file with the rest of the process group: sending the reader's
    pending requests then meets a dead pipe, which must not raise (it would replace the
    KeyboardInterrupt being handled and exit 1 as if stdout were closed), nor must closing
    it; finish says how the process ended."""
    from ita_rules.core import gitio, gitobjects

    reader = gitobjects.BlobReader(gitio.Git(in_git_repo))
    reader.proc.kill()
    reader.proc.wait()
    for n in range(3):
        reader.request(f"{n:040x}")  # kept: nothing is written yet
    reader.send()  # the write meets the dead pipe
    reader.request(f"{3:040x}")
    reader.close()
    with pytest.raises(gitio.GitError, match=r"^git cat-file failed: killed by SIGKILL$"):
        reader.finish()


def test_a_rule_file_name_that_is_not_utf8_is_a_finding_not_a_crash(
    in_git_repo: Path, cli: Any
) -> None:
    """A folder named in Latin-1 (``B\\xe9_v1``), committed with --no-verify and removed again:
    the index is rebuilt (it used to stop with an internal error writing the name), the name
    is one finding where it was added, shown escaped, and no version is indexed for it."""
    ws = in_git_repo
    put(ws, "S1", "1.0")
    commit(ws, "first")
    folder = os.fsencode(ws / "rules") + b"/B\xe9_v1"
    os.mkdir(folder)
    with open(folder + b"/v1.0.yaml", "wb") as f:
        f.write(rule_yaml("S1", "1.0").encode())
    added = commit(ws, "a Latin-1 folder")[:12]
    r = cli("check", "--base", "HEAD~1")  # git is asked for the name's bytes, as it gave them
    assert r.code == 1 and "internal error" not in r.err, r.err
    assert "rules/B\\xe9_v1/v1.0.yaml:1:11: setup_id: is 'S1' but the folder is" in r.out, r.out
    git(ws, "rm", "-rq", os.fsdecode(folder))
    commit(ws, "removed")
    r = cli("index", "--rebuild", "--json")
    assert r.code == 0, r.err
    assert (json.loads(r.out)["versions"], json.loads(r.out)["findings"]) == (1, 1)
    r = history(cli)
    assert r.code == 1
    assert r.out.splitlines()[0] == (
        f"rules/B\\xe9_v1/v1.0.yaml: the file name, committed in commit {added}, is not UTF-8, "
        "so it names no rule version"
    ), r.out


def test_a_version_row_shows_and_compares_its_columns() -> None:
    from ita_rules.rules.history import ROW_COLUMNS, VersionRow

    values = {name: f"v-{name}" for name in ROW_COLUMNS} | {"active": True}
    row = VersionRow(**values)
    assert repr(row).startswith("VersionRow(file_path='v-file_path', setup_id='v-setup_id'")
    assert row == VersionRow(**values)
    assert row != VersionRow(**(values | {"active": False}))


def _long_history(root: Path) -> dict[str, int]:
    """600 commits (via fast-import): 40 setups of 10 versions, then 200 lifecycle changes
    that deprecate a version and activate it again (so its first blob comes back), one
    released version changed and one deleted: a ``git log`` of several 64 KiB reads. The
    events and findings it must leave, by kind."""
    out = []

    def add(n: int, path: str, text: str | None) -> None:
        change = f"D {path}\n" if text is None else f"M 100644 inline {path}\n"
        if text is not None:
            change += f"data {len(text.encode())}\n{text}\n"
        out.append(
            f"commit refs/heads/main\ncommitter T <t@example.test> {1700000000 + n} +0000\n"
            f"data 1\nx\n{change}"
        )

    n = 0
    for setup in range(40):
        for minor in range(10):
            add(n, f"rules/S{setup}/v1.{minor}.yaml", rule_yaml(f"S{setup}", f"1.{minor}"))
            n += 1
    for k in range(100):
        setup, minor = k % 40, k % 10
        path = f"rules/S{setup}/v1.{minor}.yaml"
        add(n, path, rule_yaml(f"S{setup}", f"1.{minor}", active=False, reason="old"))
        add(n + 1, path, rule_yaml(f"S{setup}", f"1.{minor}"))
        n += 2
    add(n, "rules/S0/v1.0.yaml", rule_yaml("S0", "1.0", params={"atr_mult": 9.0}))
    add(n + 1, "rules/S1/v1.1.yaml", None)
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=root, input="".join(out).encode(), check=True
    )
    git(root, "reset", "-q", "--hard", "main")
    kinds = {"introduced": 400, "deprecated": 100, "activated": 100, "changed": 1, "deleted": 1}
    return kinds


def test_the_index_built_while_git_reads_equals_the_one_built_at_its_end(
    in_git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild replays the commits in steps, as git gives them and their blobs (cat-file's
    answers taken from a memory file while it works); without a memory file (a thread reads
    cat-file's pipe) every commit comes in one step at the end. Both make the same index,
    with every event and finding the history holds, and so does git started by subprocess
    where there is no posix_spawn."""
    import sqlite3
    from contextlib import closing

    from ita_rules.core import gitobjects
    from ita_rules.rules import gitlog
    from ita_rules.rules.index import refresh, source

    kinds = _long_history(in_git_repo)
    head, deleted_at = git(in_git_repo, "log", "-1", "--format=%H %cI").split()
    steps: list[int] = []
    real = gitlog.history_steps

    def counted(*args: Any, **kw: Any) -> Any:
        for found, blobs in real(*args, **kw):
            steps.append(len(found))
            yield found, blobs

    monkeypatch.setattr("ita_rules.rules.index.history_steps", counted)
    src = source(in_git_repo, in_git_repo / "rules")

    def built() -> list[str]:
        stats = refresh(src, rebuild=True)
        assert (stats.commits, stats.versions, stats.findings) == (602, 399, 2)
        with closing(sqlite3.connect(src.db)) as conn:
            counts = dict(conn.execute("SELECT kind, count(*) FROM events GROUP BY kind"))
            assert counts == kinds
            deleted = conn.execute(
                "SELECT file_path, deleted_commit, deleted_at FROM versions "
                "WHERE deleted_commit IS NOT NULL OR deleted_at IS NOT NULL"
            ).fetchall()
            assert deleted == [("rules/S1/v1.1.yaml", head, deleted_at)]
            return list(conn.iterdump())

    # git log pauses after its first 20 KB, so that cat-file's first answers come before
    # the rest of the log however busy the machine is (cat-file may start late: then every
    # commit came in one step)
    real_git = shutil.which("git")
    assert real_git is not None
    wrapper = in_git_repo.parent / "slow-log" / "git"
    write(
        wrapper,
        "#!/bin/bash\nset -o pipefail\n"  # git log's own exit is the wrapper's
        f'if [ "$3" = log ]; then "{real_git}" "$@" | {{ head -c 20000; sleep 2; cat; }}; exit; fi\n'
        f'exec "{real_git}" "$@"\n',
    )
    wrapper.chmod(0o755)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{path}")
    in_steps = built()
    monkeypatch.setenv("PATH", path)
    assert sum(steps) == 602 and len([s for s in steps if s]) > 1, steps
    steps.clear()
    monkeypatch.setattr(gitobjects, "_memory_file", lambda: None)
    at_the_end = built()
    assert [s for s in steps if s] == [602], steps
    assert in_steps == at_the_end
    monkeypatch.delattr(os, "posix_spawn")
    assert built() == in_steps


def test_the_printable_test_agrees_with_the_pattern() -> None:
    """scan's quick test for characters YAML refuses answers as the regular expression does
    for every character of the Basic Multilingual Plane and a few beyond."""
    import re

    from ita_rules.rules import scan

    chars = [chr(c) for c in range(0x10000)] + ["\U0001f600", "\U000e0001", "\U0010ffff"]
    for ch in chars:
        text = f"a: b\n{ch}\n"
        assert scan._not_printable(text) == (re.search(scan._NOT_PRINTABLE, text) is not None), ch


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="ab :,[{?-#'\"\\\n\t", max_size=40))
def test_quoted_scalars_are_removed_as_the_joined_pattern_removes_them(text: str) -> None:
    """lines_close finds the quoted scalars by looking for quotes and trying the pattern of
    that quote there: the same text as one search of both patterns joined."""
    import re

    from ita_rules.rules import scan

    joined = re.compile(f"{scan._SINGLE_QUOTED.pattern}|{scan._DOUBLE_QUOTED.pattern}")
    assert scan._unquoted(text) == joined.sub("", text)

"""The pre-commit hook's fast path (issue #16 goal 1): git run without subprocess, the modules
the hook leaves alone, the git processes a commit's check takes, and the runs with nothing to
check or nothing released yet."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ita_rules.core import gitio
from ita_rules.core.errors import GitError
from tests.conftest import git, write
from tests.test_check import commit, put


@pytest.fixture(autouse=True)
def _no_git_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in tests/test_check.py: no ``GIT_DIR`` of a hook running the suite leaks in."""
    kept = gitio.git_env()
    for var in list(os.environ):
        if var.startswith("GIT_") and var not in kept:
            monkeypatch.delenv(var)


@pytest.fixture
def ws(in_git_repo: Path) -> Path:
    """S1 v1.0 and v1.1 committed."""
    put(in_git_repo, "S1", "1.0")
    put(in_git_repo, "S1", "1.1", params={"atr_mult": 1.5})
    commit(in_git_repo, "first versions")
    return in_git_repo


def run_hook(cwd: Path, *modules: str) -> tuple[str, str, list[str]]:
    """``ita-rules-hook`` in a fresh interpreter: its output, and which of ``modules`` it
    imported."""
    code = (
        "import sys; from ita_rules.hooks import main; rc = main([]); "
        f"print('imported', [m for m in {list(modules)!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    *lines, last = proc.stdout.splitlines()
    return "\n".join(lines), proc.stderr, eval(last.removeprefix("imported "))


def test_a_commit_imports_no_subprocess_json_or_tempfile(ws: Path) -> None:
    """A staged new version is checked with git run by posix_spawn; the writers' tempfile, the
    reporters' json and the schema loader's importlib.resources stay unimported, and so does
    dataclasses (with inspect, ast and dis: the hook's records are NamedTuples and plain
    classes); the new file and its predecessor are read by blockyaml, without PyYAML, ita.toml
    by simpletoml, without tomllib, the hash is CPython's own SHA-256, not hashlib's, and the
    created date is checked without datetime."""
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    git(ws, "add", "-A")
    heavy = ["subprocess", "shutil", "tempfile", "json", "importlib.resources", "selectors"]
    heavy += ["dataclasses", "inspect", "yaml", "tomllib", "datetime"]
    if any(importlib.util.find_spec(m) for m in ("_sha2", "_sha256")):
        heavy.append("hashlib")
    out, err, imported = run_hook(ws, *heavy)
    assert (out, err, imported) == ("", "", [])
    put(ws, "S1", "1.3", params={"atr_mult": 1.9}, bad_hash=True)  # a finding is still found
    git(ws, "add", "-A")
    out, _, _ = run_hook(ws)
    assert out.startswith("rules/S1/v1.3.yaml: params_hash written"), out


def test_a_commit_takes_four_git_processes(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HEAD is read with the top of the work tree; one git cat-file answers every read of
    objects (the ita.toml files, whether the rules folder is released, the changed folder's
    tree, the new file and its predecessor); the index side is what the diff leaves: 4 git
    processes for a new version (7 before, 9 before that)."""
    from ita_rules.hooks import main

    calls: list[str] = []
    real = gitio._start

    def counted(argv: list[str], cwd: Path | str, env: dict[str, str]) -> object:
        calls.append(" ".join(argv[1:3]))
        return real(argv, cwd, env)

    monkeypatch.setattr(gitio, "_start", counted)
    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    git(ws, "add", "-A")
    assert main([]) == 0
    assert calls == ["rev-parse --show-toplevel", "cat-file --batch", "log --raw", "diff --raw"]
    put(ws, "S1", "1.4", params={"atr_mult": 1.9})  # after 1.2, staged, comes 1.3
    git(ws, "add", "-A")
    assert main(["--no-fix"]) == 1
    assert len(calls) == 8


def test_nothing_of_the_rules_staged(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A commit that touches no rule file: the hook passes without a word."""
    from ita_rules.hooks import main

    write(ws / "README.md", "notes\n")
    git(ws, "add", "-A")
    assert main([]) == 0
    assert capsys.readouterr() == ("", "")


def test_first_commit_and_a_released_commit_without_rules(
    in_git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No commit yet (HEAD names nothing), then a released commit that has no rules folder
    (the probe of the folder finds nothing): a first version passes, a 1.1 first does not."""
    from ita_rules.hooks import main

    put(in_git_repo, "S1", "1.0")
    git(in_git_repo, "add", "-A")
    assert main([]) == 0
    git(in_git_repo, "rm", "-q", "--cached", "-r", "rules")
    commit(in_git_repo, "only ita.toml")
    assert main([]) == 0  # rules/ is untracked: nothing staged
    put(in_git_repo, "S2", "1.1")
    git(in_git_repo, "add", "rules/S2")
    assert main([]) == 1
    assert "rules/S2/v1.1.yaml" in capsys.readouterr().out


def test_toplevel_and_head(in_git_repo: Path, tmp_path: Path) -> None:
    """One rev-parse: the top and HEAD's commit; no commit yet: None; outside git: both None."""
    sub = in_git_repo / "rules"
    assert gitio.toplevel_and_head(sub) == (in_git_repo, None)
    put(in_git_repo, "S1", "1.0")
    head = commit(in_git_repo)
    assert gitio.toplevel_and_head(sub) == (in_git_repo, head)
    outside = tmp_path / "outside"
    outside.mkdir()
    assert gitio.toplevel_and_head(outside) == (None, None)


def test_spawned_git_feeds_and_reads_large_batches(in_git_repo: Path) -> None:
    """More input than a pipe holds (3,000 ids) while git answers: the same bytes as
    subprocess.run gives."""
    for n in range(3000):
        write(in_git_repo / "many" / f"f{n}.txt", f"file {n}\n" * (n % 7 + 1))
    git(in_git_repo, "add", "-A")
    ids = [line.split()[1] for line in git(in_git_repo, "ls-files", "-s").splitlines()]
    request = "".join(f"{i}\n" for i in ids).encode()
    assert len(request) > 65536
    ours = gitio.run(["cat-file", "--batch"], in_git_repo, input=request)
    theirs = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=in_git_repo, input=request, capture_output=True
    )
    assert (ours.returncode, ours.stdout, ours.stderr) == (0, theirs.stdout, b"")
    assert len(gitio.Git(in_git_repo).blobs(ids)) == len(set(ids))


def test_spawned_git_errors(in_git_repo: Path, tmp_path: Path) -> None:
    """git's own last line in the error; its exit code unchecked; a folder that does not exist
    raises as subprocess did."""
    with pytest.raises(GitError, match=r"^git rev-parse --verify failed: fatal: "):
        gitio.run(["rev-parse", "--verify", "no-such-ref"], in_git_repo)
    proc = gitio.run(["cat-file", "-e", "HEAD:nothing"], in_git_repo, check=False)
    assert proc.returncode == 128 and proc.stdout == b""
    with pytest.raises(FileNotFoundError):
        gitio.run(["status"], tmp_path / "missing")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_spawned_git_has_default_sigpipe_and_sigxfsz(in_git_repo: Path) -> None:
    """Python ignores SIGPIPE and SIGXFSZ; like subprocess, the spawn gives git (and what it
    runs) the defaults back."""
    import signal

    alias = "alias.sigs=!grep SigIgn /proc/self/status"
    out = gitio.run(["-c", alias, "sigs"], in_git_repo).stdout.decode()
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1)), out
    assert not ignored & (1 << (signal.SIGXFSZ - 1)), out


@pytest.mark.parametrize("spawn", [True, False], ids=["one-process", "no-posix-spawn"])
def test_object_reader_answers_rounds_as_ls_tree_and_cat_file_do(
    in_git_repo: Path, monkeypatch: pytest.MonkeyPatch, spawn: bool
) -> None:
    """One cat-file for several rounds (or, without posix_spawn, one a round): names with
    spaces, missing names, a folder's files as ``git ls-tree`` lists them (not its subfolders),
    a larger answer than a pipe holds; closing twice is harmless."""
    if not spawn:
        monkeypatch.setattr(gitio, "_start", lambda *a: None)
    write(in_git_repo / "my rules" / "a.yaml", "a: 1\n")
    write(in_git_repo / "my rules" / "sub" / "b.yaml", "b: 2\n")
    write(in_git_repo / "my rules" / "big.yaml", "x" * 200_000)
    head = commit(in_git_repo)
    g = gitio.Git(in_git_repo)
    with g.reading() as reader:
        first = g.blobs([f"{head}:my rules/a.yaml", f"{head}:my rules/none missing", "HEAD:x y"])
        assert first == {f"{head}:my rules/a.yaml": b"a: 1\n"}
        files = g.files_in(head, ["my rules", "nothing here"])
        listed = git(in_git_repo, "ls-tree", "-z", head, "--", "my rules/").split("\0")
        expected = {}
        for item in filter(None, listed):
            meta, name = item.split("\t")
            mode, kind, oid = meta.split()
            if kind == "blob":
                expected[name] = (mode, oid)
        assert files == expected and "my rules/sub/b.yaml" not in files
        assert g.blobs([files["my rules/big.yaml"][1]])[files["my rules/big.yaml"][1]] == (
            b"x" * 200_000
        )
        assert g.has_path(head, "my rules/sub") and not g.has_path(head, "my rules/none")
    assert reader.closed
    reader.close()


def test_an_intent_to_add_file_is_no_predecessor(ws: Path) -> None:
    """``git add -N`` puts an empty entry in the index that the commit leaves out: it does not
    make a staged 1.3 follow a 1.2 the commit will not hold (the index side is what the diff
    leaves, as committed)."""
    from ita_rules.rules.check import run_check

    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    git(ws, "add", "-N", "rules/S1/v1.2.yaml")
    put(ws, "S1", "1.3", params={"atr_mult": 1.9})
    git(ws, "add", "rules/S1/v1.3.yaml")
    result = run_check(ws, ws / "rules")
    assert [(f.path, f.message) for f in result.findings] == [
        ("rules/S1/v1.3.yaml", "version 1.3 skips versions: after 1.1 comes 1.2 or 2.0")
    ]


def test_a_failed_reader_does_not_hide_the_error_in_flight(in_git_repo: Path) -> None:
    """A cat-file that dies is a GitError when the reader closes, unless an error is already
    on its way out of the ``with``: that one is raised."""
    import signal

    g = gitio.Git(in_git_repo)
    for in_flight in (False, True):
        expected = ValueError if in_flight else GitError
        with pytest.raises(expected), g.reading() as reader:
            assert reader._process is not None
            os.kill(reader._process[0], signal.SIGKILL)
            if in_flight:
                raise ValueError("the check's own error")
        assert reader.closed


def test_a_reader_whose_git_dies_while_it_is_asked_is_an_error(
    in_git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing a request to a cat-file that died meets a broken pipe: that is a GitError
    naming git, not a BrokenPipeError, which the hooks' handler would take for a closed stdout
    and pass the commit unchecked. (The write is made to fail as it then does: whether a real
    death lands between two writes is up to the kernel.)"""
    import signal

    g = gitio.Git(in_git_repo)
    real_write = os.write

    with pytest.raises(GitError, match=r"^git cat-file --batch failed"), g.reading() as reader:
        assert reader._process is not None
        pid, stdin = reader._process[0], reader._process[1]

        def write(fd: int, data: bytes) -> int:
            if fd != stdin:
                return real_write(fd, data)
            real_write(fd, data)  # the first part of the request: git answers some of it
            os.kill(pid, signal.SIGKILL)  # and dies before the rest is written
            raise BrokenPipeError(32, "Broken pipe")

        monkeypatch.setattr(gitio.os, "write", write)
        g.blobs([f"{n:040x}" for n in range(3000)])


def test_a_released_folder_whose_name_ends_in_a_carriage_return_is_protected(
    in_git_repo: Path,
) -> None:
    """cat-file drops a CR before the newline that ends a name: such a folder is listed with
    ls-tree instead, so deleting its released version is still refused."""
    from ita_rules.rules.check import run_check

    put(in_git_repo, "S1", "1.0")
    write(
        in_git_repo / "rules" / "S3\r" / "v1.0.yaml",
        (in_git_repo / "rules/S1/v1.0.yaml").read_text(),
    )
    commit(in_git_repo, "released")
    git(in_git_repo, "rm", "-q", "rules/S3\r/v1.0.yaml")
    result = run_check(in_git_repo, in_git_repo / "rules")
    assert [(f.path, f.message.split(";")[0]) for f in result.findings] == [
        ("rules/S3\r/v1.0.yaml", "is released (in HEAD) and was deleted")
    ], result.findings


def test_a_second_open_reader_is_refused_not_leaked(in_git_repo: Path) -> None:
    """``reading()`` while a reader is open would leave the first cat-file running with its
    pipes: it is refused; after the first is closed a new one opens."""
    g = gitio.Git(in_git_repo)
    refused = pytest.raises(RuntimeError, match="already has an open object reader")
    with g.reading() as first, refused:
        g.reading()
    assert first.closed
    with g.reading() as second:
        assert not second.closed


def test_the_collector_is_paused_and_the_objects_frozen_only_for_the_process(ws: Path) -> None:
    """Called as the console script does (no argv: the process ends with the code), the hook
    freezes the objects it leaves (the exit's collection skips them); called with argv, as a
    test or a library does, it leaves the collector as it found it and freezes nothing."""
    import gc

    from ita_rules.hooks import main

    put(ws, "S1", "1.2", params={"atr_mult": 1.8})
    git(ws, "add", "-A")
    frozen = gc.get_freeze_count()
    assert main([]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    code = (
        "import gc; from ita_rules.hooks import main; rc = main(); "
        "print(rc, gc.isenabled(), gc.get_freeze_count() > 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ws, capture_output=True, text=True)
    assert proc.stdout.split() == ["0", "True", "True"], proc.stderr


@pytest.mark.parametrize(
    "layout", ["folder", "file", "missing", "nested", "nested missing", "gitlink here", "gitlink"]
)
def test_whether_the_rules_folder_is_released_is_read_from_its_parent(
    tmp_path: Path, layout: str
) -> None:
    """released_folders looks the configured folder up in the listing of the folder above it
    (one small tree, not the rules folder's own listing of every setup) and says what
    ``git cat-file -e`` says: a folder or a file is there, a missing one is not, and a
    submodule's commit (which may or may not be in the repository) is asked of git."""
    from ita_rules.rules.folders import released_folders

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    prefix = "ws" if layout.startswith("nested") else ""
    top = repo / prefix if prefix else repo
    write(top / "ita.toml", "")
    write(repo / "README.md", "x\n")
    if layout in ("folder", "nested"):
        write(top / "rules" / "S1" / "v1.0.yaml", "x: 1\n")
    elif layout == "file":
        write(top / "rules", "not a folder\n")
    git(repo, "add", "-A")
    if layout.startswith("gitlink"):
        oid = (
            git(repo, "hash-object", "-w", "README.md")  # an object that is here
            if layout == "gitlink here"
            else "1" * 40  # a commit that is not
        )
        git(repo, "update-index", "--add", "--cacheinfo", f"160000,{oid},rules")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    released = git(repo, "rev-parse", "HEAD")
    likely = f"{prefix}/rules" if prefix else "rules"
    g = gitio.Git(repo)
    with g.reading():
        side = released_folders(g, prefix, released, "HEAD", "", likely=likely)
    expected = g.has_path(released, likely)
    assert expected == (layout in ("folder", "file", "nested", "gitlink here"))
    assert side.holds_versions is expected

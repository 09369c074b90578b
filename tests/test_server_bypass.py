"""The server hook and CI cannot be walked around (issue #17, part 1).

Every test pushes to a real bare repository with ``hooks/pre-receive`` installed, once with the
bare repository's HEAD naming ``main`` (the branch the team pushes) and once naming ``master``
(what a plain ``git init --bare`` does when ``init.defaultBranch`` is unset), and asserts what
the pusher sees and what the server's refs hold afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, git
from tests.test_check import (
    _no_git_env,  # noqa: F401 (an autouse fixture)
    commit,
    put,
    rule_yaml,
)

BIN = Path(sys.executable).parent
REFUSED = "ita-rules: push to {ref} refused: released rule versions are immutable"
MUTATED_V10 = (
    "remote: rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in {label}): only active, "
    "deprecation_reason and tags may change"
)


@dataclass
class Server:
    bare: Path
    client: Path
    head: str  # the branch the bare repository's HEAD names

    def push(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "push", *args], cwd=self.client, capture_output=True, text=True, env=env
        )

    def ref(self, name: str) -> str:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", name],
            cwd=self.bare,
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip()

    def without_hook(self) -> Path:
        """Remove the hook (a history from before it was installed); returns its path."""
        hook = self.bare / "hooks" / "pre-receive"
        hook.unlink()
        return hook

    def install_hook(self) -> None:
        hook = self.bare / "hooks" / "pre-receive"
        shutil.copy(REPO / "hooks" / "pre-receive", hook)
        hook.chmod(0o755)


def _bare_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: str, branch: str = "main"
) -> Server:
    """A bare repository whose HEAD names ``head``, the hook installed, and a clone of it
    whose HEAD names ``branch``; nothing committed yet."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    bare = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(bare, "symbolic-ref", "HEAD", f"refs/heads/{head}")
    s = Server(bare, tmp_path / "client", head)
    s.install_hook()
    git(tmp_path, "clone", "-q", str(bare), str(s.client))
    git(s.client, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
    return s


@pytest.fixture(params=["main", "master"], ids=["HEAD-main", "HEAD-master"])
def server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Server:
    """A bare repository whose HEAD names ``main`` or ``master``, the hook installed, and a
    client that pushed ``main`` with S1 1.0 and 1.1."""
    s = _bare_server(tmp_path, monkeypatch, request.param)
    (s.client / "ita.toml").write_text("")
    put(s.client, "S1", "1.0")
    put(s.client, "S1", "1.1", params={"atr_mult": 1.5})
    commit(s.client, "first versions")
    first = s.push("origin", "main")
    assert first.returncode == 0, first.stderr
    return s


def mutate_v10(client: Path) -> str:
    put(client, "S1", "1.0", params={"atr_mult": 1.2})
    return commit(client, "edit a released version")


# --- rules.dir is read from the protected side --------------------------------------------------


def test_moving_rules_dir_in_the_same_push_is_refused(server: Server) -> None:
    before = server.ref("main")
    (server.client / "ita.toml").write_text('[rules]\ndir = "elsewhere"\n')
    mutate_v10(server.client)
    r = server.push("origin", "main")
    assert r.returncode != 0
    assert "remote: " + REFUSED.format(ref="refs/heads/main") in r.stderr
    assert (
        'remote: ita.toml: rules.dir: is "elsewhere" in this push but "rules" in refs/heads/main; '
        "the rules folder cannot be moved (the versions released in it would go "
        "unchecked)" in r.stderr
    )
    label = "refs/heads/main before this push"
    assert MUTATED_V10.format(label=label) in r.stderr
    assert server.ref("main") == before


def test_rules_dir_moved_by_an_earlier_push_still_protects_the_old_folder(server: Server) -> None:
    """A history from before the hook moved ``rules.dir``: the folder that held released
    versions stays protected, and moving it back is not needed to be safe."""
    server.without_hook()
    (server.client / "ita.toml").write_text('[rules]\ndir = "elsewhere"\n')
    commit(server.client, "point the registry elsewhere")
    assert server.push("origin", "main").returncode == 0
    server.install_hook()
    before = server.ref("main")
    mutate_v10(server.client)
    r = server.push("origin", "main")
    assert r.returncode != 0
    assert MUTATED_V10.format(label="refs/heads/main before this push") in r.stderr
    assert server.ref("main") == before


def test_ci_reads_rules_dir_from_the_base(server: Server) -> None:
    """``ita-rules check --base origin/main`` in CI: the head's ita.toml does not pick the
    folder to check."""
    (server.client / "ita.toml").write_text('[rules]\ndir = "elsewhere"\n')
    mutate_v10(server.client)
    r = subprocess.run(
        [str(BIN / "ita-rules"), "check", "--base", "origin/main"],
        cwd=server.client,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert (
        'ita.toml: rules.dir: is "elsewhere" in HEAD but "rules" in origin/main; the rules '
        "folder cannot be moved (the versions released in it would go unchecked)" in r.stdout
    )
    assert (
        "rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in origin/main): only active, "
        "deprecation_reason and tags may change" in r.stdout
    )
    assert "changed file(s) checked against origin/main, 2 problem(s)" in r.stderr


# --- git replace ------------------------------------------------------------------------------


def _replace_main_with_mutation(server: Server) -> tuple[str, str]:
    """On the client: a commit M mutating v1.0 on top of main and ``refs/replace/<main>``
    pointing at a copy of main's tip with M's tree. Returns (main's tip, M)."""
    tip = git(server.client, "rev-parse", "HEAD")
    mutated = mutate_v10(server.client)
    fake = git(server.client, "commit-tree", f"{mutated}^{{tree}}", "-m", "first versions")
    git(server.client, "replace", tip, fake)
    return tip, mutated


def test_pushing_a_replace_ref_is_refused(server: Server) -> None:
    tip, _ = _replace_main_with_mutation(server)
    r = server.push("origin", f"refs/replace/{tip}")
    assert r.returncode != 0
    assert (
        f"remote: ita-rules: push refused: refs/replace/{tip}: replace refs change what every "
        "reader of the repository sees; they are refused here" in r.stderr
    )
    assert server.ref(f"refs/replace/{tip}") == ""


def test_replace_ref_already_on_the_server_does_not_hide_a_mutation(server: Server) -> None:
    tip, _ = _replace_main_with_mutation(server)
    server.without_hook()
    assert server.push("origin", f"refs/replace/{tip}").returncode == 0
    server.install_hook()
    r = server.push("origin", "main")
    assert r.returncode != 0
    assert MUTATED_V10.format(label="refs/heads/main before this push") in r.stderr
    assert server.ref("main") == tip
    r = server.push("origin", "--delete", f"refs/replace/{tip}")  # removing one is welcome
    assert r.returncode == 0, r.stderr
    assert server.ref(f"refs/replace/{tip}") == ""


# --- every ref, whatever HEAD names -----------------------------------------------------------


def test_new_branch_with_a_mutation_is_refused(server: Server) -> None:
    git(server.client, "checkout", "-q", "-b", "sneaky")
    mutate_v10(server.client)
    r = server.push("origin", "sneaky")
    assert r.returncode != 0
    assert "remote: " + REFUSED.format(ref="refs/heads/sneaky") in r.stderr
    assert MUTATED_V10.format(label="refs/heads/main") in r.stderr
    assert server.ref("sneaky") == ""


def test_a_tag_on_a_mutation_is_refused(server: Server) -> None:
    git(server.client, "checkout", "-q", "-b", "sneaky")
    mutate_v10(server.client)
    git(server.client, "tag", "-a", "-m", "release", "v9")
    r = server.push("origin", "v9")
    assert r.returncode != 0
    assert "remote: " + REFUSED.format(ref="refs/tags/v9") in r.stderr
    assert MUTATED_V10.format(label="refs/heads/main") in r.stderr
    assert server.ref("refs/tags/v9") == ""


def test_orphan_branch_with_a_changed_copy_is_refused(server: Server) -> None:
    git(server.client, "checkout", "-q", "--orphan", "orphan")
    git(server.client, "rm", "-rq", "--cached", ".")
    for path in ("rules/S1/v1.1.yaml",):
        (server.client / path).unlink()
    mutate_v10(server.client)
    r = server.push("origin", "orphan")
    assert r.returncode != 0
    assert MUTATED_V10.format(label="refs/heads/main") in r.stderr
    assert "v1.1.yaml" not in r.stderr  # an orphan deletes nothing: it never had it
    assert server.ref("orphan") == ""


def test_orphan_branch_without_rules_is_accepted(server: Server) -> None:
    git(server.client, "checkout", "-q", "--orphan", "gh-pages")
    git(server.client, "rm", "-rqf", ".")
    (server.client / "index.html").write_text("<p>docs</p>\n")
    pages = commit(server.client, "pages")
    r = server.push("origin", "gh-pages")
    assert r.returncode == 0, r.stderr
    assert server.ref("gh-pages") == pages


def test_deleting_main_and_recreating_it_from_a_mutation_is_refused(server: Server) -> None:
    tip = server.ref("main")
    git(server.bare, "config", "receive.denyDeleteCurrent", "ignore")
    r = server.push("origin", "--delete", "main")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: push refused: refs/heads/main is protected; deleting it would "
        "delete released versions" in r.stderr
    )
    assert server.ref("main") == tip
    mutated = mutate_v10(server.client)
    r = server.push("origin", f"+{mutated}:refs/heads/master")
    assert "remote: " + REFUSED.format(ref="refs/heads/master") in r.stderr
    assert r.returncode != 0
    assert server.ref("master") == ""


def test_rewinding_a_protected_branch_is_refused(server: Server) -> None:
    put(server.client, "S1", "1.2", params={"atr_mult": 1.8})
    head = commit(server.client, "1.2")
    assert server.push("origin", "main").returncode == 0
    r = server.push("--force", "origin", "main~1:main")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: push refused: refs/heads/main is protected; a push that drops "
        "commits from it (a rewind or a force-push) is refused" in r.stderr
    )
    assert server.ref("main") == head


def test_deleting_a_tag_is_refused(server: Server) -> None:
    git(server.client, "tag", "v1")
    assert server.push("origin", "v1").returncode == 0
    r = server.push("origin", "--delete", "v1")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: push refused: refs/tags/v1 is protected; deleting it would "
        "delete released versions" in r.stderr
    )


def test_feature_branch_versions_stay_editable_until_merged(server: Server) -> None:
    git(server.client, "checkout", "-q", "-b", "feature")
    put(server.client, "S1", "1.2", params={"atr_mult": 1.8})
    commit(server.client, "1.2 for review")
    assert server.push("origin", "feature").returncode == 0
    put(server.client, "S1", "1.2", params={"atr_mult": 1.9})
    git(server.client, "add", "-A")
    git(server.client, "commit", "-q", "--amend", "-m", "1.2 after review")
    r = server.push("--force", "origin", "feature")
    assert r.returncode == 0, r.stderr
    git(server.client, "checkout", "-q", "main")
    git(server.client, "merge", "-q", "--ff-only", "feature")
    assert server.push("origin", "main").returncode == 0
    git(server.client, "checkout", "-q", "feature")
    put(server.client, "S1", "1.2", params={"atr_mult": 2.5})
    commit(server.client, "edit after the merge")
    r = server.push("origin", "feature")
    assert r.returncode != 0
    assert (
        "remote: rules/S1/v1.2.yaml:10:13: params.atr_mult: is released (in refs/heads/main)"
        in r.stderr
    )


def test_a_merge_bringing_a_second_content_of_a_version_is_refused(server: Server) -> None:
    """Two branches each make S1 1.2; main merges ``a``, then ``b`` keeping its own 1.2 (its
    tree does not change). ``b``'s 1.2 would be in main's history too: refused, naming the
    merge and the way out; renumbering ``b``'s version (the branch made again from main)
    is accepted (walk2 F1)."""
    s = server
    git(s.client, "checkout", "-q", "-b", "b")
    put(s.client, "S1", "1.2", params={"atr_mult": 1.9})
    b = commit(s.client, "1.2 on b")
    assert s.push("origin", "b").returncode == 0  # feature-only versions stay editable
    git(s.client, "checkout", "-q", "main")
    put(s.client, "S1", "1.2", params={"atr_mult": 1.8})
    a = commit(s.client, "1.2 on main")
    assert s.push("origin", "main").returncode == 0
    subprocess.run(["git", "merge", "-q", "b"], cwd=s.client, capture_output=True)  # conflicts
    git(s.client, "checkout", "--ours", "rules/S1/v1.2.yaml")
    merge = commit(s.client, "merge b, keeping main's 1.2")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        f"remote: rules/S1/v1.2.yaml:10:13: version 1.2 was made twice: commit {b[:12]} (on a merged "
        f"branch) made it with other content than commit {a[:12]}, and merge commit "
        f"{merge[:12]} joined them; a released version has one content: undo the merge, "
        "renumber the branch's version (rebase the branch on the released one, `ita-rules "
        "new-version S1`) and merge again:" in r.stderr
    )
    assert s.ref("main") == a
    git(s.client, "reset", "-q", "--hard", "HEAD~1")
    git(s.client, "checkout", "-q", "-B", "b", "main")
    put(s.client, "S1", "1.3", params={"atr_mult": 1.9})
    commit(s.client, "b's idea as 1.3")
    git(s.client, "checkout", "-q", "main")
    git(s.client, "merge", "-q", "--no-ff", "--no-edit", "b")
    r = s.push("origin", "main")
    assert r.returncode == 0, r.stderr


def test_protected_refs_patterns(server: Server) -> None:
    (server.client / "ita.toml").write_text('[rules]\nprotected_refs = ["refs/heads/release/*"]\n')
    commit(server.client, "protect release branches")
    assert server.push("origin", "main").returncode == 0
    git(server.client, "checkout", "-q", "-b", "release/1")
    put(server.client, "S1", "1.2", params={"atr_mult": 1.8})
    commit(server.client, "1.2 on the release branch")
    assert server.push("origin", "release/1").returncode == 0
    put(server.client, "S1", "1.2", params={"atr_mult": 1.9})
    git(server.client, "add", "-A")
    git(server.client, "commit", "-q", "--amend", "-m", "1.2 changed")
    r = server.push("--force", "origin", "release/1")
    assert r.returncode != 0
    assert (
        "remote: rules/S1/v1.2.yaml:10:13: params.atr_mult: is released (in refs/heads/release/1 "
        "before this push)" in r.stderr
    )
    r = server.push("origin", "--delete", "release/1")
    assert r.returncode != 0
    assert "refs/heads/release/1 is protected; deleting it" in r.stderr
    # dropping the pattern in a push is refused too: the protection is read from main
    git(server.client, "checkout", "-q", "main")
    (server.client / "ita.toml").write_text("")
    commit(server.client, "unprotect")
    r = server.push("origin", "main")
    assert r.returncode != 0
    assert (
        'remote: ita.toml: rules.protected_refs: drops "refs/heads/release/*", protected in '
        "refs/heads/main; a push cannot remove a protection" in r.stderr
    )


def test_clean_pushes_pass(server: Server) -> None:
    put(server.client, "S1", "1.2", params={"atr_mult": 1.8})
    (server.client / "rules/S1/v1.0.yaml").write_text(
        rule_yaml("S1", "1.0", active=False, reason="superseded by 1.1")
    )
    head = commit(server.client, "new version, deprecate the first")
    git(server.client, "tag", "-a", "-m", "release", "v2")
    r = server.push("origin", "main", "v2")
    assert r.returncode == 0, r.stderr
    assert server.ref("main") == head


@pytest.fixture(params=["main", "master"], ids=["HEAD-main", "HEAD-master"])
def new_server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Server:
    """A bare repository with the hook and a ``main`` that holds no rules yet."""
    s = _bare_server(tmp_path, monkeypatch, request.param)
    (s.client / "README.md").write_text("rules of the desk\n")
    commit(s.client, "start")
    assert s.push("origin", "main").returncode == 0
    return s


def test_rules_dir_may_be_chosen_while_nothing_is_released(new_server: Server) -> None:
    """Before any version is released the folder may be set; from then on it is fixed, and
    the server reads it from main, not from the push."""
    s = new_server
    (s.client / "ita.toml").write_text('[rules]\ndir = "registry"\n')
    s.client.joinpath("registry/S1").mkdir(parents=True)
    (s.client / "registry/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0"))
    first = commit(s.client, "the registry lives in registry/")
    r = s.push("origin", "main")
    assert r.returncode == 0, r.stderr
    (s.client / "ita.toml").write_text("")
    (s.client / "registry/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0", params={"atr_mult": 2}))
    commit(s.client, "back to the default folder, and an edit")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        'remote: ita.toml: rules.dir: is "rules" in this push but "registry" in refs/heads/main'
        in r.stderr
    )
    assert (
        "remote: registry/S1/v1.0.yaml:10:13: params.atr_mult: is released (in refs/heads/main "
        "before this push)" in r.stderr
    )
    assert s.ref("main") == first


def test_an_ita_toml_that_does_not_load_is_refused(server: Server) -> None:
    (server.client / "ita.toml").write_text('[rules]\ndirr = "elsewhere"\n')
    mutate_v10(server.client)
    r = server.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: ita.toml: does not load in this push: rules.dirr: unknown key (known keys: dir, "
        "protected_ref, protected_refs)" in r.stderr
    )
    assert MUTATED_V10.format(label="refs/heads/main before this push") in r.stderr
    # one already on the protected side (from before the hook): nothing can be evaluated, so
    # every push is refused until it is fixed on the server
    server.without_hook()
    assert server.push("origin", "main").returncode == 0
    server.install_hook()
    git(server.client, "checkout", "-q", "-b", "feature")
    commit(server.client, "anything")
    r = server.push("origin", "feature")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: refs/heads/main:ita.toml: rules.dirr: unknown key (known keys: dir, "
        "protected_ref, protected_refs)" in r.stderr
    )


@pytest.mark.parametrize("head", ["main", "master"])
def test_first_push_with_an_ita_toml_that_does_not_load_is_refused(
    head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It would become the protected side's configuration, and no push could be checked."""
    s = _bare_server(tmp_path, monkeypatch, head)
    (s.client / "ita.toml").write_text("[rules]\ndir = 5\n")
    put(s.client, "S1", "1.0")
    commit(s.client, "first")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: ita.toml: does not load in this push: rules.dir: expected a string, got int 5"
        in r.stderr
    )
    assert s.ref("main") == ""


# --- the protection is read whatever the layout and the server's HEAD ------------------------


def _check_base(client: Path, base: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ita-rules", "check", "--base", base], cwd=client, capture_output=True, text=True
    )


def test_rules_dir_written_as_dot_slash_is_protected(new_server: Server) -> None:
    """``dir = "./setups"`` names the same folder as ``setups``: the server and
    ``check --base`` check it."""
    s = new_server
    (s.client / "ita.toml").write_text('[rules]\ndir = "./setups"\n')
    s.client.joinpath("setups/S1").mkdir(parents=True)
    (s.client / "setups/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0"))
    commit(s.client, "v1")
    assert s.push("origin", "main").returncode == 0
    before = s.ref("main")
    (s.client / "setups/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0", params={"atr_mult": 2}))
    commit(s.client, "mutate")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: setups/S1/v1.0.yaml:10:13: params.atr_mult: is released (in refs/heads/main "
        "before this push)" in r.stderr
    )
    assert s.ref("main") == before
    c = _check_base(s.client, "HEAD~1")
    assert c.returncode == 1, c.stdout + c.stderr
    assert "setups/S1/v1.0.yaml:10:13: params.atr_mult: is released (in HEAD~1)" in c.stdout


def test_a_workspace_in_a_subfolder_is_protected(new_server: Server) -> None:
    """``ita-rules init desk`` inside a repository: no ita.toml at the root, the one in
    ``desk/`` sets the rules folder ``desk/rules``."""
    s = new_server
    s.client.joinpath("desk/rules/S1").mkdir(parents=True)
    (s.client / "desk/ita.toml").write_text("")
    (s.client / "desk/rules/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0"))
    commit(s.client, "v1")
    assert s.push("origin", "main").returncode == 0
    before = s.ref("main")
    (s.client / "desk/rules/S1/v1.0.yaml").write_text(
        rule_yaml("S1", "1.0", params={"atr_mult": 2})
    )
    commit(s.client, "mutate")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: desk/rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in refs/heads/main "
        "before this push)" in r.stderr
    )
    assert s.ref("main") == before
    # its ita.toml may not move the folder either
    (s.client / "desk/ita.toml").write_text('[rules]\ndir = "elsewhere"\n')
    commit(s.client, "move")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert 'remote: desk/ita.toml: rules.dir: is "elsewhere" in this push but "rules"' in r.stderr


# --- a push cannot switch protection off for the next one (walk2 F3) -------------------------

DESK_V10 = "desk/rules/S1/v1.0.yaml"
DESK_MUTATED = (
    "remote: desk/rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in refs/heads/main "
    "before this push): only active, deprecation_reason and tags may change"
)


def _desk_server(new_server: Server) -> Server:
    """``ita-rules init desk`` inside the repository: ``desk/ita.toml`` and S1 1.0 in
    ``desk/rules``, pushed (released)."""
    s = new_server
    s.client.joinpath("desk/rules/S1").mkdir(parents=True)
    (s.client / "desk/ita.toml").write_text("")
    (s.client / DESK_V10).write_text(rule_yaml("S1", "1.0"))
    commit(s.client, "v1 in desk")
    assert s.push("origin", "main").returncode == 0
    return s


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(("", ""), id="empty-root-ita.toml"),
        pytest.param(("", '[rules]\ndir = "other"\n'), id="root-ita.toml-other-dir"),
        pytest.param(("rename", ""), id="desk-ita.toml-renamed"),
        pytest.param(("delete", ""), id="desk-ita.toml-deleted"),
    ],
)
def test_a_workspace_the_protected_ref_had_stays_protected(
    new_server: Server, layout: tuple[str, str]
) -> None:
    """A push that adds a root ``ita.toml`` (which alone makes the root the only workspace of
    a commit), or deletes or renames ``desk/ita.toml``, is accepted (it releases nothing), but
    ``desk/rules`` stays protected: the next push that changes or deletes the released file
    is refused, naming it."""
    s = _desk_server(new_server)
    how, root_toml = layout
    if how == "rename":
        git(s.client, "mv", "desk/ita.toml", "desk/ita.toml.bak")
    elif how == "delete":
        git(s.client, "rm", "-q", "desk/ita.toml")
    else:
        (s.client / "ita.toml").write_text(root_toml)
    commit(s.client, "the workspaces change")
    r = s.push("origin", "main")
    assert r.returncode == 0, r.stderr
    before = s.ref("main")
    (s.client / DESK_V10).write_text(rule_yaml("S1", "1.0", params={"atr_mult": 2}))
    commit(s.client, "mutate")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert "remote: " + REFUSED.format(ref="refs/heads/main") in r.stderr
    assert DESK_MUTATED in r.stderr
    assert s.ref("main") == before
    git(s.client, "reset", "-q", "--hard", "HEAD~1")
    git(s.client, "rm", "-q", DESK_V10)
    commit(s.client, "delete the released version")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: desk/rules/S1/v1.0.yaml: is released (in refs/heads/main before this push) "
        "and was deleted; a released version is never deleted" in r.stderr
    )
    assert s.ref("main") == before


def test_a_workspace_only_a_tag_had_stays_protected(new_server: Server) -> None:
    """Protection is the union of every protected ref's workspaces: the tag ``v1`` names a
    commit whose workspace is ``desk/``; main, pushed before the hook was installed, has only
    the root's (``desk/ita.toml`` gone, a root one with versions in ``rules/``). A new branch
    from the tag that adds a root ``ita.toml`` and changes the tag's released file is
    refused."""
    s = _desk_server(new_server)
    git(s.client, "tag", "v1")
    assert s.push("origin", "v1").returncode == 0
    s.without_hook()  # a history from before this hook knew better
    git(s.client, "checkout", "-q", "--orphan", "fresh")
    git(s.client, "rm", "-q", "-r", "--cached", ".")
    shutil.rmtree(s.client / "desk")
    (s.client / "ita.toml").write_text("")
    put(s.client, "S2", "1.0")
    commit(s.client, "the root is the workspace")
    assert s.push("--force", "origin", "fresh:main").returncode == 0
    s.install_hook()
    git(s.client, "checkout", "-q", "-b", "feature", "v1")
    (s.client / "ita.toml").write_text("")
    (s.client / DESK_V10).write_text(rule_yaml("S1", "1.0", params={"atr_mult": 2}))
    commit(s.client, "mutate")
    r = s.push("origin", "feature")
    assert r.returncode != 0
    assert (
        "remote: desk/rules/S1/v1.0.yaml:10:13: params.atr_mult: is released (in refs/tags/v1)"
        in r.stderr
    )
    assert s.ref("feature") == ""


def test_a_new_workspace_that_does_not_load_is_refused(new_server: Server) -> None:
    """A push that adds a workspace (no ``ita.toml`` at the root: each one in the tree is
    one) whose ``ita.toml`` does not load is refused: on the protected side it would make
    every later push refused."""
    s = _desk_server(new_server)
    before = s.ref("main")
    s.client.joinpath("tools").mkdir()
    (s.client / "tools/ita.toml").write_text("[rules]\ndir = 5\n")
    commit(s.client, "a second workspace")
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: tools/ita.toml: does not load in this push: rules.dir: expected a string, "
        "got int 5" in r.stderr
    )
    assert s.ref("main") == before


def test_a_fixture_ita_toml_under_a_root_workspace_is_no_workspace(new_server: Server) -> None:
    """With an ``ita.toml`` at the root in every commit, one in a subfolder (a test fixture,
    say) never made a workspace: its rule files are not protected, and one that does not load
    refuses nothing."""
    s = new_server
    (s.client / "ita.toml").write_text("")
    put(s.client, "S1", "1.0")
    s.client.joinpath("tests/case/rules/S1").mkdir(parents=True)
    (s.client / "tests/case/ita.toml").write_text("[rules]\ndir = 5\n")
    (s.client / "tests/case/rules/S1/v1.0.yaml").write_text(rule_yaml("S1", "1.0"))
    commit(s.client, "v1 and a fixture")
    assert s.push("origin", "main").returncode == 0
    (s.client / "tests/case/rules/S1/v1.0.yaml").write_text("not: a rule\n")
    commit(s.client, "the fixture changes")
    r = s.push("origin", "main")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("head", ["main", "master"])
def test_protected_refs_read_when_head_names_a_missing_branch(
    head: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The team pushes ``trunk`` (protected by pattern); the server's HEAD names a branch
    that does not exist. Mutating trunk or rewinding it is refused."""
    s = _bare_server(tmp_path, monkeypatch, head, "trunk")
    (s.client / "ita.toml").write_text('[rules]\nprotected_refs = ["trunk"]\n')
    put(s.client, "S1", "1.0")
    commit(s.client, "v1")
    assert s.push("origin", "trunk").returncode == 0
    put(s.client, "S1", "1.1", params={"atr_mult": 1.5})
    commit(s.client, "v1.1")
    assert s.push("origin", "trunk").returncode == 0
    before = s.ref("trunk")
    mutate_v10(s.client)
    r = s.push("origin", "trunk")
    assert r.returncode != 0
    assert "remote: " + REFUSED.format(ref="refs/heads/trunk") in r.stderr
    assert MUTATED_V10.format(label="refs/heads/trunk before this push") in r.stderr
    git(s.client, "reset", "-q", "--hard", "HEAD~2")
    r = s.push("--force", "origin", "trunk")
    assert r.returncode != 0
    assert (
        "refs/heads/trunk is protected; a push that drops commits from it (a rewind or a "
        "force-push) is refused" in r.stderr
    )
    assert s.ref("trunk") == before


def test_full_ref_patterns_outside_heads_and_tags_protect_versions(server: Server) -> None:
    (server.client / "ita.toml").write_text('[rules]\nprotected_refs = ["refs/releases/*"]\n')
    commit(server.client, "protect release refs")
    assert server.push("origin", "main").returncode == 0
    git(server.client, "checkout", "-q", "-b", "r1")
    put(server.client, "S1", "1.2", params={"atr_mult": 1.8})
    commit(server.client, "1.2 on the release ref")
    assert server.push("origin", "r1:refs/releases/r1").returncode == 0
    before = server.ref("refs/releases/r1")
    put(server.client, "S1", "1.2", params={"atr_mult": 1.9})
    commit(server.client, "1.2 changed")
    r = server.push("origin", "r1:refs/releases/r1")
    assert r.returncode != 0
    assert "remote: " + REFUSED.format(ref="refs/releases/r1") in r.stderr
    assert (
        "remote: rules/S1/v1.2.yaml:10:13: params.atr_mult: is released (in refs/releases/r1 "
        "before this push)" in r.stderr
    )
    assert server.ref("refs/releases/r1") == before


def test_a_nested_ita_toml_does_not_unprotect_the_root_rules(new_server: Server) -> None:
    """No ``ita.toml`` at the root (the defaults: ``rules/``): a later push that adds one in a
    subfolder adds a workspace; the root's versions stay protected."""
    s = new_server
    put(s.client, "S1", "1.0")
    commit(s.client, "v1 with the defaults")
    assert s.push("origin", "main").returncode == 0
    s.client.joinpath("tools").mkdir()
    (s.client / "tools/ita.toml").write_text("")
    commit(s.client, "a workspace in tools/")
    assert s.push("origin", "main").returncode == 0
    before = s.ref("main")
    mutate_v10(s.client)
    r = s.push("origin", "main")
    assert r.returncode != 0
    assert MUTATED_V10.format(label="refs/heads/main before this push") in r.stderr
    assert s.ref("main") == before


def test_an_ita_toml_that_does_not_load_on_any_ref_refuses_every_push(server: Server) -> None:
    """Its patterns could protect refs (its own among them): what is protected cannot be
    told, so nothing is accepted until it is fixed on the server."""
    server.without_hook()
    git(server.client, "checkout", "-q", "-b", "old")
    (server.client / "ita.toml").write_text('[rules]\nprotected_refs = "old"\n')
    commit(server.client, "from before the hook")
    assert server.push("origin", "old").returncode == 0
    server.install_hook()
    git(server.client, "checkout", "-q", "main")
    before = server.ref("main")
    put(server.client, "S1", "1.2", params={"atr_mult": 1.8})
    commit(server.client, "a clean new version")
    r = server.push("origin", "main")
    assert r.returncode != 0
    assert (
        "remote: ita-rules: refs/heads/old:ita.toml: rules.protected_refs: expected an array, "
        "got str 'old'" in r.stderr
    )
    assert server.ref("main") == before

"""ita.toml is parsed strictly; environment variables override it; init creates a workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ita_rules.core.config import load_settings, redact_url
from ita_rules.core.errors import ConfigError
from tests.conftest import git, snapshot


def _settings(root: Path, text: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    (root / "ita.toml").write_text(text)
    return load_settings(root, env or {})


def test_defaults(tmp_path: Path) -> None:
    s = _settings(tmp_path, "")
    assert s.store_root == tmp_path / "exchange"
    assert s.database_url == "sqlite:///.ita/ita.sqlite"
    assert s.rules_dir == tmp_path / "rules"
    assert s.protected_ref == ""
    assert s.protected_refs == ()
    assert s.folder_for("candles") == "archive/raw" and s.folder_for("screenshot") == "to_vision"
    assert s.folder_for("weird") == "archive/weird"
    assert s.telegram_token_env == "ITA_TELEGRAM_TOKEN"


def test_values_absolute_paths_and_env_override(tmp_path: Path) -> None:
    root = "D:/ITA/ITA_1.0/exchange" if os.name == "nt" else "/srv/ita/exchange"
    s = _settings(
        tmp_path,
        f'[store]\nroot = "{root}"\n[rules]\nprotected_ref = "origin/main"\n'
        '[store.folders]\nscreenshot = "pngs/raw"\n',
        {"ITA_DATABASE_URL": "postgresql://u:secret@db/ita"},
    )
    assert s.store_root == Path(root)
    assert s.protected_ref == "origin/main"
    assert s.folder_for("screenshot") == "pngs/raw"
    assert s.database_url == "postgresql://u:secret@db/ita"
    assert redact_url(s.database_url) == "postgresql://u:***@db/ita"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[store]\ndatabse = "x"\n',
            "store.databse: unknown key (known keys: database, folders, root)",
        ),
        (
            '[stor]\nroot = "x"\n',
            "stor: unknown section or key (known: lineage, notify, remote, retention, rules, runs, store, vectors)",
        ),
        ("[store]\nroot = 5\n", "store.root: expected a string, got int 5"),
        (
            "[rules]\nprotected_ref = true\n",
            "rules.protected_ref: expected a string, got bool True",
        ),
        ('store = "x"\n', "store: expected a table [store]"),
        (
            '[notify.telegram]\ntoken = "123:abc"\n',
            "notify.telegram.token: unknown key (known keys: base_url, chat_id, token_env)",
        ),
        (
            '[store.folders]\nscreenshot = "../out"\n',
            "store.folders.screenshot: expected a relative folder inside the store root, got '../out'",
        ),
        ("[runs]\nflow_types = [1]\n", "runs.flow_types: expected an array of strings"),
        (
            '[rules]\nprotected_refs = "refs/heads/release/*"\n',
            "rules.protected_refs: expected an array, got str 'refs/heads/release/*'",
        ),
        ('[rules]\nprotected_refs = [""]\n', "rules.protected_refs: expected an array of strings"),
    ],
)
def test_wrong_keys_and_types_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, text)
    assert str(info.value) == f"{tmp_path / 'ita.toml'}: {message}"
    assert info.value.exit_code == 2


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, "[store]\nroot = \n")
    assert str(info.value).startswith(f"{tmp_path / 'ita.toml'}:2:8: ")


def test_bad_config_from_the_cli_is_exit_2_and_writes_nothing(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    (in_git_repo / "ita.toml").write_text("[store]\nroot = 5\n")
    before = snapshot(in_git_repo)
    r = cli("list")
    assert (r.code, r.err) == (
        2,
        "ita-rules: ita.toml: store.root: expected a string, got int 5\n".replace(
            "ita.toml", str(in_git_repo / "ita.toml"), 1
        ),
    )
    assert snapshot(in_git_repo) == before


WINDOWS_PATH = "is a Windows path, which this machine cannot open; "


@pytest.mark.skipif(os.name == "nt", reason="a drive path is a real path on Windows")
@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        (
            '[store]\nroot = "D:/ITA/ITA_1.0/exchange"\n',
            {},
            "{toml}: store.root: 'D:/ITA/ITA_1.0/exchange' "
            + WINDOWS_PATH
            + "give an absolute path here or a folder relative to the workspace",
        ),
        (
            "",
            {"ITA_STORE_ROOT": "E:/x/exchange"},
            "ITA_STORE_ROOT: store.root: 'E:/x/exchange' "
            + WINDOWS_PATH
            + "give an absolute path here or a folder relative to the workspace",
        ),
        (
            '[retention]\npolicy = "D:\\\\ITA\\\\retention.yaml"\n',
            {},
            "{toml}: retention.policy: 'D:\\\\ITA\\\\retention.yaml' "
            + WINDOWS_PATH
            + "give an absolute path here or a folder relative to the workspace",
        ),
        (
            '[store]\ndatabase = "sqlite:///D:/ITA/ita.sqlite"\n',
            {},
            "store.database: 'D:/ITA/ita.sqlite' "
            + WINDOWS_PATH
            + "give an absolute path (sqlite:////srv/ita/ita.sqlite) or one relative to the "
            "workspace (sqlite:///.ita/ita.sqlite)",
        ),
    ],
)
def test_a_windows_drive_path_is_refused_off_windows(  # type: ignore[no-untyped-def]
    in_git_repo: Path, cli, monkeypatch, toml: str, env: dict[str, str], message: str
) -> None:
    """A drive path (the seed's archive lives on D:/ITA/...) on Linux or macOS was taken as a
    folder named "D:" in the current folder: each folder a put ran from got a store of its own
    (one inside rules/), and the records pointed where other folders could not look. Now the
    setting is refused with its name, exit 2, and nothing is written, from any folder."""
    (in_git_repo / "ita.toml").write_text(toml)
    (in_git_repo / "rules").mkdir(exist_ok=True)
    (in_git_repo / "shot.png").write_bytes(b"png")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = snapshot(in_git_repo)
    for folder in (in_git_repo, in_git_repo / "rules"):
        monkeypatch.chdir(folder)
        r = cli("store", "put", str(in_git_repo / "shot.png"), "--type", "screenshot")
        expected = message.replace("{toml}", str(in_git_repo / "ita.toml"))
        assert (r.code, r.out, r.err) == (2, "", f"ita-rules: {expected}\n")
    assert snapshot(in_git_repo) == before


def test_init_creates_a_workspace_and_is_idempotent(tmp_path: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "desk"
    r = cli("init", str(target))
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "created git repository",
        "created ita.toml",
        "created .pre-commit-config.yaml",
        "created schemas/rule.schema.json",
        "created rules/",
        "created .gitignore entries .ita/ /exchange/ /logs/ /data/",
    ]
    assert git(target, "rev-parse", "--is-inside-work-tree") == "true"
    assert load_settings(target, {}).rules_dir == target / "rules"
    before = snapshot(target)
    r = cli("init", str(target))
    assert r.out == f"{target} is already a workspace; nothing to do\n"
    assert snapshot(target) == before
    monkeypatch.chdir(target)
    assert cli("new", "Asia_range_v1").code == 0
    assert cli("validate").code == 0


def test_rules_config_read_from_git_ignores_the_environment(tmp_path: Path) -> None:
    """The server hook and ``check --base`` read ``[rules]`` from a commit's ita.toml: strictly,
    and never overridden by ``ITA_RULES_DIR`` (the environment of a CI job is the pushed
    commit's to choose)."""
    from ita_rules.core.config import RulesConfig, rules_config

    text = b'[rules]\ndir = "registry/"\nprotected_refs = ["release/*"]\n'
    assert rules_config(text) == RulesConfig("registry", ("release/*",))
    assert rules_config(None) == RulesConfig("rules", ())
    assert _settings(tmp_path, text.decode()).protected_refs == ("release/*",)
    with pytest.raises(ConfigError) as info:
        rules_config(b"[rules]\ndirr = 1\n", "desk/ita.toml")
    assert str(info.value) == (
        "desk/ita.toml: rules.dirr: unknown key (known keys: dir, protected_ref, protected_refs)"
    )


@pytest.mark.parametrize(
    ("written", "folder"),
    [
        ("./setups", "setups"),
        ("setups/", "setups"),
        ("./setups/./", "setups"),
        ("a//b/../c", "a/c"),
        ("registry\\\\v2", "registry/v2"),
        (".", "."),
        ("./", "."),
    ],
)
def test_rules_dir_has_one_spelling(tmp_path: Path, written: str, folder: str) -> None:
    """``rules.dir`` is read the way git prints paths (``./setups`` is ``setups``), from a
    commit as from the work tree, so the checks that compare repository paths find it."""
    from ita_rules.core.config import rules_config
    from ita_rules.rules.check import repo_folder

    text = f'[rules]\ndir = "{written}"\n'
    assert rules_config(text.encode()).dir == folder
    expected = tmp_path if folder == "." else tmp_path / folder
    assert _settings(tmp_path, text).rules_dir == expected
    assert repo_folder("", written.replace("\\\\", "/")) == folder
    assert repo_folder("desk", written.replace("\\\\", "/")) == (
        "desk" if folder == "." else f"desk/{folder}"
    )


@pytest.mark.parametrize("written", ["..", "../shared", "a/../../b", "/srv/rules", "D:/rules"])
def test_rules_dir_outside_the_workspace_is_refused(tmp_path: Path, written: str) -> None:
    from ita_rules.core.config import rules_config

    text = f'[rules]\ndir = "{written}"\n'
    message = f"rules.dir: expected a folder inside the workspace, got {written!r}"
    with pytest.raises(ConfigError) as info:
        rules_config(text.encode(), "desk/ita.toml")
    assert str(info.value) == f"desk/ita.toml: {message}"
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, text)
    assert str(info.value) == f"{tmp_path / 'ita.toml'}: {message}"
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, "", {"ITA_RULES_DIR": written})
    assert str(info.value) == f"ITA_RULES_DIR: {message}"

"""new / new-version / deprecate / activate: the files they write, byte for byte."""

from __future__ import annotations

import difflib
from pathlib import Path

from tests.conftest import snapshot, write

SOURCE = """\
# yaml-language-server: $schema=../../schemas/rule.schema.json
# Frank raid — comments must survive a new version.
setup_id: Frank_raid_v1
version: "1.2"
author: 'trader_1'           # single quotes stay single
created: "2025-10-15"
description: "Fade the Asian range raid"
components: [Detect_Sessions, Detect_FVG]   # flow style stays flow style
rules:
  session: london
  entry: {trigger: close_back_inside, max_bars: 3}
  levels:
    - 0.5
    - 0.618
params:
  atr_period: 14        # Wilder
  label: "quoted value"
targets:
  tp: 2.0
  sl: 1.0
active: false
deprecation_reason: "spread change"
tags: ["london"]
params_hash: "sha256:0000000000000000000000000000000000000000000000000000000000000000"
"""


def _setup(root: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    path = write(root / "rules" / "Frank_raid_v1" / "v1.2.yaml", SOURCE)
    r = cli("validate", "--fix")
    assert r.code == 0, r.out + r.err
    return path


def _changed_lines(a: str, b: str) -> list[str]:
    """Removed lines, then added lines, each in file order."""
    lines = [
        line
        for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return [x for x in lines if x[0] == "-"] + [x for x in lines if x[0] == "+"]


def test_new_version_round_trip_keeps_comments_flow_style_and_quotes(
    in_git_repo: Path, cli
) -> None:  # type: ignore[no-untyped-def]
    src = _setup(in_git_repo, cli)
    before = src.read_text()
    r = cli("new-version", "Frank_raid_v1")
    assert r.code == 0, r.err
    assert r.out.strip() == "rules/Frank_raid_v1/v1.3.yaml"
    after = (in_git_repo / "rules/Frank_raid_v1/v1.3.yaml").read_text()
    old_hash = before.splitlines()[-1]
    assert _changed_lines(before, after) == [
        '-version: "1.2"',
        "-author: 'trader_1'           # single quotes stay single",
        '-created: "2025-10-15"',
        "-active: false",
        '-deprecation_reason: "spread change"',
        '+version: "1.3"',
        "+author: 'Test Trader'        # single quotes stay single",  # comment column kept
        '+created: "2026-01-15"',
        "+active: true",
    ]
    assert old_hash in after  # same params: the hash is unchanged, and the note says so
    assert "same params as v1.2" in r.err
    assert src.read_text() == before  # the source is untouched


def test_new_version_set_changes_value_and_hash(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    src = _setup(in_git_repo, cli)
    r = cli("new-version", "Frank_raid_v1", "--set", "params.atr_period=21", "--json")
    assert r.code == 0, r.err
    import json

    out = json.loads(r.out)
    assert out["version"] == "1.3" and out["bump"] == "minor"
    assert out["changes"] == [
        {
            "change": "changed",
            "path": "params.atr_period",
            "old": 14,
            "new": 21,
            "structural": False,
        }
    ]
    text = (in_git_repo / out["path"]).read_text()
    assert "  atr_period: 21        # Wilder" in text
    assert out["params_hash"] in text
    assert out["params_hash"] not in src.read_text()
    assert cli("validate").code == 0


def test_new_version_adding_a_key_needs_major(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _setup(in_git_repo, cli)
    before = snapshot(in_git_repo)
    r = cli("new-version", "Frank_raid_v1", "--set", "params.new_filter=true")
    assert r.code == 1
    assert r.err == (
        "ita-rules: these changes add or remove a key or a component, which needs a major bump "
        "(use --major for v2.0):\n  + params.new_filter: true\n"
    )
    assert snapshot(in_git_repo) == before
    r = cli("new-version", "Frank_raid_v1", "--major", "--set", "params.new_filter=true")
    assert r.code == 0, r.err
    assert r.out.strip() == "rules/Frank_raid_v1/v2.0.yaml"
    assert "  new_filter: true" in (in_git_repo / "rules/Frank_raid_v1/v2.0.yaml").read_text()


def test_new_version_component_change_needs_major(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _setup(in_git_repo, cli)
    r = cli("new-version", "Frank_raid_v1", "--set", "components[2]=Detect_OB")
    assert r.code == 1
    assert '+ components[2]: "Detect_OB"' in r.err


def test_new_version_from_an_older_version(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _setup(in_git_repo, cli)
    assert cli("new-version", "Frank_raid_v1", "--set", "params.atr_period=21").code == 0
    r = cli("new-version", "Frank_raid_v1", "--from", "1.2", "--set", "targets.tp=3")
    assert r.code == 0, r.err
    assert r.out.strip() == "rules/Frank_raid_v1/v1.4.yaml"
    text = (in_git_repo / "rules/Frank_raid_v1/v1.4.yaml").read_text()
    assert "atr_period: 14" in text and "  tp: 3\n" in text


def test_new_version_bad_inputs_write_nothing(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _setup(in_git_repo, cli)
    before = snapshot(in_git_repo)
    cases = {
        ("new-version", "Nope_v1"): (
            2,
            "ita-rules: no setup 'Nope_v1'; create it with `ita-rules new Nope_v1`\n",
        ),
        ("new-version", "../etc"): (
            2,
            "ita-rules: not a setup id: '../etc' (a letter, then up to 63 letters, digits, '_' or '-')\n",
        ),
        ("new-version", "Frank_raid_v1", "--from", "1.9"): (
            2,
            "ita-rules: Frank_raid_v1 has no version 1.9 (versions: 1.2)\n",
        ),
        ("new-version", "Frank_raid_v1", "--from", "01.2"): (
            2,
            "ita-rules: not a version: '01.2' (expected MAJOR.MINOR such as 1.2)\n",
        ),
        ("new-version", "Frank_raid_v1", "--set", "version=9.9"): (
            2,
            "ita-rules: --set 'version=9.9': 'version' cannot be set (settable: components, rules, "
            "params, targets, description, tags; version, created, author and params_hash are "
            "written by the tool)\n",
        ),
        ("new-version", "Frank_raid_v1", "--set", "params.x"): (
            2,
            "ita-rules: --set 'params.x': expected PATH=VALUE, e.g. params.atr_mult=1.5\n",
        ),
        ("new-version", "Frank_raid_v1", "--set", "params.x=[1, 2"): (2, None),
        ("new-version", "Frank_raid_v1", "--set", "params.x=!!python/object:os.system 1"): (
            2,
            "ita-rules: --set 'params.x=!!python/object:os.system 1': tag !!python/object:os.system "
            "is not allowed; only plain YAML data is accepted\n",
        ),
        # The new file is validated before it is written: exit 1, every problem, no file.
        ("new-version", "Frank_raid_v1", "--set", "targets.tp=abc"): (
            1,
            "ita-rules: rules/Frank_raid_v1/v1.3.yaml:19:7: targets.tp: expected a number, "
            "got the string 'abc'\n",
        ),
        ("new-version", "Frank_raid_v1", "--set", "tags=[1, 2]"): (
            1,
            "ita-rules: rules/Frank_raid_v1/v1.3.yaml:23:5: tags[0]: expected a string, got the "
            "number 1\nrules/Frank_raid_v1/v1.3.yaml:24:5: tags[1]: expected a string, got the "
            "number 2\n",
        ),
    }
    for args, (code, err) in cases.items():
        r = cli(*args)
        assert r.code == code, (args, r.err)
        if err is not None:
            assert r.err == err, args
        else:
            assert r.err.startswith("ita-rules: --set 'params.x=[1, 2': invalid YAML:"), r.err
        assert snapshot(in_git_repo) == before, args


def test_new_version_without_author_is_a_usage_error(in_git_repo: Path, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _setup(in_git_repo, cli)
    empty = in_git_repo.parent / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    r = cli("new-version", "Frank_raid_v1")
    assert (r.code, r.err) == (
        2,
        "ita-rules: no author: set `git config user.name` or pass --author NAME\n",
    )
    r = cli("new-version", "Frank_raid_v1", "--author", "desk")
    assert (
        r.code == 0
        and "author: 'desk'" in (in_git_repo / "rules/Frank_raid_v1/v1.3.yaml").read_text()
    )


def test_new_creates_a_valid_first_version(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("new", "London_OB_v1")
    assert r.code == 0, r.err
    assert r.out.strip() == "rules/London_OB_v1/v1.0.yaml"
    text = (in_git_repo / "rules/London_OB_v1/v1.0.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schemas/rule.schema.json\n")
    assert 'author: "Test Trader"\ncreated: "2026-01-15"' in text
    assert cli("validate").code == 0
    r = cli("new", "London_OB_v1")
    assert (r.code, r.err) == (
        2,
        "ita-rules: setup 'London_OB_v1' exists already; use `ita-rules new-version London_OB_v1`\n",
    )


def test_deprecate_and_activate_touch_only_lifecycle(in_git_repo: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = _setup(in_git_repo, cli)
    r = cli("activate", "Frank_raid_v1@1.2")
    assert r.code == 0 and r.out == "rules/Frank_raid_v1/v1.2.yaml: activated\n"
    after_activate = path.read_text()
    assert "active: true\n" in after_activate and "deprecation_reason" not in after_activate
    r = cli("deprecate", "Frank_raid_v1@v1.2", "--reason", "broke after the spread change")
    assert r.code == 0, r.err
    text = path.read_text()
    assert (
        'active: false\ndeprecation_reason: "broke after the spread change"\ntags: ["london"]'
        in text
    )
    assert _changed_lines(after_activate, text) == [
        "-active: true",
        "+active: false",
        '+deprecation_reason: "broke after the spread change"',
    ]
    assert cli("validate").code == 0
    before = snapshot(in_git_repo)
    assert cli("deprecate", "Frank_raid_v1@1.2", "--reason", "  ").code == 2
    assert cli("deprecate", "Frank_raid_v1", "--reason", "x").code == 2
    r = cli("activate", "Frank_raid_v1@7.0")
    assert (r.code, r.err) == (1, "ita-rules: no rule Frank_raid_v1@7.0 (versions: 1.2)\n")
    assert snapshot(in_git_repo) == before

"""Journey: a trader edits a released rule version in place (its params, not its hash) and
starts a run on it. The run is refused, as README says, with the release's diff and what to do
(restore the file or make a new version), not with the registry's stale-hash advice
(``validate --fix``), which ``validate --fix`` itself refuses for a released version. A new
version not committed yet keeps that advice: there it is right.
"""

from __future__ import annotations

import sys

from tests.journeys.conftest import Desk, rewrite

V10 = "rules/IB_raid_v1/v1.0.yaml"


def test_a_run_on_an_edited_released_version_names_the_diff(desk: Desk) -> None:
    text = desk.read(V10)
    desk.write(V10, text.replace("max_trades_per_day: 1", "max_trades_per_day: 3"))
    line = next(
        i for i, x in enumerate(desk.read(V10).splitlines(), 1) if "max_trades_per_day" in x
    )
    col = desk.read(V10).splitlines()[line - 1].index("3") + 1
    expected = (
        f"ita-rules: {V10}:{line}:{col}: params.max_trades_per_day: IB_raid_v1@v1.0 is released "
        "(in HEAD) and this file differs from it: a result would claim v1.0 without being it; "
        f"restore the file (git checkout HEAD -- {V10}) or make a new version "
        "(ita-rules new-version IB_raid_v1):\n    ~ params.max_trades_per_day: 1 -> 3\n"
    )
    r = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.0")
    assert (r.code, r.out, r.err) == (1, "", expected)
    flow = desk.sh(
        sys.executable,
        "-c",
        "from ita_rules import Workspace\n"
        "with Workspace.open().start_run('backtest_flow', rule='IB_raid_v1@1.0'): pass\n",
    )
    assert flow.code == 1 and flow.err.rstrip().endswith(
        expected.removeprefix("ita-rules: ").rstrip().rsplit("\n", 1)[-1]
    ), flow.err
    assert "validate --fix" not in flow.err
    assert desk.run("runs", "list").code == 0
    assert desk.run("runs", "list", "--json", check=True).json()["runs"] == []

    # a new version, not committed: its stale hash is the author's to fix with validate --fix
    desk.git("checkout", "--", V10)
    assert desk.run("new-version", "IB_raid_v1", "--from", "1.0").code == 0
    v13 = "rules/IB_raid_v1/v1.3.yaml"
    desk.write(v13, desk.read(v13).replace("max_trades_per_day: 1", "max_trades_per_day: 2"))
    r = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.3")
    assert r.code == 1 and "(run `ita-rules validate --fix` to write it)" in r.err, r.err


def test_verify_of_a_run_whose_released_version_was_edited_names_the_diff(desk: Desk) -> None:
    r = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.0")
    assert r.code == 0, r.err
    run_id = r.out.strip()
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    text = desk.read(V10)
    desk.write(V10, text.replace("max_trades_per_day: 1", "max_trades_per_day: 3"))
    verified = desk.run("runs", "verify", run_id)
    assert verified.code == 1
    lines = verified.out.splitlines()
    assert lines[0].startswith(
        f"{run_id}: rule: IB_raid_v1@v1.0: {V10}:20:23: params.max_trades_per_day: "
        "IB_raid_v1@v1.0 is released (in HEAD) and this file differs from it: "
    ), verified.out
    assert lines[1:] == [
        "    ~ params.max_trades_per_day: 1 -> 3",
        f"{run_id}: not reproducible (1 difference(s))",
    ]
    doc = desk.run("runs", "verify", run_id, "--json").json()
    assert doc["outcome"] == "drifted"  # the version is not gone: its file was changed
    desk.git("checkout", "--", V10)
    assert desk.run("runs", "verify", run_id).out == f"{run_id}: reproducible\n"


def test_a_released_version_changed_by_a_commit_is_not_released(desk: Desk) -> None:
    """A commit made without the hooks (a fresh clone, ``--no-verify``) changes v1.0 and writes
    the matching hash: HEAD now holds the changed file, yet it is not v1.0. A run of it is
    refused as an edit on disk is, the released file being the one v1.0 was introduced with;
    a run made before still verifies against what it ran, and once the file is restored (a
    commit), runs go ahead again."""
    before = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.0")
    assert before.code == 0, before.err
    run_id = before.out.strip()
    assert desk.run("runs", "finish", run_id, "--status", "succeeded").code == 0
    introduced = desk.git("rev-parse", "HEAD")[:12]
    original = desk.read(V10)
    rewrite(desk, V10, "max_trades_per_day: 1", "max_trades_per_day: 3")
    desk.git("commit", "-q", "--no-verify", "-am", "tweak v1.0 in place")
    assert desk.run("validate").code == 0  # the file itself is valid: only history tells

    line = next(i for i, x in enumerate(desk.read(V10).splitlines(), 1) if "max_trades_" in x)
    expected = (
        f"ita-rules: {V10}:{line}:23: params.max_trades_per_day: IB_raid_v1@v1.0 is released (in "
        f"commit {introduced}; a later commit changed it, which no commit may do) and this file "
        "differs from it: a result would claim v1.0 without being it; restore the file (git "
        f"checkout {introduced} -- {V10}) or make a new version (ita-rules new-version "
        "IB_raid_v1):\n    ~ params.max_trades_per_day: 1 -> 3\n"
    )
    r = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.0")
    assert (r.code, r.out, r.err) == (1, "", expected)
    assert [x["run_id"] for x in desk.run("runs", "list", "--json").json()["runs"]] == [run_id]
    assert desk.run("runs", "verify", run_id, "--json").json()["outcome"] == "drifted"

    desk.write(V10, original)
    desk.git("commit", "-q", "--no-verify", "-am", "restore v1.0 as released")
    r = desk.run("runs", "start", "backtest_flow", "--rule", "IB_raid_v1@1.0")
    assert r.code == 0, r.err
    assert desk.run("runs", "verify", run_id).out == f"{run_id}: reproducible\n"

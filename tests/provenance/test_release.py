"""What a run may claim about its rule version: released (in the protected ref, same content)
or not yet (a new version), and never a released version whose file was changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ita_rules.core import canonical, yamlio
from ita_rules.provenance import show_run
from ita_rules.provenance.release import ReleasedRuleModified
from ita_rules.provenance.verify import _git
from tests.conftest import git
from tests.provenance.conftest import RunWs


def _released(run_ws: RunWs, rule: str) -> bool:
    ws = run_ws.open()
    with ws.start_run("backtest_flow", rule=rule) as run:
        run.save_result({"# Trades": 0})
    stored = show_run(ws, run.run_id)["rule_released"]
    assert isinstance(stored, bool)
    return stored


def _edit(path: Path, old: str, new: str) -> None:
    """Change a rule file and write the params_hash that matches its new content."""
    text = path.read_text().replace(old, new)
    doc, _ = yamlio.loads(text, str(path))
    assert doc is not None
    path.write_text(text.replace(str(doc.data["params_hash"]), canonical.params_hash(doc.data)))


def _refusal(run_ws: RunWs, rule: str) -> str:
    with pytest.raises(ReleasedRuleModified) as caught:
        run_ws.open().start_run("backtest_flow", rule=rule).start()
    return str(caught.value)


def test_released_means_in_the_protected_ref(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    root = run_ws.root
    (root / "ita.toml").write_text('[rules]\nprotected_ref = "main"\n')
    git(root, "commit", "-q", "-am", "protect main")
    git(root, "checkout", "-q", "-b", "feature")
    assert cli("new-version", "IB_raid_v1", "--set", "params.max_trades_per_day=3").code == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1.3")
    assert _released(run_ws, "IB_raid_v1@1.3") is False  # committed, but not on main yet
    assert _released(run_ws, "IB_raid_v1@1.2") is True

    # a released version changed and committed on the branch: still refused (main has it)
    _edit(root / "rules" / "IB_raid_v1" / "v1.2.yaml", "market: GER40", "market: NAS100")
    git(root, "commit", "-q", "-am", "edit v1.2")
    message = _refusal(run_ws, "IB_raid_v1@1.2")
    assert message.startswith(
        "rules/IB_raid_v1/v1.2.yaml:11:11: rules.market: IB_raid_v1@v1.2 is released (in main)"
    )
    assert "(git checkout main -- rules/IB_raid_v1/v1.2.yaml)" in message
    assert message.endswith(':\n    ~ rules.market: "GER40" -> "NAS100"')
    git(root, "reset", "-q", "--hard", "HEAD~1")

    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--ff-only", "feature")
    assert _released(run_ws, "IB_raid_v1@1.3") is True


def test_only_the_lifecycle_may_differ_from_the_release(run_ws: RunWs) -> None:
    path = run_ws.root / "rules" / "IB_raid_v1" / "v1.1.yaml"
    original = path.read_text()
    path.write_text(original.replace("tags: [", 'tags: ["reviewed", '))
    assert _released(run_ws, "IB_raid_v1@1.1") is True

    path.write_text(original)
    _edit(path, "  - Detect_Sessions\n", "")  # a component dropped
    message = _refusal(run_ws, "IB_raid_v1@1.1")
    assert message.startswith(
        "rules/IB_raid_v1/v1.1.yaml:8:5: components[0]: IB_raid_v1@v1.1 is released (in HEAD)"
    )
    assert message.endswith(':\n    - components[0]: "Detect_Sessions"')


def test_verify_does_not_count_inputs_an_older_snapshot_listed_as_untracked(
    run_ws: RunWs,
) -> None:
    ws = run_ws.open()
    snap = {
        "run_id": "run_2025_01_01_001",
        "git_commit": git(run_ws.root, "rev-parse", "HEAD"),
        "git_dirty": True,
        "git_changed": [],
        "git_untracked": {"data/GER40_M15.csv": "sha256:" + "0" * 64},
        "inputs": [{"path": "data/GER40_M15.csv"}],
    }
    assert _git(ws, snap) == []
    snap["git_untracked"] = {"data/GER40_M15.csv": "sha256:" + "0" * 64, "flow.py": "x"}
    (found,) = _git(ws, snap)
    assert found.message == (
        "the run used uncommitted changes (flow.py): the commit alone does not reproduce it"
    )


def test_a_result_saved_after_its_release_was_changed_is_kept_not_stored(run_ws: RunWs) -> None:
    """The released file changed while the run ran (after its start was checked): save_result
    refuses the result as ``store put`` refuses it (the release's diff), keeps it next to the
    snapshot, and stores nothing."""
    from ita_rules.store import ResultRejected

    ws = run_ws.open()
    v12 = run_ws.root / "rules" / "IB_raid_v1" / "v1.2.yaml"
    original = v12.read_bytes()
    with ws.start_run("backtest_flow", rule="IB_raid_v1@1.2") as run:
        _edit(v12, "market: GER40", "market: NAS100")
        with pytest.raises(ResultRejected) as caught:
            run.save_result({"# Trades": 0})
        v12.write_bytes(original)
    kept = f"exchange/archive/provenance/{run.run_id}_result_rejected.json"
    message = str(caught.value)
    assert message.startswith(
        f"{kept}: rules/IB_raid_v1/v1.2.yaml:11:11: rules.market: IB_raid_v1@v1.2 is released "
        "(in HEAD) and this file differs from it: a result would claim v1.2 without being it;"
    ), message
    assert message.endswith("; the result was not stored, it is kept in that file"), message
    assert (run_ws.root / kept).is_file()
    assert show_run(ws, run.run_id)["outputs"] == []
    assert ws.store.find(type="result") == []

"""`ita-rules runs ...` for flows that are not written in Python."""

from __future__ import annotations

import json
import re

from ita_rules.core import canonical, yamlio
from tests.conftest import git
from tests.provenance.conftest import RunWs


def test_start_finish_list_show_verify(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "runs",
        "start",
        "backtest_flow",
        "--rule",
        "IB_raid_v1@1.2",
        "--symbol",
        "GER40",
        "--timeframe",
        "M15",
        "--input",
        "data/GER40_M15.csv",
        "--from",
        "2025-05-01",
        "--to",
        "2025-05-31",
    )
    assert r.code == 0, r.err
    run_id = r.out.strip()
    shown = json.loads(cli("runs", "show", run_id, "--json").out)
    assert shown["status"] == "running" and shown["inputs"][0]["rows"] == 31 * 96
    assert shown["rule_version"] == "v1.2" and shown["data_range"] == ["2025-05-01", "2025-05-31"]

    r = cli("runs", "finish", run_id, "--status", "succeeded", "--output", "f-1")
    assert r.code == 2 and "--output: file id 'f-1' is too short" in r.err  # nothing recorded
    r = cli("store", "put", "data/GER40_M15.csv", "--type", "candles", "--json")
    assert r.code == 0, r.err
    output = json.loads(r.out)[0]["file_id"]
    r = cli("runs", "finish", run_id, "--status", "succeeded", "--output", output)
    assert (r.code, r.out) == (0, f"{run_id} succeeded\n")
    listed = json.loads(cli("runs", "list", "--json").out)["runs"]
    assert [(x["run_id"], x["status"], x["setup_id"]) for x in listed] == [
        (run_id, "succeeded", "IB_raid_v1")
    ]
    text = cli("runs", "list").out
    assert text.splitlines()[0].split() == [
        "RUN_ID",
        "FLOW",
        "STATUS",
        "RULE",
        "SYMBOL",
        "TF",
        "COMMIT",
        "STARTED",
    ]
    assert "IB_raid_v1@v1.2" in text
    r = cli("runs", "show", run_id)
    assert r.code == 0 and "2976 candles 2025-05-01T00:00:00Z .. 2025-05-31T23:45:00Z" in r.out
    assert json.loads(cli("runs", "show", run_id, "--json").out)["outputs"] == [output]
    assert cli("runs", "verify", run_id).out == f"{run_id}: reproducible\n"

    # the rule file rewritten in place (a forbidden mutation): verify names the rule
    path = run_ws.root / "rules" / "IB_raid_v1" / "v1.2.yaml"
    text = path.read_text().replace("market: GER40", "market: NAS100")
    doc, _ = yamlio.loads(text, str(path))
    assert doc is not None  # a fresh params_hash written by hand (`validate --fix` refuses)
    old_hash = re.search(r"sha256:[0-9a-f]{64}", text)
    assert old_hash is not None
    path.write_text(text.replace(old_hash.group(), canonical.params_hash(doc.data)))
    r = cli("runs", "verify", run_id, "--json")
    doc = json.loads(r.out)
    assert r.code == 1 and [d["what"] for d in doc["differences"]] == [
        "IB_raid_v1@v1.2.params_hash"
    ]


def test_failed_run_and_usage_errors(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    run_id = cli("runs", "start", "train_flow").out.strip()
    r = cli("runs", "finish", run_id, "--status", "failed", "--error", "GPU out of memory")
    assert r.code == 0
    snap = json.loads(cli("runs", "show", run_id, "--json").out)
    assert (snap["status"], snap["error"]) == ("failed", "GPU out of memory")
    assert cli("runs", "finish", run_id, "--status", "done").code == 2
    assert cli("runs", "show", "run_x").code == 2
    r = cli("runs", "show", "run_2020_01_01_001")
    assert r.code == 1 and r.err == "ita-rules: no run run_2020_01_01_001\n"
    assert cli("runs", "start", "backtest_flow", "--from", "2025-01-01").code == 2
    r = cli("runs", "start", "nightly")
    assert r.code == 2 and "flow type 'nightly' is not configured" in r.err


def test_strict_refuses_a_dirty_tree_and_commit_checks(run_ws: RunWs, cli) -> None:  # type: ignore[no-untyped-def]
    (run_ws.root / "scratch.py").write_text("x = 1\n")
    r = cli("runs", "start", "backtest_flow", "--strict")
    assert r.code == 1 and "strict run refused" in r.err and "scratch.py" in r.err
    assert json.loads(cli("runs", "list", "--json").out)["runs"] == []
    (run_ws.root / "scratch.py").unlink()

    # a run on a commit that is later dropped from every branch: not reachable
    git(run_ws.root, "checkout", "-q", "-b", "experiment")
    (run_ws.root / "exp.txt").write_text("try\n")
    git(run_ws.root, "add", "exp.txt")
    git(run_ws.root, "commit", "-q", "-m", "experiment")
    run_id = cli("runs", "start", "backtest_flow", "--strict").out.strip()
    assert cli("runs", "finish", run_id, "--status", "succeeded").code == 0
    git(run_ws.root, "checkout", "-q", "main")
    assert cli("runs", "verify", run_id).code == 0  # the branch still holds it
    git(run_ws.root, "branch", "-q", "-D", "experiment")
    r = cli("runs", "verify", run_id)
    assert r.code == 1 and "is not reachable from any branch or tag" in r.out

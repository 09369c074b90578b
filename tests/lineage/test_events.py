"""OpenLineage events: every exported event validates against the official schemas, and names
the run, job, rule, inputs and outputs as docs/architecture.md#lineage says."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from ita_rules.provenance.lineage import RULE_FACET_URL
from tests.conftest import REPO, git, snapshot
from tests.lineage.conftest import RULE_FACET_SCHEMA, EventValidator, backtest

PREFECT_RUN = "0b0d1f5e-6c3a-4d53-9d1e-2a6f0c1e9b7a"


def _export(cli: Any, *args: str) -> list[dict[str, Any]]:
    r = cli("runs", "export", "--openlineage", *args)
    assert r.code == 0, r.err
    return [json.loads(text) for text in r.out.splitlines()]


def test_exported_events_validate_and_carry_the_run(
    lineage_ws: Path, cli: Any, validator: EventValidator
) -> None:
    snap = backtest(lineage_ws, {"sharpe": 1.25}, flow_run_id=PREFECT_RUN, flow_name="nightly")
    start, complete = _export(cli, snap["run_id"])
    for event in (start, complete):
        validator.check(event)
    expected_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ita-rules://desk-test/{snap['run_id']}"))
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"] == expected_id
    assert (start["eventTime"], complete["eventTime"]) == (snap["started_at"], snap["finished_at"])
    job = complete["job"]
    assert (job["namespace"], job["name"]) == ("desk-test", "backtest_flow.IB_raid_v1")
    assert job["facets"]["jobType"]["processingType"] == "BATCH"
    location = job["facets"]["sourceCodeLocation"]
    assert location["version"] == git(lineage_ws, "rev-parse", "HEAD")
    assert location["path"] == "rules/IB_raid_v1/v1.2.yaml"
    facets = complete["run"]["facets"]
    assert facets["parent"]["run"]["runId"] == PREFECT_RUN
    assert facets["parent"]["job"]["name"] == "nightly"
    assert facets["processing_engine"]["version"] == snap["ita_rules_version"]
    rule = facets["itaRules_rule"]
    assert rule["_schemaURL"] == RULE_FACET_URL
    assert (rule["setup_id"], rule["rule_version"], rule["params_hash"]) == (
        "IB_raid_v1",
        "v1.2",
        snap["params_hash"],
    )
    assert rule["rule_blob"] == snap["rule_blob"] and rule["git_dirty"] is False
    (dataset,) = complete["inputs"]
    assert (dataset["namespace"], dataset["name"]) == (
        "file",
        str(lineage_ws / "data" / "GER40_M15.csv"),
    )
    assert dataset["facets"]["version"]["datasetVersion"] == snap["inputs"][0]["range_hash"]
    condition = dataset["inputFacets"]["subset"]["inputCondition"]
    assert condition["left"]["right"]["value"] == snap["inputs"][0]["first"]
    assert condition["right"]["right"]["value"] == snap["inputs"][0]["last"]
    (out,) = complete["outputs"]
    stored = Path(out["name"])
    assert (
        out["facets"]["version"]["datasetVersion"]
        == "sha256:" + hashlib.sha256(stored.read_bytes()).hexdigest()
    )
    assert out["facets"]["datasetType"]["subType"] == "result"
    assert start["outputs"] == []


def test_a_failed_dirty_live_run_gives_fail_with_its_error(
    lineage_ws: Path, cli: Any, validator: EventValidator
) -> None:
    from ita_rules.workspace import Workspace

    (lineage_ws / "notes.py").write_text("x = 1\n")
    git(lineage_ws, "add", "notes.py")  # staged, uncommitted: a dirty tree with a diff
    ws = Workspace.open(lineage_ws)
    with pytest.raises(RuntimeError), ws.start_run("live_flow", rule="IB_raid_v1@1.2") as run:
        raise RuntimeError("broker timeout")
    start, fail = _export(cli, run.run_id)
    for event in (start, fail):
        validator.check(event)
    assert fail["eventType"] == "FAIL"
    assert fail["run"]["facets"]["errorMessage"]["message"] == "RuntimeError: broker timeout"
    assert fail["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
    rule = fail["run"]["facets"]["itaRules_rule"]
    assert rule["git_dirty"] is True and rule["diff_hash"] == run.snapshot["git_diff_hash"]


def test_the_validator_checks_formats(
    validator: EventValidator, lineage_ws: Path, cli: Any
) -> None:
    """The schema check would catch a malformed runId, time or URI: format checks are on."""
    snap = backtest(lineage_ws, {"sharpe": 1.0})
    (event, _) = _export(cli, snap["run_id"])
    for path, bad in (
        (("run", "runId"), "run_2026_01_15_001"),
        (("eventTime",), "15.01.2026"),
        (("producer",), "not a uri"),
    ):
        broken = json.loads(json.dumps(event))
        target = broken
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = bad
        with pytest.raises(AssertionError, match="is not a"):
            validator.check(broken)


def test_export_to_a_file_and_its_errors(lineage_ws: Path, cli: Any) -> None:
    first = backtest(lineage_ws, {"sharpe": 1.0})
    second = backtest(lineage_ws, {"sharpe": 2.0})
    out = lineage_ws / "lineage.jsonl"
    r = cli("runs", "export", "--openlineage", "-o", str(out))
    assert r.code == 0, r.err
    assert r.out == f"wrote 4 event(s) of 2 run(s) to {out}\n"
    ids = {json.loads(text)["run"]["runId"] for text in out.read_text().splitlines()}
    assert len(ids) == 2
    r = cli("runs", "export", "--openlineage", "--since", "2999-01-01", "--json")
    assert r.code == 0 and json.loads(r.out) == {
        "runs": 0,
        "count": 0,
        "output": None,
        "events": [],
    }
    r = cli("runs", "export", "--openlineage", first["run_id"], "--json")
    document = json.loads(r.out)
    assert (document["runs"], document["count"]) == (1, 2)
    assert [e["eventType"] for e in document["events"]] == ["START", "COMPLETE"]
    r = cli("runs", "export", "--openlineage", "-o", str(out), "--json")
    assert json.loads(r.out) == {"runs": 2, "count": 4, "output": str(out)}
    before = snapshot(lineage_ws)
    cases = [
        (
            ["runs", "export", first["run_id"]],
            2,
            "ita-rules: runs export: choose the format: --openlineage\n",
        ),
        (
            ["runs", "export", "--openlineage", "run_2020_01_01_001", "-o", "x.jsonl"],
            1,
            "ita-rules: no run run_2020_01_01_001\n",
        ),
        (
            ["runs", "export", "--openlineage", second["run_id"], "--since", "2026-01-01"],
            2,
            "ita-rules: give run ids or --since, not both\n",
        ),
        (
            ["runs", "export", "--openlineage", "--since", "15.01.2026"],
            2,
            "ita-rules: --since: expected a date YYYY-MM-DD or an ISO time, got '15.01.2026'\n",
        ),
        (
            ["runs", "export", "--openlineage", "--resend"],
            2,
            "ita-rules: --resend: lineage.url is not set in ita.toml (or ITA_LINEAGE_URL)\n",
        ),
    ]
    for args, code, message in cases:
        r = cli(*args)
        assert (r.code, r.err) == (code, message), args
    assert snapshot(lineage_ws) == before
    r = cli("runs", "export", "--help")
    assert r.code == 0 and "ita-rules runs export --openlineage --since" in r.out


def test_the_rule_facet_schema_is_immutable() -> None:
    """Its URL names version 1-0-0: the file may not change (a change is a new version)."""
    doc = json.loads(RULE_FACET_SCHEMA.read_text())
    assert RULE_FACET_URL.split("#")[0] == doc["$id"]
    assert RULE_FACET_URL.split("#/$defs/")[1] in doc["$defs"]
    digest = hashlib.sha256(RULE_FACET_SCHEMA.read_bytes()).hexdigest()
    assert digest == "bcba66393a2428a35ede12310b0b503b3b1f780aaf1e1639002843ea89d9ee09"


def test_a_run_without_lineage_url_imports_no_lineage_module(lineage_ws: Path) -> None:
    code = (
        "import sys\n"
        "NAMES = ('openlineage', 'ita_rules.provenance.lineage', 'ita_rules.provenance.repkey')\n"
        "from tests.lineage.conftest import backtest\n"
        "backtest(sys.argv[1], {'sharpe': 1.0})\n"
        "print(sorted(m for m in sys.modules if m.startswith(NAMES)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(lineage_ws)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    ).stdout
    assert out.strip() == "[]"
    assert not (lineage_ws / ".ita" / "lineage_queue.jsonl").exists()


def test_the_readme_event_validates(validator: EventValidator) -> None:
    """README's example is a real exported event; it must stay valid OpenLineage."""
    text = (REPO / "README.md").read_text()
    block = text.split("<!-- lineage-event -->\n```json\n", 1)[1].split("\n```", 1)[0]
    event = json.loads(block)
    validator.check(event)
    assert event["eventType"] == "COMPLETE" and "itaRules_rule" in event["run"]["facets"]


def test_without_the_client_a_run_queues_and_resend_says_how_to_install(
    lineage_ws: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.lineage.conftest import lineage_toml

    for name in ("openlineage", "openlineage.client", "openlineage.client.transport.http"):
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    (lineage_ws / "ita.toml").write_text(lineage_toml("http://127.0.0.1:9", "desk-noclient"))
    snap = backtest(lineage_ws, {"sharpe": 1.0})
    assert snap["status"] == "succeeded"
    queue = (lineage_ws / ".ita" / "lineage_queue.jsonl").read_text().splitlines()
    assert [json.loads(text)["eventType"] for text in queue] == ["START", "COMPLETE"]
    r = cli("runs", "export", "--openlineage", "--resend")
    assert (r.code, r.err) == (
        2,
        "ita-rules: --resend: the OpenLineage client is not installed: pip install 'ita-rules[lineage]'\n",
    )


def test_a_malformed_lineage_url_never_fails_a_run(lineage_ws: Path) -> None:
    from tests.lineage.conftest import lineage_toml

    (lineage_ws / "ita.toml").write_text(lineage_toml("not a url", "desk-badurl"))
    snap = backtest(lineage_ws, {"sharpe": 1.0})
    assert snap["status"] == "succeeded"
    queue = (lineage_ws / ".ita" / "lineage_queue.jsonl").read_text().splitlines()
    assert [json.loads(text)["eventType"] for text in queue] == ["START", "COMPLETE"]

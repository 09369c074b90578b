"""OpenLineage names a candle file with a verified copy on an S3 remote ``s3://bucket`` + key,
in the live events and in an export alike (docs/architecture.md#lineage)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import write
from tests.lineage.conftest import EventValidator, Receiver, lineage_toml
from tests.lineage.conftest import receiver as receiver  # the fixture, for this module
from tests.lineage.conftest import validator as validator  # the fixture, for this module


@pytest.mark.remote_combos("s3-sqlite", "local-sqlite")
def test_an_input_with_a_verified_s3_copy_is_named_by_its_key(
    rws_cli: Any, receiver: Receiver, validator: EventValidator
) -> None:
    rws, cli = rws_cli
    from ita_rules.workspace import Workspace

    candles = write(rws.root / "data" / "DAX_M15.csv", "time,close\n2025-05-01 00:00:00,1.5\n")
    (rws.root / "ita.toml").write_text(lineage_toml(receiver.url, f"desk-{rws.backend}"))
    r = cli("store", "put", str(candles), "--type", "candles", "--json")
    assert r.code == 0, r.err
    (record,) = json.loads(r.out)
    assert cli("remote", "push").code == 0
    with Workspace.open(rws.root).start_run("train_flow", inputs=[str(candles)]) as run:
        pass
    r = cli("runs", "export", "--openlineage", run.run_id)
    exported = [json.loads(text) for text in r.out.splitlines()]
    got = [e for e in receiver.events if e["run"]["runId"] == exported[0]["run"]["runId"]]
    assert got == exported
    for event in exported:
        validator.check(event)
    (dataset,) = exported[1]["inputs"]
    if rws.backend == "s3":
        assert dataset["namespace"] == f"s3://{rws.bucket}"
        assert dataset["name"] == f"ita/{record['path']}"
        assert rws.read_remote(record["path"]) == candles.read_bytes()
    else:  # a folder remote is not S3: the local file's name
        assert (dataset["namespace"], dataset["name"]) == ("file", str(candles.resolve()))

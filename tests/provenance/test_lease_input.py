"""A lease is a number of seconds above 0 and at most a year: anything else is a usage error (exit 2)
that starts nothing and changes no run, never an internal error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import snapshot
from tests.provenance.conftest import RunWs

BAD = ["nan", "inf", "-inf", "1e300", "0", "-5"]


@pytest.mark.parametrize("lease", BAD)
def test_runs_start_refuses_a_lease_that_is_not_a_duration(
    run_ws: RunWs, cli: Any, lease: str
) -> None:
    before = snapshot(run_ws.root)
    r = cli("runs", "start", "train_flow", "--lease", lease)
    assert (r.code, r.out) == (2, "")
    shown = str(float(lease))
    assert r.err == (
        f"ita-rules: lease: expected a number of seconds above 0 and at most 31622400 (a year), got {shown}\n"
    )
    assert snapshot(run_ws.root) == before  # no snapshot file, no database row
    assert json.loads(cli("runs", "list", "--json").out) == {"runs": []}


@pytest.mark.parametrize("lease", BAD)
def test_runs_heartbeat_refuses_it_and_the_run_keeps_its_lease(
    run_ws: RunWs, cli: Any, lease: str
) -> None:
    run_id = cli("runs", "start", "train_flow").out.strip()
    before = json.loads(cli("runs", "show", run_id, "--json").out)
    r = cli("runs", "heartbeat", run_id, "--lease", lease)
    assert r.code == 2 and r.err.startswith("ita-rules: lease: expected a number of seconds")
    after = json.loads(cli("runs", "show", run_id, "--json").out)
    assert after == before and after["status"] == "running"

"""Results that no JSON reader downstream can take — a 5,000-digit integer, nesting 100k deep —
are refused with one line (never an internal error), from a file and from Python; a run keeps
what it computed next to its snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ita_rules.store.errors import ResultRejected
from tests.conftest import snapshot, write
from tests.provenance.conftest import RunWs

HEAD = '{"setup_id": "IB_raid_v1", "rule_version": "v1.2", "x": '


def _files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if not k.startswith(".ita/")}


def _nested(levels: int) -> list[Any]:
    top: list[Any] = []
    cur = top
    for _ in range(levels - 1):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return top


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "9" * 5000 + "}",
            "ita-rules: r.json:1:57: not valid here: an integer of 5000 digits (at most 300); "
            "write it as a string\n",
        ),
        (
            "[" * 100_000 + "]" * 100_000 + "}",
            "ita-rules: r.json: nested more than 100 levels deep; a result is a flat record of "
            "what a run produced (store deep structures as their own files)\n",
        ),
        (
            "[" * 100 + "]" * 100 + "}",  # the result object and 100 lists: 101 levels
            "ita-rules: r.json: nested more than 100 levels deep; a result is a flat record of "
            "what a run produced (store deep structures as their own files)\n",
        ),
    ],
    ids=["5000-digit-int", "100k-deep", "101-levels"],
)
def test_store_put_refuses_them_in_one_line(
    run_ws: RunWs, cli: Any, body: str, message: str
) -> None:
    write(run_ws.root / "r.json", HEAD + body)
    before = _files(run_ws.root)
    r = cli("store", "put", "r.json", "--type", "result")
    assert (r.code, r.out, r.err) == (1, "", message)
    assert _files(run_ws.root) == before  # the database may be created, empty; no file stored
    assert json.loads(cli("store", "find", "--json").out) == []


def test_100_levels_and_300_digits_are_still_fine(run_ws: RunWs, cli: Any) -> None:
    # the result object and 99 lists: 100 levels; an integer of 300 digits
    write(run_ws.root / "r.json", HEAD + json.dumps(_nested(99)) + ', "n": ' + "9" * 300 + "}")
    assert cli("store", "put", "r.json", "--type", "result").code == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10**5000, "x: an integer of about 5001 digits; write it as a string"),
        (_nested(5000), "x: nested more than 100 levels deep; store it as its own file"),
    ],
    ids=["5000-digit-int", "5000-deep"],
)
def test_save_result_refuses_them_and_keeps_what_it_can(
    run_ws: RunWs, value: Any, message: str
) -> None:
    ws = run_ws.open()
    rule = ws.registry.get("IB_raid_v1", "1.2")
    with (
        pytest.raises(ResultRejected) as info,
        ws.start_run("backtest_flow", rule=rule, symbol="GER40") as run,
    ):
        run.save_result({"trades": 3, "x": value})
    kept = Path(run_ws.store_root / "archive" / "provenance" / f"{run.run_id}_result_rejected.json")
    assert str(info.value) == (
        f"exchange/archive/provenance/{kept.name}: {message}; the result was not stored, "
        "it is kept in that file"
    )
    document = json.loads(kept.read_text())
    assert document["trades"] == 3 and document["setup_id"] == "IB_raid_v1"

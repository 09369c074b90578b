"""Lineage fixtures: the vendored OpenLineage schemas as a validator (format checks on), a
receiver on loopback, and a committed workspace with candles whose ita.toml names it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from tests.conftest import REPO, git
from tests.provenance.conftest import HEADER, candle_lines

SCHEMAS = Path(__file__).parent / "schemas"
RULE_FACET_SCHEMA = REPO / "schemas" / "openlineage_itaRules_rule-1-0-0.json"


class EventValidator:
    """Validates a RunEvent against OpenLineage.json and every facet against its own schema
    (the one its ``_schemaURL`` names; a facet without a vendored schema fails)."""

    def __init__(self) -> None:
        docs = [json.loads(p.read_text()) for p in [*SCHEMAS.glob("*.json"), RULE_FACET_SCHEMA]]
        self.by_id = {doc["$id"]: doc for doc in docs}
        self.registry: Registry[Any] = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc)) for doc in docs
        )
        self.checker = FormatChecker()
        for needed in ("uri", "date-time", "uuid"):
            assert needed in self.checker.checkers, f"format {needed} is not checked"

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        validator = Draft202012Validator(
            schema, registry=self.registry, format_checker=self.checker
        )
        return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]

    def check(self, event: dict[str, Any]) -> None:
        spec = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
        problems = self.errors({"$ref": f"{spec}#/$defs/RunEvent"}, event)
        for name, facet in _facets(event):
            base = facet["_schemaURL"].split("#", 1)[0]
            assert base in self.by_id, f"{name}: no vendored schema for {base}"
            problems += [f"{name}: {p}" for p in self.errors(self.by_id[base], {name: facet})]
        assert not problems, "\n".join(problems)


def _facets(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from (event.get("run", {}).get("facets") or {}).items()
    yield from (event.get("job", {}).get("facets") or {}).items()
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        yield from (dataset.get("facets") or {}).items()
        yield from (dataset.get("inputFacets") or {}).items()
        yield from (dataset.get("outputFacets") or {}).items()


@pytest.fixture(scope="session")
def validator() -> EventValidator:
    return EventValidator()


@dataclass
class Receiver:
    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """An OpenLineage HTTP endpoint on loopback that keeps every event posted to it."""
    got = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.paths.append(self.path)
            got.events.append(json.loads(body))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield got
    server.shutdown()
    server.server_close()


def lineage_toml(url: str, namespace: str = "desk-test") -> str:
    return f'[lineage]\nurl = "{url}"\nnamespace = "{namespace}"\n'


@pytest.fixture
def lineage_ws(in_git_repo: Path) -> Path:
    """Sample rules + 3 days of M15 candles, committed; no lineage.url yet."""
    shutil.copytree(REPO / "rules", in_git_repo / "rules", dirs_exist_ok=True)
    (in_git_repo / ".gitignore").write_text(".ita/\n/exchange/\n")
    candles = in_git_repo / "data" / "GER40_M15.csv"
    candles.parent.mkdir()
    lines = candle_lines(dt.datetime(2025, 5, 1), 96 * 3, dt.timedelta(minutes=15))
    candles.write_text(HEADER + "".join(lines))
    (in_git_repo / "ita.toml").write_text('[lineage]\nnamespace = "desk-test"\n')
    git(in_git_repo, "add", "-A")
    git(in_git_repo, "commit", "-q", "-m", "rules and candles")
    return in_git_repo


def backtest(
    root: Path, metrics: dict[str, Any], inputs: str = "data/GER40_M15.csv", **options: Any
) -> dict[str, Any]:
    """One backtest run of IB_raid_v1@1.2 over 2025-05-01..02 that stores ``metrics``."""
    from ita_rules.workspace import Workspace

    ws = Workspace.open(root)
    with ws.start_run(
        "backtest_flow",
        rule="IB_raid_v1@1.2",
        symbol="GER40",
        timeframe="M15",
        inputs=[inputs],
        data_range=("2025-05-01", "2025-05-02"),
        **options,
    ) as run:
        run.save_result({"setup_id": "IB_raid_v1", "rule_version": "1.2", "metrics": metrics})
    return run.snapshot

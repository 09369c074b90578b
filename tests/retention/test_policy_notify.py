"""retention.yaml refusals, and the Telegram notice against a local Bot API server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ita_rules.core.errors import UsageError
from ita_rules.retention.notify import NotifyError, Telegram
from ita_rules.retention.policy import PolicyError, load_policy
from tests.retention.conftest import POLICY

KNOWN = ["candles", "screenshot", "annotation", "embedding", "model", "provenance", "result"]


def _load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "retention.yaml"
    path.write_text(text)
    return load_policy(path, KNOWN, "retention.yaml")


def test_the_spec_example_loads(tmp_path: Path) -> None:
    policy = _load(tmp_path, POLICY)
    assert policy.types["embedding"].keep_last == 3
    assert policy.types["candles"].strategy == "archive_to_remote"
    assert policy.protect_tags == {"important"} and policy.safety_window_days == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["retention.yaml:1:1: file is empty; expected a mapping of fields"]),
        ("types: {}\n", ["retention.yaml:1:8: types: expected at least 1 entry, got none"]),
        ("safety_window_days: 7\n", ["retention.yaml:1:1: types: required field is missing"]),
        (
            "types:\n  screenshots: {retain_days: 90, strategy: delete}\n",
            [
                "retention.yaml:2:3: types.screenshots: unknown type (known: annotation, candles, embedding, model, provenance, result, screenshot)"
            ],
        ),
        (
            "types:\n  result: {retain_days: 30, strategy: delete}\n",
            [
                "retention.yaml:2:39: types.result.strategy: backtest results are never deleted automatically"
            ],
        ),
        (
            "types:\n  screenshot: {strategy: delete}\n",
            ["retention.yaml:2:15: types.screenshot: delete needs retain_days (a number of days)"],
        ),
        (
            "types:\n  embedding: {retain_days: 10, strategy: prune_old}\n",
            [
                "retention.yaml:2:14: types.embedding: keep_last goes with strategy prune_old, and only with it"
            ],
        ),
        (
            "types:\n  screenshot: {retain_days: 10, strategy: shred}\n",
            [
                "retention.yaml:2:43: types.screenshot.strategy: expected one of keep_forever, delete, "
                "archive_to_remote, prune_old, got the string 'shred'"
            ],
        ),
        (
            "types:\n  screenshot: {retain_days: 10, strategy: delete}\nlarge_purge: 3\n",
            ["retention.yaml:3:1: large_purge: unknown field"],
        ),
    ],
)
def test_bad_policies_are_refused_with_places(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, text)
    lines = [str(f) for f in info.value.findings]
    assert len(lines) == len(expected), lines
    for line, want in zip(sorted(lines), sorted(expected), strict=True):
        assert line.startswith(want), (line, want)


def test_missing_policy_is_an_error_not_a_default(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no retention policy"):
        load_policy(tmp_path / "retention.yaml", KNOWN)


class _BotAPI(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    status = 200
    answer: dict[str, Any] = {"ok": True, "result": {"message_id": 42}}

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).requests.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        payload = json.dumps(
            self.answer
            if self.status == 200
            else {"ok": False, "description": "Bad Request: chat not found"}
        )
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bot_api() -> Iterator[tuple[str, type[_BotAPI]]]:
    handler = type("Handler", (_BotAPI,), {"requests": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_telegram_send_message_shape(bot_api: tuple[str, type[_BotAPI]]) -> None:
    url, handler = bot_api
    tg = Telegram(url, "ITA_TELEGRAM_TOKEN", "-100123")
    assert tg.send("purge plan_x: 12.5 GB", {"ITA_TELEGRAM_TOKEN": "123:secret"}) == 42
    assert handler.requests == [
        {
            "path": "/bot123:secret/sendMessage",
            "body": {
                "chat_id": "-100123",
                "text": "purge plan_x: 12.5 GB",
                "disable_web_page_preview": True,
            },
        }
    ]


def test_telegram_4xx_and_unreachable_and_missing_token(bot_api: tuple[str, type[_BotAPI]]) -> None:
    url, handler = bot_api
    handler.status = 400
    tg = Telegram(url, "ITA_TELEGRAM_TOKEN", "-1")
    with pytest.raises(NotifyError) as info:
        tg.send("x", {"ITA_TELEGRAM_TOKEN": "123:secret"})
    assert str(info.value) == "Telegram refused the notice: HTTP 400 Bad Request: chat not found"
    dead = Telegram("http://127.0.0.1:9", "ITA_TELEGRAM_TOKEN", "-1", timeout=2)
    with pytest.raises(NotifyError) as info:
        dead.send("x", {"ITA_TELEGRAM_TOKEN": "123:secret"})
    assert str(info.value).startswith("Telegram is unreachable at http://127.0.0.1:9: ")
    assert "secret" not in str(info.value)
    with pytest.raises(UsageError, match=r"\$ITA_TELEGRAM_TOKEN is not set"):
        tg.send("x", {})


def test_large_purge_sends_a_telegram_notice_and_waits_for_its_plan_id(
    ret_ws: Any, cli: Any, bot_api: tuple[str, type[_BotAPI]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = bot_api
    policy = ret_ws.root / "retention.yaml"
    policy.write_text(policy.read_text().replace("large_purge_gb: 10", "large_purge_gb: 0.0000001"))
    monkeypatch.setenv("ITA_TELEGRAM_BASE_URL", url)
    monkeypatch.setenv("ITA_TELEGRAM_CHAT_ID", "-100777")
    monkeypatch.setenv("ITA_TELEGRAM_TOKEN", "42:bot-secret")
    fid = ret_ws.put("big.png", b"x" * 4096, type="screenshot", days_old=200)
    r = cli("retention", "apply", "--as-of", "2026-01-15T12:00:00")
    assert r.code == 1
    assert (
        "a Telegram notice was sent; confirm with `ita-rules retention apply --confirm plan_"
        in r.err
    )
    assert "bot-secret" not in r.err + r.out
    plan_id = r.err.rsplit("--confirm ", 1)[1].split("`")[0]
    (request,) = handler.requests
    assert request["path"] == "/bot42:bot-secret/sendMessage"
    assert request["body"]["chat_id"] == "-100777"
    assert f"ita-rules retention apply --confirm {plan_id}" in request["body"]["text"]
    assert ret_ws.statuses()[fid] == "live"
    r = cli("retention", "apply", "--as-of", "2026-01-15T12:00:00", "--confirm", plan_id, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["affected_file_ids"] == [fid]
    assert len(handler.requests) == 1  # confirmed: no second notice


def test_telegram_down_means_no_purge(
    ret_ws: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = ret_ws.root / "retention.yaml"
    policy.write_text(policy.read_text().replace("large_purge_gb: 10", "large_purge_gb: 0.0000001"))
    monkeypatch.setenv("ITA_TELEGRAM_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ITA_TELEGRAM_CHAT_ID", "-1")
    monkeypatch.setenv("ITA_TELEGRAM_TOKEN", "42:bot-secret")
    fid = ret_ws.put("big.png", b"x" * 4096, type="screenshot", days_old=200)
    r = cli("retention", "apply", "--as-of", "2026-01-15T12:00:00")
    assert r.code == 1
    assert r.err.startswith("ita-rules: Telegram is unreachable at http://127.0.0.1:9: ")
    assert "bot-secret" not in r.err
    assert ret_ws.statuses()[fid] == "live"

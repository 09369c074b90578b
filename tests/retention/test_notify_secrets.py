"""The Telegram token is in the request path: no error may print it, whatever goes wrong."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ita_rules.core.errors import ItaRulesError, UsageError
from ita_rules.retention.notify import NotifyError, Telegram

TOKEN = "123456789:AAH-secret-bot-token"


class _Echo(BaseHTTPRequestHandler):
    """A misbehaving Bot API: it quotes the request path back in its error description."""

    def do_POST(self) -> None:
        body = json.dumps({"ok": False, "description": f"bad request to {self.path}"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _error(base_url: str, token: str) -> ItaRulesError:
    with pytest.raises(ItaRulesError) as info:
        Telegram(base_url, "ITA_TELEGRAM_TOKEN", "42", timeout=2).send(
            "hi", {"ITA_TELEGRAM_TOKEN": token}
        )
    return info.value


@pytest.mark.parametrize("token", ["123:AB CD", "123:AB\nCD", "not-a-token", "123:AB/../x"])
def test_a_malformed_token_is_named_by_its_variable_never_quoted(token: str) -> None:
    err = _error("http://127.0.0.1:9", token)
    assert isinstance(err, UsageError)
    assert str(err) == (
        "$ITA_TELEGRAM_TOKEN does not look like a Telegram bot token "
        "(digits, a colon, then letters, digits, '_' or '-'; no spaces)"
    )


def test_a_base_url_password_is_not_printed() -> None:
    err = _error("http://user:url-secret@127.0.0.1:9", TOKEN)
    assert isinstance(err, NotifyError)
    assert "url-secret" not in str(err) and TOKEN not in str(err)
    assert str(err).startswith("Telegram is unreachable at http://user:<redacted>@127.0.0.1:9: ")


@pytest.mark.parametrize("base_url", ["http://[::1", "ftp://127.0.0.1", "127.0.0.1:9"])
def test_a_broken_base_url_is_one_line_without_the_token(base_url: str) -> None:
    err = _error(base_url, TOKEN)
    assert TOKEN not in str(err) and "\n" not in str(err)


def test_a_server_that_quotes_the_path_back_does_not_leak_the_token(echo_server: str) -> None:
    err = _error(echo_server, TOKEN)
    assert (
        str(err)
        == "Telegram refused the notice: HTTP 400 bad request to /bot<redacted>/sendMessage"
    )

"""Telegram notice before a large purge: Bot API ``sendMessage`` over HTTPS (stdlib only).

The token is read from the environment variable named in ``ita.toml``
(``notify.telegram.token_env``), never stored in files and never printed: error messages name
the variable, not its value. The base URL is configurable so tests speak to a local server.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from ita_rules.core.errors import ItaRulesError, UsageError
from ita_rules.provenance.redact import REDACTED, redact_text

# A Bot API token: ``123456789:AA...``. Anything else (spaces, newlines) would be quoted back by
# the HTTP client in its error, request path and token included.
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")


class NotifyError(ItaRulesError):
    """The notice could not be delivered: the purge does not proceed."""


@dataclass(frozen=True)
class Telegram:
    base_url: str
    token_env: str
    chat_id: str
    timeout: float = 10.0

    @property
    def shown_url(self) -> str:
        """The base URL as messages show it: without a password."""
        return redact_text(self.base_url)

    def send(self, text: str, environ: Mapping[str, str] | None = None) -> int:
        """Send ``text``; return the Telegram message id. Raise on any failure."""
        env = os.environ if environ is None else environ
        token = env.get(self.token_env, "")
        if not token:
            raise UsageError(
                f"a large purge needs a Telegram notice, but ${self.token_env} is not set "
                "(the bot token is read from that variable)"
            )
        if not self.chat_id:
            raise UsageError(
                "a large purge needs a Telegram notice: set notify.telegram.chat_id in ita.toml"
            )
        if not _TOKEN.fullmatch(token):
            raise UsageError(
                f"${self.token_env} does not look like a Telegram bot token "
                "(digits, a colon, then letters, digits, '_' or '-'; no spaces)"
            )
        shown = self.shown_url
        if not self.base_url.startswith(("https://", "http://")):
            raise UsageError(f"notify.telegram.base_url must start with https:// (got {shown})")
        url = f"{self.base_url.rstrip('/')}/bot{token}/sendMessage"
        body = json.dumps({"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True})
        try:
            request = urllib.request.Request(
                url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
            )
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = _description(exc.read()).replace(token, REDACTED)
            raise NotifyError(
                f"Telegram refused the notice: HTTP {exc.code} {detail}".strip()
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = str(getattr(exc, "reason", exc)).replace(token, REDACTED)
            raise NotifyError(f"Telegram is unreachable at {shown}: {reason}") from None
        except Exception as exc:  # http.client errors quote the request path, which holds the token
            raise NotifyError(f"Telegram is unreachable at {shown}: {type(exc).__name__}") from None
        try:
            answer = json.loads(raw.decode("utf-8") or "{}")
        except ValueError:
            raise NotifyError("Telegram answered with something that is not JSON") from None
        if not isinstance(answer, dict):
            raise NotifyError("Telegram answered with something that is not a JSON object")
        if not answer.get("ok"):
            raise NotifyError(
                f"Telegram refused the notice: {answer.get('description', 'not ok')}".replace(
                    token, REDACTED
                )
            )
        return int(answer.get("result", {}).get("message_id", 0))


def _description(raw: bytes) -> str:
    try:
        return str(json.loads(raw.decode("utf-8")).get("description", ""))
    except (ValueError, AttributeError):
        return ""

"""Secrets never reach a snapshot, the database, a stored diff or the terminal.

A run records allow-listed environment variables and, for a dirty tree, the diff of the code it
ran. Both can hold credentials. The rules here are deliberately wide (a false alarm costs one
``"<redacted>"``, a miss leaks a password into an archive that is copied to remotes):

- a variable whose *name* looks secret keeps its name, and its value becomes ``"<redacted>"``:
  names containing KEY, SECRET, TOKEN, PASS, PWD, DSN, SIG, CREDENTIAL, PRIVATE, AUTH, COOKIE or
  SESSION, and every ``RCLONE_CONFIG_*`` except the harmless ``_TYPE``, ``_PROVIDER``,
  ``_REGION`` and ``_ENDPOINT`` settings;
- in any recorded *value* (and in the stored diff), the password of a URL
  (``scheme://user:password@host``) and tokens of well-known shapes (Telegram bot tokens, AWS
  access key ids, GitHub, Slack, OpenAI-style keys, JWTs, PEM private-key blocks) are replaced by
  ``<redacted>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

REDACTED = "<redacted>"

_SECRET_NAME = re.compile(
    r"KEY|SECRET|TOKEN|PASS|PWD|DSN|SIG|CREDENTIAL|PRIVATE|AUTH|COOKIE|SESSION", re.IGNORECASE
)
_RCLONE_HARMLESS = re.compile(r"_(TYPE|PROVIDER|REGION|ENDPOINT)$", re.IGNORECASE)

# A URL's userinfo password: scheme://user:password@ -> scheme://user:<redacted>@
# up to the LAST "@" before a space or a quote: a password may hold "/" and "@" (AWS-style
# secrets often do); when a later "@" is not the userinfo's, more is hidden than needed.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^\s'\"<>]*@")
_TOKEN_SHAPES = re.compile(
    r"""
      \b\d{6,12}:[A-Za-z0-9_-]{30,}\b            # Telegram bot token
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b              # AWS access key id
    | \bgh[pousr]_[A-Za-z0-9]{30,}\b             # GitHub tokens
    | \bgithub_pat_[A-Za-z0-9_]{30,}\b
    | \bxox[abprs]-[A-Za-z0-9-]{10,}\b           # Slack
    | \bsk-[A-Za-z0-9_-]{20,}\b                  # OpenAI-style secret keys
    | \beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b   # JWT
    | -----BEGIN[A-Z ]*PRIVATE\ KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE\ KEY-----
    """,
    re.VERBOSE,
)


def is_secret_name(name: str) -> bool:
    """True when a variable's name says its value is a credential."""
    if name.upper().startswith("RCLONE_CONFIG_"):
        return not _RCLONE_HARMLESS.search(name)
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """``text`` with URL passwords and well-known token shapes replaced by ``<redacted>``."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}:{REDACTED}@", text)
    return _TOKEN_SHAPES.sub(REDACTED, text)


def redact_bytes(data: bytes) -> tuple[bytes, int]:
    """``data`` (a diff) with its secrets redacted, bytes that are not UTF-8 kept as they are;
    and how many secrets were replaced."""
    text = data.decode("utf-8", "surrogateescape")
    clean = redact_text(text)
    if clean == text:
        return data, 0
    return clean.encode("utf-8", "surrogateescape"), clean.count(REDACTED) - text.count(REDACTED)


def redact_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """Each variable with its value, or ``<redacted>`` for a secret-looking name; values keep
    their non-secret parts (a URL without its password)."""
    return {
        name: REDACTED if is_secret_name(name) else redact_text(value)
        for name, value in sorted(variables.items())
    }

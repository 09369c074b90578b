"""``remote.name`` -> :class:`RemoteSpec`, secrets kept out of what we print, and the errors of
the remote subsystem.

An rclone remote path is ``name:path`` (a configured remote), ``name,opt=value:path`` or
``:backend,opt=value:path`` (a connection string: options inline, values quoted with ``'`` or
``"`` when they hold ``,`` or ``:``), or a plain local folder. What we print and record is
``shown``: the same text with the value of every secret-like option (key, secret, pass, token,
credential, auth) replaced with ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ita_rules.core.errors import ItaRulesError, UsageError

_SECRET_VAR = re.compile(r"^(RCLONE|AWS)_.*(SECRET|PASS|TOKEN|KEY|CREDENTIAL)")
_MIN_SECRET = 4  # shorter values would blank out ordinary words


class RemoteError(ItaRulesError):
    """rclone failed, or a copy on the remote is missing or does not match (exit 1)."""


class RcloneMissing(UsageError):
    """rclone is not installed (exit 2: the command cannot be used on this machine yet)."""


class RemoteConfigError(UsageError):
    """``remote.name`` is empty or names no rclone remote (exit 2)."""


@dataclass(frozen=True)
class RemoteSpec:
    """A parsed rclone remote path: ``name:path``, ``:backend,opt=v:path`` or a local folder."""

    text: str
    name: str | None  # a configured remote's name; None for a local folder or ``:backend``
    shown: str  # safe to print: secret-like option values (key, secret, pass, token) -> ***
    secrets: tuple[str, ...]

    def join(self, relative: str) -> str:
        """The rclone path of ``relative`` (``/``-separated) under this remote path."""
        base = self.text
        if not relative:
            return base
        if base.endswith((":", "/")):
            return base + relative
        return f"{base}/{relative}"


_SECRET_KEY = re.compile(r"(?i)secret|key|pass|token|credential|auth")
_SECRET_OPT = re.compile(
    r"(?i)([\w-]*(?:secret|key|pass|token|credential|auth)[\w-]*)=(\"[^\"]*\"|'[^']*'|[^,:/]*)"
)
_NAME = re.compile(r"(:?)([\w.][\w. -]*?)(?=[,:])")


def _options(text: str, i: int) -> tuple[list[tuple[str, str, str]], int] | None:
    """``,key=value,key='quoted, value'`` from ``text[i:]`` up to the ``:`` as (key, value,
    raw text); None if malformed."""
    opts: list[tuple[str, str, str]] = []
    while i < len(text) and text[i] == ",":
        start = i
        eq = text.find("=", i)
        if eq == -1:
            return None
        key, i = text[i + 1 : eq], eq + 1
        if i < len(text) and text[i] in "'\"":
            quote, value, i = text[i], [], i + 1
            while i < len(text):
                if text[i] == quote:
                    if text[i + 1 : i + 2] == quote:  # a doubled quote stands for itself
                        value.append(quote)
                        i += 2
                        continue
                    i += 1
                    break
                value.append(text[i])
                i += 1
            opts.append((key, "".join(value), text[start:i]))
        else:
            end = min((j for j in (text.find(",", i), text.find(":", i)) if j != -1), default=-1)
            if end == -1:
                return None
            opts.append((key, text[i:end], text[start:end]))
            i = end
    return opts, i


def parse_remote(text: str) -> RemoteSpec:
    """Parse ``remote.name``; an empty one is a :class:`RemoteConfigError`."""
    if not text.strip():
        raise RemoteConfigError(
            'remote.name is not set: add `[remote] name = "REMOTE:PATH"` to ita.toml '
            '(e.g. "s3backup:ita-archive") or set ITA_REMOTE'
        )
    # anything that looks like key=value with a secret-like key is hidden wherever it stands
    # (e.g. in what rclone would take as the path of a mistyped connection string)
    loose = [v.strip("\"'") for _, v in _SECRET_OPT.findall(text)]
    shown_text = _SECRET_OPT.sub(r"\1=***", text)
    m = _NAME.match(text)
    parsed = _options(text, m.end()) if m else None
    local = m is None or parsed is None or parsed[1] >= len(text) or text[parsed[1]] != ":"
    if not local and m is not None and os.name == "nt" and not m.group(1) and len(m.group(2)) == 1:
        local = True  # C:\\backup is a drive, not a remote
    if local or m is None or parsed is None:
        return RemoteSpec(text, None, shown_text, _long(loose))
    colon, name = m.group(1), m.group(2)
    opts, end = parsed
    secrets = [v for k, v, _ in opts if _SECRET_KEY.search(k)] + loose
    shown_opts = "".join(f",{k}=***" if _SECRET_KEY.search(k) else raw for k, _, raw in opts)
    shown = colon + name + shown_opts + _SECRET_OPT.sub(r"\1=***", text[end:])
    return RemoteSpec(text, None if colon else name, shown, _long(secrets))


def _long(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(v for v in values if len(v) >= _MIN_SECRET)


def env_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values of variables that hold rclone or AWS credentials (to blank out of messages)."""
    return tuple(
        value
        for var, value in environ.items()
        if _SECRET_VAR.match(var.upper()) and len(value) >= _MIN_SECRET
    )

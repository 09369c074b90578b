"""Reporters: findings as text lines, JSON, or GitHub Actions annotations."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from ita_rules.core.findings import Finding


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(f: Finding) -> str:
    """``::error file=F,line=L,col=C::message`` for a GitHub Actions log."""
    props = [f"file={_escape_prop(f.path)}"]
    if f.line is not None:
        props.append(f"line={f.line}")
        if f.col is not None:
            props.append(f"col={f.col}")
    if f.field:
        props.append(f"title={_escape_prop(f.field)}")
    level = "error" if f.severity == "error" else "warning"
    msg = f"{f.field}: {f.message}" if f.field else f.message
    return f"::{level} {','.join(props)}::{_escape_data(msg)}"


def text(findings: Iterable[Finding], out: TextIO) -> None:
    """One ``path:line:col: field: message`` line per finding; GitHub annotations too under
    ``GITHUB_ACTIONS=true``."""
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    for f in findings:
        out.write(f"{f}\n")
        if annotate:
            out.write(github_line(f) + "\n")


def dump_json(document: Mapping[str, Any] | list[Any], out: TextIO) -> None:
    """One JSON document on ``out``. (json is imported here: the hooks never print JSON.)"""
    import json

    json.dump(document, out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")


REPORTERS: dict[str, Callable[[Iterable[Finding], TextIO], None]] = {"text": text}

"""Folder layout and file names (docs/architecture.md#store), with every path part checked.

``{folder_for(type)}/{symbol}_{run_id}_{timestamp}.{ext}``; missing parts are omitted. A part
may only hold letters, digits and ``_ . + = -``; ``..``, separators, NUL, drive letters and
names Windows reserves (``CON``, ``NUL``, ``COM1``...) are refused with a message saying which,
and the final path is checked to stay inside the store root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ita_rules.store.errors import BadName

_ALLOWED = re.compile(r"[A-Za-z0-9_.+=-]+")
_TYPE_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,63}")
_EXT_RE = re.compile(r"[A-Za-z0-9]{1,16}")
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{p}{n}" for p in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")
}
MAX_PART = 100
TMP_PREFIX = ".ita-tmp-"


def check_part(field: str, value: str, *, max_len: int = MAX_PART) -> str:
    """Return ``value`` when it is safe as a part of a file name; raise :class:`BadName`."""
    shown = repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if not value:
        raise BadName(f"{field}: must not be empty")
    if "\x00" in value:
        raise BadName(f"{field}: {shown} contains a NUL character")
    if "/" in value or "\\" in value:
        raise BadName(f"{field}: {shown} contains a path separator")
    if re.match(r"[A-Za-z]:", value):
        raise BadName(f"{field}: {shown} starts with a drive letter")
    if ".." in value or value.startswith("."):
        raise BadName(f"{field}: {shown} contains '..' or starts with '.'")
    if value.split(".")[0].upper() in _RESERVED:
        raise BadName(f"{field}: {shown} is a name Windows reserves")
    if value.endswith((".", " ")):
        raise BadName(f"{field}: {shown} ends with a dot or a space")
    if len(value) > max_len:
        raise BadName(f"{field}: longer than {max_len} characters")
    if not _ALLOWED.fullmatch(value):
        raise BadName(f"{field}: {shown} may only contain letters, digits and _ . + = -")
    return value


def check_type(type_: str) -> str:
    check_part("type", type_, max_len=32)
    if not _TYPE_RE.fullmatch(type_):
        raise BadName(
            f"type: {type_!r} must be lowercase letters, digits, _ or -, starting with a letter"
        )
    return type_


def check_tag(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag) or ".." in tag:
        shown = repr(tag) if len(tag) <= 60 else repr(tag[:57] + "...")
        raise BadName(
            f"tag: {shown} must be 1-64 letters, digits or _ . : + = - "
            "(starting with a letter or digit)"
        )
    return tag


def check_timeframe(timeframe: str) -> str:
    return check_part("timeframe", timeframe, max_len=16)


def extension(name: str) -> str:
    """The file's last suffix without the dot ("" when none or when it is not plain)."""
    suffix = os.path.splitext(os.path.basename(name))[1][1:]
    return suffix if _EXT_RE.fullmatch(suffix) else ""


def file_name(symbol: str | None, run_id: str | None, stamp: str, ext: str) -> str:
    parts = [p for p in (symbol, run_id, stamp) if p]
    base = "_".join(parts)
    return f"{base}.{ext}" if ext else base


def check_folder(folder: str) -> str:
    """A configured type folder: ``/``-separated safe parts."""
    for part in folder.split("/"):
        check_part("store folder", part)
    return folder


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing anything that would resolve outside ``root``."""
    target = (root / relative).resolve()
    base = root.resolve()
    if target != base and base not in target.parents:
        raise BadName(f"path {relative!r} would leave the store root {root}")
    return root / relative

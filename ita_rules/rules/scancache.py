"""The registry scan's cache of valid rule files: ``.ita/rules-scan.json`` (derived).

Reading and validating every rule file (YAML nodes, the schema, params_hash) is most of what
``list``, ``report`` and the retention plan spend on a large registry, and nearly every file is
the same as last time. This cache keeps, per file of the rules folder, the SHA-256 of its bytes
and the data the loader built from exactly those bytes, for files that were **valid** only. A
file is taken from the cache when the bytes read now hash to the stored SHA-256; everything else
(a new or changed file, an invalid one, anything that is not a small regular file) goes through
:func:`ita_rules.rules.load.validate_file` as before.

The whole cache is keyed by a digest of the code and schema that decide validity (the loader,
the YAML builder, the validators, params_hash) and of PyYAML's and rfc8785's versions: any change
there starts it afresh. It is derived like the index: deleting ``.ita/`` loses nothing. It is
written (atomically, a temporary file then a rename) only when a scan changed it; a cache that
cannot be read or written is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import stat
import sys
from functools import cache
from pathlib import Path
from typing import Any

from ita_rules.core import yamlio
from ita_rules.core.fsutil import atomic_write_text

INDEX_DIR = ".ita"  # the workspace's sidecar folder (as the index's)
CACHE_NAME = "rules-scan.json"
FORMAT = "1"
# The code that decides whether a file is valid and what data it holds.
_MODULES = (
    "ita_rules.core.blockyaml",
    "ita_rules.core.canonical",
    "ita_rules.core.isodate",
    "ita_rules.core.validation",
    "ita_rules.core.yamlbuild",
    "ita_rules.core.yamldoc",
    "ita_rules.core.yamlio",
    "ita_rules.core.yamlloader",
    "ita_rules.core.yamlscalars",
    "ita_rules.core.fastschemas.rule",
    "ita_rules.rules.load",
    "ita_rules.rules.model",
)


@cache
def code_digest() -> str:
    """SHA-256 over the sources of :data:`_MODULES`, the rule schema and the library versions."""
    from importlib import import_module, resources

    import rfc8785
    import yaml

    from ita_rules.core.yamlloader import _Loader
    from ita_rules.rules.load import RULE_SCHEMA

    h = hashlib.sha256(f"{FORMAT}|{sys.version}|{yaml.__version__}|".encode())
    h.update(f"{getattr(rfc8785, '__version__', '?')}|{_Loader.__name__}|".encode())
    for name in _MODULES:
        h.update(Path(str(import_module(name).__file__)).read_bytes())
    h.update(resources.files("ita_rules.schemas").joinpath(RULE_SCHEMA).read_bytes())
    return h.hexdigest()


class ScanCache:
    """The entries of one rules folder: relative path -> (SHA-256 of the bytes, data)."""

    def __init__(self, file: Path, entries: dict[str, list[Any]]) -> None:
        self.file = file
        self.entries = entries
        self.seen: set[str] = set()
        self.changed = False

    @classmethod
    def open(cls, sidecar: Path) -> ScanCache | None:
        """The cache in ``sidecar`` (the workspace's ``.ita/``); None when that is not a folder."""
        if not sidecar.is_dir():
            return None
        import json  # not on the hook's start-up path (it checks files without a scan)

        file = sidecar / CACHE_NAME
        try:
            doc = json.loads(file.read_bytes())
            entries = doc["entries"] if doc.get("code") == code_digest() else {}
            if not isinstance(entries, dict):
                entries = {}
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            entries = {}
        return cls(file, entries)

    def lookup(self, key: str, path: Path) -> tuple[dict[str, Any] | None, str, str | None]:
        """(data, digest, text): the cached data when ``path`` still holds the bytes it was
        built from (else None), the SHA-256 of the bytes now there and their text (None when
        the file is not a small regular UTF-8 file: the loader then says why)."""
        raw = _read(path)
        if raw is None:
            return None, "", None
        digest = hashlib.sha256(raw).hexdigest()
        entry = self.entries.get(key)
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == digest:
            data = entry[1]
            if isinstance(data, dict):
                return data, digest, None
        return None, digest, _text(raw)

    def store(self, key: str, digest: str, text: str, doc: yamlio.Document) -> None:
        """Remember a valid file, only when ``doc`` was built from ``text``, the text of the
        bytes that hash to ``digest`` (the file may have changed between the two reads)."""
        if doc.text != text or not isinstance(doc.data, dict):
            return
        self.entries[key] = [digest, doc.data]
        self.changed = True

    def drop(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self.changed = True

    def save(self) -> None:
        """Write the cache when it changed (entries of files no longer seen are dropped)."""
        gone = set(self.entries) - self.seen
        for key in gone:
            del self.entries[key]
        if not (self.changed or gone):
            return
        import json

        text = json.dumps({"code": code_digest(), "entries": self.entries}, separators=(",", ":"))
        with contextlib.suppress(OSError):  # a cache that cannot be written is only slower
            atomic_write_text(self.file, text)


def _read(path: Path) -> bytes | None:
    """The bytes of a regular file within the loader's size limit, else None."""
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size > yamlio.MAX_BYTES:
            return None
        return path.read_bytes()
    except OSError:
        return None


def _text(raw: bytes) -> str | None:
    """The text the loader reads from ``raw`` (see :func:`ita_rules.core.yamlio.decode`)."""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None

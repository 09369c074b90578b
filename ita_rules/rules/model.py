"""Rule versions: the ``MAJOR.MINOR`` version type, the naming rules and the frozen ``Rule``."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from ita_rules.core.errors import UsageError

SETUP_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
VERSION_RE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
FILE_RE = re.compile(r"v((?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))\.yaml")
LIFECYCLE_FIELDS = ("active", "deprecation_reason", "tags")


class Version(NamedTuple):
    """``MAJOR.MINOR``, ordered numerically (1.10 > 1.9: as the pair of numbers)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``"1.2"`` or ``"v1.2"``; raise :class:`UsageError` on anything else."""
        raw = text[1:] if text.startswith("v") else text
        m = VERSION_RE.fullmatch(raw)
        if m is None:
            raise UsageError(f"not a version: {text!r} (expected MAJOR.MINOR such as 1.2)")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def tag(self) -> str:
        """``v1.2``: the form used in file names and provenance (``rule_version``)."""
        return f"v{self}"

    @property
    def filename(self) -> str:
        return f"v{self}.yaml"

    def next(self, *, major: bool = False) -> Version:
        return Version(self.major + 1, 0) if major else Version(self.major, self.minor + 1)

    def follows(self, previous: Version) -> bool:
        """True when ``self`` is the next minor or the next major of ``previous`` (no skip)."""
        return self in (previous.next(), previous.next(major=True))


def check_setup_id(setup_id: str) -> str:
    if not SETUP_ID_RE.fullmatch(setup_id):
        raise UsageError(
            f"not a setup id: {setup_id!r} (a letter, then up to 63 letters, digits, '_' or '-')"
        )
    return setup_id


def parse_ref(ref: str) -> tuple[str, Version | None]:
    """``SETUP_ID`` or ``SETUP_ID@VERSION`` (``@1.2`` or ``@v1.2``)."""
    setup_id, sep, version = ref.partition("@")
    check_setup_id(setup_id)
    return setup_id, (Version.parse(version) if sep else None)


class Rule(NamedTuple):
    """One loaded, valid rule version (``data``: the whole document as loaded)."""

    setup_id: str
    version: Version
    author: str
    created: str
    components: tuple[str, ...]
    rules: dict[str, Any]
    targets: dict[str, Any]
    params: dict[str, Any]
    params_hash: str
    active: bool = True
    deprecation_reason: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    path: str = ""
    data: dict[str, Any] = {}  # noqa: RUF012 (read, never changed)

    @property
    def rule_version(self) -> str:
        """``v1.2``, as results and snapshots state it."""
        return self.version.tag

    @property
    def ref(self) -> str:
        return f"{self.setup_id}@{self.version}"

    @classmethod
    def from_data(cls, data: dict[str, Any], path: str = "") -> Rule:
        return cls(
            setup_id=data["setup_id"],
            version=Version.parse(data["version"]),
            author=data["author"],
            created=data["created"],
            components=tuple(data["components"]),
            rules=data["rules"],
            targets=data["targets"],
            params=data.get("params", {}),
            params_hash=data["params_hash"],
            active=data.get("active", True),
            deprecation_reason=data.get("deprecation_reason"),
            description=data.get("description"),
            tags=tuple(data.get("tags", ())),
            path=path,
            data=data,
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (used by ``list``/``show --json`` and the export)."""
        return {
            "setup_id": self.setup_id,
            "version": str(self.version),
            "rule_version": self.rule_version,
            "author": self.author,
            "created": self.created,
            "active": self.active,
            "deprecation_reason": self.deprecation_reason,
            "tags": list(self.tags),
            "params_hash": self.params_hash,
            "path": self.path,
        }

"""Normalise, then hash: RFC 8785 (JSON Canonicalization Scheme) + SHA-256.

``params_hash = "sha256:" + hex(sha256(JCS(content)))`` where ``content`` holds the semantic
fields of a rule (docs/architecture.md#params-hash). The data must already be JSON-compatible:
the YAML loader turns dates into ISO strings and refuses NaN, infinities and integers beyond 2**53.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rfc8785

from ita_rules.core.errors import ItaRulesError

HASHED_FIELDS = ("components", "rules", "params", "targets")
PREFIX = "sha256:"


def _sha256() -> Any:
    """The SHA-256 constructor of CPython's own module (``_sha2`` since 3.12, ``_sha256``
    before): hashlib imports OpenSSL's binding, ~2.5 ms of CPU that every commit's hook would
    pay to hash a few hundred bytes. The digest is the same; hashlib's where neither exists."""
    for name in ("_sha2", "_sha256"):
        try:
            return __import__(name).sha256
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


_SHA256 = _sha256()


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical form of a JSON-compatible value."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ItaRulesError(f"cannot canonicalise value: {exc}") from None


def sha256_of(data: bytes) -> str:
    return PREFIX + str(_SHA256(data).hexdigest())


def hashed_content(rule: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a rule that ``params_hash`` covers: the semantic fields that are present."""
    return {k: rule[k] for k in HASHED_FIELDS if k in rule}


def params_hash(rule: Mapping[str, Any]) -> str:
    """``sha256:<64 hex>`` of the canonical JSON of the rule's semantic fields."""
    return sha256_of(canonical_json(hashed_content(rule)))

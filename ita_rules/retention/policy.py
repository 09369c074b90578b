"""``retention.yaml``: loaded safely, validated by ``schemas/retention.schema.json``, and refused
when it could turn the purge against data that matters.

The anchors' data losses came from bad inputs to the delete decision (a failed listing read as
"nothing in use", a missing prefix selecting everything): so an empty policy, an unknown type,
or any strategy but ``keep_forever`` on ``result`` is an error, never a default.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ita_rules.core import validation, yamlio
from ita_rules.core.errors import ItaRulesError
from ita_rules.core.findings import Finding

SCHEMA = "retention.schema.json"
STRATEGIES = ("keep_forever", "delete", "archive_to_remote", "prune_old")


class PolicyError(ItaRulesError):
    """The retention policy is missing or wrong; every finding is listed."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("\n".join(str(f) for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class TypeRule:
    strategy: str
    retain_days: int | None = None
    keep_last: int | None = None


@dataclass(frozen=True)
class Policy:
    types: dict[str, TypeRule]
    safety_window_days: int = 7
    large_purge_gb: float = 10.0
    protect_tags: frozenset[str] = frozenset({"important"})
    protect_active_rules: bool = True
    backup_before_delete: bool = False
    path: str = ""
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def load_policy(path: Path, known_types: Iterable[str], display: str | None = None) -> Policy:
    """Read and check a policy file; raise :class:`PolicyError` with every problem."""
    shown = display or str(path)
    if not path.exists():
        raise PolicyError(
            [
                Finding(
                    shown,
                    "no retention policy; write one (see `ita-rules retention --help`)",
                    code="missing",
                )
            ]
        )
    doc, findings = yamlio.load(path, shown)
    if doc is None:
        raise PolicyError(findings)
    return policy_from_document(doc, known_types)


def policy_from_document(doc: yamlio.Document, known_types: Iterable[str]) -> Policy:
    """The policy a parsed ``retention.yaml`` states; :class:`PolicyError` with every problem
    (the schema's first, then the rules it cannot express)."""
    findings = validation.validate(doc, SCHEMA)
    if findings:
        raise PolicyError(findings)
    data: dict[str, Any] = doc.data
    known = sorted(set(known_types) | {"result"})
    for name, rule in data["types"].items():
        findings += _type_findings(doc, name, rule, known)
    if findings:
        raise PolicyError(findings)
    protect = data.get("protect", {})
    return Policy(
        types={
            name: TypeRule(rule["strategy"], rule.get("retain_days"), rule.get("keep_last"))
            for name, rule in data["types"].items()
        },
        safety_window_days=data.get("safety_window_days", 7),
        large_purge_gb=float(data.get("large_purge_gb", 10)),
        protect_tags=frozenset(protect.get("tags", ["important"])),
        protect_active_rules=protect.get("active_rules", True),
        backup_before_delete=data.get("backup_before_delete", False),
        path=doc.path,
        data=data,
    )


def _type_findings(
    doc: yamlio.Document, name: str, rule: dict[str, Any], known: list[str]
) -> list[Finding]:
    """What is wrong with the policy of one type: an unknown type, a strategy on ``result``
    other than keep_forever, retain_days or keep_last where the strategy wants none or needs
    one."""
    where = ("types", name)
    out = []
    if name not in known:
        message = f"unknown type (known: {', '.join(known)})"
        out.append(doc.finding(where, message, key=True, code="unknown-type"))
    strategy, days = rule["strategy"], rule.get("retain_days")
    if name == "result" and strategy != "keep_forever":
        message = (
            "backtest results are never deleted automatically: use keep_forever "
            "(an administrator purges them with `ita-rules retention purge --admin`)"
        )
        out.append(doc.finding((*where, "strategy"), message, code="result-protected"))
    elif strategy == "keep_forever" and days is not None:
        message = "must be null (or absent) with keep_forever"
        out.append(doc.finding((*where, "retain_days"), message, code="policy"))
    if strategy != "keep_forever" and days is None:
        message = f"{strategy} needs retain_days (a number of days)"
        out.append(doc.finding(where, message, code="policy"))
    if (strategy == "prune_old") != ("keep_last" in rule):
        message = "keep_last goes with strategy prune_old, and only with it"
        out.append(doc.finding(where, message, code="policy"))
    return out

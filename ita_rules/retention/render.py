"""A retention plan as JSON, streamed: byte for byte ``json.dumps(plan.as_dict(), indent=2,
ensure_ascii=False)`` (what ``--json`` prints everywhere), without building a dict per decision
(a million of them would cost seconds and hundreds of MB)."""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any, TextIO

from ita_rules.retention.decisions import head_of

DECISION_FIELDS = ("file_id", "type", "size", "created_at", "action", "reason", "protected")


def write_plan_json(plan: Any, out: TextIO, chunk: int = 10_000) -> None:
    """``emit_json(plan.as_dict())``, byte for byte, without a dict per decision: the decisions
    are formatted from a template (``json.dump`` with ``indent`` runs the pure-Python encoder:
    over ten seconds for a million decisions), the text of their action, reason and protection
    made once per such triple (they repeat), and written a chunk at a time; the plan id and
    the totals, which count the decisions, come after them (one reading of a streamed plan)."""
    head = _indented({**head_of(plan), "decisions": []})
    out.write(head[: -len("]\n}")])
    known: dict[Any, str] = {}  # type texts, each encoded once
    tails: dict[Any, str] = {}  # (action, reason, protected) -> the decision's last three lines
    esc = encode_basestring
    batch: list[str] = []
    lead, wrote = "", False
    for fid, type_, size, created, action, reason, protected in plan.decisions:
        try:
            if size.__class__ is not int or protected.__class__ is not bool:
                raise TypeError  # not one of ours: json says how it is written
            batch.append(
                f'\n    {{\n      "file_id": {esc(fid)},\n      "type": {known[type_]},'
                f'\n      "size": {size},\n      "created_at": {esc(created)},'
                + tails[action, reason, protected]
            )
        except (KeyError, TypeError):  # a text met first, or a value that is not ours
            if type(type_) is type(action) is type(reason) is str and type(protected) is bool:
                known[type_] = esc(type_)
                tails[action, reason, protected] = _tail(action, reason, protected)
            batch.append(_decision(fid, type_, size, created, action, reason, protected))
        if len(batch) == chunk:
            out.write(lead + ",".join(batch))
            batch.clear()
            lead, wrote = ",", True
    if batch:
        out.write(lead + ",".join(batch))
        wrote = True
    out.write(("\n  ]," if wrote else "],") + _indented(plan.summary())[1:] + "\n")


def _tail(action: str, reason: str, protected: bool) -> str:
    """The last three fields of a decision and its closing brace, as :func:`_decision` writes
    them: decisions alike in these share the text."""
    return (
        f'\n      "action": {encode_basestring(action)},'
        f'\n      "reason": {encode_basestring(reason)},'
        f'\n      "protected": {"true" if protected else "false"}\n    }}'
    )


def _decision(*fields: Any) -> str:
    """One decision as ``json.dump(..., indent=2)`` writes it inside the plan."""
    text = _indented(dict(zip(DECISION_FIELDS, fields, strict=True)))
    return "\n    " + text.replace("\n", "\n    ")  # JSON strings hold no raw newline


def _indented(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)

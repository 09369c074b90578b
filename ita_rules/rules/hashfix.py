"""``validate --fix``: the params_hash written by editing its one line, for any number of files.

A file whose only problem is its hash gets that line changed and nothing else: the value is
replaced (in double quotes, or in the single quotes it had; a comment after it keeps its column
when the longer value leaves room, as ruamel writes it), or a missing line is appended. The edit
is checked by loading the new text: the same data but the hash, and valid. A file the line edit
cannot fix that way (a quoted key, a value over several lines, a hash inside a flow mapping) is
round-tripped by ruamel instead (:func:`ita_rules.rules.authoring.with_hash`), which rewrites
the whole file in its own layout. The caller writes all new texts at once
(:func:`ita_rules.core.fsutil.replace_all`: one file-system sync, not an fsync per file).

On the hook path: nothing here imports ruamel unless the line edit is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from ita_rules.core import yamlio
from ita_rules.rules.load import Validated, validate_document
from ita_rules.rules.model import Rule

_HASH_LINE = re.compile(
    r"^params_hash:"
    r"(?:[ \t]+(?P<value>\"[^\"\\\r\n]*\"|'[^'\r\n]*'|[^\s#'\"][^\r\n]*?))??"
    r"(?:[ \t]+(?P<comment>#[^\r\n]*))?[ \t]*(?P<eol>\r?)$",
    re.MULTILINE,
)


def edit_hash_line(text: str, value: str) -> str | None:
    """``text`` with its top-level ``params_hash:`` line set to ``value``, or the line
    appended when there is none; None when more than one line could be meant. The caller
    checks the result by loading it (a line that looks like the key may not be one)."""
    found = list(_HASH_LINE.finditer(text))
    if len(found) > 1:
        return None
    if not found:
        eol = "\r\n" if text.partition("\n")[0].endswith("\r") else "\n"
        tail = "" if not text or text.endswith("\n") else eol
        return f'{text}{tail}params_hash: "{value}"{eol}'
    m = found[0]
    quote = "'" if (m.group("value") or "").startswith("'") else '"'
    line = f"params_hash: {quote}{value}{quote}"
    if m.group("comment"):
        column = m.start("comment") - m.start()
        line += " " * max(1, column - len(line)) + m.group("comment")
    return text[: m.start()] + line + m.group("eol") + text[m.end() :]


def fixed(path: Path, checked: Validated) -> tuple[bytes, Validated]:
    """The new contents of the rule file at ``path`` (validated as ``checked``, its only
    findings a missing or wrong hash) with the correct hash, and what validating them finds."""
    raw = path.read_bytes()
    if checked.doc is not None and checked.computed_hash is not None:
        expected = {**checked.doc.data, "params_hash": checked.computed_hash}
        text = edit_hash_line(raw.decode("utf-8"), checked.computed_hash)
        if text is not None:
            data = text.encode("utf-8")
            result = validated(data, path, checked.path)
            if result.ok and result.doc is not None and result.doc.data == expected:
                return data, result
    from ita_rules.rules.authoring import with_hash

    data = with_hash(path.read_text(encoding="utf-8")).encode("utf-8")
    return data, validated(data, path, checked.path)


def validated(raw: bytes, path: Path, shown: str) -> Validated:
    """What validating ``raw`` as the rule file at ``path`` finds (see ``load.validate_file``)."""
    text, findings = yamlio.decode(raw, shown)
    doc = None
    if text is not None:
        doc, findings = yamlio.loads(text, shown, raw_scalars=("version",))
    if doc is None:
        return Validated(shown, None, findings)
    findings, computed = validate_document(doc, path)
    rule = Rule.from_data(doc.data, shown) if not findings else None
    return Validated(shown, rule, findings, doc, computed)

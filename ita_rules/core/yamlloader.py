"""PyYAML's side of loading: compose the text into nodes (libyaml when available), build the
data with :class:`~ita_rules.core.yamlbuild.Builder`, and turn PyYAML's errors into findings.

:func:`ita_rules.core.yamlio.loads` comes here for every text that
:mod:`ita_rules.core.blockyaml` does not read itself; importing this module imports PyYAML.
"""

from __future__ import annotations

import re

import yaml

from ita_rules.core.findings import Finding
from ita_rules.core.yamlbuild import NULL_TAG, Builder, Stop
from ita_rules.core.yamldoc import MAX_DEPTH, Document

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads(
    text: str, display: str, raw_scalars: frozenset[str]
) -> tuple[Document | None, list[Finding]]:
    """Load YAML text (see :func:`ita_rules.core.yamlio.load`)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_finding(exc, text, display)]
    except yaml.reader.ReaderError as exc:
        return None, [_reader_finding(exc, text, display)]
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        return None, [Finding(display, f"invalid YAML: {exc}".replace("\n", " "), code="yaml")]
    except RecursionError:
        return None, [Finding(display, f"nesting deeper than {MAX_DEPTH} levels", code="too-deep")]
    if node is None or (
        isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG and not node.value
    ):
        return None, [
            Finding(display, "file is empty; expected a mapping of fields", 1, 1, code="empty")
        ]
    doc = Document(display, None, text=text)
    builder = Builder(doc, raw_scalars)
    try:
        doc.data = builder.build(node, (), 0)
    except Stop as stop:
        return None, [stop.finding]
    if builder.findings:
        return None, builder.findings
    return doc, []


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _reader_finding(exc: yaml.reader.ReaderError, text: str, display: str) -> Finding:
    """A character YAML does not allow (NUL, other control characters): where and which."""
    index = exc.position
    if _Loader is not yaml.SafeLoader:  # libyaml counts UTF-8 bytes, not characters
        index = len(text.encode("utf-8")[:index].decode("utf-8", "ignore"))
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    line, col = _line_col(text, index)
    utf16 = code == 0 and text.count("\x00") * 4 >= len(text)  # every other byte is NUL
    hint = "; is it UTF-16 without a byte-order mark? save it as UTF-8" if utf16 else ""
    return Finding(
        display,
        f"invalid YAML: character U+{code:04X} is not allowed in a YAML file "
        f"(control characters must be written as escapes in a double-quoted string){hint}",
        line,
        col,
        code="yaml",
    )


_NOISE_CONTEXTS = ("while scanning for the next token",)


def _syntax_finding(exc: yaml.MarkedYAMLError, text: str, display: str) -> Finding:
    """A YAML syntax error as one line: what was found, where the open construct started, a hint."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
    problem = exc.problem or "invalid YAML"
    if "maximum nesting depth" in problem:
        return Finding(
            display, f"nesting deeper than {MAX_DEPTH} levels", line, col, code="too-deep"
        )
    rest = text[mark.index :] if mark is not None else ""  # marks count characters
    hint = ""
    if "cannot start any token" in problem and rest:
        problem = f"found character {rest[0]!r} that cannot start any token"
        hint = "indent with spaces, not tabs" if rest[0] == "\t" else "quote the value"
    elif "undefined alias" in problem:
        m = re.match(r"\*([^\s,\[\]{}]+)", rest)
        name = m.group(1) if m else "?"
        problem = f"found undefined alias *{name}"
        hint = f"no anchor &{name} is defined before it"
    elif problem.startswith("mapping values are not allowed"):
        problem = "mapping values are not allowed here"
        hint = "quote a value that contains ': '"
    elif problem == "did not find expected key" or problem.startswith("expected <block end>"):
        problem = "did not find expected key"
        hint = "check the indentation of this line, and for an unclosed quote above it"
    context = exc.context if exc.context not in (None, *_NOISE_CONTEXTS) else None
    if context and problem.startswith("but "):  # "expected a single document ..., but found ..."
        message = f"{context}, {problem}"
        if "another document" in problem:
            hint = "a rule file holds exactly one YAML document"
    elif context:
        cm = exc.context_mark
        where = ""
        if cm is not None and mark is not None and (cm.line, cm.column) != (mark.line, mark.column):
            where = f" that starts at line {cm.line + 1}, column {cm.column + 1}"
        message = f"{problem} ({context}{where})"
    else:
        message = problem
    if hint:
        message = f"{message}; {hint}"
    return Finding(display, f"invalid YAML: {message}", line, col, code="yaml")

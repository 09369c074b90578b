"""The templates and their environment (docs/architecture.md#report): Jinja2 over the package's
``templates/``, autoescape on for every page, :class:`jinja2.StrictUndefined` (a missing value
is an error, never an empty cell). Jinja2 is the ``report`` extra: imported here, lazily, and
:func:`environment` says how to install it when it is missing.

Inline JSON goes through :func:`json_script`: ``<``, ``>`` and ``&`` become ``\\u003c`` ...,
so no text of the desk can close the ``<script>`` element that holds it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError
from ita_rules.report import svg

if TYPE_CHECKING:
    import jinja2

NEEDS_JINJA = "ita-rules report needs Jinja2: pip install 'ita-rules[report]'"


class ReportError(ItaRulesError):
    """The report cannot be written (Jinja2 missing, a page cannot be rendered)."""


def environment() -> jinja2.Environment:
    """The one environment of a build; its templates are compiled once."""
    try:
        import jinja2
    except ImportError:
        raise ReportError(NEEDS_JINJA) from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ita_rules.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # compiled once per build: no stat of a template file per page
    )
    env.filters["json_script"] = json_script
    env.filters["size"] = svg.size
    env.filters["num"] = _number
    env.filters["short"] = _short
    return env


def json_script(value: Any) -> Any:
    """``value`` as JSON safe inside ``<script type="application/json">``."""
    from markupsafe import Markup

    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return Markup(text)  # escaped above for its one place, a JSON script element


def markup(text: str) -> Any:
    """SVG written by :mod:`.svg` (which escapes every text it takes from the desk)."""
    from markupsafe import Markup

    return Markup(text)  # built by svg.py, every desk text escaped there


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _short(value: str | None, length: int = 12) -> str:
    """A hash or commit prefix: ``sha256:8ee214b2…`` keeps its algorithm."""
    if not value:
        return "-"
    head, sep, rest = value.partition(":")
    return f"{head}:{rest[:length]}" if sep else value[:length]

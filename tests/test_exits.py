"""The one error handler of the entry points (ita_rules.core.exits.run), shared by the CLI and the
git hooks: one line on stderr and the exit code of docs/architecture.md#errors-and-exit-codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ita_rules.core import exits
from ita_rules.core.errors import ItaRulesError, Location, UsageError


def raising(exc: BaseException) -> Any:
    def body() -> int:
        raise exc

    return body


@pytest.mark.parametrize(
    ("exc", "code", "err"),
    [
        (
            ItaRulesError("bad", Location("r/v1.0.yaml", 3, 7)),
            1,
            "ita-rules: r/v1.0.yaml:3:7: bad\n",
        ),
        (UsageError("--until: wrong"), 2, "ita-rules: --until: wrong\n"),
        (KeyboardInterrupt(), 130, "ita-rules: interrupted\n"),
        (BrokenPipeError(), 1, ""),  # fail closed: a hook that lost its pipe has not checked
        (
            RuntimeError("disk on fire"),
            3,
            "ita-rules: internal error: RuntimeError: disk on fire "
            "(set ITA_DEBUG=1 for the traceback)\n",
        ),
    ],
)
def test_each_kind_of_error_is_one_line_and_its_code(
    exc: BaseException, code: int, err: str, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.delenv("ITA_DEBUG", raising=False)
    assert exits.run(raising(exc), debug_hint="set ITA_DEBUG=1") == code
    assert capsys.readouterr().err == err


def test_the_body_s_code_passes_through(capsys: Any) -> None:
    assert exits.run(lambda: 1) == 1
    assert capsys.readouterr().err == ""


def test_a_known_exception_takes_its_code_and_an_interrupt_class_counts_as_ctrl_c(
    capsys: Any,
) -> None:
    class Abort(RuntimeError):
        pass

    assert exits.run(raising(Abort()), interrupts=(Abort,)) == 130
    assert exits.run(raising(LookupError()), known=lambda e: 4) == 4
    assert exits.run(raising(LookupError("x")), known=lambda e: None) == 3
    assert capsys.readouterr().err.splitlines()[0] == "ita-rules: interrupted"


def test_debug_shows_the_traceback(capsys: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("ITA_DEBUG", "1")
    assert exits.run(raising(RuntimeError("boom"))) == 3
    assert "Traceback" in capsys.readouterr().err


def test_the_check_hook_outside_a_workspace_is_a_usage_error(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    hook = Path(sys.executable).parent / "ita-rules-hook-check"
    r = subprocess.run([str(hook)], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("ita-rules: ") and len(r.stderr.splitlines()) == 1, r.stderr

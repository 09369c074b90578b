"""The lazy command registry (ita_rules/cli/lazy.py): a verb's module is imported only when
that verb runs, and nobody can tell from the outside: ``--help`` lists every verb exactly as
the fully loaded command line does, typos still get their suggestions.

Each check runs in a fresh interpreter (``sys.modules`` is what is measured)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ita_rules.cli.lazy import VERBS

# Run ita-rules in a fresh python; print the loaded module names (JSON) on the last line of
# stderr. argv[1]: "all" to load every verb module first; argv[2:]: the command line.
_PROBE = """
import json, sys
from ita_rules.cli import main
if sys.argv[1] == "all":
    from ita_rules.cli.lazy import load_all
    load_all()
try:
    main(sys.argv[2:])
finally:
    sys.stdout.flush()
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _probe(*args: str, load: str = "lazy", columns: int = 80) -> tuple[int, str, str, set[str]]:
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, load, *args], capture_output=True, text=True, env=env
    )
    err, _, modules = done.stderr.rstrip("\n").rpartition("\n")
    return done.returncode, done.stdout, err, set(json.loads(modules))


def _verb_modules(loaded: set[str]) -> set[str]:
    every = {m for verb in VERBS.values() for m in verb.modules}
    return loaded & (every | {"ita_rules.cli.registry", "ita_rules.cli.rules"})


def test_help_lists_every_verb_without_importing_any() -> None:
    code, out, _err, loaded = _probe("--help")
    assert code == 0
    listed = out.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(VERBS)
    assert _verb_modules(loaded) == set()
    assert not {m for m in loaded if m.split(".")[0] in ("sqlalchemy", "yaml", "ruamel", "rich")}
    assert not {m for m in loaded if m.startswith(("ita_rules.rules", "ita_rules.store"))}


@pytest.mark.parametrize("columns", [50, 80, 200])
@pytest.mark.parametrize("args", [["--help"], [], ["lst"], ["runz"]], ids=" ".join)
def test_listing_and_errors_equal_the_fully_loaded_ones(args: list[str], columns: int) -> None:
    lazy = _probe(*args, columns=columns)
    loaded = _probe(*args, load="all", columns=columns)
    assert lazy[:3] == loaded[:3]
    assert _verb_modules(loaded[3]) == {m for v in VERBS.values() for m in v.modules}


def test_a_typo_is_told_the_verb_it_meant() -> None:
    code, _out, err, loaded = _probe("lst")
    assert code == 2
    assert "No such command 'lst'. Did you mean 'list'?" in err
    assert _verb_modules(loaded) == set()


@pytest.mark.parametrize("verb", ["db", "runs", "index"])
def test_a_verb_imports_its_own_modules_only(verb: str) -> None:
    code, out, _err, loaded = _probe(verb, "--help")
    assert code == 0 and "Example:" in out
    assert _verb_modules(loaded) == set(VERBS[verb].modules)
    assert "sqlalchemy" not in loaded


def test_runs_lists_the_verbs_of_both_its_modules() -> None:
    _code, out, _err, _loaded = _probe("runs", "--help")
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines()]
    assert {"start", "verify", "export", "dedupe"} <= set(listed)


_DEFINED = """
import json, typer
from ita_rules.cli.app import app
from ita_rules.cli.lazy import load_all
load_all()
root = typer.main.get_command(app)
print(json.dumps([
    [name, " ".join((cmd.help or "").split("\\n\\n", 1)[0].split()), cmd.short_help,
     cmd.hidden, cmd.deprecated]
    for name, cmd in root.commands.built.items()
]))
"""


def test_the_table_matches_the_commands_the_modules_define() -> None:
    """In a fresh interpreter (in this one, other tests may have loaded verbs in another
    order): the verbs the modules define, in typer's order, with the help the table holds."""
    done = subprocess.run([sys.executable, "-c", _DEFINED], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    defined = json.loads(done.stdout)
    assert [row[0] for row in defined] == list(VERBS)
    for name, help_, short_help, hidden, deprecated in defined:
        assert help_ == VERBS[name].help, name
        assert (short_help, hidden, deprecated) == (None, False, False), name

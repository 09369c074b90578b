"""The lazy command registry: a verb's module is imported (and its click command built) only
when that verb runs.

``ita-rules --help`` lists every verb from :data:`VERBS` (name, modules, the first paragraph of
its help) without importing any command module; ``tests/test_cli_lazy.py`` keeps the table
equal to the commands the modules define (the listing is compared with the fully loaded one).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from gettext import gettext as _
from typing import TYPE_CHECKING, Any

from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    from typer import _click


@dataclass(frozen=True)
class Verb:
    modules: tuple[str, ...]  # imported in this order; they register the verb on ``app``
    help: str  # the first paragraph of its help: what ``ita-rules --help`` shortens


_CLI = "ita_rules.cli."
# In the order ``ita-rules --help`` lists them (typer's: the commands, then the groups).
VERBS: dict[str, Verb] = {
    "init": Verb(
        (_CLI + "rules",),
        "Create a workspace: git repository, ita.toml, rules/, .gitignore, pre-commit config.",
    ),
    "new": Verb((_CLI + "rules",), "Create the first version v1.0 of a new setup from a template."),
    "new-version": Verb(
        (_CLI + "rules",),
        "Copy the latest version of a setup to the next one, keeping comments and layout.",
    ),
    "validate": Verb(
        (_CLI + "rules",), "Validate rule files: safe YAML, JSON Schema, naming and params_hash."
    ),
    "list": Verb(
        (_CLI + "rules",), "List rule versions with their state, author, date and params_hash."
    ),
    "show": Verb(
        (_CLI + "rules",), "Show one rule version (default: the latest active one) and its file."
    ),
    "diff": Verb(
        (_CLI + "rules",),
        "Show what changed between two versions of a setup, and the bump it needs.",
    ),
    "deprecate": Verb(
        (_CLI + "rules",), "Mark a version inactive (live flows refuse it) and record why."
    ),
    "activate": Verb(
        (_CLI + "rules",), "Mark a deprecated version active again (clears deprecation_reason)."
    ),
    "check": Verb(
        (_CLI + "registry",), "Refuse changes to released rule versions and wrong new versions."
    ),
    "index": Verb(
        (_CLI + "registry",), "Refresh the registry index (.ita/index.sqlite) from git history."
    ),
    "log": Verb(
        (_CLI + "registry",),
        "Each version of a setup with the commit, git author and date that introduced it, and "
        "its lifecycle changes.",
    ),
    "export": Verb(
        (_CLI + "registry",),
        "Write the registry manifest (every version, its commit, author, state and params_hash).",
    ),
    "report": Verb(
        (_CLI + "report",),
        "Write a static report site: registry, setups with diffs, runs with metrics and "
        "lineage, storage and the retention plan.",
    ),
    "store": Verb(
        (_CLI + "store",),
        "Store files once by SHA-256 and find them again by symbol, timeframe, run or tag.",
    ),
    "db": Verb((_CLI + "db",), "The metadata database (SQLite file or Postgres)."),
    "runs": Verb(
        (_CLI + "runs", _CLI + "runs_lineage"),
        "Run provenance: a snapshot of data, code, rule and libraries for every run, and its "
        "verification.",
    ),
    "remote": Verb(
        (_CLI + "remote",),
        "Copy the store to and from the rclone remote named by remote.name in ita.toml, every "
        "copy verified (size + hash).",
    ),
    "retention": Verb(
        (_CLI + "retention",),
        "Retention: soft delete by policy (retention.yaml), a safety window, protections that "
        "never fail, an audit log in logs/.",
    ),
    "vectors": Verb(
        (_CLI + "vectors",),
        "Embeddings in the vector store (Chroma, [vectors] url in ita.toml), pruned by retention.",
    ),
}


def load_all() -> None:
    """Import every verb's module: for whoever walks the whole command tree (tests, docs)."""
    for verb in VERBS.values():
        for module in verb.modules:
            importlib.import_module(module)


class Verbs(MutableMapping[str, "_click.Command"]):
    """The root group's commands: every verb of :data:`VERBS` is a key; its value (the click
    command) is built on first access, after importing the verb's modules."""

    def __init__(self, built: dict[str, _click.Command]) -> None:
        self.built = built

    def __iter__(self) -> Iterator[str]:
        yield from VERBS
        yield from (name for name in self.built if name not in VERBS)

    def __len__(self) -> int:
        return len(VERBS) + sum(1 for name in self.built if name not in VERBS)

    def __contains__(self, name: object) -> bool:
        return name in VERBS or name in self.built

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self.built and name in VERBS:
            self._load(name)
        return self.built[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self.built[name] = command

    def __delitem__(self, name: str) -> None:
        del self.built[name]

    def _load(self, name: str) -> None:
        import typer

        from ita_rules.cli.app import app

        for module in VERBS[name].modules:
            importlib.import_module(module)
        group = typer.main.get_command(app)  # the verbs registered so far
        assert isinstance(group, LazyGroup)
        for key, command in group.commands.built.items():
            self.built.setdefault(key, command)

    def listed(self, name: str) -> _click.Command:
        """The command as ``--help`` lists it: the built one, or a stand-in with its help."""
        found = self.built.get(name)
        return found if found is not None else TyperCommand(name=name, help=VERBS[name].help)


class LazyGroup(TyperGroup):
    """typer's group over :class:`Verbs`: the verb named on the command line is the only one
    imported and built; ``--help`` lists the others from :data:`VERBS`."""

    commands: Verbs

    def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = Verbs(dict(commands or {}))

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)  # the names only: typer's reads every value

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        """typer's listing, with the stand-ins of the verbs not loaded."""
        commands = []
        for name in self.list_commands(ctx):
            cmd = self.commands.listed(name)
            if not cmd.hidden:
                commands.append((name, cmd))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _cmd in commands)
            rows = [(name, cmd.get_short_help_str(limit)) for name, cmd in commands]
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

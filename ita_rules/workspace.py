"""A workspace: a git repository with ``ita.toml`` and ``rules/`` at its root."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ita_rules.core.config import Settings, load_settings
from ita_rules.core.config import find_root as find_root  # the Python API's, from its home

if TYPE_CHECKING:
    from ita_rules.provenance.desk import DeskStore
    from ita_rules.provenance.runs import Run
    from ita_rules.rules.registry import Registry


class Workspace:
    """Entry point of the Python API: ``ws = Workspace.open(); ws.registry.get("IB_raid_v1")``."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings

    @classmethod
    def open(cls, path: str | Path | None = None) -> Workspace:
        """Open the workspace containing ``path`` (default: the current directory).

        With an explicit ``path`` that holds no ``ita.toml`` the search walks up from it too.
        """
        root = find_root(Path(path) if path is not None else Path.cwd())
        return cls(root, load_settings(root))

    @cached_property
    def registry(self) -> Registry:
        from ita_rules.rules.registry import Registry  # not on the index/check start-up path

        return Registry(self.settings.rules_dir, self.root)

    @cached_property
    def store(self) -> DeskStore:
        """The persistent store (opened on first use): ``ws.store.put(path, type="candles")``.
        Every put is checked against the desk as ``store put`` checks it (a result names a
        rule version as released and agrees with its run: :class:`DeskStore`)."""
        from ita_rules.provenance.desk import open_desk_store

        return open_desk_store(self)

    def start_run(self, flow_type: str, **options: Any) -> Run:
        """A run with a provenance snapshot: ``with ws.start_run("backtest_flow", rule=rule,
        symbol=..., timeframe=..., inputs=[...], data_range=(...), strict=False) as run:``
        (see :class:`ita_rules.provenance.runs.Run`)."""
        from ita_rules.provenance.runs import Run

        return Run(self, flow_type, **options)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"


GITIGNORE_LINES = (".ita/", "/exchange/", "/logs/", "/data/")

PRE_COMMIT_CONFIG = """\
# The hook that keeps this rule registry trustworthy (ita-rules). Install it with:
#   pre-commit install --hook-type pre-commit --hook-type pre-push
# It calls the ita-rules that is installed in this environment; to pin a release instead,
# use `repo: <ita-rules git URL>` with `rev: <tag>` and the hook id below. One process
# validates and checks (the ids ita-rules-validate and ita-rules-check still run each part).
repos:
  - repo: local
    hooks:
      - id: ita-rules
        name: ita-rules (validate and check; released versions are immutable)
        entry: ita-rules-hook
        language: system
        always_run: true
        pass_filenames: false
        require_serial: true
        stages: [pre-commit, pre-push]
"""


HOOK_ENTRY = "ita-rules-hook"


def pre_commit_config(folder: str) -> str:
    """The pre-commit configuration of a workspace at ``folder`` of its repository ("" at the
    top of the work tree): pre-commit runs hooks at the top, so a workspace in a subfolder
    names itself (``--workspace``) to be found."""
    if not folder:
        return PRE_COMMIT_CONFIG
    head, sep, tail = PRE_COMMIT_CONFIG.partition("        pass_filenames: false\n")
    return head + sep + _workspace_args(folder) + "\n" + tail


def _workspace_args(folder: str) -> str:
    """The hook's line that names the workspace's folder (a JSON string is a YAML flow
    scalar, whatever the folder's name)."""
    import json

    return f"        args: [--workspace, {json.dumps(folder)}]"


class Initialized(NamedTuple):
    """What :func:`init_workspace` did: the files and folders it ``created``; with a CI name,
    the CI file's path and whether it was written (``ci``); ``notes``, what the user must know
    of what it kept (an existing pre-commit configuration that runs no ita-rules hook)."""

    created: list[str]
    ci: tuple[str, bool] | None
    notes: list[str]


def init_workspace(directory: Path, ci: str | None = None) -> Initialized:
    """Create (or complete) a workspace in ``directory`` (see :class:`Initialized`); with ``ci``
    (github, gitlab) the CI file too (see ita_rules.ci).

    Existing files are kept: running it twice changes nothing.
    """
    from importlib import resources

    from ita_rules.ci import TEMPLATES, write_ci
    from ita_rules.core import gitio

    if ci is not None and ci not in TEMPLATES:
        write_ci(directory, ci)  # refuses the unknown name before anything is created
    from ita_rules.core.config import DEFAULT_TOML
    from ita_rules.core.fsutil import atomic_write_text

    directory = directory.absolute()
    created: list[str] = []
    directory.mkdir(parents=True, exist_ok=True)
    top = gitio.toplevel(directory)
    if top is None:
        gitio.init(directory)
        created.append("git repository")
        top = directory
    folder = directory.resolve().relative_to(top.resolve()).as_posix()
    folder = "" if folder == "." else folder  # "": the top of the work tree
    hook_config = pre_commit_config(folder)
    notes: list[str] = []
    for name, content in (("ita.toml", DEFAULT_TOML), (".pre-commit-config.yaml", hook_config)):
        path = directory / name
        if not path.exists():
            atomic_write_text(path, content)
            created.append(name)
        elif name == ".pre-commit-config.yaml":
            notes += _hook_notes(path, hook_config, folder)
    schema = directory / "schemas" / "rule.schema.json"
    if not schema.exists():
        text = resources.files("ita_rules.schemas").joinpath("rule.schema.json").read_text("utf-8")
        atomic_write_text(schema, text)
        created.append("schemas/rule.schema.json")
    rules = directory / "rules"
    if not rules.exists():
        rules.mkdir()
        (rules / ".gitkeep").touch()
        created.append("rules/")
    ignore = directory / ".gitignore"
    existing = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    missing = [line for line in GITIGNORE_LINES if line not in existing]
    if missing:
        lines = [*existing, "# ita-rules sidecar, store, logs and candle data", *missing]
        atomic_write_text(ignore, "\n".join(lines) + "\n")
        created.append(".gitignore entries " + " ".join(missing))
    if ci is None:
        return Initialized(created, None, notes)
    ci_path, written = write_ci(directory, ci)
    if written:
        created.append(ci_path)
    return Initialized(created, (ci_path, written), notes)


def _hook_notes(path: Path, hook_config: str, folder: str) -> list[str]:
    """What the user must add to an existing pre-commit configuration ``path``: the ita-rules
    hook when it runs none, the workspace's folder when it is in one and the hook does not
    name it (pre-commit runs hooks at the top of the work tree: the hook would not find it)."""
    text = _text(path)
    if HOOK_ENTRY not in text:
        return [
            f"kept {path.name}: it exists and runs no ita-rules hook, so released versions are "
            "not protected at commit and push; add this entry under its `repos:`, then run "
            "`pre-commit install --hook-type pre-commit --hook-type pre-push`:\n"
            + hook_config.partition("repos:\n")[2].rstrip("\n")
        ]
    if folder and "--workspace" not in text:
        return [
            f"kept {path.name}: its ita-rules hook runs at the top of the work tree and will "
            f"not find this workspace in {folder}/; add to the hook:\n{_workspace_args(folder)}"
        ]
    return []


def _text(path: Path) -> str:
    """A file's text as far as it can be read (a configuration that is not UTF-8 is still
    searched)."""
    return path.read_bytes().decode("utf-8", "replace")

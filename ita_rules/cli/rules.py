"""Rule commands: init, new, new-version, validate, list, show, diff, deprecate, activate."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import typer

from ita_rules.cli.app import JSON_OPTION, app, echo, emit_json, open_workspace, warn
from ita_rules.core import reporters
from ita_rules.core.errors import UsageError
from ita_rules.rules.model import Rule, Version, check_setup_id, parse_ref


def _author(ws_root: Path, given: str | None) -> str:
    from ita_rules.core import gitio

    author = given or gitio.config_get("user.name", ws_root)
    if not author:
        raise UsageError("no author: set `git config user.name` or pass --author NAME")
    return author


def _today() -> _dt.date:
    fixed = os.environ.get("ITA_TODAY")  # lets tests and reproducible docs pin the date
    return _dt.date.fromisoformat(fixed) if fixed else _dt.date.today()


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), help="Where to create the workspace."),
    ci: str | None = typer.Option(
        None,
        "--ci",
        metavar="github|gitlab",
        help="Also write a CI configuration: .github/workflows/rules.yml or .gitlab-ci.yml "
        "(an existing file is kept).",
    ),
) -> None:
    """Create a workspace: git repository, ita.toml, rules/, .gitignore, pre-commit config.

    On an existing workspace it adds only what is missing; `--ci` adds the CI file that runs
    validate, `check --base` on pull/merge requests and `check --history` on pushes.

    \b
    Example:
      ita-rules init my-rules && cd my-rules && ita-rules new Frank_raid_v1
      ita-rules init --ci github      # in an existing workspace
    """
    from ita_rules.workspace import init_workspace

    done = init_workspace(directory, ci=ci)
    for item in done.created:
        echo(f"created {item}")
    if done.ci is not None and not done.ci[1]:
        echo(f"kept {done.ci[0]}: it exists already (not overwritten)")
    for note in done.notes:
        echo(note)
    if not done.created and done.ci is None and not done.notes:
        echo(f"{directory} is already a workspace; nothing to do")


@app.command()
def new(
    ctx: typer.Context,
    setup_id: str = typer.Argument(..., help="The new setup's id, e.g. Frank_raid_v1."),
    author: str | None = typer.Option(None, help="Author (default: git config user.name)."),
) -> None:
    """Create the first version v1.0 of a new setup from a template.

    \b
    Example:
      ita-rules new London_FVG_v1
    """
    from ita_rules.core.fsutil import display_path
    from ita_rules.rules.authoring import new_rule

    ws = open_workspace(ctx)
    check_setup_id(setup_id)
    path = new_rule(
        ws.registry,
        setup_id,
        author=_author(ws.root, author),
        today=_today(),
        schema=ws.root / "schemas" / "rule.schema.json",
    )
    echo(display_path(path, ws.root))


@app.command("new-version")
def new_version(
    ctx: typer.Context,
    setup_id: str = typer.Argument(..., help="The setup to version, e.g. Frank_raid_v1."),
    major: bool = typer.Option(
        False, "--major", help="Bump the major version (keys or components change)."
    ),
    from_: str | None = typer.Option(
        None, "--from", help="Copy this version instead of the latest."
    ),
    set_: list[str] = typer.Option([], "--set", help="Edit a field: PATH=VALUE (VALUE is YAML)."),
    author: str | None = typer.Option(None, help="Author (default: git config user.name)."),
    json_: bool = JSON_OPTION,
) -> None:
    """Copy the latest version of a setup to the next one, keeping comments and layout.

    Sets version, created (today), author and active: true, clears deprecation_reason,
    applies --set edits and writes params_hash; prints the new file's path.

    \b
    Example:
      ita-rules new-version Frank_raid_v1 --set params.risk_per_trade=0.02
      ita-rules new-version Frank_raid_v1 --major --set 'components=[Detect_Sessions, Detect_OB]'
    """
    from ita_rules.core.fsutil import display_path
    from ita_rules.rules.authoring import new_version as make

    ws = open_workspace(ctx)
    result = make(
        ws.registry,
        setup_id,
        author=_author(ws.root, author),
        today=_today(),
        major=major,
        source=Version.parse(from_) if from_ else None,
        sets=set_,
    )
    shown = display_path(result.path, ws.root)
    if json_:
        emit_json(
            {
                "path": shown,
                "setup_id": setup_id,
                "version": str(result.version),
                "from": str(result.source),
                "bump": result.bump,
                "params_hash": result.params_hash,
                "changes": [c.as_dict() for c in result.changes],
            }
        )
        return
    echo(shown)
    if result.bump == "none":
        warn(f"note: {shown} has the same params as v{result.source}; edit it before committing")


@app.command()
def validate(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        None, help="Rule files or folders (default: the whole registry)."
    ),
    fix: bool = typer.Option(False, "--fix", help="Write the correct params_hash into files."),
    json_: bool = JSON_OPTION,
) -> None:
    """Validate rule files: safe YAML, JSON Schema, naming and params_hash.

    Prints one `path:line:col: field: message` line per problem; exit 1 when any. --fix never
    rewrites the hash of a released version (one in rules.protected_ref, by default HEAD).

    \b
    Example:
      ita-rules validate
      ita-rules validate rules/Frank_raid_v1 --fix
    """
    from ita_rules.rules.registry import Registry
    from ita_rules.rules.validate import validate_paths

    try:
        ws = open_workspace(ctx)
        registry, released = ws.registry, ws.settings.protected_ref
    except UsageError:
        if not paths:
            raise
        registry = Registry(Path.cwd() / "rules", Path.cwd())  # explicit files need no workspace
        released = ""
    result = validate_paths(registry, paths or [], fix=fix, released_in=released or "HEAD")
    if json_:
        emit_json(result.as_dict())
    else:
        for path in result.fixed:
            echo(f"{path}: params_hash written")
        reporters.text(result.findings, typer.get_text_stream("stdout"))
        n = len(result.findings)
        warn(
            f"{result.files} file(s) checked, {n} problem(s)"
            + (f", {len(result.fixed)} fixed" if result.fixed else "")
        )
    raise typer.Exit(1 if result.findings else 0)


def _table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@app.command("list")
def list_(
    ctx: typer.Context,
    active: bool = typer.Option(False, "--active", help="Only active versions."),
    setup: str | None = typer.Option(None, "--setup", help="Only this setup."),
    at: str | None = typer.Option(None, "--at", help="As it was at DATE (from git history)."),
    json_: bool = JSON_OPTION,
) -> None:
    """List rule versions with their state, author, date and params_hash.

    \b
    Example:
      ita-rules list --active
      ita-rules list --setup IB_raid_v1 --json
      ita-rules list --active --at 2025-09-01
    """
    if at is not None:
        from ita_rules.cli.registry import list_at

        list_at(ctx, at, active=active, setup=setup, json_=json_)
        return
    ws = open_workspace(ctx)
    rules, findings = ws.registry.scan()
    rules = [
        r for r in rules if (not active or r.active) and (setup is None or r.setup_id == setup)
    ]
    if json_:
        emit_json(
            {"rules": [r.summary() for r in rules], "problems": [f.as_dict() for f in findings]}
        )
    else:
        rows = [["SETUP", "VERSION", "ACTIVE", "AUTHOR", "CREATED", "PARAMS_HASH"]]
        rows += [
            [
                r.setup_id,
                str(r.version),
                "yes" if r.active else "no",
                r.author,
                r.created,
                r.params_hash[:19],
            ]
            for r in rules
        ]
        _table(rows)
        if findings:
            files = len({f.path for f in findings})
            warn(f"{files} invalid file(s) not listed; run `ita-rules validate`:")
            reporters.text(findings, typer.get_text_stream("stderr"))
    raise typer.Exit(1 if findings else 0)


def _show_text(rule: Rule) -> None:
    state = "active" if rule.active else f"deprecated: {rule.deprecation_reason}"
    echo(f"{rule.ref}  ({rule.path})")
    echo(f"  state:       {state}")
    echo(f"  author:      {rule.author}, created {rule.created}")
    echo(f"  params_hash: {rule.params_hash}")
    echo(f"  components:  {', '.join(rule.components)}")
    if rule.description:
        echo(f"  description: {rule.description}")


@app.command()
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="SETUP_ID or SETUP_ID@VERSION."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show one rule version (default: the latest active one) and its file.

    \b
    Example:
      ita-rules show IB_raid_v1
      ita-rules show IB_raid_v1@1.1 --json
    """
    ws = open_workspace(ctx)
    setup_id, version = parse_ref(ref)
    rule = ws.registry.get(setup_id, version, active_only=version is None)
    if json_:
        emit_json({**rule.summary(), "rule": rule.data})
        return
    _show_text(rule)
    echo("")
    echo((ws.root / rule.path).read_text(encoding="utf-8").rstrip())


@app.command()
def diff(
    ctx: typer.Context,
    setup_id: str = typer.Argument(..., help="The setup."),
    a: str = typer.Argument(..., help="The older version, e.g. 1.1."),
    b: str = typer.Argument(..., help="The newer version, e.g. 1.2."),
    json_: bool = JSON_OPTION,
) -> None:
    """Show what changed between two versions of a setup, and the bump it needs.

    \b
    Example:
      ita-rules diff Frank_raid_v1 1.0 1.1
    """
    from ita_rules.rules.diffing import compare_versions

    ws = open_workspace(ctx)
    found = compare_versions(ws.registry, setup_id, Version.parse(a), Version.parse(b))
    if json_:
        emit_json(found.as_dict())
        return
    echo(f"{setup_id} {found.old} -> {found.new}  (semantic change: {found.bump})")
    for change in found.changes:
        echo(f"  {change}")
    if not found.changes:
        echo("  no differences")


def _lifecycle(ctx: typer.Context, ref: str, *, active: bool, reason: str | None) -> None:
    from ita_rules.core.fsutil import display_path
    from ita_rules.rules.authoring import set_lifecycle

    ws = open_workspace(ctx)
    setup_id, version = parse_ref(ref)
    if version is None:
        raise UsageError(f"name the version: {setup_id}@VERSION")
    path = set_lifecycle(ws.registry, setup_id, version, active=active, reason=reason)
    echo(f"{display_path(path, ws.root)}: {'activated' if active else 'deprecated'}")


@app.command()
def deprecate(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="SETUP_ID@VERSION."),
    reason: str = typer.Option(..., "--reason", help="Why this version was retired."),
) -> None:
    """Mark a version inactive (live flows refuse it) and record why.

    \b
    Example:
      ita-rules deprecate Frank_raid_v1@1.0 --reason "stopped working after the 2025 spread change"
    """
    _lifecycle(ctx, ref, active=False, reason=reason)


@app.command()
def activate(ctx: typer.Context, ref: str = typer.Argument(..., help="SETUP_ID@VERSION.")) -> None:
    """Mark a deprecated version active again (clears deprecation_reason).

    \b
    Example:
      ita-rules activate Frank_raid_v1@1.0
    """
    _lifecycle(ctx, ref, active=True, reason=None)

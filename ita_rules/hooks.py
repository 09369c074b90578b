"""pre-commit entry points: ``main(argv) -> int``, importing only what validation needs.

``ita-rules-hook-validate FILE...`` is what the published ``ita-rules-validate`` hook runs:
schema, naming and params_hash of the changed rule files. At the pre-commit stage a wrong or
missing hash of a file not released yet is fixed in place and the hook fails, as pre-commit
hooks that modify files do; a released version's hash is never rewritten (it was changed: that
is for a new version), and at the pre-push stage nothing is written at all (the work tree is
not what is pushed). No typer, no jsonschema (unless a file is invalid), no ruamel.yaml
(unless a hash is written). Errors become one line and an exit code through
:func:`ita_rules.core.exits.run`, as in the CLI.

``ita-rules-hook`` is the one hook ``ita-rules init`` configures (id ``ita-rules``): both in one
process, so a commit pays for one Python start, one set of imports and one round of git calls.
The staged check validates every new or changed rule file as ``validate`` does (from the
index, which pre-commit has made equal to the work tree), so the validate part is only the
hash written into a file that needs it. ``ita-rules-hook-validate`` and ``ita-rules-hook-check``
stay for the published hook ids ``ita-rules-validate`` and ``ita-rules-check``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

DEBUG_HINT = "set ITA_DEBUG=1"


MAIN_HELP = """\
usage: ita-rules-hook [--no-fix] [--workspace DIR]

Validate and check the staged rule files (fixing wrong hashes) or a push.

options:
  --no-fix         report wrong hashes, do not write
  --workspace DIR  the workspace's folder in the repository, when it is not the top of the
                   work tree (where pre-commit runs hooks): ita-rules init writes it
"""


def main(argv: Sequence[str] | None = None) -> int:
    """``ita-rules-hook``: at the pre-commit stage the staged check, and a missing or wrong
    params_hash of a version not released yet written into its file (the hook then fails, as
    the validate hook does); at the pre-push stage the pushed commits' check. Its one option
    is read without argparse, whose import (with gettext and locale) would cost every commit
    a few milliseconds."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["-h"], ["--help"]):
        print(MAIN_HELP, end="")
        return 0
    options = _main_options(args)
    if options is None:
        usage = MAIN_HELP.splitlines()[0]
        print(
            f"{usage}\nita-rules-hook: error: unrecognized arguments: {' '.join(args)}",
            file=sys.stderr,
        )
        return 2
    fix, workspace = options
    return _run(lambda: _check(None, None, fix=fix, workspace=workspace), argv)


def _main_options(args: Sequence[str]) -> tuple[bool, str | None] | None:
    """``--no-fix`` and ``--workspace DIR`` (or ``--workspace=DIR``) of ``ita-rules-hook``:
    (fix, workspace), or None for anything else."""
    fix, workspace = True, None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--no-fix":
            fix = False
        elif arg == "--workspace" and rest:
            workspace = rest.pop(0)
        elif arg.startswith("--workspace="):
            workspace = arg.removeprefix("--workspace=")
        else:
            return None
    return fix, workspace


def validate_main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="ita-rules-hook-validate",
        description="Validate rule files (schema, naming, params_hash); fix wrong hashes.",
    )
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--no-fix", action="store_true", help="report wrong hashes, do not write")
    args = parser.parse_args(argv)
    if not args.files:
        return 0
    return _run(lambda: _validate(args.files, args.no_fix), argv)


def _validate(files: list[Path], no_fix: bool) -> int:
    import os

    from ita_rules.core import reporters
    from ita_rules.rules.registry import Registry
    from ita_rules.rules.validate import validate_paths

    # pre-commit runs pre-push hooks with the pushed range (or, for a new branch, the remote's
    # name and branch) in the environment.
    from_ref = os.environ.get("PRE_COMMIT_FROM_REF")
    pushing = bool(from_ref or os.environ.get("PRE_COMMIT_REMOTE_BRANCH"))
    root = Path.cwd()  # pre-commit runs hooks at the top of the work tree

    def released_in() -> str:
        """What the remote has when pushing; else rules.protected_ref, by default HEAD. Read
        only when a hash is wrong: ita.toml is not parsed on the hook's usual path."""
        if from_ref:
            return from_ref
        from ita_rules.core.config import find_root, load_settings
        from ita_rules.core.errors import WorkspaceNotFound

        try:
            return load_settings(find_root(root)).protected_ref or "HEAD"
        except WorkspaceNotFound:  # a rules repository without ita.toml: the default
            return "HEAD"

    result = validate_paths(
        Registry(root / "rules", root),
        files,
        fix=not (no_fix or pushing),
        released_in=released_in,
    )
    for path in result.fixed:
        print(f"{path}: params_hash written; review and stage the file again")
    reporters.text(result.findings, sys.stdout)
    return 1 if (result.findings or result.fixed) else 0


def check_main(argv: Sequence[str] | None = None) -> int:
    """``ita-rules-hook-check``: the immutability and version rules against git.

    As a pre-commit hook it checks the staged index against the released ref (it reads
    ``git diff --cached --name-status -M`` itself, so deletions and renames are seen); at the
    pre-push stage it checks ``PRE_COMMIT_FROM_REF..PRE_COMMIT_TO_REF``; with ``--pre-receive``
    it is a git server hook reading ``old new ref`` lines on stdin.

    When the pushed commits reach a root commit (the first push to an empty remote, an orphan
    branch), pre-commit gives no range, only ``PRE_COMMIT_LOCAL_BRANCH`` (the ref as pushed),
    ``PRE_COMMIT_REMOTE_NAME``, ``PRE_COMMIT_REMOTE_BRANCH`` and ``PRE_COMMIT_REMOTE_URL``. The
    staged index has nothing to do with the push then: the commits the push sends (those the
    remote-tracking refs of that remote do not have) are checked instead, see
    :func:`ita_rules.rules.push.push_check`.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="ita-rules-hook-check",
        description="Refuse changes to released rule versions and wrong new versions.",
    )
    parser.add_argument("--base", help="check BASE..HEAD instead of the staged changes")
    parser.add_argument("--head", help="with --base: the commit to check (default HEAD)")
    parser.add_argument("--pre-receive", action="store_true", help="run as a git pre-receive hook")
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="the workspace's folder in the repository, when it is not the top of the work tree",
    )
    args = parser.parse_args(argv)
    if args.pre_receive:
        return _run(_pre_receive, argv)
    return _run(lambda: _check(args.base, args.head, workspace=args.workspace), argv)


def _run(body: Callable[[], int], argv: Sequence[str] | None) -> int:
    """``body`` through :func:`ita_rules.core.exits.run` (one line and an exit code for an
    error), with Python's cyclic garbage collector paused: a hook's imports and checks make
    tens of thousands of objects that live until its end and no garbage cycles, and the
    collections that went over them found nothing. Called by the console script (``argv``
    None: the process ends with the code returned), the objects left are frozen
    (``gc.freeze``) so that the interpreter's collection at exit skips them too. Together
    ~5 ms of a commit's CPU (of ~45). A test calling an entry point with ``argv`` gets the
    collector back as it was and nothing frozen."""
    from ita_rules.core import collector, exits

    with collector.paused():
        code = exits.run(body, debug_hint=DEBUG_HINT)
        if argv is None:
            collector.freeze_at_exit()
    return code


def _pre_receive() -> int:
    """The server hook: every pushed ref (``old new ref`` lines on stdin) checked; the refusals
    on stderr, which git shows the pusher."""
    from ita_rules.core import gitio, reporters
    from ita_rules.rules import receive

    git = gitio.Git(Path.cwd(), keep_quarantine=True)
    updates = receive.pre_receive(git, sys.stdin.read().splitlines())
    failed = False
    for upd in updates:
        for why in upd.refused:
            print(f"ita-rules: push refused: {why}", file=sys.stderr)
            failed = True
        if upd.result is not None and upd.result.findings:
            why = "released rule versions are immutable"
            print(f"ita-rules: push to {upd.ref} refused: {why}", file=sys.stderr)
            reporters.text(upd.result.findings, sys.stderr)
            failed = True
    return 1 if failed else 0


def _check(
    base: str | None, head: str | None, fix: bool = False, workspace: str | None = None
) -> int:
    """The pre-commit and pre-push hook: the staged index, the pushed range, or (a push with no
    range) the commits the push sends; with ``fix``, the staged files' wrong hashes written.
    pre-commit runs hooks at the top of the work tree: the workspace is found from there, or
    from ``workspace`` (a folder of the repository, as ``ita-rules init desk`` configures)."""
    import os

    from ita_rules.core import reporters
    from ita_rules.core.config import find_root, load_settings
    from ita_rules.rules import check

    root = find_root(Path.cwd() / workspace if workspace else Path.cwd())
    settings = load_settings(root)
    from_ref = os.environ.get("PRE_COMMIT_FROM_REF")
    to_ref = os.environ.get("PRE_COMMIT_TO_REF")
    pushed = remote = None
    if base is None and from_ref and to_ref:  # the pre-push stage: the pushed range
        base, head = from_ref, to_ref
    elif base is None and os.environ.get("PRE_COMMIT_REMOTE_BRANCH"):  # a push, no range
        pushed = os.environ.get("PRE_COMMIT_LOCAL_BRANCH") or "HEAD"
        remote = os.environ.get("PRE_COMMIT_REMOTE_NAME")
    result = check.run_check(
        root,
        settings.rules_dir,
        settings.protected_ref,
        base=base,
        head=head,
        pushed=pushed,
        remote=remote,
    )
    findings, fixed = result.findings, []
    if fix and result.mode == "staged":  # pre-commit runs hooks at the top of the work tree
        report = check.fix_hashes(Path.cwd(), settings.rules_dir, settings.protected_ref, findings)
        if report is not None:
            fixed = report.fixed
            findings = [*findings, *(f for f in report.findings if f not in findings)]
            findings = check.unless_written(findings, fixed)
    for path in fixed:
        print(f"{path}: params_hash written; review and stage the file again")
    reporters.text(findings, sys.stdout)
    return 1 if (findings or fixed) else 0

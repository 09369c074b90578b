"""The server side of SPEC 2.5: what a git ``pre-receive`` hook checks for each pushed branch
(``hooks/pre-receive`` runs ``ita-rules-hook-check --pre-receive``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ita_rules import gitio
from ita_rules.rules.check import CheckResult, compare


@dataclass
class RefUpdate:
    """One line of a pre-receive hook's input and its outcome."""

    ref: str
    old: str
    new: str
    result: CheckResult | None = None
    refused: str = ""


def _rules_dir_at(git: gitio.Git, commit: str) -> str:
    """``rules.dir`` from ``ita.toml`` in ``commit`` (default ``rules``)."""
    import tomllib

    proc = git.run(["cat-file", "blob", f"{commit}:ita.toml"], check=False)
    if proc.returncode != 0:
        return "rules"
    try:
        doc = tomllib.loads(proc.stdout.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "rules"
    section = doc.get("rules")
    value = section.get("dir", "rules") if isinstance(section, dict) else "rules"
    return value.strip("/") if isinstance(value, str) and value.strip("/") else "rules"


def pre_receive(git: gitio.Git, lines: Iterable[str]) -> list[RefUpdate]:
    """Check every pushed branch update (``old new ref`` lines on a pre-receive hook's stdin).

    An update is compared with what the branch held before (a force-push too); a new branch
    with its merge base on the default branch; deleting the default branch is refused,
    deleting another branch is allowed (its released versions stay on the default branch).
    """
    default = git.run(["symbolic-ref", "--quiet", "HEAD"], check=False).stdout.decode().strip()
    updates: list[RefUpdate] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith("refs/heads/"):
            continue
        old, new, ref = parts
        upd = RefUpdate(ref, old, new)
        updates.append(upd)
        if set(new) == {"0"}:
            if ref == default:
                upd.refused = (
                    f"{ref} is the default branch; deleting it would delete released versions"
                )
            continue
        base: str | None = old
        label = f"{ref} before this push"
        if set(old) == {"0"}:
            base, label = None, "the default branch"
            if default and git.commit_id(default) is not None:
                mb = git.run(["merge-base", new, default], check=False).stdout.decode().strip()
                base = mb or None
        upd.result = compare(
            git,
            _rules_dir_at(git, new),
            base,
            new,
            released_label=label,
            head_label=new[:12],
            mode="push",
        )
    return updates

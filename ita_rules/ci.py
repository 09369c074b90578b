"""CI configuration for a rules repository: ``ita-rules init --ci github|gitlab``.

The generated files run the same three commands as every other place that guards the registry
(docs/architecture.md#enforcement): ``ita-rules validate``; on a pull or merge request
``ita-rules check --base origin/<target>``; on a push to the default branch
``ita-rules check --history``. They run the commands themselves (no ``uses:`` of this project),
so they work wherever ita-rules can be installed from, and the target branch comes from the
variable the CI sets (``GITHUB_BASE_REF``, ``CI_MERGE_REQUEST_TARGET_BRANCH_NAME``): the same
lines can be run by hand with that variable set. ``action.yml`` at the top of this repository
is the composite action for a workflow that prefers ``uses:``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ita_rules import __version__
from ita_rules.core.errors import UsageError

INSTALL = f'pip install "ita-rules=={__version__}"'

GITHUB_WORKFLOW = f"""\
# Guards this rule registry on GitHub (written by `ita-rules init --ci github`).
# Pull requests: validate, then refuse changes to versions released on the target branch.
# Pushes to main: validate and audit the whole history (a force-push cannot hide a mutation).
# Problems are shown on the pull request's diff as annotations.
# To pin ita-rules by its repository instead, replace the steps after checkout with
#   - uses: <org>/ita-rules@<tag>
name: rules
on:
  pull_request:
  push:
    branches: [main]
jobs:
  rules:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0  # the check needs the base commit and the whole history
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: install ita-rules
        run: {INSTALL}
      - name: validate rule files
        run: ita-rules validate
      - name: released versions are immutable
        if: github.event_name == 'pull_request'
        run: ita-rules check --base "origin/$GITHUB_BASE_REF"
      - name: audit the whole history
        if: github.event_name == 'push'
        run: ita-rules check --history
"""

GITLAB_CI = f"""\
# Guards this rule registry on GitLab (written by `ita-rules init --ci gitlab`).
# Merge requests: validate, then refuse changes to versions released on the target branch.
# Pushes to the default branch: validate and audit the whole history.
ita-rules:
  image: python:3.12
  variables:
    GIT_DEPTH: 0  # the check needs the target branch's commits and the whole history
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script:
    - {INSTALL}
    - ita-rules validate
    - |
      if [ -n "${{CI_MERGE_REQUEST_TARGET_BRANCH_NAME:-}}" ]; then
        target="$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"
        git fetch -q origin "+refs/heads/$target:refs/remotes/origin/$target"
        ita-rules check --base "origin/$target"
      else
        ita-rules check --history
      fi
"""


@dataclass(frozen=True)
class CiTemplate:
    path: str
    text: str


TEMPLATES: dict[str, CiTemplate] = {
    "github": CiTemplate(".github/workflows/rules.yml", GITHUB_WORKFLOW),
    "gitlab": CiTemplate(".gitlab-ci.yml", GITLAB_CI),
}


def write_ci(root: Path, kind: str) -> tuple[str, bool]:
    """Write the CI file for ``kind`` (github, gitlab) into the workspace at ``root``.

    Returns its path relative to ``root`` and whether it was written: an existing file is never
    overwritten.
    """
    from ita_rules.core.fsutil import atomic_write_text

    template = TEMPLATES.get(kind)
    if template is None:
        raise UsageError(f"--ci: unknown CI {kind!r} (known: {', '.join(sorted(TEMPLATES))})")
    path = root / template.path
    if path.exists() or path.is_symlink():
        return template.path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, template.text)
    return template.path, True

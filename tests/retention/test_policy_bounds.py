"""Numbers in retention.yaml that no date arithmetic can hold are refused when the policy is
read, with their place, instead of an internal error (OverflowError) at sweep time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ita_rules.retention.policy import PolicyError
from tests.retention.test_policy_notify import _load


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "safety_window_days: 100000000\ntypes:\n  result: {retain_days: null, strategy: keep_forever}\n",
            "retention.yaml:1:21: safety_window_days: 100000000 is greater than the maximum of 36500",
        ),
        (
            "types:\n  screenshot: {retain_days: 99999999999, strategy: delete}\n",
            "retention.yaml:2:29: types.screenshot.retain_days: 99999999999 is greater than the maximum of 36500",
        ),
        (
            "large_purge_gb: 1.0e+300\ntypes:\n  result: {retain_days: null, strategy: keep_forever}\n",
            "retention.yaml:1:17: large_purge_gb: 1e+300 is greater than the maximum of 1000000",
        ),
    ],
)
def test_numbers_past_what_dates_can_hold_are_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(PolicyError) as info:
        _load(tmp_path, text)
    assert [str(f) for f in info.value.findings] == [expected]


def test_a_huge_window_is_refused_by_the_daily_job_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_git_repo: Path, cli: Any
) -> None:
    (in_git_repo / "retention.yaml").write_text(
        "safety_window_days: 100000000\ntypes:\n  result: {retain_days: null, strategy: keep_forever}\n"
    )
    r = cli("retention", "run")
    assert r.code == 1, r.err
    assert "internal error" not in r.err
    assert "safety_window_days: 100000000 is greater than the maximum of 36500" in r.err
    assert not (in_git_repo / "logs").exists()

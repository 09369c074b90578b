"""Version parsing and ordering; setup ids; the Python API registry.get."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ita_rules import Workspace
from ita_rules.core.errors import NotFound, RuleError, UsageError
from ita_rules.rules.model import Rule, Version, check_setup_id

parts = st.integers(0, 10_000)


@given(parts, parts)
def test_version_round_trips_through_text(major: int, minor: int) -> None:
    v = Version(major, minor)
    assert Version.parse(str(v)) == v
    assert Version.parse(v.tag) == v
    assert v.filename == f"v{major}.{minor}.yaml"


@given(parts, parts, parts, parts)
def test_version_order_is_numeric(a: int, b: int, c: int, d: int) -> None:
    assert (Version(a, b) < Version(c, d)) == ((a, b) < (c, d))
    assert sorted([Version(c, d), Version(a, b)]) == sorted([Version(a, b), Version(c, d)])


def test_version_examples() -> None:
    assert Version.parse("1.10") > Version.parse("1.9")
    assert Version.parse("1.2").next() == Version(1, 3)
    assert Version.parse("1.2").next(major=True) == Version(2, 0)
    assert Version(1, 3).follows(Version(1, 2)) and Version(2, 0).follows(Version(1, 2))
    assert not Version(1, 4).follows(Version(1, 2)) and not Version(3, 0).follows(Version(1, 2))


@pytest.mark.parametrize(
    "text", ["1", "1.", ".1", "01.2", "1.02", "1.2.3", "v", "1.-1", " 1.2", "1,2", "١.٢"]
)
def test_bad_versions_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="not a version"):
        Version.parse(text)


@pytest.mark.parametrize(
    "bad", ["", "1abc", "../x", "a/b", "a b", "a" * 65, "a\x00", "_x", "T\n", "T\r\n"]
)
def test_bad_setup_ids_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="not a setup id"):
        check_setup_id(bad)


def test_registry_get(sample_ws: Path) -> None:
    ws = Workspace.open()
    latest = ws.registry.get("IB_raid_v1")
    assert isinstance(latest, Rule)
    assert (latest.setup_id, str(latest.version), latest.rule_version) == (
        "IB_raid_v1",
        "1.2",
        "v1.2",
    )
    assert latest.params == {"ib_range_atr_mult": 1.2, "max_trades_per_day": 1}
    assert latest.targets == {"tp": 2.0, "sl": 1.0}
    assert latest.components == ("Detect_Sessions", "Detect_Initial_Balance")
    assert latest.active is True
    assert latest.params_hash.startswith("sha256:")
    with pytest.raises(AttributeError):
        latest.active = False  # type: ignore[misc]
    assert str(ws.registry.get("IB_raid_v1", "1.1").version) == "1.1"
    assert str(ws.registry.get("IB_raid_v1", "v1.0").version) == "1.0"
    # London_FVG_v1@1.1 is deprecated: the latest is 1.1, the latest active is 1.0
    assert str(ws.registry.get("London_FVG_v1").version) == "1.1"
    assert str(ws.registry.get("London_FVG_v1", active_only=True).version) == "1.0"
    with pytest.raises(RuleError, match=r"London_FVG_v1@1.1 is deprecated \(Too few trades"):
        ws.registry.get("London_FVG_v1", "1.1", active_only=True)
    with pytest.raises(NotFound, match=r"no rule IB_raid_v1@1.5 \(versions: 1.0, 1.1, 1.2\)"):
        ws.registry.get("IB_raid_v1", "1.5")
    with pytest.raises(NotFound, match="no setup 'Nope'"):
        ws.registry.get("Nope")


def test_workspace_open_from_a_subdirectory(sample_ws: Path) -> None:
    ws = Workspace.open(sample_ws / "rules" / "IB_raid_v1")
    assert ws.root == sample_ws


def test_workspace_missing(tmp_path: Path) -> None:
    from ita_rules.core.errors import WorkspaceNotFound

    with pytest.raises(WorkspaceNotFound, match="no ita-rules workspace at"):
        Workspace.open(tmp_path)

"""`runs verify` compares the package map name by name: changed, removed and added versions
each make one difference, named and sorted; equal maps make none."""

from __future__ import annotations

import platform

from ita_rules.provenance import capture
from ita_rules.provenance.verify import _env


def _snap(packages: dict[str, str]) -> dict[str, object]:
    return {"env": {"python": platform.python_version(), "packages": packages}}


def test_the_same_packages_make_no_difference() -> None:
    assert _env(_snap(capture.packages())) == []


def test_changed_removed_and_added_packages_are_each_named() -> None:
    now = capture.packages()
    then = dict(now)
    then["pytest"] = "0.0.1"  # changed since
    then["ita-gone-package"] = "1.2"  # not installed now
    del then["pyyaml"]  # installed since
    found = [(d.what, d.message, d.recorded, d.now) for d in _env(_snap(then))]
    assert found == [
        ("packages.ita-gone-package", "ita-gone-package 1.2 is not installed now", "1.2", None),
        ("packages.pytest", f"pytest 0.0.1 -> {now['pytest']}", "0.0.1", now["pytest"]),
        (
            "packages.pyyaml",
            f"pyyaml {now['pyyaml']} is installed now, not at the run",
            None,
            now["pyyaml"],
        ),
    ]

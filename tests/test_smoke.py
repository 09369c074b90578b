from __future__ import annotations

from pathlib import Path


def test_sample_registry_validates(sample_ws: Path, cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("validate")
    assert r.code == 0, r.out + r.err
    assert "8 file(s) checked, 0 problem(s)" in r.err

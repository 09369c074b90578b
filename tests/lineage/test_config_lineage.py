"""``[lineage]`` in ita.toml: url and namespace, strict types, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ita_rules.core.config import load_settings
from ita_rules.core.errors import ConfigError


def test_lineage_defaults_values_and_environment(tmp_path: Path) -> None:
    (tmp_path / "ita.toml").write_text("")
    plain = load_settings(tmp_path, {})
    assert (plain.lineage_url, plain.lineage_namespace) == ("", "ita-rules")
    (tmp_path / "ita.toml").write_text(
        '[lineage]\nurl = "http://127.0.0.1:5000"\nnamespace = "desk-fra"\n'
    )
    given = load_settings(tmp_path, {})
    assert (given.lineage_url, given.lineage_namespace) == ("http://127.0.0.1:5000", "desk-fra")
    env = load_settings(tmp_path, {"ITA_LINEAGE_URL": "http://marquez:5000"})
    assert env.lineage_url == "http://marquez:5000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[lineage]\nurl = 5000\n", "lineage.url: expected a string, got int 5000"),
        ("[lineage]\nnamespace = true\n", "lineage.namespace: expected a string, got bool True"),
        (
            "[lineage]\nendpoint = 'x'\n",
            "lineage.endpoint: unknown key (known keys: namespace, url)",
        ),
    ],
)
def test_a_wrong_lineage_value_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "ita.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {})
    assert message in str(info.value)

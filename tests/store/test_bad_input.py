"""Bad input: each is one clear line, exit 1 or 2, and nothing is written (SQLite and Postgres)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, write
from tests.store.conftest import StoreWs

GOOD_RESULT = {"setup_id": "Frank_raid_v1", "rule_version": "v1.1", "metrics": {"win_rate": 0.61}}


@pytest.fixture
def primed(store_ws: StoreWs, cli) -> StoreWs:  # type: ignore[no-untyped-def]
    """A store that already holds one file (so the database and journal exist)."""
    src = write(store_ws.root / "first.csv", "a,b\n")
    assert cli("store", "put", str(src), "--type", "candles").code == 0
    return store_ws


def _refused(ws: StoreWs, cli, args: list[str], code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    before = ws.state()
    r = cli(*args)
    assert (r.code, r.err) == (code, f"ita-rules: {message}\n"), r
    assert r.out == ""
    assert ws.state() == before


NAMES = [
    ("--symbol", "../../etc", "symbol: '../../etc' contains a path separator"),
    ("--symbol", "..", "symbol: '..' contains '..' or starts with '.'"),
    ("--symbol", "a\\b", "symbol: 'a\\\\b' contains a path separator"),
    ("--symbol", "C:evil", "symbol: 'C:evil' starts with a drive letter"),
    ("--symbol", "GER\x0040", "symbol: 'GER\\x0040' contains a NUL character"),
    ("--symbol", "CON", "symbol: 'CON' is a name Windows reserves"),
    ("--symbol", "com1.txt", "symbol: 'com1.txt' is a name Windows reserves"),
    ("--symbol", "GER 40", "symbol: 'GER 40' may only contain letters, digits and _ . + = -"),
    ("--symbol", "", "symbol: must not be empty"),
    ("--run-id", "run/1", "run_id: 'run/1' contains a path separator"),
    ("--run-id", ".hidden", "run_id: '.hidden' contains '..' or starts with '.'"),
    ("--run-id", "NUL", "run_id: 'NUL' is a name Windows reserves"),
    ("--type", "../results", "type: '../results' contains a path separator"),
    (
        "--type",
        "Candles",
        "type: 'Candles' must be lowercase letters, digits, _ or -, starting with a letter",
    ),
    ("--type", "aux", "type: 'aux' is a name Windows reserves"),
    ("--timeframe", "M15/..", "timeframe: 'M15/..' contains a path separator"),
    (
        "--tag",
        "a/b",
        "tag: 'a/b' must be 1-64 letters, digits or _ . : + = - (starting with a letter or digit)",
    ),
]


@pytest.mark.parametrize(
    ("option", "value", "message"), NAMES, ids=[f"{o}={v!r}" for o, v, _ in NAMES]
)
def test_odd_names_are_refused(primed: StoreWs, cli, option: str, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    src = write(primed.root / "x.csv", "x\n")
    args = ["store", "put", str(src), "--type", "candles", option, value]
    if option == "--type":
        args = ["store", "put", str(src), option, value]
    _refused(primed, cli, args, 2, message)


def test_missing_file(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    _refused(
        primed, cli, ["store", "put", "nope.csv", "--type", "candles"], 2, "nope.csv: no such file"
    )


def test_symlink(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    target = write(primed.root / "real.csv", "r\n")
    (primed.root / "link.csv").symlink_to(target)
    _refused(
        primed,
        cli,
        ["store", "put", "link.csv", "--type", "candles"],
        2,
        "link.csv: is a symbolic link; store the file it points to",
    )


def test_symlink_inside_a_bulk_directory_refuses_the_whole_batch(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    folder = primed.root / "batch"
    write(folder / "a.png", b"a")
    write(folder / "b.png", b"b")
    (folder / "c.png").symlink_to(primed.root / "first.csv")
    _refused(
        primed,
        cli,
        ["store", "put", "batch", "--type", "screenshot"],
        2,
        "batch/c.png: is a symbolic link; store the file it points to",
    )


def test_directory_in_the_python_api_and_empty_directory_in_the_cli(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    from ita_rules.store import SourceError

    (primed.root / "empty").mkdir()
    _refused(
        primed,
        cli,
        ["store", "put", "empty", "--type", "screenshot"],
        2,
        "empty: no files to store in this directory",
    )
    store = primed.open()
    try:
        with pytest.raises(SourceError) as err:
            store.put(primed.root / "empty", type="screenshot")
    finally:
        store.close()
    assert str(err.value).endswith(
        "empty: is a directory; pass files, or a directory to the CLI for a bulk put"
    )


def test_special_file(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    os.mkfifo(primed.root / "pipe")
    _refused(
        primed, cli, ["store", "put", "pipe", "--type", "candles"], 2, "pipe: is not a regular file"
    )


def _drop_file_capabilities() -> None:
    """In the child: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so
    that root after exec obeys file permission bits like any user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_unreadable_file(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    """chmod 000 does not stop root; as root the put runs in a subprocess without the
    capabilities that bypass file permissions (Linux), so the file really is unreadable."""
    src = write(primed.root / "secret.csv", "s\n")
    src.chmod(0)
    message = "secret.csv: cannot read: Permission denied"
    if os.geteuid() != 0:
        _refused(primed, cli, ["store", "put", "secret.csv", "--type", "candles"], 2, message)
        return
    before = primed.state()
    proc = subprocess.run(
        [sys.executable, "-m", "ita_rules", "store", "put", "secret.csv", "--type", "candles"],
        cwd=primed.root,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_drop_file_capabilities,
    )
    assert (proc.returncode, proc.stderr) == (2, f"ita-rules: {message}\n")
    assert primed.state() == before


def test_unreachable_postgres_is_one_line_without_the_password(
    store_ws: StoreWs, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    src = write(store_ws.root / "x.csv", "x\n")
    monkeypatch.setenv("ITA_DATABASE_URL", "postgresql://trader:s3cret@127.0.0.1:1/ita")
    r = cli("store", "put", str(src), "--type", "candles")
    assert r.code == 2
    assert r.err.startswith(
        "ita-rules: cannot connect to the database postgresql://trader:***@127.0.0.1:1/ita: "
    )
    assert r.err.count("\n") == 1 and "s3cret" not in r.err + r.out
    assert "refused" in r.err.lower()
    assert not (store_ws.store_root).exists()


def test_unopenable_sqlite_file(store_ws: StoreWs, cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    src = write(store_ws.root / "x.csv", "x\n")
    monkeypatch.setenv("ITA_DATABASE_URL", "sqlite:///ita.toml/db.sqlite")
    r = cli("store", "put", str(src), "--type", "candles")
    assert (r.code, r.err) == (
        2,
        f"ita-rules: cannot open the SQLite database {store_ws.root}/ita.toml/db.sqlite: a parent is not a directory\n",
    )
    assert not (store_ws.store_root).exists()


RESULTS = [
    (
        {"setup_id": "Frank_raid_v1"},
        'r.json:1:1: rule_version: required field is missing; expected a rule version such as "v1.2"',
    ),
    (
        {"rule_version": "v1.1"},
        "r.json:1:1: setup_id: required field is missing; expected a setup id: a letter, then up to 63 letters, digits, '_' or '-'",
    ),
    (
        {"setup_id": "Frank_raid_v1", "rule_version": "v1.1.0"},
        "r.json:1:47: rule_version: expected a rule version such as \"v1.2\", got the string 'v1.1.0'",
    ),
    (
        {"setup_id": "Frank_raid_v1", "rule_version": "v9.9"},
        "r.json:1:47: rule_version: Frank_raid_v1@v9.9 is not in the registry (no rule Frank_raid_v1@9.9 (versions: 1.0, 1.1, 2.0))",
    ),
    (
        {"setup_id": "Nope_v1", "rule_version": "v1.0"},
        "r.json:1:14: setup_id: no setup Nope_v1 in the registry (`ita-rules list` shows them)",
    ),
    ({**GOOD_RESULT, "params_hash": "sha256:" + "0" * 64}, None),
]


@pytest.mark.parametrize(
    ("doc", "message"),
    RESULTS,
    ids=[
        "no-rule_version",
        "no-setup_id",
        "bad-version-form",
        "version-not-in-registry",
        "setup-not-in-registry",
        "params_hash-differs",
    ],
)
def test_results_must_name_a_registry_version(primed: StoreWs, cli, doc, message) -> None:  # type: ignore[no-untyped-def]
    write(primed.root / "r.json", json.dumps(doc))
    if message is None:
        from ita_rules.workspace import Workspace

        real = Workspace.open(primed.root).registry.get("Frank_raid_v1", "1.1").params_hash
        message = (
            f"r.json:1:101: params_hash: sha256:{'0' * 64} differs from Frank_raid_v1@v1.1's {real}"
        )
    _refused(primed, cli, ["store", "put", "r.json", "--type", "result"], 1, message)


def test_result_that_is_not_json(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    write(primed.root / "r.json", '{"setup_id": "Frank_raid_v1",\n "rule_version": v1.1}')
    _refused(
        primed,
        cli,
        ["store", "put", "r.json", "--type", "result"],
        1,
        "r.json:2:18: not valid JSON: Expecting value",
    )
    write(primed.root / "r.json", "[1, 2]")
    _refused(
        primed,
        cli,
        ["store", "put", "r.json", "--type", "result"],
        1,
        "r.json:1:1: expected a JSON object with setup_id and rule_version",
    )


def test_a_bad_result_in_a_batch_refuses_the_batch(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    write(primed.root / "results" / "a.json", json.dumps(GOOD_RESULT))
    write(
        primed.root / "results" / "b.json",
        json.dumps({"setup_id": "Frank_raid_v1", "rule_version": "v7.0"}),
    )
    _refused(
        primed,
        cli,
        ["store", "put", "results", "--type", "result"],
        1,
        "results/b.json:1:47: rule_version: Frank_raid_v1@v7.0 is not in the registry (no rule Frank_raid_v1@7.0 (versions: 1.0, 1.1, 2.0))",
    )


def test_a_valid_result_is_stored(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    # an orchestrator's run id (a run id of the desk's own form must name one of its runs:
    # tests/journeys/test_result_seams.py)
    write(primed.root / "r.json", json.dumps(GOOD_RESULT))
    r = cli("store", "put", "r.json", "--type", "result", "--run-id", "flow_run_7f3a", "--json")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert rec["path"].startswith("archive/results/flow_run_7f3a_") and rec["path"].endswith(
        ".json"
    )


def test_bad_option_values(primed: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    src = write(primed.root / "x.csv", "x\n")
    _refused(
        primed,
        cli,
        ["store", "put", str(src), "--type", "candles", "--meta", "novalue"],
        2,
        "--meta: expected KEY=VALUE, got 'novalue'",
    )
    _refused(  # a byte that is not UTF-8 in argv (Python hands it over as a lone surrogate)
        primed,
        cli,
        ["store", "put", str(src), "--type", "candles", "--meta", "note=caf\udce9"],
        2,
        "metadata: not valid UTF-8 text (bytes b'\\xe9')",
    )
    r = cli("store", "find", "--since", "yesterday")
    assert (r.code, r.err) == (
        2,
        "ita-rules: --since: expected a date YYYY-MM-DD or an ISO time, got 'yesterday'\n",
    )
    r = cli("store", "get", "no-such-id")
    assert (r.code, r.err) == (1, "ita-rules: no record 'no-such-id' in the store\n")
    assert REPO.exists()

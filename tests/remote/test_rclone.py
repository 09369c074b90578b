"""The rclone wrapper: remote paths, secrets, rclone's JSON log, the child environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ita_rules.remote import rclone
from tests.remote.conftest import SECRET_KEY, MotoServer, RemoteWs, rclone_env
from tests.remote.test_push_pull import put_files


@pytest.mark.parametrize(
    ("text", "name", "shown"),
    [
        ("s3backup:ita-archive", "s3backup", "s3backup:ita-archive"),
        ("gdrive:", "gdrive", "gdrive:"),
        ("my remote:a/b", "my remote", "my remote:a/b"),
        ("/mnt/backup/ita", None, "/mnt/backup/ita"),
        ("relative/dir", None, "relative/dir"),
        (
            ":s3,provider=Other,secret_access_key=abcd1234:bucket/x",
            None,
            ":s3,provider=Other,secret_access_key=***:bucket/x",
        ),
        ("s3t,secret_access_key='q,w:e':b", "s3t", "s3t,secret_access_key=***:b"),
    ],
)
def test_parse_remote(text: str, name: str | None, shown: str) -> None:
    spec = rclone.parse_remote(text)
    assert (spec.name, spec.shown) == (name, shown)
    assert spec.join("archive/raw/a.csv").endswith("archive/raw/a.csv")


def test_connection_string_secrets_are_collected() -> None:
    spec = rclone.parse_remote(":s3,access_key_id=AKIA1234,secret_access_key=abcd1234:bucket")
    assert set(spec.secrets) == {"AKIA1234", "abcd1234"}
    # a mistyped one (an unquoted ":" ends the options early) still hides its secrets
    spec = rclone.parse_remote(":s3,endpoint=http://h:9,secret_access_key=abcd1234:bucket")
    assert "abcd1234" not in spec.shown and "abcd1234" in spec.secrets


def test_join() -> None:
    assert rclone.parse_remote("r:").join("a/b") == "r:a/b"
    assert rclone.parse_remote("r:bucket").join("a/b") == "r:bucket/a/b"
    assert rclone.parse_remote("r:bucket/").join("a/b") == "r:bucket/a/b"


def test_parse_log_keeps_errors_and_the_fatal_line() -> None:
    log = "\n".join(
        [
            json.dumps({"level": "warning", "msg": "Config file not found"}),
            json.dumps({"level": "error", "msg": "Failed to copy: boom", "object": "a/b.csv"}),
            "2026/01/15 10:00:00 Failed to copy: RequestError: send request failed",
            'caused by: Put "http://127.0.0.1:9/b/a": dial tcp 127.0.0.1:9: connect: refused',
        ]
    )
    errors, fatal = rclone.parse_log(log)
    assert [(e.msg, e.object) for e in errors] == [("Failed to copy: boom", "a/b.csv")]
    assert fatal is not None
    assert rclone.condense(fatal) == "dial tcp 127.0.0.1:9: connect: refused"
    assert rclone.condense(
        "Failed to lsjson with 2 errors: last error was: directory not found"
    ) == ("directory not found")


def test_child_env_drops_aws_ca_bundle_and_keeps_the_rest() -> None:
    env = rclone.child_env({"AWS_CA_BUNDLE": "/x.pem", "RCLONE_BWLIMIT": "1M", "PATH": "/bin"})
    assert env == {"RCLONE_BWLIMIT": "1M", "PATH": "/bin", **rclone.BOUNDED}


def test_child_env_bounds_timeouts_and_retries_unless_the_user_set_them() -> None:
    env = rclone.child_env({"RCLONE_TIMEOUT": "10m", "RCLONE_RETRIES": "7"})
    assert env["RCLONE_TIMEOUT"] == "10m" and env["RCLONE_RETRIES"] == "7"
    assert env["RCLONE_CONTIMEOUT"] == "10s" and env["RCLONE_LOW_LEVEL_RETRIES"] == "2"


def test_env_secrets() -> None:
    found = rclone.env_secrets(
        {
            "RCLONE_CONFIG_X_SECRET_ACCESS_KEY": "s3cr3t-value",
            "RCLONE_CONFIG_X_PASS": "hunter22",
            "RCLONE_CONFIG_X_TYPE": "s3",
            "AWS_SESSION_TOKEN": "tok-123456",
            "HOME": "/root",
        }
    )
    assert set(found) == {"s3cr3t-value", "hunter22", "tok-123456"}


def test_rclone_itself_fails_with_aws_ca_bundle(
    moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the child runs without AWS_CA_BUNDLE: with it, rclone's S3 backend cannot start."""
    import os

    rclone_env(monkeypatch, tmp_path, moto.endpoint)
    proc = subprocess.run(
        ["rclone", "lsjson", "s3t:"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert proc.returncode != 0 and "LoadCustomCABundleError" in proc.stderr
    program = rclone.find()
    assert "AWS_CA_BUNDLE" not in program.env
    assert program.run(["lsjson", "s3t:"]).ok


@pytest.mark.remote_combos("s3-sqlite")
def test_secrets_never_appear_in_output(rws_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rws: RemoteWs = rws_cli[0]
    cli = rws_cli[1]
    recs = put_files(rws)
    assert rws.moto is not None
    inline = (
        f":s3,provider=Other,endpoint='{rws.moto.endpoint}',force_path_style=true,"
        f"access_key_id=AKIAINLINE99,secret_access_key=inline-s3cr3t-42,region=us-east-1:"
        f"{rws.bucket}/inline"
    )
    outputs = []
    r = cli("remote", "push")
    assert r.code == 0, r.err
    outputs.append(r.out + r.err)
    monkeypatch.setenv("ITA_REMOTE", inline)
    r = cli("remote", "push", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["remote"] == (
        f":s3,provider=Other,endpoint='{rws.moto.endpoint}',force_path_style=true,"
        f"access_key_id=***,secret_access_key=***,region=us-east-1:{rws.bucket}/inline"
    )
    outputs.append(r.out + r.err)
    # failing commands: an endpoint where nothing listens, inline and configured
    monkeypatch.setenv("ITA_REMOTE", inline.replace(rws.moto.endpoint, "http://127.0.0.1:9"))
    (rws.ws.store_root / recs["png"].path).unlink()
    r = cli("remote", "pull", recs["png"].file_id)
    assert r.code == 1
    assert r.err.startswith("ita-rules: pull from :s3,provider=Other,endpoint='http://127.0.0.1:9'")
    assert r.err.endswith(
        "dial tcp 127.0.0.1:9: connect: connection refused; nothing was restored\n"
    )
    outputs.append(r.out + r.err)
    monkeypatch.setenv("ITA_REMOTE", rws.remote_name)
    monkeypatch.setenv("RCLONE_CONFIG_S3T_ENDPOINT", "http://127.0.0.1:9")
    r = cli("remote", "check")
    assert r.code == 1
    outputs.append(r.out + r.err)
    for text in outputs:
        for secret in (SECRET_KEY, "inline-s3cr3t-42", "AKIAINLINE99"):
            assert secret not in text

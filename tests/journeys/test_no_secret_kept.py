"""Journey: a desk allow-lists every variable (``env_allowlist = ["*"]``) and runs a backtest
from a dirty tree whose uncommitted code holds a database URL with a password. No planted
secret may be found anywhere the run leaves a trace: the snapshot file, the metadata
database, the stored diff, every stored file, and what ``runs show --json`` prints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.journeys.conftest import Desk

# 20 secrets a desk's shell really holds, each with a value that appears nowhere else.
PLANTED = {
    "ITA_TELEGRAM_TOKEN": "123456789:AAH-telegram-bot-token-value-0001",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-aws-secret-0002",
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPL3",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEJr-session-0004",
    "PGPASSWORD": "pg-password-0005",
    "MYSQL_PWD": "mysql-pwd-0006",
    "SENTRY_DSN": "https://abc0007@o1.ingest.sentry.io/1",
    "OPENAI_API_KEY": "sk-proj-openai-key-0008-xxxxxxxxxxxx",
    "ANTHROPIC_KEY": "anthropic-key-0009",
    "GITHUB_TOKEN": "ghp_githubtoken0010abcdefghijklmnopqrstu",
    "SLACK_WEBHOOK_SIG": "slack-signature-0011",
    "RCLONE_CONFIG_S3BACKUP_ACCESS_KEY_ID": "rclone-access-0012",
    "RCLONE_CONFIG_S3BACKUP_SECRET_ACCESS_KEY": "rclone-secret-0013",
    "RCLONE_CONFIG_GDRIVE_TOKEN": '{"access_token":"gdrive-0014"}',
    "BROKER_PASSPHRASE": "broker-passphrase-0015",
    "DB_CREDENTIALS": "credentials-0016",
    "JWT_PRIVATE": "private-0017",
    "HTTP_AUTHORIZATION": "Bearer auth-0018",
    # Secret-free names whose values still carry a credential.
    "DESK_DATABASE_URL": "postgresql://desk:url-password-0019@db.internal/ita",
    "BROKER_ENDPOINT": "https://trader:endpoint-password-0020@broker.example/api",
    # Passwords holding "/" and "@", as AWS-style secrets do.
    "WAREHOUSE_URL": "postgresql://svc:Zx9/slash-0022+Er@db.internal/prod",
    "MIRROR_URL": "https://bob:at@sign-0023@mirror.example/",
}
DIFF_SECRET = "diff/pass@word-0021"

RUN = """
from ita_rules import Workspace
ws = Workspace.open()
rule = ws.registry.get("IB_raid_v1", "1.2")
with ws.start_run("backtest_flow", rule=rule, symbol="GER40", timeframe="M15") as run:
    run.save_result({"metrics": {"trades": 3, "return_pct": 1.5}})
print(run.run_id)
"""


def test_no_planted_secret_is_kept_anywhere(desk: Desk) -> None:
    desk.write("ita.toml", desk.read("ita.toml") + '\n[runs]\nenv_allowlist = ["*"]\n')
    desk.write("flows/settings.py", "DB = 'sqlite:///local.db'\n")
    desk.commit("allow-list every variable; a flow")
    # Uncommitted code that holds a credential: the run is dirty and its diff is stored.
    desk.write("flows/settings.py", f"DB = 'postgresql://desk:{DIFF_SECRET}@db.internal/ita'\n")
    desk.env.update(PLANTED)

    ran = desk.sh(sys.executable, "-c", RUN, check=True)
    run_id = ran.out.strip()
    shown = desk.run("runs", "show", run_id, "--json", check=True)
    snap = json.loads(
        (desk.root / f"exchange/archive/provenance/{run_id}_snapshot.json").read_text()
    )

    secrets = [
        *PLANTED.values(),
        DIFF_SECRET,
        "url-password",
        "endpoint-password",
        "slash-0022",
        "sign-0023",
        "word-0021",
    ]
    traces: dict[str, bytes] = {"runs show --json": shown.out.encode(), "stderr": ran.err.encode()}
    for path in [*(desk.root / "exchange").rglob("*"), *(desk.root / ".ita").rglob("*")]:
        if path.is_file():
            traces[str(path.relative_to(desk.root))] = path.read_bytes()
    leaks = [
        f"{where}: {secret}"
        for where, data in traces.items()
        for secret in secrets
        if secret.encode() in data
    ]
    assert leaks == []

    # What is kept instead: every name, its value redacted; URLs keep all but the password.
    variables = snap["env"]["variables"]
    assert "ITA_TELEGRAM_TOKEN" not in variables  # the notifier's own token: never even named
    for name in set(PLANTED) - {"ITA_TELEGRAM_TOKEN"}:  # every value held a secret
        assert "<redacted>" in variables[name], name
    assert variables["PGPASSWORD"] == "<redacted>"
    assert variables["RCLONE_CONFIG_S3BACKUP_SECRET_ACCESS_KEY"] == "<redacted>"
    assert variables["DESK_DATABASE_URL"] == "postgresql://desk:<redacted>@db.internal/ita"
    assert variables["BROKER_ENDPOINT"] == "https://trader:<redacted>@broker.example/api"
    assert variables["WAREHOUSE_URL"] == "postgresql://svc:<redacted>@db.internal/prod"
    assert variables["MIRROR_URL"] == "https://bob:<redacted>@mirror.example/"
    assert variables["HOME"] == desk.env["HOME"]  # ordinary variables are kept as they are

    # The stored diff is the redacted patch, its hash is of that text, and the snapshot says so.
    assert snap["git_dirty"] is True
    assert snap["git_diff_redacted"] == 1
    record = desk.run("store", "get", snap["git_diff_file_id"], "--json", check=True).json()
    diff = (desk.root / "exchange" / record["path"]).read_text(encoding="utf-8")
    assert "postgresql://desk:<redacted>@db.internal/ita" in diff
    import hashlib

    assert snap["git_diff_hash"] == "sha256:" + hashlib.sha256(diff.encode()).hexdigest()


def test_the_diff_of_a_binary_file_is_stored_as_it_is(desk: Desk, tmp_path: Path) -> None:
    """Redaction touches text that looks like a credential, nothing else: a binary change and a
    URL without a password are stored byte for byte."""
    from ita_rules.provenance.redact import redact_bytes

    patch = b"+url = 'https://example.com/a'\n+\xff\xfe binary \x00 bytes\n"
    assert redact_bytes(patch) == (patch, 0)
    secret = b"+u = 'postgresql://a:b@h/db'\n+\xff\n"
    assert redact_bytes(secret) == (b"+u = 'postgresql://a:<redacted>@h/db'\n+\xff\n", 1)

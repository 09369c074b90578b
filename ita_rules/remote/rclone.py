"""Every rclone call of ita-rules goes through this module.

rclone is an external program (https://rclone.org): it speaks to S3, Google Drive, a local
folder and 70 other backends, with checksums and retries. We run it as a child process:

- without ``AWS_CA_BUNDLE`` in its environment: rclone's S3 backend cannot use that variable
  (it fails with ``LoadCustomCABundleError``, even against a plain-HTTP endpoint); a private CA
  for rclone is given with ``RCLONE_CA_CERT`` instead. Every other variable is passed on, so
  ``RCLONE_*`` settings (``RCLONE_CONFIG_<NAME>_*`` remotes, ``RCLONE_RETRIES``,
  ``RCLONE_BWLIMIT``...) work as rclone documents them;
- with ``--use-json-log``: its log is read as JSON lines, never scraped as text. Only
  error-level messages are ever shown, condensed to one line, and every secret we know of
  (``RCLONE_*``/``AWS_*`` variables that hold a key, password or token, the option values of a
  connection-string remote) is replaced with ``***`` first;
- listings come from ``rclone lsjson`` (JSON on stdout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from ita_rules.remote.spec import (
    RcloneMissing,
    RemoteConfigError,
    RemoteError,
    RemoteSpec,
    env_secrets,
    parse_remote,
)

INSTALL_HINT = "install it with `apt-get install rclone` or see https://rclone.org/install/"
MISSING = f"rclone is not installed (not found on PATH): {INSTALL_HINT}"
__all__ = [  # the errors and the remote path parser live in spec.py; re-exported here
    "RcloneMissing",
    "RemoteConfigError",
    "RemoteError",
    "RemoteSpec",
    "env_secrets",
    "parse_remote",
]
DROPPED_ENV = ("AWS_CA_BUNDLE",)

# rclone's documented exit codes (https://rclone.org/docs/#exit-code)
EXIT_DIR_NOT_FOUND = 3
EXIT_FILE_NOT_FOUND = 4


# rclone's own defaults (1 min to connect, 5 min idle, 3 x 10 retries) let a push to an
# unreachable or stalled endpoint hang for many minutes with nothing on screen. These bound it
# (a stalled endpoint fails in about 2 minutes); a variable the user set wins.
BOUNDED = {
    "RCLONE_CONTIMEOUT": "10s",
    "RCLONE_TIMEOUT": "30s",
    "RCLONE_RETRIES": "2",
    "RCLONE_LOW_LEVEL_RETRIES": "2",
}


def child_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for rclone: ours without the variables rclone cannot use, with
    :data:`BOUNDED` timeouts and retries unless set."""
    env = dict(os.environ if environ is None else environ)
    for var in DROPPED_ENV:
        env.pop(var, None)
    for var, value in BOUNDED.items():
        env.setdefault(var, value)
    return env


@dataclass(frozen=True)
class LogLine:
    level: str
    msg: str
    object: str | None = None


@dataclass
class Outcome:
    """What one rclone run left: exit code, stdout, its error-level log lines, its last words."""

    code: int
    stdout: bytes
    errors: list[LogLine] = field(default_factory=list)
    fatal: str | None = None  # rclone's final "Failed to <command>: ..." line, if any

    @property
    def ok(self) -> bool:
        return self.code == 0

    def reason(self) -> str:
        """The most telling error, condensed to one line."""
        if self.fatal:
            return condense(self.fatal)
        if self.errors:
            return condense(self.errors[-1].msg)
        return f"rclone exited with code {self.code}"

    def object_errors(self) -> dict[str, str]:
        """Per-file errors: the object's path (as rclone logged it) -> one-line reason."""
        return {e.object: condense(e.msg) for e in self.errors if e.object}


def condense(message: str) -> str:
    """rclone's error -> its root cause on one line: the last ``caused by:`` part, without the
    HTTP verb and URL (``dial tcp 127.0.0.1:9000: connect: connection refused``)."""
    text = message.split("caused by:")[-1]
    text = re.sub(r"^\s*(Failed to [\w-]+( with \d+ errors)?: )?(last error was: )?", "", text)
    text = re.sub(
        r'^\s*(GET|PUT|HEAD|POST|DELETE|PATCH|Get|Put|Head|Post|Delete|Patch) "[^"]*":\s*', "", text
    )
    return " ".join(text.split()) or " ".join(message.split())


_PLAIN_LOG = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (?:(?P<level>[A-Z]+)\s*: )?(?P<msg>.*)$")


def parse_log(text: str) -> tuple[list[LogLine], str | None]:
    """Error-level lines of a ``--use-json-log`` stderr, and the final plain ``Failed to`` line
    (rclone prints its fatal error outside the JSON log) with its continuation lines."""
    errors: list[LogLine] = []
    fatal: list[str] = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
                obj = entry.get("object")
                errors.append(
                    LogLine(
                        str(entry["level"]), str(entry.get("msg", "")), str(obj) if obj else None
                    )
                )
            continue
        m = _PLAIN_LOG.match(line)
        if m:
            level = m.group("level")
            fatal = [m.group("msg")] if level in (None, "ERROR", "CRITICAL") else []
        elif fatal and line.strip():
            fatal.append(line.strip())
    return errors, (" ".join(fatal) if fatal else None)


class Rclone:
    """The rclone program with the environment to run it in. Create with :func:`find`."""

    def __init__(self, exe: str, env: dict[str, str], secrets: Iterable[str] = ()) -> None:
        self.exe = exe
        self.env = env
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def run(
        self,
        args: Sequence[str],
        *,
        stdout: IO[bytes] | int | None = None,
        stdin_lines: Sequence[str] | None = None,
    ) -> Outcome:
        """Run ``rclone ARGS --use-json-log``; stdout is captured unless ``stdout`` is given.
        ``stdin_lines`` feed a ``--files-from-raw -`` list (no temporary file to leave behind,
        whatever ends the process)."""
        feed = None
        if stdin_lines is not None:
            feed = "".join(f"{line}\n" for line in stdin_lines).encode("utf-8")
        # an unnamed temporary file: the OS removes it even when we are killed
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.run(
                    [self.exe, *args, "--use-json-log"],
                    input=feed,
                    stdin=subprocess.DEVNULL if feed is None else None,
                    stdout=subprocess.PIPE if stdout is None else stdout,
                    stderr=err,
                    env=self.env,
                    check=False,
                )
            except FileNotFoundError:
                raise RcloneMissing(MISSING) from None
            except OSError as exc:
                raise RemoteError(f"cannot run rclone ({self.exe}): {exc.strerror}") from None
            err.seek(0)
            log = err.read().decode("utf-8", "replace")
        errors, fatal = parse_log(self.redact(log))
        return Outcome(proc.returncode, proc.stdout or b"", errors, fatal)

    def remotes(self) -> set[str]:
        """Names of the configured remotes (config file and ``RCLONE_CONFIG_<NAME>_TYPE``)."""
        outcome = self.run(["listremotes"])
        if not outcome.ok:
            raise RemoteError(f"rclone listremotes failed: {outcome.reason()}")
        return {
            line.strip().rstrip(":")
            for line in outcome.stdout.decode("utf-8", "replace").splitlines()
            if line.strip()
        }

    def hashes(self, remote: str) -> tuple[str, ...]:
        """The hash types the backend of ``remote`` supports natively (``md5``, ``sha256``...)."""
        outcome = self.run(["backend", "features", remote])
        if not outcome.ok:
            raise RemoteError(f"rclone cannot open {remote}: {outcome.reason()}")
        try:
            data = json.loads(outcome.stdout)
            return tuple(str(h).lower() for h in data.get("Hashes") or ())
        except (ValueError, AttributeError):
            raise RemoteError(f"rclone backend features {remote}: unexpected output") from None

    def list_files(
        self, base: str, relatives: Sequence[str], hash_type: str | None
    ) -> dict[str, RemoteFile]:
        """Size and hash of each of ``relatives`` that exists under ``base`` (``lsjson``)."""
        if not relatives:
            return {}
        args = ["lsjson", "-R", "--files-only", base]
        if hash_type:
            args += ["--hash", "--hash-type", hash_type]
        outcome = self.run([*args, "--files-from-raw", "-"], stdin_lines=relatives)
        if outcome.code == EXIT_DIR_NOT_FOUND:
            return {}
        if not outcome.ok:
            raise RemoteError(outcome.reason())
        try:
            entries: list[dict[str, Any]] = json.loads(outcome.stdout)
        except ValueError:
            raise RemoteError(f"rclone lsjson {base}: unexpected output") from None
        out: dict[str, RemoteFile] = {}
        for entry in entries:
            hashes = entry.get("Hashes") or {}
            value = hashes.get(hash_type, "") if hash_type else ""
            out[str(entry["Path"])] = RemoteFile(int(entry["Size"]), str(value).lower() or None)
        return out

    def copy_files(self, source: str, dest: str, relatives: Sequence[str]) -> Outcome:
        """``rclone copy --checksum``: copy ``relatives`` from ``source`` to ``dest``; a file
        already there with the same size and hash is skipped, a different one replaced."""
        return self.run(
            ["copy", "--checksum", "--no-traverse", "--files-from-raw", "-", source, dest],
            stdin_lines=relatives,
        )

    def stream(self, path: str, sink: Callable[[bytes], object]) -> Outcome:
        """Feed one remote file to ``sink`` chunk by chunk (``rclone cat``; constant memory)."""
        with tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(
                    [self.exe, "cat", path, "--use-json-log"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=self.env,
                )
            except FileNotFoundError:
                raise RcloneMissing(MISSING) from None
            assert proc.stdout is not None
            with proc.stdout:
                while chunk := proc.stdout.read(1 << 20):
                    sink(chunk)
            code = proc.wait()
            err.seek(0)
            log = err.read().decode("utf-8", "replace")
        errors, fatal = parse_log(self.redact(log))
        return Outcome(code, b"", errors, fatal)


@dataclass(frozen=True)
class RemoteFile:
    size: int
    hash: str | None  # lowercase hex of the requested type; None when the remote has none


def find(spec: RemoteSpec | None = None, environ: Mapping[str, str] | None = None) -> Rclone:
    """rclone from ``PATH`` with the child environment; :class:`RcloneMissing` when absent."""
    env = child_env(environ)
    exe = shutil.which("rclone", path=env.get("PATH"))
    if exe is None:
        raise RcloneMissing(MISSING)
    secrets = [*env_secrets(env), *(spec.secrets if spec else ())]
    return Rclone(exe, env, secrets)

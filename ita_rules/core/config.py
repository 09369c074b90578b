"""``ita.toml`` + ``ITA_*`` environment variables -> :class:`Settings`.

Parsing is strict: an unknown key or a value of the wrong type is a :class:`ConfigError`
naming the key (``ita.toml: store.databse: unknown key``), never silently ignored.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, NamedTuple

from ita_rules.core import simpletoml
from ita_rules.core.errors import ConfigError, Location, WorkspaceNotFound

CONFIG_NAME = "ita.toml"

DEFAULT_FOLDERS: dict[str, str] = {
    "candles": "archive/raw",
    "result": "archive/results",
    "provenance": "archive/provenance",
    "screenshot": "to_vision",
    "annotation": "annotated",
    "model": "archive/models",
    "embedding": "archive/embeddings",
}

# section -> key -> (expected python type(s), default, environment variable or None)
_SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], Any, str | None]]] = {
    "store": {
        "root": (str, "exchange", "ITA_STORE_ROOT"),
        "database": (str, "sqlite:///.ita/ita.sqlite", "ITA_DATABASE_URL"),
        "folders": (dict, {}, None),
    },
    "rules": {
        "dir": (str, "rules", "ITA_RULES_DIR"),
        "protected_ref": (str, "", "ITA_PROTECTED_REF"),
        "protected_refs": (list, [], None),
    },
    "retention": {
        "policy": (str, "retention.yaml", "ITA_RETENTION_POLICY"),
    },
    "remote": {
        "name": (str, "", "ITA_REMOTE"),
    },
    "runs": {
        "flow_types": (list, ["backtest_flow", "live_flow", "train_flow"], None),
        "env_allowlist": (list, [], None),
    },
    "lineage": {
        "url": (str, "", "ITA_LINEAGE_URL"),
        "namespace": (str, "ita-rules", "ITA_LINEAGE_NAMESPACE"),
    },
    "vectors": {
        "url": (str, "chroma:.ita/vectors", "ITA_VECTORS_URL"),
        "group_key": (str, "", None),
    },
    "notify.telegram": {
        "token_env": (str, "ITA_TELEGRAM_TOKEN", None),
        "chat_id": (str, "", "ITA_TELEGRAM_CHAT_ID"),
        "base_url": (str, "https://api.telegram.org", "ITA_TELEGRAM_BASE_URL"),
    },
}

_TYPE_NAMES = {
    str: "a string",
    dict: "a table",
    list: "an array",
    bool: "a boolean",
    int: "an integer",
}


class Settings(NamedTuple):
    """Resolved configuration of one workspace. Paths are absolute."""

    root: Path
    store_root: Path
    database_url: str
    folders: Mapping[str, str]
    rules_dir: Path
    protected_ref: str
    protected_refs: tuple[str, ...]
    retention_policy: Path
    remote_name: str
    flow_types: tuple[str, ...]
    env_allowlist: tuple[str, ...]
    telegram_token_env: str
    telegram_chat_id: str
    telegram_base_url: str
    raw: Mapping[str, Mapping[str, Any]] = {}  # read, never changed
    vectors_url: str = "chroma:.ita/vectors"  # chroma:PATH (embedded) or http://host:port
    vectors_group_key: str = ""  # the metadata key that groups embeddings for keep_last
    lineage_url: str = ""  # an OpenLineage HTTP endpoint; "" = no live events
    lineage_namespace: str = "ita-rules"

    def folder_for(self, type_: str) -> str:
        """The store folder (relative to the store root, ``/``-separated) for a file type."""
        return self.folders.get(type_, f"archive/{type_}")


def is_absolute_any(path: str) -> bool:
    """True for absolute POSIX paths and Windows paths with a drive or UNC (``D:/ITA``)."""
    return PurePosixPath(path).is_absolute() or bool(PureWindowsPath(path).drive)


def foreign_path(value: str) -> bool:
    """True for a Windows path with a drive or UNC (``D:/ITA``, ``\\\\server\\share``) on a
    machine that is not Windows: there it is neither absolute nor meant relative to anything
    (``Path("D:/ITA")`` would be a folder named ``D:`` in whatever the current folder is)."""
    return os.name != "nt" and not value.startswith("/") and bool(PureWindowsPath(value).drive)


def resolve_path(root: Path, value: str, key: str = "", where: str = "") -> Path:
    """``value`` as a path: absolute as given, else relative to the workspace ``root``. A
    Windows drive path on another system is a :class:`ConfigError` naming ``key``."""
    if foreign_path(value):
        raise ConfigError(
            f"{key or 'path'}: {value!r} is a Windows path, which this machine cannot open; "
            "give an absolute path here or a folder relative to the workspace",
            Location(where) if where else None,
        )
    return Path(value) if is_absolute_any(value) else (root / value)


def redact_url(url: str) -> str:
    """Hide the password of a database URL: ``postgresql://u:***@host/db``. The password runs
    to the last "@" (it may hold "/" and "@")."""
    return re.sub(r"(://[^:/@\s]+):[^\s]*@", r"\1:***@", url)


def _flatten(doc: Mapping[str, Any], path: Path) -> dict[str, dict[str, Any]]:
    """Turn the TOML document into ``{"store": {...}, "notify.telegram": {...}}``, refusing
    unknown sections and keys."""
    out: dict[str, dict[str, Any]] = {}
    loc = Location(str(path))

    def walk(prefix: str, table: Mapping[str, Any]) -> None:
        for key, value in table.items():
            dotted = f"{prefix}.{key}" if prefix else key
            if dotted in _SCHEMA:
                if not isinstance(value, dict):
                    raise ConfigError(f"{dotted}: expected a table [{dotted}]", loc)
                section = _SCHEMA[dotted]
                values: dict[str, Any] = {}
                for k, v in value.items():
                    full = f"{dotted}.{k}"
                    if k not in section:
                        known = ", ".join(sorted(section))
                        raise ConfigError(f"{full}: unknown key (known keys: {known})", loc)
                    expected = section[k][0]
                    wrong_bool = isinstance(v, bool) and expected is not bool
                    if not isinstance(v, expected) or wrong_bool:
                        want = _TYPE_NAMES.get(expected if isinstance(expected, type) else str, "?")
                        raise ConfigError(
                            f"{full}: expected {want}, got {type(v).__name__} {v!r}", loc
                        )
                    values[k] = v
                out[dotted] = values
            elif isinstance(value, dict) and any(s.startswith(dotted + ".") for s in _SCHEMA):
                walk(dotted, value)
            else:
                known = ", ".join(sorted({s.split(".")[0] for s in _SCHEMA}))
                raise ConfigError(f"{dotted}: unknown section or key (known: {known})", loc)

    walk("", doc)
    return out


def _parse(raw: bytes, path: Path) -> dict[str, dict[str, Any]]:
    """The TOML document ``raw`` (the contents of ``path``), flattened and checked. Read by
    :mod:`~ita_rules.core.simpletoml` when it is in the plain layout ``init`` writes, else by
    tomllib, imported only then (~3 ms of every commit's hook)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 ({exc.reason})", Location(str(path))) from None
    doc = simpletoml.loads(text)
    if doc is None:
        import tomllib

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, col = _toml_pos(str(exc))
            message = str(exc).split(" (at")[0]
            raise ConfigError(message, Location(str(path), line, col)) from None
    return _flatten(doc, path)


def _string_list(
    values: Mapping[str, Mapping[str, Any]], section: str, key: str, path: Path
) -> None:
    items = values.get(section, {}).get(key, [])
    if not all(isinstance(x, str) for x in items) or (key == "protected_refs" and "" in items):
        raise ConfigError(f"{section}.{key}: expected an array of strings", Location(str(path)))


class RulesConfig(NamedTuple):
    """The ``[rules]`` section as a commit holds it (no environment overrides): what the server
    hook and ``check --base`` read from the protected side, never from the pushed commit."""

    dir: str  # relative to the workspace root, ``/``-separated, no trailing ``/``
    protected_refs: tuple[str, ...]


def rules_folder(value: str, where: str, key: str = "rules.dir") -> str:
    """``rules.dir`` in one spelling: ``/``-separated, normalised (``./setups/`` ->
    ``setups``, ``.`` for the workspace itself). A folder outside the workspace (absolute, or
    leaving it with ``..``) is a :class:`ConfigError` naming ``key``: the checks compare
    repository paths and could not find its versions."""
    folder = value.replace("\\", "/")
    normal = posixpath.normpath(folder) if folder else "."
    if is_absolute_any(folder) or normal == ".." or normal.startswith("../"):
        raise ConfigError(
            f"{key}: expected a folder inside the workspace, got {value!r}", Location(where)
        )
    return normal


@lru_cache(maxsize=64)  # the same text is often read from several commits (and the index)
def rules_config(raw: bytes | None, path: str = CONFIG_NAME) -> RulesConfig:
    """The ``[rules]`` section of an ``ita.toml`` read from git (None: no file, the defaults).
    Strict like :func:`load_settings`: a wrong ``ita.toml`` is a :class:`ConfigError`."""
    given = _parse(raw, Path(path)) if raw is not None else {}
    _string_list(given, "rules", "protected_refs", Path(path))
    rules = given.get("rules", {})
    folder = rules_folder(str(rules.get("dir", _SCHEMA["rules"]["dir"][1])), path)
    return RulesConfig(folder, tuple(rules.get("protected_refs", [])))


def find_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds ``ita.toml``."""
    here = start.absolute()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise WorkspaceNotFound(
        f"no ita-rules workspace at {here} or above (no {CONFIG_NAME}); "
        "run `ita-rules init` or pass --workspace DIR"
    )


def load_settings(root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``root/ita.toml`` (optional) and the ``ITA_*`` environment into :class:`Settings`."""
    env = os.environ if environ is None else environ
    path = root / CONFIG_NAME
    given = _parse(path.read_bytes(), path) if path.is_file() else {}
    values: dict[str, dict[str, Any]] = {}
    for section, keys in _SCHEMA.items():
        values[section] = {}
        for key, (_typ, default, var) in keys.items():
            value = given.get(section, {}).get(key, default)
            if var and env.get(var):
                value = env[var]
            values[section][key] = value
    folders = dict(DEFAULT_FOLDERS)
    for type_, folder in values["store"]["folders"].items():
        if not isinstance(folder, str) or not folder or is_absolute_any(folder) or ".." in folder:
            raise ConfigError(
                f"store.folders.{type_}: expected a relative folder inside the store root, "
                f"got {folder!r}",
                Location(str(path)),
            )
        folders[type_] = folder.strip("/")
    where = "ITA_RULES_DIR" if env.get("ITA_RULES_DIR") else str(path)
    rules_dir = rules_folder(values["rules"]["dir"], where)
    for section, key in (
        ("runs", "flow_types"),
        ("runs", "env_allowlist"),
        ("rules", "protected_refs"),
    ):
        _string_list(values, section, key, path)
    return Settings(
        root=root,
        store_root=resolve_path(
            root, values["store"]["root"], "store.root", _where(env, "ITA_STORE_ROOT", path)
        ),
        database_url=values["store"]["database"],
        folders=folders,
        rules_dir=root / rules_dir if rules_dir != "." else root,
        protected_ref=values["rules"]["protected_ref"],
        protected_refs=tuple(values["rules"]["protected_refs"]),
        retention_policy=resolve_path(
            root,
            values["retention"]["policy"],
            "retention.policy",
            _where(env, "ITA_RETENTION_POLICY", path),
        ),
        remote_name=values["remote"]["name"],
        flow_types=tuple(values["runs"]["flow_types"]),
        env_allowlist=tuple(values["runs"]["env_allowlist"]),
        telegram_token_env=values["notify.telegram"]["token_env"],
        telegram_chat_id=values["notify.telegram"]["chat_id"],
        telegram_base_url=values["notify.telegram"]["base_url"],
        raw=values,
        lineage_url=values["lineage"]["url"],
        lineage_namespace=values["lineage"]["namespace"],
        vectors_url=values["vectors"]["url"],
        vectors_group_key=values["vectors"]["group_key"],
    )


def _where(env: Mapping[str, str], var: str, path: Path) -> str:
    """Where a setting came from, for its error: the environment variable or ``ita.toml``."""
    return var if env.get(var) else str(path)


def _toml_pos(message: str) -> tuple[int | None, int | None]:
    m = re.search(r"at line (\d+), column (\d+)", message)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


DEFAULT_TOML = """\
# ita-rules workspace configuration. Every key is optional; the defaults are shown.
# Environment variables override it: ITA_DATABASE_URL, ITA_STORE_ROOT, ITA_RULES_DIR, ...

[store]
# archive root; absolute paths allowed: "/srv/ita/exchange", on Windows "D:/ITA/exchange"
root = "exchange"
database = "sqlite:///.ita/ita.sqlite"   # or "postgresql://user@host/db" for a team

[rules]
dir = "rules"
protected_ref = ""                       # "" = released once committed; or e.g. "origin/main"
protected_refs = []                      # server hook: more, e.g. ["refs/heads/release/*"]

[retention]
policy = "retention.yaml"

[remote]
name = ""                                # an rclone remote path, e.g. "s3backup:ita-archive"

[vectors]
url = "chroma:.ita/vectors"              # embedded Chroma; or "http://host:port" (chroma run)
group_key = ""                           # metadata key grouping embeddings for keep_last

[notify.telegram]
token_env = "ITA_TELEGRAM_TOKEN"         # the token is read from this variable, never stored here
chat_id = ""
"""

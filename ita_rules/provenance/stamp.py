"""A run's result document: the flow's result stamped with the run's rule and id, encoded as
JSON, and kept next to the snapshot when the store refuses it (the compute is never lost)."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ita_rules.core.errors import ItaRulesError, Location, UsageError
from ita_rules.store.results import MAX_DEPTH, MAX_INT_DIGITS

_MAX_INT_BITS = int(MAX_INT_DIGITS / 0.30103)  # integers past this many bits are too long

if TYPE_CHECKING:
    from ita_rules.store.errors import ResultRejected


def stamped(result: Mapping[str, Any], snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """``result`` with run_id, setup_id, rule_version, rule_released and params_hash of the run
    (and its symbol and timeframe unless the result names them); a result that says otherwise
    is refused."""
    stamp = {
        "run_id": snapshot["run_id"],
        "setup_id": snapshot["rule_id"],
        "rule_version": snapshot["rule_version"],
        "rule_released": snapshot.get("rule_released"),
        "params_hash": snapshot["params_hash"],
    }
    for key, value in stamp.items():
        if key in result and not agrees(key, result[key], value):
            raise ItaRulesError(
                f"save_result: the result says {key}={result[key]!r} but this run is "
                f"{key}={value!r}"
            )
    document = {**dict(result), **stamp}
    for key in ("symbol", "timeframe"):
        if snapshot.get(key) and key not in document:
            document[key] = snapshot[key]
    return document


def encode(document: Mapping[str, Any]) -> tuple[bytes, str | None]:
    """The JSON bytes, and None; or, when a value is not JSON (NaN, a Timestamp...), the bytes
    with that value written as text, and why it is refused."""
    try:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        return text.encode(), None
    except (TypeError, ValueError, RecursionError) as exc:
        kept = json.dumps(_jsonable(document), indent=2, sort_keys=True, ensure_ascii=False)
        return kept.encode(), not_json(document) or str(exc)


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` that JSON can hold, to keep a refused result: what JSON cannot
    hold is written as text, what is nested too deep or too long to print is named."""
    if depth > MAX_DEPTH:
        return f"<nested deeper than {MAX_DEPTH} levels: not kept>"
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= _MAX_INT_BITS else f"<{_digits(value)}-digit integer>"
    if isinstance(value, float):
        return value  # NaN and Infinity are kept as Python writes them: the error names them
    return str(value)


def _digits(value: int) -> int:
    """About how many decimal digits ``value`` has (without printing it: Python refuses to
    print integers of more than 4,300 digits)."""
    return int(abs(value).bit_length() * 0.30103) + 1


def keep_rejected(
    folder: Path, run_id: str, root: Path, data: bytes, message: str, at: Location | None = None
) -> ResultRejected:
    """Write a refused result to ``{run_id}_result_rejected.json`` in ``folder`` (the
    snapshot's); the error to raise names that file, at ``at``'s line and column."""
    from ita_rules.core.fsutil import atomic_write_bytes, display_path
    from ita_rules.store.errors import ResultRejected

    path = folder / f"{run_id}_result_rejected.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{run_id}_result_rejected_{n}.json"
    atomic_write_bytes(path, data)
    line, col = (at.line, at.col) if at is not None else (None, None)
    return ResultRejected(
        f"{message}; the result was not stored, it is kept in that file",
        Location(display_path(path, root), line, col),
    )


def not_json(value: Any, path: str = "", depth: int = 0) -> str | None:
    """``field: why`` for the first value JSON cannot hold (NaN, infinity, a Timestamp...)."""
    where = f"{path}: " if path else ""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}{value!r} is not a number JSON allows; write null for a missing figure"
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return f"{where}an integer of about {_digits(value)} digits; write it as a string"
    if depth > MAX_DEPTH:
        top = path.split("[", 1)[0].split(".", 1)[0]
        return f"{top}: nested more than {MAX_DEPTH} levels deep; store it as its own file"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{where}the key {key!r} is not a string"
            found = not_json(item, f"{path}.{key}" if path else str(key), depth + 1)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = not_json(item, f"{path}[{i}]", depth + 1)
            if found:
                return found
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return None
    return f"{where}a {type(value).__name__} is not JSON; convert it (str, float or a list)"


NO_RULE_VERSION = "used no rule version"  # a run started without one (a training, say)
NO_RULE = f"{NO_RULE_VERSION}, so it has no backtest result"
RULE_ADVICE = (
    "start a backtest with `ita-rules runs start FLOW_TYPE --rule SETUP_ID@VERSION` "
    "(in Python: rule=...)"
)


def claims(run_id: str, snapshot: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a result of run ``run_id`` may state of it, by key: its run_id, and for a run of a
    rule version (``snapshot`` of a run of this desk) its setup_id, rule_version and
    params_hash. A result stored for the run, or claimed as its output, saying otherwise is
    not the run's (:func:`agrees`); a run of this desk that used no rule version has no result
    (:data:`NO_RULE`)."""
    stated: dict[str, Any] = {"run_id": run_id}
    if snapshot is not None and snapshot.get("rule_id"):
        stated.update(
            setup_id=snapshot["rule_id"],
            rule_version=snapshot["rule_version"],
            params_hash=snapshot.get("params_hash"),
        )
    return stated


def agrees(key: str, given: Any, stamped: Any) -> bool:
    """A result's own stamp field agrees with the run's ("1.2" and "v1.2" are one version)."""
    if key == "rule_version" and isinstance(given, str) and isinstance(stamped, str):
        from ita_rules.rules.model import Version

        with contextlib.suppress(UsageError):
            return Version.parse(given) == Version.parse(stamped)
    return bool(given == stamped)

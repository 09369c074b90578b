"""The vector store (Chroma) as ita-rules opens it: ``[vectors] url`` in ``ita.toml`` is
``chroma:PATH`` for the embedded store (PATH absolute or relative to the workspace) or
``http://host:port`` for a ``chroma run`` server (docs/architecture.md#vectors).

chromadb is an optional extra (``ita-rules[vectors]``) and is imported here only, inside
:func:`open_store`: nothing else, and no plain command, pays its import. Telemetry is off (no
internet on a desk is normal, and nothing should leave it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ita_rules.core.config import resolve_path
from ita_rules.core.errors import ConfigError, ItaRulesError

DEFAULT_URL = "chroma:.ita/vectors"


class VectorStoreError(ItaRulesError):
    """The vector store cannot be opened or read, or holds what ita-rules cannot judge."""


@dataclass(frozen=True)
class StoreAddress:
    """Where the vectors are: an embedded store's folder, or a server's host and port."""

    url: str
    path: Path | None = None
    host: str = ""
    port: int = 0


def address(url: str, root: Path) -> StoreAddress:
    """``[vectors] url`` read: ``chroma:PATH`` or ``http://host:port``; anything else is a
    :class:`ConfigError` naming the key."""
    if url.startswith("chroma:"):
        folder = url.removeprefix("chroma:")
        if not folder:
            raise ConfigError(f"vectors.url: expected chroma:PATH, got {url!r}")
        return StoreAddress(url, path=resolve_path(root, folder))
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname and parts.port and parts.path in ("", "/"):
        return StoreAddress(url, host=parts.hostname, port=parts.port)
    raise ConfigError(f"vectors.url: expected chroma:PATH or http://host:port, got {url!r}")


def open_store(where: StoreAddress) -> Any:
    """A chromadb client for ``where``; a server that does not answer is a
    :class:`VectorStoreError` (one line), as is a missing extra."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError:
        raise VectorStoreError(
            "the vector store needs chromadb: pip install 'ita-rules[vectors]'"
        ) from None
    settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if where.path is not None:
            return chromadb.PersistentClient(path=str(where.path), settings=settings)
        client = chromadb.HttpClient(host=where.host, port=where.port, settings=settings)
        client.heartbeat()
        return client
    except Exception as exc:
        raise VectorStoreError(
            f"vector store {where.url} cannot be reached: {_one_line(exc)}"
        ) from None


def collection(client: Any, name: str, *, create: bool = False) -> Any:
    """The collection ``name`` (made when ``create``); a missing one is a
    :class:`VectorStoreError`."""
    try:
        if create:
            return client.get_or_create_collection(name, embedding_function=None)
        return client.get_collection(name, embedding_function=None)
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError":
            raise VectorStoreError(f"collection {name}: not in the vector store") from None
        raise VectorStoreError(f"collection {name}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")

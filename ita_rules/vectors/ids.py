"""How a vector is named where files are: ``vector:COLLECTION/ID`` (a collection name holds no
``/``: Chroma allows ``[a-zA-Z0-9._-]`` only)."""

from __future__ import annotations

PREFIX = "vector:"


def file_id(collection: str, vector_id: str) -> str:
    return f"{PREFIX}{collection}/{vector_id}"


def is_vector(file_id: str) -> bool:
    return file_id.startswith(PREFIX)


def split(file_id: str) -> tuple[str, str]:
    """``vector:docs/a1`` -> ``("docs", "a1")``."""
    collection, _, vector_id = file_id.removeprefix(PREFIX).partition("/")
    return collection, vector_id

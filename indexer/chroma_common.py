"""What both of our chromadb stores share (the embedded one in vectors.py, the server one in chroma_server.py):
client settings, HNSW parameters and the error for vectors of another length."""

from __future__ import annotations

from typing import Any

from .errors import IndexingError

# Default HNSW recall@20 was 0.86 on real vectors; ef_search ~400 brought it to 0.97 (GUIDE §1).
SEARCH_EF = 400
CONSTRUCTION_EF = 200


class VectorStoreMismatch(IndexingError):
    """The store holds vectors of another dimension (another embedding model): rebuild it, or use another."""


def client_settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def collection_metadata(dim: int, **extra: Any) -> dict[str, Any]:
    """Cosine space, our HNSW parameters, and the vector length (checked when the collection is opened again)."""
    return {"hnsw:space": "cosine", "hnsw:search_ef": SEARCH_EF, "hnsw:construction_ef": CONSTRUCTION_EF,
            "dim": dim, **extra}

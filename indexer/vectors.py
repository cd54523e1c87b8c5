"""The vector store: chunk vectors in an on-disk chromadb collection, and a crash-proof health probe.

We store vectors and small metadata only, never chunk text (documents triple the SQLite size; the text
is read back from the working tree by line span). chromadb is thread-safe but not process-safe: callers hold the index lock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy

COLLECTION = "chunks"
# Default HNSW recall@20 was 0.86 on real vectors; ef_search ~400 brought it to 0.97 (GUIDE §1).
SEARCH_EF = 400
CONSTRUCTION_EF = 200
BATCH_SIZE = 5000

MetadataValue = str | int | float | bool


class VectorStoreMismatch(Exception):
    """The store on disk holds vectors of another dimension (another embedding model): rebuild it."""


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


class VectorStore:
    def __init__(self, directory: Path, dim: int):
        import chromadb

        self.directory = Path(directory)
        self.dim = dim
        self.directory.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(path=str(self.directory), settings=_settings())
        # embedding_function=None, or chromadb attaches its default model and tries to download it.
        self._collection = self._client.get_or_create_collection(
            COLLECTION,
            embedding_function=None,
            metadata={
                "hnsw:space": "cosine",
                "hnsw:search_ef": SEARCH_EF,
                "hnsw:construction_ef": CONSTRUCTION_EF,
                "dim": dim,
            },
        )
        stored_dim = (self._collection.metadata or {}).get("dim")
        if stored_dim is not None and int(stored_dim) != dim:
            self.close()
            raise VectorStoreMismatch(
                f"the vector store at {self.directory} holds {stored_dim}-d vectors, not {dim}-d: rebuild the index"
            )
        self._batch = min(BATCH_SIZE, self._client.get_max_batch_size())

    def upsert(self, ids: list[str], vectors: numpy.ndarray, metadatas: list[dict[str, Any]]) -> None:
        if not (len(ids) == len(vectors) == len(metadatas)):
            raise ValueError(f"upsert got {len(ids)} ids, {len(vectors)} vectors and {len(metadatas)} metadatas")
        if len(ids) == 0:
            return
        vectors = numpy.asarray(vectors, dtype=numpy.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            # chromadb rejects an empty metadata dict but takes None for "no metadata".
            cleaned = [_clean_metadata(m) or None for m in metadatas[start:end]]
            self._collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                metadatas=cleaned if any(cleaned) else None,
            )

    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), self._batch):
            self._collection.delete(ids=list(ids[start : start + self._batch]))

    def all_ids(self) -> set[str]:
        return set(self._collection.get(include=[])["ids"])

    def count(self) -> int:
        return self._collection.count()

    def query(self, vector: numpy.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks as (id, cosine similarity), most similar first."""
        available = self.count()
        if available == 0 or k <= 0:
            return []
        query = numpy.asarray(vector, dtype=numpy.float32).reshape(1, -1)
        result = self._collection.query(query_embeddings=query, n_results=min(k, available), include=["distances"])
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        # chromadb's cosine distance is 1 - cosine similarity.
        return [(chunk, 1.0 - float(distance)) for chunk, distance in zip(ids, distances)]

    def close(self) -> None:
        client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clean_metadata(metadata: dict[str, Any]) -> dict[str, MetadataValue]:
    """chromadb accepts only str/int/float/bool values; None and anything else is left out."""
    clean: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if isinstance(value, numpy.generic):
            value = value.item()
        if isinstance(value, (str, int, float, bool)):
            clean[key] = value
    return clean


_PROBE = """
import json, sys
import numpy
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
collection = client.get_collection(sys.argv[2], embedding_function=None)
count = collection.count()
if count:
    sample = collection.get(limit=1, include=["embeddings"])["embeddings"][0]
    collection.query(query_embeddings=[numpy.asarray(sample, dtype=numpy.float32)], n_results=min(10, count),
                     include=["distances"])
print(json.dumps({"count": count}))
"""


def probe_store(directory: Path, timeout_s: float = 30.0) -> tuple[bool, str]:
    """Open the store, count it and run one query in a separate process, so that a store damaged by a
    crash (chromadb can SIGSEGV on a truncated segment file) costs a rebuild, not our process."""
    directory = Path(directory)
    if not (directory / "chroma.sqlite3").is_file():
        return False, f"no vector store at {directory}"
    try:
        run = subprocess.run(
            [sys.executable, "-c", _PROBE, str(directory), COLLECTION],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, f"opening the vector store at {directory} did not finish within {timeout_s:g}s"
    if run.returncode < 0:
        return False, f"opening the vector store at {directory} crashed the process (signal {-run.returncode})"
    if run.returncode != 0:
        return False, f"the vector store at {directory} is unreadable: {_last_line(run.stderr)}"
    try:
        count = json.loads(run.stdout.strip().splitlines()[-1])["count"]
    except (ValueError, IndexError, KeyError):
        return False, f"the vector store probe gave no answer: {_last_line(run.stderr)}"
    return True, f"vector store ok: {count} vectors"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"

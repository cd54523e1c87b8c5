"""The vector store: chunk vectors in an on-disk chromadb collection, and a crash-proof health probe.

We store vectors and small metadata only, never chunk text (documents triple the SQLite size; the text
is read back from the working tree by line span). chromadb is thread-safe but not process-safe: callers hold the index lock.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

from .chroma_common import CONSTRUCTION_EF, SEARCH_EF, VectorStoreMismatch, client_settings, collection_metadata
from .errors import IndexingError

if TYPE_CHECKING:
    from .chroma_server import ServerVectorStore
    from .config import IndexConfig
    from .state_dir import StateDir

__all__ = ["CONSTRUCTION_EF", "SEARCH_EF", "VectorStore", "VectorStoreMismatch", "open_vector_store",
           "open_vector_store_for_reading", "probe_store", "store_address"]

COLLECTION = "chunks"
BATCH_SIZE = 5000

MetadataValue = str | int | float | bool


class VectorStore:
    def __init__(self, directory: Path, dim: int):
        import chromadb

        self.directory = Path(directory)
        self.dim = dim
        self.directory.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(path=str(self.directory), settings=client_settings())
        # embedding_function=None, or chromadb attaches its default model and tries to download it.
        self._collection = self._client.get_or_create_collection(
            COLLECTION,
            embedding_function=None,
            metadata=collection_metadata(dim),
        )
        stored_dim = (self._collection.metadata or {}).get("dim")
        if stored_dim is not None and int(stored_dim) != dim:
            self.close()
            raise VectorStoreMismatch(
                f"the vector store at {self.directory} holds {stored_dim}-d vectors, not {dim}-d: rebuild the index"
            )
        self._batch = min(BATCH_SIZE, self._client.get_max_batch_size())

    shared = False
    """Keyed by chunk id, private to this index (chroma_server.ServerVectorStore is keyed by content hash)."""

    def upsert(self, ids: list[str], vectors: numpy.ndarray, metadatas: list[dict[str, Any]],
               content_hashes: list[str] | None = None) -> None:
        """``content_hashes`` is for a store keyed by content; this one keys by chunk id and ignores it."""
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


def store_address(config: IndexConfig) -> str:
    """The store server an index run uses as the index records it (url, tenant, database; never the token), or ""
    for the embedded store under .assist/. Raises IndexingError for a store URL that cannot be one."""
    if not config.store:
        return ""
    from .chroma_server import StoreAddress

    try:
        return StoreAddress.parse(config.store, config.store_tenant, config.store_database).record()
    except ValueError as exc:
        raise IndexingError(str(exc)) from None


def open_vector_store(dirs: StateDir, dim: int, config: IndexConfig) -> VectorStore | ServerVectorStore:
    """The vector store an index run writes to, where ``config`` says."""
    if not config.store:
        return VectorStore(dirs.vectors, dim=dim)
    from .chroma_server import ServerVectorStore, StoreAddress, collection_name

    address = StoreAddress.from_record(store_address(config))
    assert address is not None
    return ServerVectorStore(address, dim=dim, model=config.embedding_model, token=config.store_token,
                             token_source=config.store_token and STORE_TOKEN_SETTING,
                             collection=collection_name(config.embedding_model, dim, config.embed_max_tokens))


STORE_TOKEN_SETTING = "ASSIST_STORE_TOKEN or the user config's store_token"
"""How an index run names its token in a 401 message: the settings layer, which knows which of the two it was,
says so before the run starts (assistant/index_settings.py)."""


def open_vector_store_for_reading(dirs: StateDir, dim: int) -> VectorStore | ServerVectorStore:
    """The vector store a reader of the index at ``dirs`` queries: the one the last index run recorded in the
    index's metadata, with the token from the environment or the user config (the index never holds it)."""
    meta, chunk_hashes = _read_manifest(dirs)
    if not meta.get("vector_store"):
        return VectorStore(dirs.vectors, dim=dim)
    from .chroma_server import ServerVectorStore, StoreAddress, collection_name
    from .user_config import store_token_for_reading

    address = StoreAddress.from_record(meta["vector_store"])
    if address is None:
        raise IndexingError("the index records a store server it cannot read back; run `assist index` again")
    spec = meta.get("embedding_model") or "default"
    try:
        cut = int(meta.get("embed_max_tokens") or 0)
    except ValueError:
        cut = 0
    token, source = store_token_for_reading()
    return ServerVectorStore(address, dim=dim, model=spec, token=token, token_source=source,
                             collection=collection_name(spec, dim, cut), chunk_hashes=chunk_hashes)


def _read_manifest(dirs: StateDir) -> tuple[dict[str, str], dict[str, str]]:
    """(the index's metadata, chunk id -> content hash), read-only."""
    import sqlite3

    conn = sqlite3.connect(f"file:{dirs.index_db}?mode=ro", uri=True, timeout=5.0)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        hashes = dict(conn.execute("SELECT id, content_hash FROM chunks")) if meta.get("vector_store") else {}
    finally:
        conn.close()
    return meta, hashes


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
missed = 0
total = 0
for collection in client.list_collections():
    collection = client.get_collection(collection.name, embedding_function=None)
    count = collection.count()
    total += count
    if not count:
        continue
    # Vectors spread over the whole store, each of which must find itself: damaged HNSW links or data
    # give wrong neighbours long before they give an error.
    sample = collection.get(limit=count, include=[])["ids"][:: max(1, count // int(sys.argv[2]))]
    stored = collection.get(ids=sample, include=["embeddings"])
    result = collection.query(query_embeddings=numpy.asarray(stored["embeddings"], dtype=numpy.float32),
                              n_results=min(3, count), include=["distances"])
    missed += sum(1 for own, found in zip(stored["ids"], result["ids"]) if own not in found)
print(json.dumps({"count": total, "missed": missed}))
"""
_PROBE_SAMPLE = 64
# HNSW is approximate: a healthy index can miss a rare self-lookup; a damaged one misses many.
_PROBE_MAX_MISSES = 0.1


def probe_store(directory: Path, timeout_s: float = 60.0) -> tuple[bool, str]:
    """Check the segment files, then open the store, and look up a sample of its vectors in a separate
    process, so that a store damaged by a crash (chromadb can SIGSEGV on a truncated segment file)
    costs a rebuild, not our process."""
    directory = Path(directory)
    if not (directory / "chroma.sqlite3").is_file():
        return False, f"no vector store at {directory}"
    damage = check_segment_files(directory)
    if damage:
        return False, damage
    try:
        run = subprocess.run(
            [sys.executable, "-c", _PROBE, str(directory), str(_PROBE_SAMPLE)],
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
        answer = json.loads(run.stdout.strip().splitlines()[-1])
        count, missed = int(answer["count"]), int(answer["missed"])
    except (ValueError, IndexError, KeyError, TypeError):
        return False, f"the vector store probe gave no answer: {_last_line(run.stderr)}"
    if missed > max(1, _PROBE_MAX_MISSES * min(count, _PROBE_SAMPLE)):
        return False, f"the vector store at {directory} gives wrong neighbours ({missed} stored vectors did not find themselves)"
    return True, f"vector store ok: {count} vectors"


# ---------------------------------------------------------------------------- HNSW segment files
# chromadb's local HNSW segment (hnswlib's persisted layout): header.bin holds the sizes, and the other
# files must agree with it exactly. Checked by reading them as plain numbers: nothing here can crash.
_HEADER = struct.Struct("<iQQQQQQiiQQQdQ")
_HEADER_FIELDS = ("version", "offset_level0", "max_elements", "count", "element_size", "label_offset",
                  "data_offset", "max_level", "entry_point", "max_m", "max_m0", "m", "mult", "ef_construction")


def check_segment_files(directory: Path) -> str | None:
    """None when every persisted HNSW segment under ``directory`` is self-consistent, else what is wrong."""
    for segment in sorted(Path(directory).iterdir()) if Path(directory).is_dir() else []:
        if segment.is_symlink() or not segment.is_dir():
            continue
        names = {p.name for p in segment.iterdir()}
        if not names & {"header.bin", "data_level0.bin", "length.bin", "link_lists.bin"}:
            continue
        try:
            problem = _check_segment(segment, names)
        except (OSError, ValueError, struct.error) as exc:
            problem = f"cannot be read ({exc})"
        if problem:
            return f"HNSW segment {segment}: {problem}"
    return None


def _check_segment(segment: Path, names: set[str]) -> str | None:
    for name in ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin"):
        if name not in names:
            return f"{name} is missing"
        if (segment / name).is_symlink() or not (segment / name).is_file():
            return f"{name} is not a regular file"
    raw = (segment / "header.bin").read_bytes()
    if len(raw) != _HEADER.size:
        return f"header.bin has {len(raw)} bytes, not {_HEADER.size}"
    header = dict(zip(_HEADER_FIELDS, _HEADER.unpack(raw)))
    count, size = header["count"], header["element_size"]
    links0 = 4 + 4 * header["max_m0"]
    if not (header["version"] == 1 and count <= header["max_elements"] and header["offset_level0"] == 0
            and header["data_offset"] == links0 and header["label_offset"] == size - 8
            and size > links0 + 8 and (size - links0 - 8) % 4 == 0 and -1 <= header["max_level"] < 64
            and header["max_m"] <= header["max_m0"] <= 4096 and (count == 0 or 0 <= header["entry_point"] < count)):
        return "header.bin does not describe an index"
    # An empty index is written at its full capacity; a filled one at its element count.
    if (segment / "data_level0.bin").stat().st_size not in {count * size, header["max_elements"] * size}:
        return "data_level0.bin does not match its header"
    if (segment / "length.bin").stat().st_size not in {4 * count, 4 * header["max_elements"]}:
        return "length.bin does not match its header"
    data = numpy.fromfile(segment / "data_level0.bin", dtype=numpy.uint8, count=count * size).reshape(count, size)
    neighbours = data[:, :links0].copy().view("<u4")
    degree, links = neighbours[:, 0] & 0xFFFF, neighbours[:, 1:]
    used = numpy.arange(links.shape[1]) < degree[:, None]
    if count and (int(degree.max()) > header["max_m0"] or int(links[used].max(initial=0)) >= count):
        return "data_level0.bin holds links that do not exist"
    if count and not numpy.isfinite(data[:, links0 : size - 8].copy().view("<f4")).all():
        return "data_level0.bin holds vectors that are not numbers"
    lengths = numpy.fromfile(segment / "length.bin", dtype="<f4", count=count)
    if not (numpy.isfinite(lengths).all() and (lengths >= 0).all()):
        return "length.bin holds lengths that are not numbers"
    return _check_link_lists(segment / "link_lists.bin", count, 4 + 4 * header["max_m"], header["max_level"])


def _check_link_lists(path: Path, count: int, block: int, max_level: int) -> str | None:
    """Per element: a 4-byte size (a whole number of upper-level link blocks), then that many bytes."""
    raw = path.read_bytes()
    offset = 0
    for _ in range(count):
        if offset + 4 > len(raw):
            return "link_lists.bin ends early"
        (size,) = struct.unpack_from("<I", raw, offset)
        if size % block or size > block * max_level:
            return "link_lists.bin does not match its header"
        offset += 4 + size
    if offset != len(raw):
        return "link_lists.bin does not match its header"
    return None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"

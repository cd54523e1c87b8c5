"""Opening an index for reading: manifest, graph, lexical index, and (lazily) the embedder and vectors.

Nothing here writes to the index. Everything is loaded once and kept; ``refresh()`` notices a finished
re-index (the derived-generation stamp or the graph file moved) and reloads. The vector store is only
queried while no indexer holds the writer lock, because chromadb is not safe across processes.
"""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from ..model import FILE, FileExtract
from ..state_dir import StateDir
from .errors import IndexMissing, IndexUnreadable, IndexVersionMismatch
from .names import NameIndex
from .sources import IndexedFile, SourceFiles


@dataclass(frozen=True)
class ChunkRow:
    id: str
    path: str
    symbol: str | None
    kind: str
    start_line: int
    end_line: int
    part: int


class IndexReader:
    """A read-only view of ``<root>/.assist``. Raises IndexMissing / IndexUnreadable with the fix in the message."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.dirs = StateDir(self.root)
        self._lock = threading.RLock()
        self._embedder: Any = None
        self._embedder_error: str | None = None
        self._vectors: Any = None
        self._vectors_error: str | None = None
        self._exact: ExactVectors | None = None
        self._exact_error: str | None = None
        self._load()

    # -------------------------------------------------------------------------------- loading

    def _fix(self) -> str:
        return f"run `assist index {self.root}`"

    def _load(self) -> None:
        dirs = self.dirs
        unsafe = dirs.unsafe_reason()
        if unsafe:
            raise IndexUnreadable(f"the index at {self.root} is not safe to read ({unsafe}); {self._fix()} to repair it")
        if not dirs.exists():
            raise IndexMissing(f"no index at {self.root}; {self._fix()} to build one")
        foreign = dirs.foreign_reason()
        if foreign:
            # Never read a state built elsewhere: a cloned repository can ship any .assist/ it likes.
            raise IndexUnreadable(f"the index at {self.root} was not built here: {foreign}; {self._fix()} to rebuild it")
        stamp = self._stamp()
        conn = self._connect()
        try:
            self.meta = dict(conn.execute("SELECT key, value FROM meta"))
            chunk_rows = conn.execute(
                "SELECT id, path, symbol, kind, start_line, end_line, part, content_hash FROM chunks"
            ).fetchall()
            file_rows = conn.execute(
                "SELECT path, hash, size, mtime_ns, inode, language, line_count FROM files"
            ).fetchall()
            pending = self._read_pending(conn)
            excluded = self._read_excluded(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise IndexUnreadable(f"the index at {self.root} cannot be read ({exc}); {self._fix()} to rebuild it") from exc
        if not file_rows and self.meta.get("running") == "1":
            conn.close()
            raise IndexMissing(f"indexing of {self.root} never finished; {self._fix()} to complete it")
        skew = self._version_skew()
        if skew:
            conn.close()
            raise IndexVersionMismatch(skew)
        if not dirs.graph.exists() or not (dirs.lexical / "CURRENT").exists():
            conn.close()
            raise IndexMissing(f"the index at {self.root} is incomplete (no graph or lexical index); {self._fix()}")
        try:
            from ..graph import load_graph

            graph = load_graph(dirs.graph)
        except (OSError, ValueError) as exc:
            conn.close()
            raise IndexUnreadable(f"the code graph at {dirs.graph} cannot be read ({exc}); {self._fix()} to rebuild it") from exc
        try:
            from ..lexical import LexicalIndex

            lexical = LexicalIndex.load(dirs.lexical)
        except (OSError, ValueError) as exc:
            conn.close()
            raise IndexUnreadable(f"the lexical index at {dirs.lexical} cannot be read ({exc}); {self._fix()} to rebuild it") from exc

        old_conn = getattr(self, "_conn", None)
        self._conn = conn
        if old_conn is not None:
            old_conn.close()
        self.graph: nx.MultiDiGraph = graph
        self.lexical = lexical
        self.chunks: dict[str, ChunkRow] = {row[0]: ChunkRow(*row[:7]) for row in chunk_rows}
        self._chunk_hashes = {row[0]: row[7] for row in chunk_rows}
        self.pending, self.excluded = pending, excluded
        self._vector_generation = self.meta.get("vector_generation")
        self.files: dict[str, IndexedFile] = {row[0]: IndexedFile(*row[1:]) for row in file_rows}
        self.names = NameIndex(graph)
        self.sources = SourceFiles(self.root, self.files)
        spec = self.meta.get("embedding_model") or "default"
        if getattr(self, "embedding_spec", spec) != spec:
            self._embedder, self._embedder_error = None, None  # re-indexed with another model
        self.embedding_spec = spec
        self.generation = self.meta.get("generation")
        self._stamp_value = stamp
        self._close_vectors()
        self._exact, self._exact_error = None, None

    def _version_skew(self) -> str | None:
        """Why the index's recorded code versions are not this process's, or None when they match.

        The indexer rebuilds an index whose stamps differ from its own, but a long-lived reader (an MCP server,
        the TUI) may meet one a newer `assist index` rebuilt, or run newer code than the index: either way its
        lexical tokens and extracts would be read with other rules. A stamp the index lacks is not compared,
        as the indexer does not compare it either."""
        import json

        from ..languages import EXTRACTION_RULES
        from ..pipeline import PIPELINE_VERSION

        try:
            rules = json.loads(self.meta.get("grammars") or "{}").get("assist-extraction")
            rules = None if rules is None else str(rules)
        except (ValueError, AttributeError):
            rules = None
        differing = [(what, stored, ours) for what, stored, ours in (
            ("pipeline", self.meta.get("pipeline_version"), PIPELINE_VERSION),
            ("extraction rules", rules, EXTRACTION_RULES),
        ) if stored is not None and stored != ours]
        if not differing:
            return None
        versions = ", ".join(f"{what} {stored} in the index, {ours} here" for what, stored, ours in differing)
        newer_index = all(stored.isdigit() and ours.isdigit() and int(stored) > int(ours)
                          for _, stored, ours in differing)
        if newer_index:
            fix = "restart this process: assist was upgraded since it started"
        else:
            fix = f"{self._fix()} to rebuild it (or restart this process if assist was upgraded since it started)"
        return f"the index at {self.root} was built by a different version of assist ({versions}); {fix}"

    @staticmethod
    def _read_pending(conn: sqlite3.Connection) -> frozenset[str]:
        """Chunks whose vector is not stored yet (an index from before the two tiers has no such table:
        every vector was stored with its file)."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='pending'").fetchone() is None:
            return frozenset()
        return frozenset(r[0] for r in conn.execute("SELECT id FROM pending"))

    @staticmethod
    def _read_excluded(conn: sqlite3.Connection) -> frozenset[str]:
        """Pending chunks that earn no vector under the index's setting (IndexConfig.embed): never embedded."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='novector'").fetchone() is None:
            return frozenset()
        return frozenset(r[0] for r in conn.execute("SELECT id FROM novector"))

    def vector_coverage(self) -> tuple[int, int]:
        """(chunks with a stored vector, chunks that earn one) as of the last load or refresh."""
        chunks = self.chunks.keys()
        return len(chunks) - len(self.pending & chunks), len(chunks) - len(self.excluded & chunks)

    def _refresh_vectors(self) -> bool:
        """The vector tier crossed chunks off since we looked: re-read which, and drop the loaded vectors."""
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key='vector_generation'").fetchone()
            generation = row[0] if row else None
            if generation == self._vector_generation:
                return False
            pending = self._read_pending(self._conn)
            excluded = self._read_excluded(self._conn)
        except sqlite3.DatabaseError:
            return False  # a full reload will say what is wrong
        self.pending, self.excluded, self._vector_generation = pending, excluded, generation
        self._exact, self._exact_error = None, None
        return True

    def _connect(self) -> sqlite3.Connection:
        # mode=ro: a reader must never create, migrate or lock the manifest for writing.
        uri = f"{self.dirs.index_db.as_uri()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
            conn.execute("SELECT 1 FROM meta LIMIT 1")
        except sqlite3.DatabaseError as exc:
            raise IndexUnreadable(f"the index at {self.root} cannot be read ({exc}); {self._fix()} to rebuild it") from exc
        return conn

    def _stamp(self) -> tuple:
        def mtime(path: Path) -> int | None:
            try:
                return path.stat().st_mtime_ns
            except OSError:
                return None

        return (self.dirs.derived_generation(), mtime(self.dirs.graph), mtime(self.dirs.lexical / "CURRENT"))

    def refresh(self) -> bool:
        """Reload if a re-index finished since we loaded; True when something was reloaded."""
        with self._lock:
            if self._stamp() == self._stamp_value:
                return self._conn is not None and self._refresh_vectors()
            self._load()
            return True

    def close(self) -> None:
        with self._lock:
            self._close_vectors()
            conn, self._conn = getattr(self, "_conn", None), None
            if conn is not None:
                conn.close()

    # ------------------------------------------------------------------------------- lookups

    def node_of_chunk(self, chunk: ChunkRow) -> str | None:
        if chunk.symbol and chunk.symbol in self.graph:
            return chunk.symbol
        return chunk.path if chunk.path in self.graph else None

    def extract(self, path: str) -> FileExtract | None:
        """The parser's record of one file (its calls with line numbers, imports, ...)."""
        with self._lock:
            if self._conn is None:
                return None
            row = self._conn.execute("SELECT extract FROM files WHERE path=?", (path,)).fetchone()
        if row is None or row[0] is None:
            return None
        from ..store import extract_from_json

        try:
            return extract_from_json(row[0])
        except ValueError:
            return None

    def file_nodes(self) -> Iterator[str]:
        return (n for n, kind in self.graph.nodes(data="kind") if kind == FILE)

    # ---------------------------------------------------------------------- embedder and vectors

    @property
    def embedder(self) -> Any | None:
        """The index's embedding model (tokenizer ready; the network loads on first embed), or None
        when it cannot be loaded — see ``embedder_error``."""
        with self._lock:
            if self._embedder is None and self._embedder_error is None:
                from ..embeddings import EmbeddingError, open_embedder_for_reading

                try:
                    self._embedder = open_embedder_for_reading(self.dirs, self.embedding_spec)
                except EmbeddingError as exc:
                    self._embedder_error = str(exc)
            return self._embedder

    @property
    def embedder_error(self) -> str | None:
        return self._embedder_error

    def set_embedder(self, embedder: Any) -> None:
        """Use an already loaded embedder (a long-lived process that indexes and searches shares one)."""
        with self._lock:
            if getattr(self._embedder, "name", None) != getattr(embedder, "name", None):
                self._exact, self._exact_error = None, None  # vectors of another model
                self._close_vectors()
            self._embedder, self._embedder_error = embedder, None

    def vector_search(self, vector: Any, k: int) -> tuple[list[tuple[str, float]], str | None]:
        """(hits as (chunk id, cosine), None), or ([], why vector search was skipped).

        Exact search over the chunk vectors held in the index's embedding cache when they fit in memory:
        it only reads (opening chromadb rewrites its files, which tells the indexer someone touched the
        store), needs no cross-process care, and has no HNSW recall loss. chromadb serves larger indexes.
        """
        with self._lock:
            exact = self._exact_vectors()
            if exact is not None:
                return exact.search(vector, k), None
            return self._chroma_search(vector, k)

    def _exact_vectors(self) -> ExactVectors | None:
        if self._exact is None and self._exact_error is None:
            embedder = self.embedder
            if embedder is None:
                self._exact_error = self._embedder_error
            elif len(self.chunks) > EXACT_SEARCH_MAX_CHUNKS:
                self._exact_error = f"{len(self.chunks)} chunks: too many to hold in memory"
            else:
                stored = {i: h for i, h in self._chunk_hashes.items() if i not in self.pending}
                self._exact, self._exact_error = ExactVectors.load(self.dirs.embedding_cache, embedder.name,
                                                                   stored, embedder.dim)
        return self._exact

    def _chroma_search(self, vector: Any, k: int) -> tuple[list[tuple[str, float]], str | None]:
        with self._lock:
            on_server = bool(self.meta.get("vector_store"))  # recorded by the run that stored the vectors there
            if not on_server and not (self.dirs.vectors / "chroma.sqlite3").is_file():
                return [], "no vector store in the index; run `assist index` to build it"
            with self._no_writer() as free:
                if not free:
                    return [], "the index is being updated; vector search skipped for this query"
                store = self._open_vectors()
                if store is None:
                    return [], self._vectors_error
                try:
                    # A pending chunk's id may still hold the vector of its earlier content: not used.
                    hits = store.query(vector, k + min(len(self.pending), 4 * k))
                    return [hit for hit in hits if hit[0] not in self.pending][:k], None
                except Exception as exc:  # chromadb raises many types; a failed query must not fail retrieval
                    self._vectors_error = f"vector search failed ({exc}); run `assist index` to repair the index"
                    self._close_vectors()
                    return [], self._vectors_error

    def _open_vectors(self) -> Any | None:
        if self._vectors is None and self._vectors_error is None:
            embedder = self.embedder
            if embedder is None:
                self._vectors_error = self._embedder_error
                return None
            from ..errors import IndexingError
            from ..vectors import open_vector_store_for_reading

            try:
                self._vectors = open_vector_store_for_reading(self.dirs, embedder.dim)
            except IndexingError as exc:  # vectors of another length, a store server that refused or is gone
                self._vectors_error = str(exc)
            except Exception as exc:  # a damaged store surfaces as many exception types
                self._vectors_error = f"the vector store cannot be opened ({exc}); run `assist index` to repair it"
        return self._vectors

    def _close_vectors(self) -> None:
        store, self._vectors = self._vectors, None
        self._vectors_error = None
        if store is not None:
            try:
                store.close()
            except Exception:  # closing a broken client must not hide the real problem
                pass

    @contextmanager
    def _no_writer(self) -> Iterator[bool]:
        """Holds a shared lock on the writer's lock file, so no indexer starts writing mid-query;
        yields False when one is writing now."""
        lock_path = self.dirs.path / "lock"
        try:
            fd = os.open(lock_path, os.O_RDONLY)
        except OSError:
            yield True  # no indexer ever ran here with locking: nothing to wait for
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


EXACT_SEARCH_MAX_CHUNKS = 150_000  # 384-d float32: about 230 MB; beyond this chromadb's index is used


class ExactVectors:
    """All chunk vectors as one normalised matrix: a query is one matrix-vector product."""

    def __init__(self, ids: list[str], matrix: Any):
        self.ids = ids
        self.matrix = matrix

    @classmethod
    def load(cls, cache_path: Path, model: str, hashes: dict[str, str],
             dim: int | None = None) -> tuple[ExactVectors | None, str | None]:
        """(vectors, None), or (None, why not) when the cache is missing or lacks some chunk's vector."""
        import numpy

        from ..store import decode_vector

        if not cache_path.exists():
            return None, "no embedding cache"
        try:
            conn = sqlite3.connect(f"{cache_path.as_uri()}?mode=ro", uri=True, timeout=5.0)
            try:
                rows = conn.execute("SELECT content_hash, vector FROM vectors WHERE model=?", (model,)).fetchall()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            return None, f"embedding cache unreadable ({exc})"
        wanted = set(hashes.values())
        by_hash = {h: decode_vector(blob, dim) for h, blob in rows if h in wanted}
        ids = [chunk_id for chunk_id, content_hash in hashes.items() if by_hash.get(content_hash) is not None]
        if len(ids) < len(hashes):
            return None, f"{len(hashes) - len(ids)} chunk vectors missing from the embedding cache"
        if not ids:
            return cls([], numpy.zeros((0, 0), dtype=numpy.float32)), None
        if len({len(by_hash[hashes[i]]) for i in ids}) > 1:
            return None, "the embedding cache holds vectors of different lengths; run `assist index` to repair it"
        matrix = numpy.stack([by_hash[hashes[i]] for i in ids])
        norms = numpy.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / numpy.maximum(norms, 1e-12)
        return cls(ids, numpy.ascontiguousarray(matrix, dtype=numpy.float32)), None

    def search(self, vector: Any, k: int) -> list[tuple[str, float]]:
        import numpy

        if not self.ids or k <= 0:
            return []
        query = numpy.asarray(vector, dtype=numpy.float32).ravel()
        if query.shape[0] != self.matrix.shape[1]:
            return []
        query = query / max(float(numpy.linalg.norm(query)), 1e-12)
        # One BLAS thread: OpenBLAS's helpers keep spinning after a multi-threaded product, and on a small
        # machine they starve the next query's encoder (2 cores, networkx: warm search p95 ~115 ms with
        # them, ~80 ms without; the product itself takes 1-2 ms either way).
        with _blas_controller().limit(limits=1, user_api="blas"):
            scores = self.matrix @ query
        k = min(k, len(self.ids))
        top = numpy.argpartition(-scores, k - 1)[:k]
        top = top[numpy.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top]


@functools.cache
def _blas_controller() -> Any:
    """The process's BLAS libraries, found once (the search costs milliseconds; setting a limit does not). numpy,
    whose library the product runs on, is loaded before any search; one loaded later (scipy's own OpenBLAS) is
    not in it, and never runs the product."""
    import threadpoolctl

    return threadpoolctl.ThreadpoolController()

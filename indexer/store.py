"""The index's own bookkeeping in SQLite: the content-hash manifest, chunk rows and the embedding cache.

SQLite gives us crash safety for free: a file is marked done in the same transaction that records its
chunks, and only after its vectors are in the vector store, so a killed run resumes where it stopped.
The embedding cache lives in its own file so that rebuilding the index never throws vectors away.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model import Chunk, FileExtract, SkippedFile

SCHEMA_VERSION = "1"

_INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    language TEXT,
    line_count INTEGER NOT NULL,
    extract BLOB,
    chunk_ids TEXT NOT NULL,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    symbol TEXT,
    kind TEXT NOT NULL,
    language TEXT,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    part INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks(path);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL, detail TEXT NOT NULL);
"""

# A rowid table: WITHOUT ROWID stores 1.5 KB vectors in overflow pages at ~3x the space.
_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (model, content_hash)
);
"""
_CACHE_LAYOUT = 2


class StateCorrupt(Exception):
    """The bookkeeping database cannot be read; the index must be rebuilt."""


def _connect(path: Path, schema: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(schema)
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")
    except sqlite3.DatabaseError as exc:
        raise StateCorrupt(f"{path.name}: {exc}") from exc
    return conn


@dataclass
class FileRecord:
    path: str
    hash: str
    size: int
    mtime_ns: int
    inode: int
    language: str | None
    line_count: int
    chunk_ids: list[str]


class IndexState:
    """Manifest of indexed files, their chunks and extracts, skipped files, and stamps."""

    def __init__(self, path: Path):
        self.path = path
        self.conn = _connect(path, _INDEX_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- stamps and flags ------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, **values: object) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()],
            )

    def all_meta(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM meta"))

    def transaction(self) -> "_Transaction":
        return _Transaction(self.conn)

    def reset(self) -> None:
        """Forget every file (stamps stay); used when stamps change or the vector store was rebuilt."""
        with self.transaction():
            for table in ("files", "chunks", "skipped"):
                self.conn.execute(f"DELETE FROM {table}")

    # -- files -----------------------------------------------------------------------------------
    def file_records(self) -> dict[str, FileRecord]:
        rows = self.conn.execute(
            "SELECT path, hash, size, mtime_ns, inode, language, line_count, chunk_ids FROM files"
        )
        return {r[0]: FileRecord(*r[:7], json.loads(r[7])) for r in rows}

    def touch_file(self, path: str, size: int, mtime_ns: int, inode: int) -> None:
        """Same content, new stat (e.g. after `touch` or a checkout): remember the stat so the next run skips the read."""
        self.conn.execute(
            "UPDATE files SET size=?, mtime_ns=?, inode=? WHERE path=?", (size, mtime_ns, inode, path)
        )

    def put_file(
        self,
        record: FileRecord,
        extract: FileExtract | None,
        chunks: list[Chunk],
        chunk_tokens: list[list[str]],
    ) -> None:
        """Record a file as indexed; call inside a transaction, after its vectors are stored."""
        self.conn.execute("DELETE FROM chunks WHERE path=?", (record.path,))
        self.conn.executemany(
            "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (c.id, c.path, c.symbol, c.kind, c.language, c.start_line, c.end_line, c.part,
                 c.content_hash, " ".join(tokens))
                for c, tokens in zip(chunks, chunk_tokens)
            ],
        )
        blob = pickle.dumps(extract, protocol=pickle.HIGHEST_PROTOCOL) if extract is not None else None
        self.conn.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)",
            (record.path, record.hash, record.size, record.mtime_ns, record.inode, record.language,
             record.line_count, blob, json.dumps(record.chunk_ids), time.time()),
        )
        self.conn.execute("DELETE FROM skipped WHERE path=?", (record.path,))

    def remove_file(self, path: str) -> None:
        self.conn.execute("DELETE FROM chunks WHERE path=?", (path,))
        self.conn.execute("DELETE FROM files WHERE path=?", (path,))

    def extracts(self) -> dict[str, FileExtract]:
        rows = self.conn.execute("SELECT path, extract FROM files WHERE extract IS NOT NULL")
        return {path: pickle.loads(blob) for path, blob in rows}

    def plain_text_paths(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT path FROM files WHERE extract IS NULL")]

    # -- skipped ---------------------------------------------------------------------------------
    def replace_skipped(self, skipped: Iterable[SkippedFile]) -> None:
        self.conn.execute("DELETE FROM skipped")
        self.conn.executemany(
            "INSERT OR REPLACE INTO skipped VALUES (?,?,?)", [(s.path, s.reason, s.detail) for s in skipped]
        )

    def skipped(self) -> list[SkippedFile]:
        return [SkippedFile(*r) for r in self.conn.execute("SELECT path, reason, detail FROM skipped ORDER BY path")]

    # -- chunks ----------------------------------------------------------------------------------
    def chunk_tokens(self) -> Iterator[tuple[str, list[str]]]:
        for chunk_id, tokens in self.conn.execute("SELECT id, tokens FROM chunks ORDER BY id"):
            yield chunk_id, tokens.split()

    def chunk_vector_rows(self, paths: Iterable[str] | None = None) -> list[tuple[str, str, dict]]:
        """(chunk id, content hash, vector-store metadata) for all chunks, or those of ``paths``."""
        query = "SELECT id, content_hash, path, symbol, kind, language, start_line, end_line, part FROM chunks"
        rows = self.conn.execute(query).fetchall()
        if paths is not None:
            wanted = set(paths)
            rows = [r for r in rows if r[2] in wanted]
        return [(r[0], r[1], vector_metadata(*r[2:])) for r in rows]

    def counts(self) -> dict[str, int]:
        c = self.conn
        return {
            "files": c.execute("SELECT COUNT(*) FROM files").fetchone()[0],
            "chunks": c.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            "skipped": c.execute("SELECT COUNT(*) FROM skipped").fetchone()[0],
            "lines": c.execute("SELECT COALESCE(SUM(line_count), 0) FROM files").fetchone()[0],
        }


def vector_metadata(path: str, symbol: str | None, kind: str, language: str | None,
                    start_line: int, end_line: int, part: int) -> dict:
    meta = {"path": path, "kind": kind, "start_line": start_line, "end_line": end_line, "part": part}
    if symbol:
        meta["symbol"] = symbol
    if language:
        meta["language"] = language
    return meta


class EmbeddingCache:
    """Vectors keyed by (model, chunk content hash): moved code and switched branches cost nothing."""

    def __init__(self, path: Path):
        self.path = path
        self.conn = _connect(path, "")
        if self.conn.execute("PRAGMA user_version").fetchone()[0] != _CACHE_LAYOUT:
            # An older layout: vectors are derived data, start the cache afresh.
            self.conn.executescript(f"DROP TABLE IF EXISTS vectors; PRAGMA user_version={_CACHE_LAYOUT};")
        self.conn.executescript(_CACHE_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def get_many(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self.conn.execute(
                f"SELECT content_hash, vector FROM vectors WHERE model=? AND content_hash IN ({marks})",
                (model, *batch),
            )
            for content_hash, blob in rows:
                found[content_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        with _Transaction(self.conn):
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items],
            )

    def count(self, model: str | None = None) -> int:
        if model is None:
            return self.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (model,)).fetchone()[0]


class _Transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

"""The index's own bookkeeping in SQLite: the content-hash manifest, chunk rows and the embedding cache.

SQLite gives us crash safety for free: a file is marked done in the same transaction that records its
chunks, and only after its vectors are in the vector store, so a killed run resumes where it stopped.
The embedding cache lives in its own file so that rebuilding the index never throws vectors away.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexingError
from .model import Call, Chunk, FileExtract, Import, Inheritance, SkippedFile, Symbol

# 2: extracts are JSON, not pickles (a cloned repository could ship a manifest whose pickles run code).
SCHEMA_VERSION = "2"

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
-- The vector tier's to-do list. A chunk listed in pending has no usable vector in the store yet: its text
-- waits here (masked, as chunked) for the embedder, or is NULL when its vector only needs copying from the
-- embedding cache (a rebuilt store). Chunks not listed have their vector stored. Ids in dropped left the
-- manifest; their vectors are deleted from the store before anything new is written there. Both tables
-- are new in this layout: an older index has neither, which correctly reads as "every vector stored".
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, path TEXT NOT NULL, text TEXT);
CREATE INDEX IF NOT EXISTS pending_by_path ON pending(path);
CREATE TABLE IF NOT EXISTS dropped (id TEXT PRIMARY KEY);
-- Chunks that earn no vector under the index's setting (IndexConfig.embed): they stay in pending, with
-- their text where it was there, so a setting that takes them back embeds them without reading the file
-- again; listed here, the vector tier skips them and coverage leaves them out of its denominator.
CREATE TABLE IF NOT EXISTS novector (id TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS novector_by_path ON novector(path);
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


class StateCorrupt(IndexingError):
    """The bookkeeping database cannot be read; the index must be rebuilt."""


def _connect(path: Path, schema: str) -> sqlite3.Connection:
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(schema)
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check failed")
        _check_tables(conn, schema)
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StateCorrupt(f"{path.name}: {exc}") from exc
    return conn


def _check_tables(conn: sqlite3.Connection, schema: str) -> None:
    """A table that already existed with other columns (damage, or a file that is not ours) would make
    every later query fail: compare each table of ``schema`` with what is on disk."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.executescript(schema)
        tables = [r[0] for r in probe.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            want = [r[1:3] for r in probe.execute(f"PRAGMA table_info({table})")]
            have = [r[1:3] for r in conn.execute(f"PRAGMA table_info({table})")]
            if want != have:
                raise sqlite3.DatabaseError(f"table {table} does not have the expected columns")
    finally:
        probe.close()


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
            for table in ("files", "chunks", "skipped", "pending", "dropped", "novector"):
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
        """Record a file as indexed (the structural tier); call inside a transaction. Its chunks whose vectors
        are not in the store yet go to ``pending`` with their text; a chunk that kept its id and content keeps
        its stored vector. Ids the file no longer has go to ``dropped``."""
        old = dict(self.conn.execute("SELECT id, content_hash FROM chunks WHERE path=?", (record.path,)))
        old_pending = {r[0] for r in self.conn.execute("SELECT id FROM pending WHERE path=?", (record.path,))}
        stored = {(i, h) for i, h in old.items() if i not in old_pending}
        self.conn.execute("DELETE FROM chunks WHERE path=?", (record.path,))
        self.conn.execute("DELETE FROM pending WHERE path=?", (record.path,))
        self.conn.execute("DELETE FROM novector WHERE path=?", (record.path,))  # decided again by select_vectors
        self.conn.executemany(
            "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (c.id, c.path, c.symbol, c.kind, c.language, c.start_line, c.end_line, c.part,
                 c.content_hash, " ".join(tokens))
                for c, tokens in zip(chunks, chunk_tokens)
            ],
        )
        self.conn.executemany(
            "INSERT OR REPLACE INTO pending VALUES (?,?,?)",
            [(c.id, c.path, c.text) for c in chunks if (c.id, c.content_hash) not in stored],
        )
        gone = set(old) - {c.id for c in chunks}
        self.conn.executemany("INSERT OR IGNORE INTO dropped VALUES (?)", [(i,) for i in sorted(gone)])
        blob = extract_to_json(extract) if extract is not None else None
        self.conn.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)",
            (record.path, record.hash, record.size, record.mtime_ns, record.inode, record.language,
             record.line_count, blob, json.dumps(record.chunk_ids), time.time()),
        )
        self.conn.execute("DELETE FROM skipped WHERE path=?", (record.path,))

    def invalidate_file(self, path: str) -> None:
        """Make the next scan read, parse and chunk this file again (its record no longer matches anything)."""
        self.conn.execute("UPDATE files SET hash='', size=-1 WHERE path=?", (path,))

    def remove_file(self, path: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO dropped SELECT id FROM chunks WHERE path=?", (path,))
        self.conn.execute("DELETE FROM pending WHERE path=?", (path,))
        self.conn.execute("DELETE FROM novector WHERE path=?", (path,))
        self.conn.execute("DELETE FROM chunks WHERE path=?", (path,))
        self.conn.execute("DELETE FROM files WHERE path=?", (path,))

    def extracts(self) -> tuple[dict[str, FileExtract], list[str]]:
        """(valid extracts by path, paths whose stored extract does not validate)."""
        good: dict[str, FileExtract] = {}
        damaged: list[str] = []
        for path, blob in self.conn.execute("SELECT path, extract FROM files WHERE extract IS NOT NULL"):
            try:
                good[path] = extract_from_json(blob)
            except ValueError:
                damaged.append(path)
        return good, damaged

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

    # -- the vector tier -------------------------------------------------------------------------
    def vector_counts(self) -> tuple[int, int]:
        """(chunks whose vector is stored, chunks that earn a vector): 100 % when nothing is left to embed."""
        total = self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        pending = self.conn.execute("SELECT COUNT(*) FROM pending").fetchone()[0]
        excluded = self.conn.execute("SELECT COUNT(*) FROM novector").fetchone()[0]
        return total - pending, total - excluded

    def pending_plan(self) -> list[tuple[str, str, str, bool, int]]:
        """(chunk id, content hash, path, whether the file is plain text (no parser), text length or -1 when
        the text is NULL) of every chunk waiting for its vector (chunks that earn none left out)."""
        return self.conn.execute(
            "SELECT p.id, c.content_hash, c.path, f.extract IS NULL, COALESCE(length(p.text), -1) "
            "FROM pending p JOIN chunks c ON c.id = p.id JOIN files f ON f.path = c.path "
            "LEFT JOIN novector n ON n.id = p.id WHERE n.id IS NULL"
        ).fetchall()

    def select_vectors(self, earns: Callable[[str, bool], bool]) -> tuple[int, int]:
        """Apply which files' chunks earn a vector (``earns(path, plain_text)``), incrementally: the chunks
        of a file that no longer earns one leave the vector store (through ``dropped``) and wait in pending,
        listed in ``novector``; those of a file that earns one again go back on the vector tier's list (from
        the embedding cache when their text is not kept). Returns (chunks newly excluded, newly included)."""
        plain = dict(self.conn.execute("SELECT path, extract IS NULL FROM files"))
        chunk_counts = dict(self.conn.execute("SELECT path, COUNT(*) FROM chunks GROUP BY path"))
        excluded = dict(self.conn.execute("SELECT path, COUNT(*) FROM novector GROUP BY path"))
        leave = [p for p, n in chunk_counts.items() if excluded.get(p, 0) != n and not earns(p, bool(plain.get(p)))]
        back = [p for p in excluded if p in plain and earns(p, bool(plain[p]))]
        if not (leave or back):
            return 0, 0
        newly_excluded = newly_included = 0
        with self.transaction():
            for path in leave:
                # Stored vectors are deleted from the store; their chunks wait (no text: the cache has them).
                self.conn.execute(
                    "INSERT OR IGNORE INTO dropped SELECT id FROM chunks WHERE path=? "
                    "AND id NOT IN (SELECT id FROM pending WHERE path=?)", (path, path))
                self.conn.execute("INSERT OR IGNORE INTO pending SELECT id, path, NULL FROM chunks WHERE path=?",
                                  (path,))
                newly_excluded += self.conn.execute(
                    "INSERT OR IGNORE INTO novector SELECT id, path FROM chunks WHERE path=?", (path,)).rowcount
            for path in back:
                newly_included += self.conn.execute("DELETE FROM novector WHERE path=?", (path,)).rowcount
            # Readers re-read which chunks have vectors when this moves.
            known = self.get_meta("vector_generation", "0") or "0"
            generation = (int(known) if known.isdigit() else 0) + 1
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('vector_generation', ?)", (str(generation),))
        return newly_excluded, newly_included

    def pending_texts(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            found.update(r for r in self.conn.execute(
                f"SELECT id, text FROM pending WHERE text IS NOT NULL AND id IN ({marks})", batch))
        return found

    def mark_stored(self, ids: list[str], generation: int) -> None:
        """These chunks' vectors are in the store now (call after writing them there)."""
        with self.transaction():
            self.conn.executemany("DELETE FROM pending WHERE id=?", [(i,) for i in ids])
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('vector_generation', ?)", (str(generation),))

    def dropped_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM dropped ORDER BY id")]

    def clear_dropped(self, ids: list[str]) -> None:
        with self.transaction():
            self.conn.executemany("DELETE FROM dropped WHERE id=?", [(i,) for i in ids])

    def pend_stored(self, ids: list[str]) -> None:
        """These chunks' vectors must be written to the store again, from the embedding cache (no text)."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR IGNORE INTO pending SELECT id, path, NULL FROM chunks WHERE id=?", [(i,) for i in ids])

    def stored_chunk_rows(self) -> list[tuple[str, str, dict]]:
        """chunk_vector_rows() of the chunks whose vector is stored (not pending)."""
        pending = {r[0] for r in self.conn.execute("SELECT id FROM pending")}
        return [row for row in self.chunk_vector_rows() if row[0] not in pending]

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
        try:
            if self.conn.execute("PRAGMA user_version").fetchone()[0] != _CACHE_LAYOUT:
                # An older layout: vectors are derived data, start the cache afresh.
                self.conn.executescript(f"DROP TABLE IF EXISTS vectors; PRAGMA user_version={_CACHE_LAYOUT};")
            self.conn.executescript(_CACHE_SCHEMA)
            _check_tables(self.conn, _CACHE_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StateCorrupt(f"{path.name}: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def get_many(self, model: str, hashes: Iterable[str], dim: int | None = None) -> dict[str, np.ndarray]:
        """Cached vectors by content hash; a damaged one (wrong length, not finite) counts as not cached."""
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
                vector = decode_vector(blob, dim)
                if vector is not None:
                    found[content_hash] = vector
        return found

    def has_many(self, model: str, hashes: Iterable[str]) -> set[str]:
        """Which of ``hashes`` have a cached vector (length unchecked: get_many checks when reading)."""
        found: set[str] = set()
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            marks = ",".join("?" * len(batch))
            found.update(r[0] for r in self.conn.execute(
                f"SELECT content_hash FROM vectors WHERE model=? AND content_hash IN ({marks})", (model, *batch)))
        return found

    def put_many(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        with _Transaction(self.conn):
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items],
            )

    def forget_model(self, model: str) -> int:
        """Delete every vector of ``model`` (they were computed another way); returns how many."""
        with _Transaction(self.conn):
            return self.conn.execute("DELETE FROM vectors WHERE model=?", (model,)).rowcount

    def drop_malformed(self, model: str, dim: int) -> int:
        """Delete this model's entries that cannot be ``dim``-d float32 vectors; returns how many."""
        with _Transaction(self.conn):
            cursor = self.conn.execute(
                "DELETE FROM vectors WHERE model=? AND (typeof(vector) != 'blob' OR length(vector) != ?)",
                (model, 4 * dim),
            )
        return cursor.rowcount

    def count(self, model: str | None = None) -> int:
        if model is None:
            return self.conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM vectors WHERE model=?", (model,)).fetchone()[0]


def decode_vector(blob: object, dim: int | None) -> np.ndarray | None:
    """A stored float32 vector, or None when the bytes cannot be one of ``dim`` finite values."""
    if not isinstance(blob, bytes) or not blob or len(blob) % 4 or (dim is not None and len(blob) != 4 * dim):
        return None
    vector = np.frombuffer(blob, dtype=np.float32)
    return vector if bool(np.isfinite(vector).all()) else None


# --------------------------------------------------------------------------------- extracts as JSON
# Dataclass -> JSON object, and back through a checker per field: a stored extract that does not
# validate is damage (the file is parsed again), never an exception deep inside the graph builder.


def extract_to_json(extract: FileExtract) -> bytes:
    return json.dumps(dataclasses.asdict(extract), separators=(",", ":")).encode("utf-8")


def extract_from_json(blob: object) -> FileExtract:
    """Raises ValueError when ``blob`` is not an extract we wrote."""
    if not isinstance(blob, (bytes, str)):
        raise ValueError("extract is not text")
    try:
        data = json.loads(blob)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"extract is not JSON ({exc})") from None
    return _build(FileExtract, data, _EXTRACT_FIELDS)


def _build(cls: type, data: object, fields: dict[str, Callable[[Any], Any]]) -> Any:
    if type(data) is not dict or data.keys() != fields.keys():
        raise ValueError(f"not a {cls.__name__} record")
    return cls(**{name: check(data[name]) for name, check in fields.items()})


def _of(*kinds: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if type(value) not in kinds:
            raise ValueError(f"{value!r:.40} is not {' or '.join(k.__name__ for k in kinds)}")
        return value

    return check


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list]:
    def check(value: Any) -> list:
        if type(value) is not list:
            raise ValueError("expected a list")
        return [item(v) for v in value]

    return check


def _dict_of_str(value: Any) -> dict[str, str]:
    if type(value) is not dict:
        raise ValueError("expected an object")
    return {_STR(k): _STR(v) for k, v in value.items()}


def _record(cls: type, fields: dict[str, Callable[[Any], Any]]) -> Callable[[Any], Any]:
    return lambda value: _build(cls, value, fields)


def _name_alias(value: Any) -> tuple[str, str | None]:
    if type(value) is not list or len(value) != 2:
        raise ValueError("an imported name is not [name, alias]")
    return _STR(value[0]), _OPT_STR(value[1])


_STR, _OPT_STR, _INT, _BOOL = _of(str), _of(str, type(None)), _of(int), _of(bool)
_SYMBOL_FIELDS = {
    "qname": _STR, "name": _STR, "kind": _STR, "path": _STR, "language": _STR, "start_line": _INT,
    "end_line": _INT, "start_byte": _INT, "end_byte": _INT, "signature": _STR, "docstring": _OPT_STR,
    "parent": _OPT_STR, "local_types": _dict_of_str,
}
_IMPORT_FIELDS = {
    "module": _STR, "line": _INT, "names": _list_of(_name_alias), "alias": _OPT_STR, "level": _INT,
    "scope": _OPT_STR,
}
_EXTRACT_FIELDS = {
    "path": _STR,
    "language": _STR,
    "symbols": _list_of(_record(Symbol, _SYMBOL_FIELDS)),
    "imports": _list_of(_record(Import, _IMPORT_FIELDS)),
    "calls": _list_of(_record(Call, {"caller": _STR, "callee": _STR, "line": _INT})),
    "inherits": _list_of(_record(Inheritance, {"cls": _STR, "base": _STR, "line": _INT})),
    "module_docstring": _OPT_STR,
    "has_errors": _BOOL,
    "line_count": _INT,
    "module_names": _list_of(_STR),
    "namespaces": _list_of(_STR),
}


class _Transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

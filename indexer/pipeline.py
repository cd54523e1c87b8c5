"""`index_repository`: files → parse → chunks → vectors → graph → lexical index, incrementally and crash-safely.

Order of writes is what makes a kill harmless: vectors are cached and stored *before* a file is marked
done in the manifest, and the graph and lexical index are derived from the manifest at the end of every
run that changed something. A run that dies leaves a flag; the next run checks the vector store in a
subprocess (chromadb can segfault on a truncated segment) and rebuilds it from the embedding cache.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import files as discovery
from .config import IndexConfig
from .lock import IndexLock
from .model import FILE, MODULE, Chunk, SkippedFile
from .prepare import ParsedFile, prepare_files, sha256_hex
from .state_dir import StateDir
from .store import SCHEMA_VERSION, EmbeddingCache, FileRecord, IndexState, StateCorrupt

ProgressCallback = Callable[[str, int, int], None]
"""Called as (stage, done, total); stages: "files", "parse", "model", "embed", "store", "graph", "lexical"."""

# Bumped when chunking or extraction changes what ends up in the index.
PIPELINE_VERSION = "1"


@dataclass
class IndexReport:
    root: str
    files_indexed: int = 0
    files_changed: int = 0
    files_removed: int = 0
    files_skipped: dict[str, int] = field(default_factory=dict)
    symbols: int = 0
    edges: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    chunks_embedded: int = 0
    lines: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    embedding_model: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _noop_progress(stage: str, done: int, total: int) -> None:
    pass


def _prefetch_module(name: str) -> None:
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(name,), daemon=True).start()


def index_repository(
    root: Path,
    config: IndexConfig | None = None,
    progress: ProgressCallback = _noop_progress,
    notice: Callable[[str], None] = lambda message: None,
) -> IndexReport:
    """Bring ``root/.assist`` up to date with the working tree. Raises lock.IndexBusy if another writer holds it."""
    config = config or IndexConfig()
    root = root.resolve()
    state_dir = StateDir(root)
    repairs = state_dir.ensure()  # before the lock: the lock file itself must not be a link
    with IndexLock(state_dir.path, wait_s=config.lock_wait_s):
        indexer = _Indexer(root, state_dir, config, progress, notice)
        for message in repairs:
            indexer.notice(message)
        return indexer.run()


class _Indexer:
    def __init__(self, root: Path, state_dir: StateDir, config: IndexConfig,
                 progress: ProgressCallback, notice: Callable[[str], None]):
        self.root = root
        self.dirs = state_dir
        self.config = config
        self.progress = progress
        self.report = IndexReport(root=str(root))
        self._notice_sink = notice
        self._embedder = None
        self._vectors = None

    def notice(self, message: str) -> None:
        self.report.notices.append(message)
        self._notice_sink(message)

    # -- lazily loaded heavy parts -----------------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from .embeddings import load_embedder

            # Cheap: the model itself loads in _load_model, only when something needs embedding.
            self._embedder = load_embedder(self.config.embedding_model, ollama_url=self.config.ollama_url)
        return self._embedder

    @property
    def vectors(self):
        if self._vectors is None:
            from .vectors import VectorStore

            self._vectors = VectorStore(self.dirs.vectors, dim=self.embedder.dim)
        return self._vectors

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> IndexReport:
        self._check_identity()
        self.state = self._open_state()
        self.cache = self._open_cache()
        try:
            vector_repair = self._check_stamps_and_store()
            self.state.set_meta(running="1")
            if vector_repair:
                self._repair_vectors(full=vector_repair == "full")
            dirty = bool(vector_repair)
            for _ in range(2):  # a second pass only re-parses files whose stored extract was damaged
                changed, removed, skipped = self._scan()
                if changed or removed:
                    _prefetch_module("chromadb")  # ~1 s of import overlaps parsing and embedding
                parsed = self._parse(changed, skipped)
                known = self.state.file_records()
                # A file that was indexed but is now skipped (became binary, too large, ...) leaves the index.
                removed = sorted(set(removed) | ({s.path for s in skipped} & set(known)))
                self._embed_and_store(parsed, removed, known)
                dirty = dirty or bool(parsed or removed)
                if not self._finish(skipped, dirty=dirty):
                    break
        finally:
            if self._vectors is not None:
                self._vectors.close()
            self.cache.close()
            self.state.close()
        return self.report

    def _check_identity(self) -> None:
        """A state we did not build here (a clone that committed .assist/, a copy) is never read: every
        file of it goes, the embedding cache too (its vectors could be anything), and we start afresh."""
        dirs = self.dirs
        if not any(p.exists() for p in (dirs.index_db, dirs.embedding_cache, dirs.vectors, dirs.graph,
                                          dirs.lexical, dirs.identity, dirs.path / "graph.pickle")):
            dirs.stamp_identity()
            return
        reason = dirs.foreign_reason()
        if reason is not None:
            self.notice(f"the index in {dirs.path} was not built here: {reason}; rebuilding it from scratch")
            dirs.remove_all()
            dirs.stamp_identity()
        elif dirs.read_identity().get("root") != str(self.root):
            dirs.stamp_identity()  # the same directory, moved or renamed: record where it is now

    def _open_state(self) -> IndexState:
        if not self.dirs.index_db.exists() and any(p.exists() for p in (self.dirs.graph, self.dirs.lexical, self.dirs.vectors)):
            # Without the manifest nothing says what the rest holds: rebuild it all (cached vectors are kept).
            self.notice("the index database is missing; rebuilding the index (cached embeddings are reused)")
            self.dirs.remove_derived()
        try:
            return IndexState(self.dirs.index_db)
        except StateCorrupt as exc:
            self.notice(f"index database is damaged ({exc}); rebuilding the index")
            self.dirs.remove_index()
            return IndexState(self.dirs.index_db)

    def _open_cache(self) -> EmbeddingCache:
        try:
            return EmbeddingCache(self.dirs.embedding_cache)
        except StateCorrupt as exc:
            self.notice(f"embedding cache is damaged ({exc}); starting it afresh (changed chunks are embedded again)")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.dirs.embedding_cache}{suffix}").unlink(missing_ok=True)
            return EmbeddingCache(self.dirs.embedding_cache)

    def _meta_int(self, key: str) -> int:
        try:
            return int(self.state.get_meta(key, "0"))
        except ValueError:
            return 0

    def _stamps(self) -> dict[str, str]:
        from .languages import grammar_versions

        return {
            "schema_version": SCHEMA_VERSION,
            "pipeline_version": PIPELINE_VERSION,
            "grammars": json.dumps(grammar_versions(), sort_keys=True),
            "embedding_model": self.config.embedding_model,
            "chunk_max_tokens": str(self.config.chunk_max_tokens),
        }

    def _check_stamps_and_store(self) -> str | None:
        """Rebuild on a stamp mismatch; probe the vector store after an unclean stop.

        Returns None (store fine), "prune" (a killed run may have left unrecorded vectors) or "full"
        (the store is gone or damaged: refill it from the embedding cache).
        """
        stamps = self._stamps()
        old = self.state.all_meta()
        changed = [k for k, v in stamps.items() if k in old and old[k] != v]
        if changed:
            self.notice(f"index was built with a different {', '.join(changed)}; rebuilding it")
            self.state.reset()
            self.dirs.remove_derived()
        self.state.set_meta(**stamps)

        if not self.dirs.vectors.exists():
            return "full" if self.state.counts()["files"] else None
        unclean = old.get("running") == "1"
        fingerprint_moved = old.get("vector_fingerprint") not in (None, self.dirs.vector_fingerprint())
        if not (unclean or fingerprint_moved):
            return None
        from .vectors import probe_store

        ok, message = probe_store(self.dirs.vectors)
        if ok:
            return "prune" if unclean else None
        self.notice(f"vector store is damaged ({message}); rebuilding it from the embedding cache")
        shutil.rmtree(self.dirs.vectors, ignore_errors=True)
        return "full"

    # -- stage 1: which files changed --------------------------------------------------------------
    def _scan(self):
        started = time.perf_counter()
        found = discovery.discover(self.root, self.config)
        skipped: list[SkippedFile] = list(found.skipped)
        known = self.state.file_records()
        changed: list[tuple[discovery.Candidate, bytes]] = []
        total = len(found.candidates)
        self.progress("files", 0, total)
        with self.state.transaction():
            for done, cand in enumerate(found.candidates, 1):
                rec = known.get(cand.path)
                if rec and (rec.size, rec.mtime_ns, rec.inode) == (cand.size, cand.mtime_ns, cand.inode):
                    continue
                try:
                    data = (self.root / cand.path).read_bytes()
                except OSError as exc:
                    skipped.append(SkippedFile(cand.path, "unreadable", str(exc)))
                    continue
                if rec and rec.hash == sha256_hex(data):
                    self.state.touch_file(cand.path, cand.size, cand.mtime_ns, cand.inode)
                else:
                    changed.append((cand, data))
                if done % 256 == 0:
                    self.progress("files", done, total)
        self.progress("files", total, total)
        present = {c.path for c in found.candidates}
        removed = sorted(set(known) - present)
        self.report.seconds["files"] = round(time.perf_counter() - started, 3)
        return changed, removed, skipped

    # -- stage 2: parse and chunk ------------------------------------------------------------------
    def _parse(self, changed, skipped: list[SkippedFile]) -> list[ParsedFile]:
        started = time.perf_counter()
        parsed: list[ParsedFile] = []
        for done, result in enumerate(prepare_files(changed, self.config, lambda: self.embedder.count_tokens), 1):
            if isinstance(result, SkippedFile):
                skipped.append(result)
            else:
                parsed.append(result)
            if done % 16 == 0 or done == len(changed):
                self.progress("parse", done, len(changed))
        self.report.seconds["parse"] = round(time.perf_counter() - started, 3)
        return parsed

    # -- stage 3: embed, store vectors, then mark files done ---------------------------------------
    def _embed_and_store(self, parsed: list[ParsedFile], removed: list[str], known: dict[str, FileRecord]) -> None:
        all_chunks = [c for p in parsed for c in p.chunks]
        vectors_by_hash = self.cache.get_many(self.embedder.name, (c.content_hash for c in all_chunks),
                                              dim=self.embedder.dim) if all_chunks else {}
        missing = {c.content_hash: c.text for c in all_chunks if c.content_hash not in vectors_by_hash}
        if missing:
            self._load_model()
        started = time.perf_counter()
        if missing:
            self._embed_missing(missing, vectors_by_hash)
        self.report.chunks_embedded += len(missing)
        self.report.seconds["embed"] = round(time.perf_counter() - started, 3)

        started = time.perf_counter()
        # Commit in groups: each group's vectors are stored first, then its files are marked done.
        group_size = 64
        for start in range(0, len(parsed), group_size):
            group = parsed[start : start + group_size]
            stale_ids = [i for p in group if p.record.path in known
                         for i in set(known[p.record.path].chunk_ids) - set(p.record.chunk_ids)]
            if stale_ids:
                self.vectors.delete(stale_ids)
            chunks = [c for p in group for c in p.chunks]
            if chunks:
                self._upsert(chunks, vectors_by_hash)
            with self.state.transaction():
                for p in group:
                    self.state.put_file(p.record, p.extract, p.chunks, p.chunk_tokens)
            self.progress("store", min(start + group_size, len(parsed)), len(parsed))
        if removed:
            gone = [i for path in removed for i in known[path].chunk_ids]
            if gone and self.dirs.vectors.exists():
                self.vectors.delete(gone)
            with self.state.transaction():
                for path in removed:
                    self.state.remove_file(path)
        self.report.files_changed += len(parsed)
        self.report.files_removed += len(removed)
        self.report.seconds["store"] = round(time.perf_counter() - started, 3)

    def _load_model(self) -> None:
        """Timed on its own: model load (torch import included) is reported apart from embedding."""
        started = time.perf_counter()
        self.progress("model", 0, 1)
        self.embedder.load()
        self.progress("model", 1, 1)
        self.report.seconds["model_load"] = round(time.perf_counter() - started, 3)

    def _embed_missing(self, missing: dict[str, str], vectors_by_hash: dict) -> None:
        # Longest first across the whole run so every batch holds texts of similar length (less padding).
        ordered = sorted(missing.items(), key=lambda item: len(item[1]), reverse=True)
        # Small groups: a finer progress bar, and less work lost to a kill; still whole model batches.
        group = self.config.embed_batch_size * 2
        self.progress("embed", 0, len(ordered))
        for start in range(0, len(ordered), group):
            batch = ordered[start : start + group]
            vectors = self.embedder.embed([text for _, text in batch])
            pairs = [(h, v) for (h, _), v in zip(batch, vectors)]
            self.cache.put_many(self.embedder.name, pairs)
            vectors_by_hash.update(pairs)
            self.progress("embed", start + len(batch), len(ordered))

    def _upsert(self, chunks: list[Chunk], vectors_by_hash: dict) -> None:
        import numpy as np

        from .store import vector_metadata

        self.vectors.upsert(
            [c.id for c in chunks],
            np.stack([vectors_by_hash[c.content_hash] for c in chunks]),
            [vector_metadata(c.path, c.symbol, c.kind, c.language, c.start_line, c.end_line, c.part) for c in chunks],
        )

    def _repair_vectors(self, full: bool) -> None:
        """Make the vector store hold exactly the manifest's chunks: drop strays, and on ``full`` refill
        it from the embedding cache. Runs before the scan: a file whose vectors are not cached is
        forgotten here (chunk texts are not stored), so the scan re-reads and re-embeds it."""
        import numpy as np

        started = time.perf_counter()
        rows = self.state.chunk_vector_rows()
        if full:
            cached = self.cache.get_many(self.embedder.name, (h for _, h, _ in rows), dim=self.embedder.dim)
            uncached = {meta["path"] for _, h, meta in rows if h not in cached}
            if uncached:
                with self.state.transaction():
                    for path in uncached:
                        self.state.remove_file(path)
                rows = [r for r in rows if r[2]["path"] not in uncached]
            for start in range(0, len(rows), 4096):
                batch = rows[start : start + 4096]
                self.vectors.upsert([r[0] for r in batch], np.stack([cached[r[1]] for r in batch]),
                                    [r[2] for r in batch])
                self.progress("store", start + len(batch), len(rows))
        strays = self.vectors.all_ids() - {chunk_id for chunk_id, _, _ in rows}
        if strays:
            self.vectors.delete(sorted(strays))
        self.report.seconds["repair"] = round(time.perf_counter() - started, 3)

    # -- stage 4: derived structures ---------------------------------------------------------------
    def _finish(self, skipped: list[SkippedFile], dirty: bool) -> bool:
        """Rebuild the graph and lexical index if anything changed or someone touched them; True when
        some stored extracts were damaged (those files are forgotten: the caller scans once more)."""
        from .graph import build_graph, save_graph

        with self.state.transaction():
            self.state.replace_skipped(skipped)
        generation = self._meta_int("generation") + (1 if dirty else 0)
        built_for = self.dirs.derived_generation()
        graph = None
        touched = self.state.get_meta("derived_fingerprint") not in (None, self.dirs.derived_fingerprint())
        if touched and not dirty:
            self.notice("the code graph or lexical index was changed or damaged since the last run; rebuilding them")
        elif built_for != generation and not dirty:
            self.notice("the derived-generation stamp does not match the index; rebuilding the code graph and lexical index")
        if dirty or touched or built_for != generation or not self.dirs.graph.exists():
            started = time.perf_counter()
            extracts, damaged = self.state.extracts()
            if damaged:
                self.notice(f"{len(damaged)} stored file extracts are damaged; parsing those files again")
                with self.state.transaction():
                    for path in damaged:
                        self.state.remove_file(path)
                return True
            self.progress("graph", 0, 1)
            graph = build_graph(extracts, self.state.plain_text_paths())
            save_graph(graph, self.dirs.graph)
            self.progress("graph", 1, 1)
            self.report.seconds["graph"] = round(time.perf_counter() - started, 3)

            started = time.perf_counter()
            from .lexical import LexicalIndex

            ids, token_lists = [], []
            for chunk_id, tokens in self.state.chunk_tokens():
                ids.append(chunk_id)
                token_lists.append(tokens)
            shutil.rmtree(self.dirs.lexical, ignore_errors=True)  # whatever a damaged one left is not reused
            LexicalIndex.build(ids, token_lists).save(self.dirs.lexical)
            self.progress("lexical", 1, 1)
            self.report.seconds["lexical"] = round(time.perf_counter() - started, 3)
            self.dirs.set_derived_generation(generation)

        counts = self.state.counts()
        summary = self._graph_summary(graph)
        self.report.files_indexed = counts["files"]
        self.report.chunks = counts["chunks"]
        self.report.files_skipped = dict(Counter(s.reason for s in skipped))
        self.report.symbols = summary["symbols"]
        self.report.edges = summary["edges"]
        self.report.lines = summary["lines"]
        self.report.embedding_model = self.config.embedding_model
        meta = {
            "generation": str(generation),
            "running": "0",
            "graph_summary": json.dumps(summary),
            "derived_fingerprint": self.dirs.derived_fingerprint(),
        }
        if dirty or not self.state.get_meta("last_indexed_at"):
            meta["last_indexed_at"] = str(time.time())
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        if self.dirs.vectors.exists():
            meta["vector_fingerprint"] = self.dirs.vector_fingerprint()
        self.state.set_meta(**meta)
        return False

    def _graph_summary(self, graph) -> dict:
        """Counts for the report; read back from the stamps when this run did not rebuild the graph."""
        from .graph import edge_counts, load_graph

        if graph is None:
            try:
                cached = json.loads(self.state.get_meta("graph_summary") or "null")
            except ValueError:
                cached = None
            if isinstance(cached, dict) and {"symbols", "edges", "lines"} <= cached.keys():
                return cached
            graph = load_graph(self.dirs.graph)  # just checked or written by _finish
        kinds = Counter(kind for _, kind in graph.nodes(data="kind"))
        return {
            "symbols": sum(n for k, n in kinds.items() if k not in (FILE, MODULE)),
            "edges": edge_counts(graph),
            "lines": self.state.counts()["lines"],
        }


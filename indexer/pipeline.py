"""`index_repository`: two tiers, one index, incrementally and crash-safely.

The structural tier (files → parse → chunks → manifest → graph → lexical index) is committed first: from
then on every command works, without vectors. The vector tier follows (config.vectors "now"), or is left
to a later run ("later"), or never runs ("off"). The manifest lists each chunk whose vector is not stored
yet, with its text (``pending``); the vector tier embeds those, source before tests before plain text,
writes each group's vectors to the embedding cache, then to the vector store, and only then crosses them
off. A kill at any moment loses at most the group in flight; the next run stores what the cache holds and
embeds only the rest. A run that dies leaves a flag; the next run checks the vector store in a subprocess
(chromadb can segfault on a truncated segment) and rebuilds it from the embedding cache.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from itertools import groupby
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import files as discovery
from .config import VECTOR_KINDS, VECTOR_MODES, IndexConfig
from .errors import StoreWriteError
from .lock import IndexLock
from .model import FILE, MODULE, SkippedFile
from .prepare import ParsedFile, prepare_files, sha256_hex
from .state_dir import StateDir
from .store import SCHEMA_VERSION, EmbeddingCache, IndexState, StateCorrupt

ProgressCallback = Callable[[str, int, int], None]
"""Called as (stage, done, total); stages: "files", "parse", "graph", "lexical" (the structural tier), then
"model" and "embed" (the vector tier: done/total counts chunks given their vector)."""

# Bumped when chunking or extraction changes what ends up in the index (2: comment lines above a definition in
# Ruby, Bash, Elixir, Lua and Haskell, and C#/PHP attributes, join its chunk; 3: lexical tokens are stemmed;
# 4: a word and its number, "f32" of deserialize_f32, are also a lexical token, and test code inside a source
# file, Rust's `#[cfg(test)] mod tests`, is marked in the graph; 5: that word may start in capitals, "IPv6" of
# isValidIPv6; 6: extracts record the types of a function's local variables, `Symbol.local_types`; 7: in Python too;
# 8: and a Python class's, the types its methods' `self.x = Foo()` and its body's `x: Foo` give its attributes;
# 9: and the types of a Rust, Go, Java or TypeScript class's or struct's fields; 10: Python's `self.x = x`, with the
# type the method's signature gives `x`; 11: JS/TS fields a constructor's parameters or `this.x = new Foo()` declare;
# 12: Java's `for (Bell b : bells)` loop variables; 13: and its lambda parameters; 14: a Rust tuple struct's fields
# `0`, `1`, …; 15: Python's `with Foo() as x` and the names a `for` loop rebinds; 16: the graph resolves Python's
# `self.a.b.m()`, so indexes built before miss those edges).
PIPELINE_VERSION = "16"


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
    encoder: str = ""
    """What computed this run's new vectors (e.g. ``…/onnx-fp32`` or ``…/torch``): interchangeable encoders of one
    model share ``embedding_model`` and its vectors; this records which one ran."""
    vectors: dict = field(default_factory=dict)
    """mode ("now", "later", "off"), stored (chunks with a vector), chunks, coverage_percent."""
    usable_after_s: float = 0.0
    """Seconds from the start until the structural tier was committed (every command works from then on)."""
    vectors_from_store: int = 0
    """Chunks whose vector was already on the store server (put there by another machine or clone): not embedded."""

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
    background: bool = False,
) -> IndexReport:
    """Bring ``root/.assist`` up to date with the working tree. Raises lock.IndexBusy if another writer holds it.

    ``background``: a vector filler's run (see lifecycle.VectorFiller). It says so in the lock file, and its vector
    tier stops between two groups — everything embedded so far stored — as soon as another writer asks for the lock
    (``report.vectors["yielded"]``)."""
    config = config or IndexConfig()
    root = root.resolve()
    state_dir = StateDir(root)
    repairs = state_dir.ensure()  # before the lock: the lock file itself must not be a link
    with IndexLock(state_dir.path, wait_s=config.lock_wait_s, background=background) as lock:
        indexer = _Indexer(root, state_dir, config, progress, notice)
        if background:
            indexer.stop_requested = lock.wanted
        for message in repairs:
            indexer.notice(message)
        try:
            return indexer.run()
        except Exception as exc:
            if not _is_store_failure(exc):
                raise
            raise StoreWriteError(f"cannot write the index at {state_dir.path}: {_first_line(exc)}; what was stored "
                                  "before is kept — free disk space (or fix the file system) and re-run "
                                  "`assist index`") from exc


def _is_store_failure(exc: Exception) -> bool:
    # chromadb's errors are told by their module, so that a run without vectors never imports chromadb.
    return isinstance(exc, sqlite3.Error) or type(exc).__module__.partition(".")[0] == "chromadb"


def _refuse_to_discard(exc: StateCorrupt) -> None:
    """A database that cannot be opened because of its surroundings (disk full, I/O error, read-only, locked)
    is not damaged: rebuilding would throw away what it holds (the embedding cache: hours of work) and fail anyway."""
    if isinstance(exc.__cause__, sqlite3.OperationalError):
        raise StoreWriteError(f"cannot open {exc}; nothing was discarded — free disk space (or fix the file "
                              "system) and re-run `assist index`") from exc


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


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
        self._store = ""
        self.stop_requested: Callable[[], bool] = lambda: False
        self._yielded = False

    def notice(self, message: str) -> None:
        self.report.notices.append(message)
        self._notice_sink(message)

    # -- lazily loaded heavy parts -----------------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from .embeddings import open_embedder

            # Cheap: the model itself loads in _load_model, only when something needs embedding.
            self._embedder = open_embedder(self.config)
        return self._embedder

    @property
    def vectors(self):
        if self._vectors is None:
            from .vectors import open_vector_store

            self._vectors = open_vector_store(self.dirs, self.embedder.dim, self.config)
        return self._vectors

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> IndexReport:
        started = time.perf_counter()
        mode = self.config.vectors
        if mode not in VECTOR_MODES:
            raise ValueError(f"vectors must be one of {', '.join(VECTOR_MODES)}, not {mode!r}")
        unknown = [kind for kind in self.config.embed if kind not in VECTOR_KINDS]
        if unknown:
            raise ValueError(f"embed takes kinds among {', '.join(VECTOR_KINDS)}, not {', '.join(map(repr, unknown))}")
        self._check_identity()
        self.state = self._open_state()
        self.cache = self._open_cache()
        try:
            vector_repair = self._check_stamps_and_store()
            self.state.set_meta(running="1")
            if vector_repair:
                self._plan_vector_repair(full=vector_repair == "full")
            self.state.set_meta(vector_store=self._store)  # after the repair is planned: a kill before it re-plans
            dirty = bool(vector_repair)
            for _ in range(2):  # a second pass only re-parses files whose stored extract was damaged
                changed, removed, skipped = self._scan()
                # Files skipped last time (binary, too large) are read again on every run; they alone are no reason
                # to load chromadb, whose import costs more than a whole no-op run.
                skipped_before = {s.path for s in self.state.skipped()}
                if mode == "now" and (removed or any(c.path not in skipped_before for c, _ in changed)):
                    _prefetch_module("chromadb")  # ~1 s of import overlaps parsing
                parsed = self._parse(changed, skipped)
                known = self.state.file_records()
                # A file that was indexed but is now skipped (became binary, too large, ...) leaves the index.
                removed = sorted(set(removed) | ({s.path for s in skipped} & set(known)))
                self._store_structure(parsed, removed)
                dirty = dirty or bool(parsed or removed)
                if not self._finish(skipped, dirty=dirty):
                    break
            self._select_vectors()
            self.report.usable_after_s = round(time.perf_counter() - started, 3)
            if mode == "now":
                self._vector_tier()
            stored, total = self.state.vector_counts()
            from .status import coverage_percent

            self.report.vectors = {"mode": mode, "stored": stored, "chunks": total,
                                   "coverage_percent": coverage_percent(stored, total)}
            if self._yielded:
                self.report.vectors["yielded"] = True
            if self._store:
                self.report.vectors["store"] = json.loads(self._store)  # url, tenant, database
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
            _refuse_to_discard(exc)
            self.notice(f"index database is damaged ({exc}); rebuilding the index")
            self.dirs.remove_index()
            return IndexState(self.dirs.index_db)

    def _open_cache(self) -> EmbeddingCache:
        try:
            return EmbeddingCache(self.dirs.embedding_cache)
        except StateCorrupt as exc:
            _refuse_to_discard(exc)
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
            "embed_max_tokens": str(max(self.config.embed_max_tokens, 0)),
        }

    def _check_stamps_and_store(self) -> str | None:
        """Rebuild on a stamp mismatch; probe the vector store after an unclean stop.

        Returns None (store fine), "prune" (a killed run may have left unrecorded vectors) or "full"
        (the store is gone or damaged: refill it from the embedding cache).
        """
        stamps = self._stamps()
        old = self.state.all_meta()
        # An index from before a stamp existed was built with its default.
        defaults = {"embed_max_tokens": "0"} if old else {}
        changed = [k for k, v in stamps.items() if old.get(k, defaults.get(k, v)) != v]
        if "embed_max_tokens" in changed:
            # Cached vectors are keyed by chunk content, not by how much of it the model read: forget them.
            self.cache.forget_model(self.embedder.name)
        if changed:
            self.notice(f"index was built with a different {', '.join(changed)}; rebuilding it")
            self.state.reset()
            self.dirs.remove_derived()
        self.state.set_meta(**stamps)

        # The store this run writes to: "" for the embedded one, else a server (vectors.store_address).
        from .vectors import store_address

        self._store = store_address(self.config)
        if self._store != old.get("vector_store", ""):
            # Vectors recorded as stored went to another store: copy them to this one (a server that already holds
            # them costs a lookup, not a copy; the embedded store's strays of before are pruned).
            return "full" if self.state.vector_counts()[0] else None
        if self._store:
            return None  # a server keeps its own vectors safe: nothing here to probe or prune
        if not self.dirs.vectors.exists():
            # Chunks recorded as having vectors, and no store: they go back to the vector tier's list.
            return "full" if self.state.vector_counts()[0] else None
        # A kill in either tier can leave the store half-written (the structural tier never opens it, but
        # an index from before the two tiers wrote vectors during "running").
        unclean = old.get("running") == "1" or old.get("vectors_running") == "1"
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
        for done, result in enumerate(prepare_files(changed, self.config, lambda: self.embedder.count_tokens,
                                                   self.notice), 1):
            if isinstance(result, SkippedFile):
                skipped.append(result)
            else:
                parsed.append(result)
            if done % 16 == 0 or done == len(changed):
                self.progress("parse", done, len(changed))
        self.report.seconds["parse"] = round(time.perf_counter() - started, 3)
        return parsed

    # -- stage 3: the manifest (structural tier: no vectors, no model, no chromadb) --------------------
    def _store_structure(self, parsed: list[ParsedFile], removed: list[str]) -> None:
        started = time.perf_counter()
        group_size = 64  # a kill loses at most one group's parse work
        for start in range(0, len(parsed), group_size):
            with self.state.transaction():
                for p in parsed[start : start + group_size]:
                    self.state.put_file(p.record, p.extract, p.chunks, p.chunk_tokens)
        if removed:
            with self.state.transaction():
                for path in removed:
                    self.state.remove_file(path)
        self.report.files_changed += len(parsed)
        self.report.files_removed += len(removed)
        self.report.seconds["manifest"] = round(self.report.seconds.get("manifest", 0)
                                                + time.perf_counter() - started, 3)

    def _plan_vector_repair(self, full: bool) -> None:
        """After an unclean stop the vector tier first deletes strays from the store (vectors_prune). On
        ``full`` (the store is gone or was damaged) every chunk that had a vector goes back on the vector
        tier's list, to be copied from the embedding cache; a file with a chunk the cache lacks is forgotten
        here (chunk texts of stored chunks are not kept), so the scan reads and chunks it again."""
        if full:
            rows = self.state.stored_chunk_rows()
            cached = self.cache.get_many(self.embedder.name, (h for _, h, _ in rows), dim=self.embedder.dim)
            uncached = {meta["path"] for _, h, meta in rows if h not in cached}
            with self.state.transaction():
                for path in uncached:
                    self.state.remove_file(path)
            self.state.pend_stored([r[0] for r in rows if r[2]["path"] not in uncached])
        self.state.set_meta(vectors_prune="1")

    # -- the vector tier ---------------------------------------------------------------------------
    def _select_vectors(self) -> None:
        """Which chunks earn a vector (config.embed), applied incrementally: a few queries, no model."""
        kinds = frozenset(self.config.embed)
        self.state.select_vectors(lambda path, plain_text: vector_kind(path, plain_text) in kinds)

    def _embed_order(self, rows: list[tuple]) -> list[tuple]:
        """Pending rows, most useful first: source, tests, docs, data (VECTOR_KINDS); within each, the files
        changed most recently first (git history, else modification time), in windows of EMBED_WINDOW chunks
        sorted longest first so that a model batch holds texts of similar length (less padding)."""
        if not rows:
            return rows
        paths = {row[2] for row in rows}
        changed = change_times(self.root, paths)
        if changed is None:  # not a git checkout, or git failed: the working tree's modification times
            records = self.state.file_records()
            changed = {path: records[path].mtime_ns / 1e9 if path in records else 0.0 for path in paths}
        priority = {path: _embed_priority(path, plain) for path, plain in {(row[2], bool(row[3])) for row in rows}}
        ordered = sorted(rows, key=lambda row: (priority[row[2]], -changed.get(row[2], 0.0), row[2], row[0]))
        out: list[tuple] = []
        for _, tier in groupby(ordered, key=lambda row: priority[row[2]]):
            tier_rows = list(tier)
            for start in range(0, len(tier_rows), EMBED_WINDOW):
                out += sorted(tier_rows[start : start + EMBED_WINDOW], key=lambda row: (-row[4], row[0]))
        return out

    def _model_texts(self, texts: list[str]) -> list[str]:
        """What the model reads of each chunk: its first lines up to config.embed_max_tokens, or all of it."""
        limit = self.config.embed_max_tokens
        if limit <= 0 or limit >= getattr(self.embedder, "max_tokens", 0) > 0:
            return texts
        return [head_tokens(text, limit, self.embedder.count_tokens) for text in texts]

    def _vector_tier(self) -> None:
        """Give every pending chunk its vector: from the embedding cache where it is there, else from the
        model; most useful first. Interruptible anywhere: each group is cached, stored, then crossed off."""
        started = time.perf_counter()
        plan = self.state.pending_plan()
        dropped = self.state.dropped_ids()
        prune = self.state.get_meta("vectors_prune") == "1"
        self.report.seconds.setdefault("embed", 0.0)
        if not (plan or dropped or prune):
            return
        self.state.set_meta(vectors_running="1")
        if not self._store and self.dirs.vectors.exists():
            if dropped:
                self.vectors.delete(dropped)
            if prune:
                strays = self.vectors.all_ids() - {chunk_id for chunk_id, _ in self.state.chunk_tokens()}
                if strays:
                    self.vectors.delete(sorted(strays))
        if dropped:
            self.state.clear_dropped(dropped)

        generation = self._meta_int("vector_generation")
        name = self.embedder.name
        cached = self.cache.has_many(name, [row[1] for row in plan])
        ready = [row for row in plan if row[1] in cached]
        to_embed = [row for row in plan if row[1] not in cached and row[4] >= 0]
        lost = {row[2] for row in plan if row[1] not in cached and row[4] < 0}
        if lost:
            # Waiting for a vector the cache no longer holds, and no text to embed: read those files again.
            self.notice(f"{len(lost)} files have chunks whose vectors are neither stored nor cached; "
                        "they are read again on the next run")
            with self.state.transaction():
                for path in lost:
                    self.state.invalidate_file(path)
        metadata = {chunk_id: meta for chunk_id, _, meta in self.state.chunk_vector_rows()}
        total, done = len(ready) + len(to_embed), 0
        self.progress("embed", 0, total)
        store_started = time.perf_counter()
        if self._store and (ready or to_embed):
            generation += 1
            held = self._take_from_server(ready + to_embed, generation)
            ready = [row for row in ready if row[1] not in held]
            to_embed = [row for row in to_embed if row[1] not in held]
            done = total - len(ready) - len(to_embed)
            self.progress("embed", done, total)

        # Vectors already computed (a renamed file, a switched branch, a rebuilt store): store them first.
        for start in range(0, len(ready), 1024):
            group = ready[start : start + 1024]
            vectors = self.cache.get_many(name, (row[1] for row in group), dim=self.embedder.dim)
            # A cached vector that does not decode (damaged) is embedded again where the text is at hand.
            to_embed += [row for row in group if row[1] not in vectors and row[4] >= 0]
            group = [row for row in group if row[1] in vectors]
            self._upsert(group, vectors, metadata)
            generation += 1
            self.state.mark_stored([row[0] for row in group], generation)
            done += len(group)
            self.progress("embed", done, total)
        store_s = time.perf_counter() - store_started

        to_embed = self._embed_order(to_embed)
        if to_embed:
            self._load_model()
        embed_s = 0.0
        # Whole model batches, one for each request a server may have in flight; a kill loses at most this many.
        size = self.config.embed_batch_size * max(2, self.config.embed_concurrency)
        for start in range(0, len(to_embed), size):
            if self.stop_requested():
                self._yielded = True
                break
            group = to_embed[start : start + size]
            texts = self.state.pending_texts([row[0] for row in group])
            vectors = self.cache.get_many(name, {row[1] for row in group}, dim=self.embedder.dim)
            todo: dict[str, str] = {}
            for row in group:
                if row[1] not in vectors and row[0] in texts:
                    todo.setdefault(row[1], texts[row[0]])
            if todo:
                mark = time.perf_counter()
                embedded = self.embedder.embed(self._model_texts(list(todo.values())))
                self.report.encoder = getattr(self.embedder, "identity", self.embedder.name)
                pairs = list(zip(todo, embedded))
                self.cache.put_many(name, pairs)  # cached first: a kill from here on re-embeds nothing
                vectors.update(pairs)
                embed_s += time.perf_counter() - mark
                self.report.chunks_embedded += len(todo)
            mark = time.perf_counter()
            group = [row for row in group if row[1] in vectors]
            self._upsert(group, vectors, metadata)
            generation += 1
            self.state.mark_stored([row[0] for row in group], generation)
            store_s += time.perf_counter() - mark
            done += len(group)
            self.progress("embed", done, total)

        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        meta = {"vectors_running": "0", "vectors_prune": "0"}
        if self.report.encoder:
            meta["encoder"] = self.report.encoder
        if self.dirs.vectors.exists():
            meta["vector_fingerprint"] = self.dirs.vector_fingerprint()
        self.state.set_meta(**meta)
        self.report.seconds["embed"] = round(embed_s, 3)
        self.report.seconds["store"] = round(store_s, 3)
        self.report.seconds["vectors"] = round(time.perf_counter() - started, 3)

    def _load_model(self) -> None:
        """Timed on its own: model load (torch import included) is reported apart from embedding."""
        started = time.perf_counter()
        self.progress("model", 0, 1)
        self.embedder.load()
        self.progress("model", 1, 1)
        self.report.seconds["model_load"] = round(time.perf_counter() - started, 3)

    def _upsert(self, rows: list[tuple], vectors_by_hash: dict, metadata: dict[str, dict]) -> None:
        import numpy as np

        if rows:
            self.vectors.upsert([row[0] for row in rows], np.stack([vectors_by_hash[row[1]] for row in rows]),
                                [metadata[row[0]] for row in rows], content_hashes=[row[1] for row in rows])

    def _take_from_server(self, rows: list[tuple], generation: int) -> set[str]:
        """Pending chunks whose vector another machine (or an earlier run) already put on the store server are
        stored as they are: nothing to embed or write. Their vectors join the local embedding cache, which the
        reader's exact search and a later switch of store read. Returns the content hashes taken."""
        name = self.embedder.name
        taken: set[str] = set()
        hashes = list(dict.fromkeys(row[1] for row in rows))
        for start in range(0, len(hashes), 4096):
            found = self.vectors.held(hashes[start : start + 4096])
            self.cache.put_many(name, found.items())
            taken.update(found)
        stored = [row[0] for row in rows if row[1] in taken]
        if stored:
            self.state.mark_stored(stored, generation)
        self.report.vectors_from_store += len(stored)
        return taken

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
            plain_text = self.state.plain_text_paths()
            manifests = self._manifests([*extracts, *plain_text])
            graph = build_graph(extracts, plain_text, manifests)
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
        self.state.set_meta(**meta)
        return False

    def _manifests(self, paths: list[str]):
        """go.mod, Cargo.toml, package.json, tsconfig.json and pom.xml among the indexed files, read for the
        graph's import resolution; one that cannot be read or parsed is a notice, not a failure."""
        from .resolve.manifests import read_manifests

        manifests = read_manifests(self.root, paths)
        for warning in manifests.warnings:
            self.notice(warning)
        return manifests

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


EMBED_WINDOW = 1024
"""Chunks taken in order of recency at a time, then sorted by length (a model batch is 32 of them). On pytest, padding
costs 1.3 % of the model's work sorted by length alone, 4.7 % with windows of 1024, 7.5 % of 512, 20 % of 128."""
GIT_LOG_COMMITS = 2000
GIT_LOG_TIMEOUT_S = 2.0

# Plain-text files that are data or markup rather than prose: a vector of a lock file or an SVG path finds
# nothing a question asks for, and BM25 still indexes their words.
DATA_SUFFIXES = frozenset({
    ".lock", ".svg", ".xml", ".xsd", ".xsl", ".dtd", ".json", ".jsonl", ".ndjson", ".geojson", ".yaml", ".yml",
    ".toml", ".ini", ".cfg", ".conf", ".properties", ".csv", ".tsv", ".dat", ".sum", ".mod", ".map", ".pbxproj",
})  # fmt: skip
DATA_NAMES = frozenset({"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "go.sum", "cargo.lock", "poetry.lock",
                        "uv.lock", "pipfile.lock", "gemfile.lock", "composer.lock"})


def vector_kind(path: str, plain_text: bool) -> str:
    """One of VECTOR_KINDS: "data" (a plain-text file of data or markup), "tests" (a test path, whatever it holds),
    "docs" (other plain text) or "source" (parsed code that is not a test)."""
    from .graph import is_test_path

    if plain_text:
        pure = PurePosixPath(path)
        if pure.name.lower() in DATA_NAMES or pure.suffix.lower() in DATA_SUFFIXES:
            return "data"
    if is_test_path(path):
        return "tests"
    return "docs" if plain_text else "source"


def _embed_priority(path: str, plain_text: bool) -> int:
    """0 source, 1 tests, 2 docs, 3 data: the order in which vectors help retrieval most."""
    return VECTOR_KINDS.index(vector_kind(path, plain_text))


def head_tokens(text: str, limit: int, count_tokens: Callable[[str], int]) -> str:
    """The longest run of ``text``'s first lines that counts at most ``limit`` tokens (at least its first line)."""
    if count_tokens(text) <= limit:
        return text
    lines = text.split("\n")
    low, high = 1, len(lines) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens("\n".join(lines[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return "\n".join(lines[:low])


def change_times(root: Path, paths: set[str]) -> dict[str, float] | None:
    """When each path last changed in git history (its newest commit among the last GIT_LOG_COMMITS; 0 if older
    or never committed), from one bounded ``git log``; None when ``root`` is not in a git checkout or git
    fails, is missing or too slow."""
    import subprocess

    if not paths:
        return {}
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "-c", "core.quotepath=off", "log", f"-n{GIT_LOG_COMMITS}", "--format=%x00%ct",
             "--name-only", "--relative", "--no-renames", "HEAD", "--"],
            capture_output=True, timeout=GIT_LOG_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL,
            env=discovery._git_env())
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    times: dict[str, float] = {}
    when = 0.0
    for line in result.stdout.decode("utf-8", "replace").split("\n"):
        if line.startswith("\0"):
            when = float(line[1:]) if line[1:].isdigit() else 0.0
        elif line and line in paths:
            times.setdefault(line, when)  # newest first: the first mention is the latest change
    return times

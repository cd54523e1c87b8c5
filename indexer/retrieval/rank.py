"""Ranking: seeds from every signal, spread over the code graph by personalized PageRank, fused per symbol.

The walk runs on a sparse transition matrix built once per graph (files and symbols; directories are
left out because they would connect everything), so a query costs a few sparse products rather than a
Python loop over the graph. Why an item was found is kept alongside its score: the signals that hit it
and, for items reached through the graph, the chain of real edges from a seed.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from ..lexical import stem_word
from ..model import FILE, MODULE, split_qualified_name
from .config import RetrievalConfig
from .literals import best_match, normalize
from .names import is_constructor
from .query import Frame, Mention, ParsedQuery, parse_query, without_report_words
from .why import Evidence, Why

if TYPE_CHECKING:
    from .reader import IndexReader
    from .sources import SourceText

_MAX_CANDIDATES_PER_NAME = 8  # a name defined more often than this (`get`, `__init__`) says nothing
_GRAPH_CANDIDATES = 300
# Evidence that the query itself points at a node: a file around the code it names is not set aside.
_NAMING_SIGNALS = frozenset({"mention", "code", "trace", "hint"})
_PATH_SEARCH_LIMIT = 20_000


@dataclass
class RankedNode:
    node: str  # graph node id: a qname, or a file path for file-level items
    kind: str  # function | method | class | file
    path: str
    symbol: str | None
    start_line: int | None
    end_line: int | None
    score: float
    seed_score: float
    graph_score: float
    why: Why
    chunk: str | None = None  # the best-matching chunk, which says which part of a file matched
    prior: float = 0.0  # what ``in_file_prior`` added: it follows from its file's rank, so it never adds to it


@dataclass
class Ranking:
    query: ParsedQuery
    nodes: list[RankedNode]
    seeds: dict[str, float]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------------- the walk


class GraphWalk:
    """Row-stochastic transitions over files and symbols, with per-kind forward and backward weights."""

    def __init__(self, graph: nx.MultiDiGraph, weights: dict[str, tuple[float, float]]):
        from scipy import sparse

        self.nodes = [n for n, kind in graph.nodes(data="kind") if kind != MODULE]
        self.index = {n: i for i, n in enumerate(self.nodes)}
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        index = self.index
        for source, target, kind in graph.edges(keys=True):
            i = index.get(source)
            j = index.get(target)
            if i is None or j is None or i == j:
                continue
            forward, backward = weights.get(kind, (0.0, 0.0))
            if forward > 0:
                rows.append(i)
                cols.append(j)
                values.append(forward)
            if backward > 0:
                rows.append(j)
                cols.append(i)
                values.append(backward)
        size = len(self.nodes)
        matrix = sparse.csr_matrix((values, (rows, cols)), shape=(size, size), dtype=np.float64)
        out = np.asarray(matrix.sum(axis=1)).ravel()
        inverse = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
        # x_{t+1} = x_t P is computed as P^T x_t, so keep P^T in CSR for fast products.
        self.transposed = (sparse.diags(inverse) @ matrix).T.tocsr()
        self.dangling = out == 0
        self.weights = weights

    def personalized(self, seeds: dict[str, float], restart: float, iterations: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, restart part): personalized PageRank by power iteration; dangling mass returns to the seeds."""
        personalization = np.zeros(len(self.nodes))
        for node, weight in seeds.items():
            i = self.index.get(node)
            if i is not None and weight > 0:
                personalization[i] += weight
        total = personalization.sum()
        if total <= 0:
            return personalization, personalization
        personalization /= total
        x = personalization.copy()
        keep = 1.0 - restart
        for _ in range(iterations):
            lost = x[self.dangling].sum()
            x = keep * (self.transposed @ x) + (keep * lost + restart) * personalization
        return x, restart * personalization


class NameWordRarity:
    """How rare each word of the repository's function and method names is: its inverse document frequency
    over those names. Built once per graph (0.04 s for the 10,756 functions of commons-lang)."""

    def __init__(self, document_frequency: dict[str, int], names: int):
        self.idf = {word: math.log((names + 1) / (count + 0.5)) for word, count in document_frequency.items()}
        self.unseen = math.log((names + 1) / 0.5)  # a word no name uses
        values = sorted(self.idf.values())
        self.typical = values[len(values) // 2] if values else self.unseen

    @classmethod
    def of(cls, graph: nx.MultiDiGraph) -> NameWordRarity:
        frequency: dict[str, int] = {}
        names = 0
        for _, data in graph.nodes(data=True):
            if data.get("kind") in ("function", "method"):
                names += 1
                for word in _words(data.get("name") or ""):
                    frequency[word] = frequency.get(word, 0) + 1
        return cls(frequency, names)

    def weight(self, word: str) -> float:
        return self.idf.get(word, self.unseen)

    def coverage(self, name_words: set[str], query_words: set[str], full_words: float) -> float:
        """How much of a name the query holds, 0..1: the rarity of the name's words the query uses over that of
        all its words, or over ``full_words`` typical words when the name says less than that. ``full_words`` 0:
        the share of the name's words, every word alike (the ranking before rarity counted)."""
        if not name_words:
            return 0.0
        if full_words <= 0:
            return len(name_words & query_words) / len(name_words)
        whole = max(sum(map(self.weight, name_words)), full_words * self.typical)
        return sum(map(self.weight, name_words & query_words)) / whole if whole > 0 else 0.0


# ------------------------------------------------------------------------------------ ranking


class _Seeds:
    """Best evidence per (node, signal); a node's seed score is the sum over its signals."""

    def __init__(self) -> None:
        self.evidence: dict[str, dict[str, Evidence]] = {}
        self.chunks: dict[str, tuple[float, str]] = {}
        self.lexical_scores: np.ndarray | None = None  # every chunk's BM25 score, in the lexical index's order

    def add(self, node: str, evidence: Evidence, chunk: str | None = None) -> None:
        by_signal = self.evidence.setdefault(node, {})
        old = by_signal.get(evidence.signal)
        if old is None or evidence.score > old.score:
            by_signal[evidence.signal] = evidence
        if chunk is not None and (node not in self.chunks or evidence.score > self.chunks[node][0]):
            self.chunks[node] = (evidence.score, chunk)

    def scores(self) -> dict[str, float]:
        return {node: sum(e.score for e in by_signal.values()) for node, by_signal in self.evidence.items()}


def _rank_score(rank: int, k: float) -> float:
    return k / (k + rank)


class Ranker:
    def __init__(self, reader: IndexReader, config: RetrievalConfig):
        self.reader = reader
        self.config = config
        self._walk: GraphWalk | None = None
        self._walk_key: tuple | None = None
        self._rarity: tuple[int, NameWordRarity] | None = None
        self._chunk_positions: tuple[int, dict[str, list[int]]] | None = None

    def walk(self) -> GraphWalk:
        key = (id(self.reader.graph), tuple(sorted(self.config.edge_weights().items())))
        if self._walk is None or self._walk_key != key:
            self._walk = GraphWalk(self.reader.graph, self.config.edge_weights())
            self._walk_key = key
        return self._walk

    def name_word_rarity(self) -> NameWordRarity:
        graph = self.reader.graph
        if self._rarity is None or self._rarity[0] != id(graph):
            self._rarity = (id(graph), NameWordRarity.of(graph))
        return self._rarity[1]

    def chunk_positions(self) -> dict[str, list[int]]:
        """Each node's chunks, as positions in the lexical index's score vector."""
        lexical = self.reader.lexical
        if self._chunk_positions is None or self._chunk_positions[0] != id(lexical):
            positions: dict[str, list[int]] = {}
            chunks = self.reader.chunks
            for i, chunk_id in enumerate(lexical.ids):
                chunk = chunks.get(chunk_id)
                node = self.reader.node_of_chunk(chunk) if chunk is not None else None
                if node is not None:
                    positions.setdefault(node, []).append(i)
            self._chunk_positions = (id(lexical), positions)
        return self._chunk_positions[1]

    # -------------------------------------------------------------------------------- public

    def rank(self, text: str, use_vectors: bool = True,
             extra_seeds: Mapping[str, tuple[float, str]] | None = None) -> Ranking:
        """Rank for ``text``; ``extra_seeds`` (node → (weight, why)) adds seeds the caller knows better
        than any text could say — the frames and callees of a failing test — as the "hint" signal."""
        cfg = self.config
        timings: dict[str, float] = {}
        notes: list[str] = []
        started = time.perf_counter()
        query = parse_query(text)
        seeds = _Seeds()
        text_factor = cfg.code_query_text_factor if query.code_only else 1.0

        mark = time.perf_counter()
        if cfg.weight_bm25 > 0:
            self._lexical_seeds(without_report_words(text), seeds, cfg.weight_bm25 * text_factor)
        timings["bm25"] = time.perf_counter() - mark
        if use_vectors and cfg.weight_vector > 0:
            mark = time.perf_counter()
            self._vector_seeds(text, seeds, cfg.weight_vector * text_factor, notes)
            timings["vector"] = time.perf_counter() - mark
        mark = time.perf_counter()
        if cfg.weight_trace > 0:
            self._trace_seeds(query.frames, seeds)
        for mention in query.mentions:
            self._mention_seeds(mention, seeds)
        timings["mentions"] = time.perf_counter() - mark
        if cfg.weight_literal > 0 and query.literals:
            mark = time.perf_counter()
            self._literal_seeds(query.literals, seeds)
            timings["literals"] = time.perf_counter() - mark
        graph_nodes = self.reader.graph._node
        for node, (weight, detail) in (extra_seeds or {}).items():
            if weight > 0 and node in graph_nodes:
                seeds.add(node, Evidence("hint", weight, None, detail))

        for node, by_signal in seeds.evidence.items():
            if self._set_aside(query, node, by_signal):
                for evidence in by_signal.values():
                    if evidence.signal != "hint":  # the caller weighed its own seeds
                        evidence.score *= cfg.test_penalty
        if cfg.weight_scope > 0 and query.scopes:
            self._scope_seeds(query.scopes, seeds)
        seed_scores = {node: score for node, score in seeds.scores().items() if score > 0}

        mark = time.perf_counter()
        nodes = self._fuse(query, seeds, seed_scores)
        if cfg.weight_in_file > 0 and nodes:
            nodes = self._rank_inside_files(query, nodes, seeds)
        timings["graph"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started
        return Ranking(query, nodes, seed_scores, notes, timings)

    def _set_aside(self, query: ParsedQuery, node: str, by_signal: Mapping[str, Evidence]) -> bool:
        """Whether ``node`` is code the query is not about and weighs less (``test_penalty``):
        - test code (test files; test modules inside source files) unless the query speaks of tests;
        - files around the code (build and lock files, CI scripts under hidden folders, vendored copies) unless
          the query names them or a trace passes through them;
        - TypeScript declaration files, which repeat the names of the code they describe, unless the query
          names them or speaks of types."""
        names = self.reader.names
        if node in names.test_nodes:
            return not query.about_tests
        if node in names.declaration_nodes:
            return not query.about_types and not by_signal.keys() & _NAMING_SIGNALS
        return node in names.support_nodes and not by_signal.keys() & _NAMING_SIGNALS

    def explain_path(self, ranking: Ranking, node: RankedNode) -> None:
        """Give an item found mainly through the graph the chain of edges that leads to it from the
        nearest other seed."""
        if node.why.path or node.graph_score <= 0 or node.graph_score < node.seed_score:
            return
        path = self._path_from_seed(node.node, ranking.seeds)
        if path:
            node.why.path = path
            node.why.path_end = node.node
            for evidence in node.why.evidence:
                if evidence.signal == "graph":
                    evidence.detail = node.why.path_text() or evidence.detail

    # ----------------------------------------------------------------------------------- seeds

    def _lexical_seeds(self, text: str, seeds: _Seeds, weight: float) -> None:
        reader = self.reader
        ranked: dict[str, int] = {}
        seeds.lexical_scores = reader.lexical.scores(text)
        for chunk_id, score in reader.lexical.best(seeds.lexical_scores, self.config.bm25_k):
            chunk = reader.chunks.get(chunk_id)
            node = reader.node_of_chunk(chunk) if chunk is not None else None
            if node is None:
                continue
            rank = ranked.setdefault(node, len(ranked))
            detail = f"bm25 rank {rank + 1} (score {score:.2f})"
            seeds.add(node, Evidence("bm25", weight * _rank_score(rank, self.config.rrf_k), rank + 1, detail), chunk_id)

    def _vector_seeds(self, text: str, seeds: _Seeds, weight: float, notes: list[str]) -> None:
        reader = self.reader
        embedder = reader.embedder
        if embedder is None:
            notes.append(f"vector search skipped: {reader.embedder_error}")
            return
        try:
            with _torch_threads(self.config.query_embed_threads):
                vector = embedder.embed([text])[0]
        except Exception as exc:  # a model that fails at run time costs the vector signal, not the query
            notes.append(f"vector search skipped: cannot embed the query ({exc})")
            return
        hits, problem = reader.vector_search(vector, self.config.vector_k)
        if problem:
            notes.append(problem)
        ranked: dict[str, int] = {}
        for chunk_id, cosine in hits:
            if cosine < self.config.min_vector_cosine:
                break
            chunk = reader.chunks.get(chunk_id)
            node = reader.node_of_chunk(chunk) if chunk is not None else None
            if node is None:
                continue
            rank = ranked.setdefault(node, len(ranked))
            detail = f"vector rank {rank + 1} (cosine {cosine:.3f})"
            seeds.add(node, Evidence("vector", weight * _rank_score(rank, self.config.rrf_k), rank + 1, detail), chunk_id)

    def _mention_seeds(self, mention: Mention, seeds: _Seeds) -> None:
        names = self.reader.names
        if mention.in_code:
            weight, signal = self.config.weight_code_mention, "code"
        else:
            weight = self.config.weight_mention * (1.0 if mention.strong else self.config.weak_mention_factor)
            signal = "mention"
        if weight <= 0:
            return
        if mention.is_path:
            found, quality = names.files_matching(mention.text), 1.0
        else:
            found, quality = self._resolve_name(list(mention.parts))
        if not found or len(found) > _MAX_CANDIDATES_PER_NAME:
            return
        strength = quality / math.sqrt(len(found))
        what = "file" if mention.is_path else "name"
        where = "a code block of the query" if mention.in_code else "the query"
        for node in found:
            if "trace" in seeds.evidence.get(node, {}):
                continue  # a trace names its frames' functions again; the frame already counts
            seeds.add(node, Evidence(signal, weight * strength, None, f"{what} {mention.text!r} in {where}"))

    def _scope_seeds(self, scopes: list[tuple[str, ...]], seeds: _Seeds) -> None:
        """What the other signals found in the part of the code the title names ("net/http: ...",
        "fix(parser): ...") weighs ``weight_scope`` more. A scope that no file matches names nothing here."""
        names = self.reader.names
        in_scope: dict[str, str] = {}
        for words in scopes:
            for path in names.files_in_scope(words):
                in_scope.setdefault(path, "/".join(words))
        if not in_scope:
            return
        for node, by_signal in seeds.evidence.items():
            path = split_qualified_name(node)[0]
            scope = in_scope.get(path)
            if scope is None:
                continue
            found = sum(e.score for e in by_signal.values())
            if found > 0:
                detail = f"in {path}, under {scope!r}, which the title names"
                by_signal["scope"] = Evidence("scope", self.config.weight_scope * found, None, detail)

    def _literal_seeds(self, literals: list[str], seeds: _Seeds) -> None:
        """Functions holding a string literal that a message of the query quotes. BM25 over the message
        finds the chunks that share its words; their source lines are then searched for the literal."""
        cfg = self.config
        reader = self.reader
        for literal in literals:
            message = normalize(literal)
            matched: dict[str, tuple[int, str, str]] = {}  # node -> (fixed chars, code literal, chunk id)
            for chunk_id, _ in reader.lexical.search(literal, cfg.literal_k):
                chunk = reader.chunks.get(chunk_id)
                node = reader.node_of_chunk(chunk) if chunk is not None else None
                source = reader.sources.get(chunk.path) if node is not None else None
                if source is None:
                    continue
                code = "\n".join(source.slice(chunk.start_line, chunk.end_line))
                found = best_match(code, message, cfg.literal_min_chars)
                if found is not None and (node not in matched or found[0] > matched[node][0]):
                    matched[node] = (found[0], found[1], chunk_id)
            if not matched or len(matched) > _MAX_CANDIDATES_PER_NAME:
                continue  # a literal in many places (a shared message) does not say which one
            strength = 1.0 / math.sqrt(len(matched))
            for node, (fixed, code_literal, chunk_id) in matched.items():
                score = cfg.weight_literal * strength * min(1.0, fixed / cfg.literal_full_chars)
                detail = f"string {_shorten(code_literal)!r} matches {_shorten(literal)!r} in the query"
                seeds.add(node, Evidence("literal", score, None, detail), chunk_id)

    def _resolve_name(self, parts: list[str]) -> tuple[list[str], float]:
        names = self.reader.names
        if len(parts) > 1 and parts[0] in ("self", "cls", "this"):
            parts = parts[1:]
        if len(parts) == 1:
            return names.symbols_named(parts[0]), 1.0
        dotted = ".".join(parts)
        found = names.symbols_dotted(dotted)
        if found:
            return found, 1.0
        files = names.module_files(dotted)
        if files:
            return files, 0.8
        if len(parts) > 2:
            found = names.symbols_dotted(".".join(parts[-2:]))
            if found:
                return found, 0.8
        # `warehouse.reserve(...)`: a method called on an object; prefer owners named like the object.
        candidates = names.symbols_named(parts[-1])
        owner = parts[-2].lower().replace("_", "")
        preferred = [c for c in candidates if owner and owner in _owner_name(c)]
        if preferred:
            return preferred, 0.7
        return candidates, 0.35

    def _trace_seeds(self, frames: list[Frame], seeds: _Seeds) -> None:
        cfg = self.config
        reader = self.reader
        resolved = 0
        frame_nodes: set[str] = set()
        pending_callees: list[tuple[str, str, Frame, float]] = []
        for frame in frames:
            files = reader.names.files_matching(frame.path)
            if not files:
                continue  # a library or runtime frame
            weight = cfg.weight_trace * cfg.trace_decay**resolved / math.sqrt(len(files))
            resolved += 1
            for path in files:
                node, stale = self._frame_node(path, frame)
                frame_nodes.add(node)
                note = f"stack frame {frame.text}" + (" (file changed since indexing)" if stale else "")
                seeds.add(node, Evidence("trace", weight, None, note))
                if not stale:
                    pending_callees.append((node, path, frame, weight * cfg.trace_callee))
        for node, path, frame, weight in pending_callees:
            for callee in self._called_on_line(node, path, frame.line):
                if callee not in frame_nodes:
                    seeds.add(callee, Evidence("trace", weight, None, f"called on the line of {frame.text}"))

    def _frame_node(self, path: str, frame: Frame) -> tuple[str, bool]:
        """The innermost symbol around the frame's line (the file for module-level code)."""
        reader = self.reader
        source = reader.sources.get(path)
        stale = bool(source is not None and source.stale)
        if stale:
            symbols = reader.sources.fresh_symbols(source)
            inside = [s for s in symbols.values() if s.start_line <= frame.line <= s.end_line and s.qname in reader.graph]
            node = max(inside, key=lambda s: (s.start_line, -s.end_line)).qname if inside else None
        else:
            node = reader.names.symbol_at(path, frame.line)
        if frame.name and (node is None or reader.graph.nodes[node].get("name") != frame.name):
            # Line numbers from another version of the file (an installed package, an old log): the function
            # name the trace gives wins over the line.
            named = self._definitions_named(path, frame.name, source if stale else None)
            if named:
                node = _likeliest_frame_definition(named, frame, source)
        return node or path, stale

    def _definitions_named(self, path: str, name: str, stale_source: SourceText | None) -> list[tuple[int, int, str]]:
        """Spans (start, end, qname) of the symbols of ``path`` called ``name``, as the file is now."""
        graph = self.reader.graph
        if stale_source is not None:
            symbols = self.reader.sources.fresh_symbols(stale_source).values()
            return [(s.start_line, s.end_line, s.qname) for s in symbols if s.name == name and s.qname in graph]
        return [(start, end, q) for start, end, q in self.reader.names.symbols_in(path)
                if graph.nodes[q].get("name") == name]

    def _called_on_line(self, node: str, path: str, line: int) -> list[str]:
        """What the frame's line calls: resolved call edges first; calls the graph could not resolve
        (``warehouse.reserve`` on a parameter) are matched by name like a mention in the query."""
        graph = self.reader.graph
        callees = {t: d for _, t, k, d in graph.out_edges(node, keys=True, data=True) if k == "calls"}
        found = [t for t, d in callees.items() if d.get("line") == line]
        extract = self.reader.extract(path)
        if extract is None:
            return found
        for call in extract.calls:
            if call.line != line or call.caller not in (node, path):
                continue
            name = _last_name(call.callee)
            by_edge = [t for t in callees if graph.nodes[t].get("name") == name]
            if by_edge:
                found.extend(t for t in by_edge if t not in found)
                continue
            parts = [p for p in re.split(r"\.|::|->", call.callee.replace("()", "")) if p]
            if parts and all(p.isidentifier() for p in parts):
                candidates, quality = self._resolve_name(parts)
                if candidates and quality >= 0.7 and len(candidates) <= 2:
                    found.extend(t for t in candidates if t not in found)
        return found

    # ---------------------------------------------------------------------------------- fusion

    def _fuse(self, query: ParsedQuery, seeds: _Seeds, seed_scores: dict[str, float]) -> list[RankedNode]:
        cfg = self.config
        graph = self.reader.graph
        if not seed_scores:
            return []
        best_seeds = dict(sorted(seed_scores.items(), key=lambda kv: -kv[1])[: cfg.ppr_seeds])
        walk = self.walk()
        scores, restart_part = walk.personalized(best_seeds, cfg.ppr_restart, cfg.ppr_iterations)
        # Only what the walk added beyond jumping back to the seeds counts as structure.
        spread = scores - restart_part
        candidates = set(seed_scores)
        if spread.size:
            top = np.argpartition(-spread, min(_GRAPH_CANDIDATES, spread.size - 1))[:_GRAPH_CANDIDATES]
            candidates.update(walk.nodes[i] for i in top if spread[i] > 0)
        node_data = graph._node  # the plain dict behind graph.nodes: this loop runs for hundreds of nodes
        eligible = [n for n in candidates if n in node_data and _is_item(node_data[n], n in seed_scores)]
        # What the walk spread to a node is measured against the largest walk score (usually the best
        # seed's, restarts included), so being one hop from a single seed never outweighs that seed.
        indices = [walk.index[n] for n in eligible if n in walk.index and node_data[n].get("kind") != FILE]
        reference = float(scores[indices].max()) if indices else 0.0
        top_seed = max(seed_scores.values())
        ranked: list[RankedNode] = []
        for node in eligible:
            data = node_data[node]
            kind = data.get("kind") or FILE
            seed = seed_scores.get(node, 0.0)
            i = walk.index.get(node)
            graph_score = 0.0
            if i is not None and reference > 0 and kind != FILE:
                # Files are connectors in the walk; a file item stands on its own hits only.
                graph_score = cfg.weight_graph * top_seed * float(spread[i]) / reference
            if graph_score and self._set_aside(query, node, seeds.evidence.get(node, {})):
                graph_score *= cfg.test_penalty
            evidence = sorted(seeds.evidence.get(node, {}).values(), key=lambda e: -e.score)
            if graph_score > 0 and graph_score >= 0.05 * top_seed:
                detail = "linked to other matches in the code graph" if seed else "reached through the code graph"
                evidence.append(Evidence("graph", graph_score, None, detail))
            score = seed + graph_score
            evidence = [e for e in evidence if e.score > 0]
            if not evidence or score <= 0:
                continue
            path = data.get("path") or split_qualified_name(node)[0]
            ranked.append(
                RankedNode(
                    node=node,
                    kind=kind,
                    path=path,
                    symbol=None if kind == FILE else node,
                    start_line=data.get("start_line"),
                    end_line=data.get("end_line"),
                    score=score,
                    seed_score=seed,
                    graph_score=graph_score,
                    why=Why(score=score, evidence=evidence),
                    chunk=seeds.chunks.get(node, (0.0, None))[1],
                )
            )
        ranked.sort(key=lambda r: (-r.score, r.node))
        if ranked:
            floor = ranked[0].score * cfg.min_score_ratio
            ranked = [r for r in ranked if r.score >= floor]
        return ranked

    def file_scores(self, nodes: list[RankedNode]) -> dict[str, float]:
        """A file's score: its best item's plus ``file_rollup_extra`` of its next two."""
        by_file: dict[str, list[float]] = {}
        for ranked in nodes:
            by_file.setdefault(ranked.path, []).append(ranked.score - ranked.prior)
        extra = self.config.file_rollup_extra
        return {path: top[0] + extra * sum(top[1:3])
                for path, top in ((path, sorted(scores, reverse=True)) for path, scores in by_file.items())}

    def _rank_inside_files(self, query: ParsedQuery, nodes: list[RankedNode], seeds: _Seeds) -> list[RankedNode]:
        """Re-rank the functions of the best few files against the query: a function whose name's words
        the query uses, that holds a literal it quotes, that calls what it names, or whose text is its file's
        most like the query, earns up to ``weight_in_file`` of the best score, scaled by how its file ranks
        against the best file; and each function of a file with few functions is lifted to at least
        ``in_file_prior`` of it for being there, unless a trace or the caller's own seeds say which functions ran."""
        cfg = self.config
        graph = self.reader.graph
        node_data = graph._node
        rolled = self.file_scores(nodes)
        best_files = sorted(rolled, key=lambda path: (-rolled[path], path))[: cfg.in_file_files]
        if not best_files:
            return nodes
        top_score = nodes[0].score
        top_file = rolled[best_files[0]]
        prose = query.text
        for frame in query.frames:  # "line 114, in place" says nothing about which function is meant
            prose = prose.replace(frame.text, " ").replace(frame.source or "\0", " ")
        query_words = _words(prose)
        named = {node for node, by_signal in seeds.evidence.items()
                 if by_signal.keys() & {"mention", "code", "trace", "literal"}}
        by_node = {ranked.node: ranked for ranked in nodes}
        rarity = self.name_word_rarity()
        # A trace, or the caller's own seeds (a fix run's failing frames), says which functions ran; a guess at
        # the rest of their files would only crowd them out.
        traced = query.frames or any("hint" in by_signal for by_signal in seeds.evidence.values())
        prior_weight = 0.0 if traced else cfg.in_file_prior
        for path in best_files:
            file_factor = rolled[path] / top_file
            functions = [qname for _, _, qname in self.reader.names.symbols_in(path)
                         if node_data.get(qname, {}).get("kind") in ("function", "method")]
            few = min(1.0, cfg.in_file_prior_span / max(len(functions), 1))
            prior = prior_weight * top_score * file_factor * few
            text_likeness = self._text_likeness(functions, seeds.lexical_scores)
            for qname in functions:
                data = node_data[qname]
                name = data.get("name") or ""
                name_words = _words(name)
                share = 1.0
                if (not name_words and _is_dunder(name)) or is_constructor(split_qualified_name(qname)[1], name):
                    # __init__, Java's `WeekYear(...)`: the method is its class's constructor;
                    # the class's name says half as much about it (a report naming a class is not about its
                    # constructor). A plain name of common words (``close``, ``get``) says nothing and earns nothing:
                    # given its class's name, every such method of a class the report names would rise alike.
                    name_words = _words(split_qualified_name(qname)[1].rpartition(".")[0].rpartition(".")[2])
                    share = 0.5
                affinity = share * rarity.coverage(name_words, query_words, cfg.in_file_full_words)
                if "literal" in seeds.evidence.get(qname, {}):
                    affinity += 0.5
                calls = {t for _, t, k in graph.out_edges(qname, keys=True) if k == "calls"}
                if calls & named:
                    affinity += 0.5
                affinity += cfg.in_file_text * text_likeness.get(qname, 0.0)
                like = cfg.weight_in_file * top_score * file_factor * min(affinity, 1.0)
                # The prior is a floor, not a bonus: it lifts what little else found, and leaves the order of
                # what the evidence already ranks above it as it was.
                ranked = by_node.get(qname)
                lift = max(0.0, prior - (ranked.score if ranked is not None else 0.0) - like)
                penalty = cfg.test_penalty if self._set_aside(query, qname, seeds.evidence.get(qname, {})) else 1.0
                bonus = (like + lift) * penalty
                if bonus <= 0:
                    continue
                detail = f"in {path}, one of the best files" + (", and like the query" if affinity > 0 else "")
                evidence = Evidence("in-file", bonus, None, detail)
                if ranked is None:
                    ranked = RankedNode(node=qname, kind=data.get("kind"), path=path, symbol=qname,
                                        start_line=data.get("start_line"), end_line=data.get("end_line"),
                                        score=0.0, seed_score=0.0, graph_score=0.0, why=Why(score=0.0, evidence=[]))
                    by_node[qname] = ranked
                ranked.score += bonus
                ranked.prior += lift * penalty
                ranked.why.score = ranked.score
                ranked.why.evidence.append(evidence)
        ranked_nodes = sorted(by_node.values(), key=lambda r: (-r.score, r.node))
        return ranked_nodes

    def _text_likeness(self, functions: list[str], scores: np.ndarray | None) -> dict[str, float]:
        """Each function's BM25 score for the query (its best chunk's) over the best in its file, 0..1."""
        if scores is None or self.config.in_file_text <= 0:
            return {}
        positions = self.chunk_positions()
        best = {q: max((float(scores[i]) for i in positions.get(q, ())), default=0.0) for q in functions}
        top = max(best.values(), default=0.0)
        if top <= 0:
            return {}
        power = self.config.in_file_text_power
        return {q: (score / top) ** power for q, score in best.items() if score > 0}

    # ------------------------------------------------------------------------------ explaining

    def _path_from_seed(self, target: str, seeds: dict[str, float]) -> list[tuple[str, str, str]]:
        """Shortest chain of walkable edges from any seed to ``target`` (the strongest seed among the
        nearest), as real graph edges in seed-to-target order."""
        graph = self.reader.graph
        weights = self.config.edge_weights()
        succ, pred, node_data = graph._succ, graph._pred, graph._node
        parents: dict[str, tuple[str, tuple[str, str, str]] | None] = {target: None}
        frontier = deque([(target, 0)])
        found: list[str] = []
        found_depth: int | None = None
        while frontier and len(parents) < _PATH_SEARCH_LIMIT:
            node, depth = frontier.popleft()
            if found_depth is not None and depth >= found_depth:
                break
            if depth >= self.config.path_max_hops:
                break
            # The walk reaches ``node`` from ``previous`` along previous->node edges taken forward and
            # node->previous edges taken backward; we search from the target, so reverse both.
            steps: list[tuple[str, tuple[str, str, str]]] = []
            for previous, keys in pred[node].items():
                for kind in keys:
                    if weights.get(kind, (0, 0))[0] > 0:
                        steps.append((previous, (previous, kind, node)))
            for previous, keys in succ[node].items():
                for kind in keys:
                    if weights.get(kind, (0, 0))[1] > 0:
                        steps.append((previous, (node, kind, previous)))
            for previous, edge in steps:
                if previous in parents or node_data[previous].get("kind") == MODULE:
                    continue
                parents[previous] = (node, edge)
                if previous in seeds:
                    found.append(previous)
                    found_depth = depth + 1
                frontier.append((previous, depth + 1))
        if not found:
            return []
        seed = max(found, key=lambda n: seeds[n])
        path: list[tuple[str, str, str]] = []
        node = seed
        while parents[node] is not None:
            following, edge = parents[node]
            path.append(edge)
            node = following
        return path


_THREADS_LOCK = threading.Lock()


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run with ``count`` torch threads if torch is loaded (it is process-wide, so serialize changes)."""
    torch = sys.modules.get("torch")
    if torch is None or count <= 0:
        yield
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        if before != count:
            torch.set_num_threads(count)
        try:
            yield
        finally:
            if before != count:
                torch.set_num_threads(before)


def _is_item(data: dict, is_seed: bool) -> bool:
    """Symbols are items; a file is one only when something hit the file itself (its module-level
    code, a text chunk, its name) — files reached through the graph are connectors, not answers."""
    kind = data.get("kind")
    if kind == MODULE:
        return False
    return kind != FILE or is_seed


_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
# Words that name nothing in particular, and the vocabulary of reports and commit titles ("Fix ...",
# "closes #12"), which would otherwise favour fix_docstring in every report that starts with "Fix".
_COMMON_WORDS = frozenset("""
    get set the and for from with not none self init new add run all has use
    fix fixed fixes fixing bug bugs issue issues close closes closed added support
    """.split())


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _words(text: str) -> set[str]:
    """Stems of the lower-case words of a name or a text, split at underscores and camel humps (so "docstrings"
    meets ``is_docstring``); short and common words say nothing about which function is meant."""
    words = (w.lower() for w in _WORD_SPLIT.split(text) if len(w) >= 3)
    return {stem_word(w) for w in words if w not in _COMMON_WORDS}


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _owner_name(qname: str) -> str:
    path, dotted = split_qualified_name(qname)
    owner = dotted.rpartition(".")[0] or path.rpartition("/")[2].rpartition(".")[0]
    return owner.lower().replace("_", "")


def _last_name(callee: str) -> str:
    for separator in ("::", "->", "."):
        callee = callee.rpartition(separator)[2] or callee
    return callee.rstrip("()")


def _likeliest_frame_definition(named: list[tuple[int, int, str]], frame: Frame, source: SourceText | None) -> str:
    """Of several definitions with the frame's function name (a protocol stub and the real method, an
    overload), the one whose body holds the source line the trace printed, else the one nearest the line."""
    def closeness(span: tuple[int, int, str]) -> tuple[bool, int]:
        start, end, _ = span
        holds_line = bool(frame.source and source is not None
                          and any(line.strip() == frame.source for line in source.slice(start, end)))
        distance = 0 if start <= frame.line <= end else min(abs(frame.line - start), abs(frame.line - end))
        return (not holds_line, distance)

    return min(named, key=closeness)[2]

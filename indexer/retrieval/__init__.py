"""The retriever: from any query (question, issue, stack trace, names) to ranked code and packed context.

    retriever = Retriever("path/to/repo")
    hits = retriever.search("why is the shipping fee charged twice?", top=10)
    pack = retriever.context(traceback_text, budget_tokens=6000)
    prompt_part = pack.text
    node = retriever.resolve("Order.total"); retriever.node(node).signature; retriever.related(node, "callers")

One Retriever keeps the index open and cached (graph, BM25, name indexes, the walk's matrix, the
embedder); it notices a finished re-index and reloads. It is safe to share between threads.

This package's ``__all__`` is the whole public surface: what it hands out are typed records (``Hit``,
``Pack``, ``NodeInfo``, ``Neighbour``, ``Why``), never the graph, the reader or a node's attribute dict, so the
index's layout can change without touching a front end (tests/test_architecture.py holds every caller to it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..model import FILE, Call
from .config import RetrievalConfig
from .errors import (
    AmbiguousSymbol,
    IndexMissing,
    IndexUnreadable,
    RetrievalError,
    UnknownSymbol,
)
from . import navigate as _navigate
from .navigate import EXPORT_FORMATS, RELATIONS, GraphExport, Neighbour, Neighbourhood
from .nodes import CurrentSource, NodeInfo
from .nodes import current_source as _current_source
from .nodes import node_info as _node_info
from .nodes import outline as _outline
from .pack import Pack, Packer, PackItem
from .query import ParsedQuery, parse_query
from .rank import RankedNode, Ranker, Ranking
from .traces import TraceFrame, trace_frames
from .reader import IndexReader
from .why import Evidence, Why

__all__ = [
    "EXPORT_FORMATS",
    "RELATIONS",
    "AmbiguousSymbol",
    "CurrentSource",
    "Evidence",
    "GraphExport",
    "Hit",
    "IndexMissing",
    "IndexUnreadable",
    "Neighbour",
    "Neighbourhood",
    "NodeInfo",
    "Pack",
    "PackItem",
    "ParsedQuery",
    "RankedNode",
    "Ranking",
    "RetrievalConfig",
    "RetrievalError",
    "Retriever",
    "TraceFrame",
    "UnknownSymbol",
    "Why",
    "parse_query",
    "trace_frames",
]

CountTokens = Callable[[str], int]
DEFAULT_BUDGET = 8000


@dataclass
class Hit:
    """One search result: a symbol (or a file-level item) with its span, score and reasons."""

    path: str
    symbol: str | None
    kind: str
    start_line: int | None
    end_line: int | None
    score: float
    why: Why

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "symbol": self.symbol,
            "kind": self.kind,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "score": round(self.score, 4),
            "why": self.why.to_json(),
        }


class Retriever:
    def __init__(self, root: Path | str = ".", config: RetrievalConfig | None = None, *, use_vectors: bool = True):
        """Open the index under ``root``. Raises IndexMissing / IndexUnreadable (messages say how to fix)."""
        self.reader = IndexReader(root)
        self.config = config or RetrievalConfig()
        self.use_vectors = use_vectors
        self._ranker = Ranker(self.reader, self.config)
        self._lock = threading.RLock()

    @property
    def root(self) -> Path:
        return self.reader.root

    @property
    def graph(self):
        """The code graph itself, for tests and benchmarks: code in assistant/ and indexer/ reads it through the
        typed methods below (tests/test_architecture.py holds it to that)."""
        return self.reader.graph

    def set_config(self, config: RetrievalConfig) -> None:
        with self._lock:
            self.config = config
            self._ranker.config = config

    def warm(self) -> None:
        """Load what the first query would otherwise pay for: the embedding model, the vector store, the
        graph walk, the rarity of name words and the path words a title's scope is matched against. Call it at
        start-up in long-lived processes."""
        with self._lock:
            self._ranker.walk()
            self._ranker.name_word_rarity()
            self.reader.names.path_words  # a cached property: reading it builds it
            if self.use_vectors and self.reader.vector_coverage()[0] and self.reader.embedder is not None:
                self.rank("warm up")

    def close(self) -> None:
        self.reader.close()

    def refresh(self) -> bool:
        """Reload now if a re-index finished since the index was read (queries do this themselves); True when
        something was reloaded."""
        with self._lock:
            return self.reader.refresh()

    def __enter__(self) -> Retriever:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- queries

    def rank(self, query: str, extra_seeds: Mapping[str, tuple[float, str]] | None = None) -> Ranking:
        """Everything the ranker knows about a query: all ranked items with scores and evidence.
        ``extra_seeds`` (graph node → (weight, reason)) adds seeds of the caller's own ("hint" signal)."""
        with self._lock:
            self.reader.refresh()
            notice = self.vector_notice()
            stored, _ = self.reader.vector_coverage()
            # No vector to search: do not load the embedding model just to embed the query.
            ranking = self._ranker.rank(query, use_vectors=self.use_vectors and stored > 0, extra_seeds=extra_seeds)
            if notice:
                ranking.notes.insert(0, notice)
            return ranking

    def vector_notice(self) -> str | None:
        """"vector coverage 36 % (…)" while the vector tier is incomplete and vectors are in use, else None.
        Retrieval uses the vectors that exist; it never waits for the rest."""
        if not self.use_vectors:
            return None
        from ..status import coverage_percent

        stored, total = self.reader.vector_coverage()
        if stored >= total:
            return None
        return (f"vector coverage {coverage_percent(stored, total)} % ({stored:,} / {total:,} chunks have vectors); "
                f"run `assist index` to embed the rest")

    def search(self, query: str, top: int = 10, kind: str = "symbol") -> list[Hit]:
        """The ``top`` best symbols (``kind="symbol"``; file-level items have ``symbol=None``) or files
        (``kind="file"``), best first. Items in files deleted since indexing are left out."""
        if kind not in ("symbol", "file"):
            raise ValueError(f"kind must be 'symbol' or 'file', not {kind!r}")
        with self._lock:
            ranking = self.rank(query)
            if kind == "file":
                return self._file_hits(ranking, top)
            hits: list[Hit] = []
            for node in ranking.nodes:
                if len(hits) >= top:
                    break
                stale = self.reader.sources.is_stale(node.path)
                if stale is None:
                    continue
                self._ranker.explain_path(ranking, node)
                node.why.stale = stale
                start, end = self._span(node, stale)
                hits.append(Hit(node.path, node.symbol, node.kind, start, end, node.score, node.why))
            return hits

    def context(self, query: str, budget_tokens: int = DEFAULT_BUDGET, count_tokens: CountTokens | None = None) -> Pack:
        """The best code for ``query`` packed into ``budget_tokens``, counted with ``count_tokens``
        (default: the index's embedding-model tokenizer; pass a chat model's to count for that model)."""
        with self._lock:
            ranking = self.rank(query)
            for node in ranking.nodes[: self.config.pack_candidates]:
                self._ranker.explain_path(ranking, node)
            counter = count_tokens or self.count_tokens
            return Packer(self.reader, self.config, counter).pack(ranking, budget_tokens)

    def pack(self, ranking: Ranking, budget_tokens: int = DEFAULT_BUDGET,
             count_tokens: CountTokens | None = None) -> Pack:
        """Pack an existing ranking (from ``rank``) into ``budget_tokens``, as ``context`` does."""
        with self._lock:
            for node in ranking.nodes[: self.config.pack_candidates]:
                self._ranker.explain_path(ranking, node)
            counter = count_tokens or self.count_tokens
            return Packer(self.reader, self.config, counter).pack(ranking, budget_tokens)

    def count_tokens(self, text: str) -> int:
        """The default token counter: the index's embedding model tokenizer (a size estimate if unavailable)."""
        embedder = self.reader.embedder
        if embedder is not None:
            return embedder.count_tokens(text)
        from ..chunks import estimate_tokens

        return estimate_tokens(text)

    def node(self, node: str) -> NodeInfo:
        """What a node (an id as ``resolve`` returns it) is: kind, name, path, span, signature, parent."""
        with self._lock:
            return _node_info(self.reader.graph, node)

    def current_source(self, node: str) -> CurrentSource | None:
        """A node's code as its file is now; None for a directory or a file that is gone or no longer text."""
        with self._lock:
            return _current_source(self.reader, _node_info(self.reader.graph, node))

    def outline(self, path: str) -> list[tuple[int, int, str]]:
        """(line, depth, signature) of a file's top-level symbols and its top-level classes' methods."""
        with self._lock:
            return _outline(self.reader, path)

    def resolve(self, name: str) -> str:
        """The one node a user-typed symbol or file name means. Raises UnknownSymbol (with close matches)
        or AmbiguousSymbol (with the candidates)."""
        with self._lock:
            self.reader.refresh()
            found = self.reader.names.resolve(name)
            if not found:
                raise UnknownSymbol(name, self.reader.names.suggestions(name))
            if len(found) > 1:
                raise AmbiguousSymbol(name, found)
            return found[0]

    # ---------------------------------------------------------------------------- navigation

    def has_node(self, node: str) -> bool:
        """Whether ``node`` (an id: ``path``, ``path::Class.method``, a directory) is in the code graph."""
        with self._lock:
            return node in self.reader.graph

    def is_test_code(self, node: str) -> bool:
        """Whether ``node`` is a test file or anything defined in one (helpers and fixtures included)."""
        with self._lock:
            return node in self.reader.names.test_nodes

    def files_matching(self, written: str) -> list[str]:
        """The indexed files a path written elsewhere names (absolute, from another machine, or partial)."""
        with self._lock:
            return self.reader.names.files_matching(written)

    def symbol_at(self, path: str, line: int) -> str | None:
        """The innermost symbol of an indexed file whose indexed span holds ``line``."""
        with self._lock:
            return self.reader.names.symbol_at(path, line)

    def symbols_in(self, path: str) -> list[NodeInfo]:
        """Every symbol of an indexed file, nested ones included, by start line."""
        with self._lock:
            graph = self.reader.graph
            return [_node_info(graph, qname) for _, _, qname in self.reader.names.symbols_in(path)]

    def symbols_named(self, name: str) -> list[str]:
        """The symbols a bare (``reserve``) or dotted (``Item.reserve``, ``mod.func``) name defines."""
        with self._lock:
            names = self.reader.names
            return list(names.symbols_dotted(name) if "." in name else names.symbols_named(name))

    def edges_from(self, node: str, kinds: tuple[str, ...]) -> list[Neighbour]:
        """The nodes that edges of ``kinds`` (``calls``, ``tests``, ...) lead to from ``node``, in graph order."""
        with self._lock:
            return _navigate.linked(self.reader.graph, node, kinds)

    def edges_to(self, node: str, kinds: tuple[str, ...]) -> list[Neighbour]:
        """The nodes whose edges of ``kinds`` lead to ``node``, in graph order."""
        with self._lock:
            return _navigate.linked(self.reader.graph, node, kinds, incoming=True)

    def calls_in(self, path: str) -> list[Call] | None:
        """The call sites the parser saw in an indexed file (caller, callee as written, line); None when the
        index holds no parser record of it."""
        extract = self.reader.extract(path)
        return None if extract is None else list(extract.calls)

    def related(self, node: str, relation: str) -> list[Neighbour]:
        """One of ``RELATIONS`` of a node: its callers, callees, tests, bases, subclasses, imports, importers
        or contents. ValueError for another relation."""
        with self._lock:
            return _navigate.related(self.reader.graph, node, relation)

    def neighbourhood(self, node: str) -> Neighbourhood:
        """Everything one edge from a node, by relation, with the node's own record."""
        with self._lock:
            return _navigate.neighbourhood(self.reader.graph, node)

    def export_graph(self, fmt: str, around: str | None = None, depth: int = 1,
                     kinds: tuple[str, ...] | None = None) -> GraphExport:
        """The code graph as ``fmt`` (one of ``EXPORT_FORMATS``): whole, or the part within ``depth`` edges of
        ``kinds`` around the node ``around``."""
        with self._lock:
            return _navigate.export(self.reader.graph, fmt, around, depth, kinds)

    # ------------------------------------------------------------------------------- helpers

    def _span(self, node: RankedNode, stale: bool) -> tuple[int | None, int | None]:
        if stale and node.kind != FILE:
            # Lines as the file is now: the index's lines would point into the wrong code.
            current = _current_source(self.reader, _node_info(self.reader.graph, node.node))
            if current is not None and current.found:
                return current.start_line, current.end_line
            node.why.notes.append("no longer found in the current file; lines are from the index")
        if node.kind == FILE:
            chunk = self.reader.chunks.get(node.chunk) if node.chunk else None
            if chunk is not None and chunk.kind != "module":
                return chunk.start_line, chunk.end_line
            record = self.reader.files.get(node.path)
            return 1, record.line_count if record else None
        return node.start_line, node.end_line

    def _file_hits(self, ranking: Ranking, top: int) -> list[Hit]:
        by_file: dict[str, list[RankedNode]] = {}
        for node in ranking.nodes:
            by_file.setdefault(node.path, []).append(node)
        file_scores = self._ranker.file_scores(ranking.nodes)
        scored = []
        for path, nodes in by_file.items():
            nodes.sort(key=lambda n: -n.score)
            scored.append((file_scores[path], path, nodes))
        scored.sort(key=lambda t: (-t[0], t[1]))
        hits: list[Hit] = []
        for score, path, nodes in scored:
            if len(hits) >= top:
                break
            stale = self.reader.sources.is_stale(path)
            if stale is None:
                continue
            best = nodes[0]
            self._ranker.explain_path(ranking, best)
            why = Why(score=score, evidence=list(best.why.evidence), path=list(best.why.path),
                      path_end=best.why.path_end, stale=stale,
                      notes=["best symbols: " + ", ".join(n.node for n in nodes[:3])])
            record = self.reader.files.get(path)
            hits.append(Hit(path, None, FILE, 1, record.line_count if record else None, score, why))
        return hits

"""Typed views of the code graph for callers outside the retriever: what a node is, its code as the file is now,
and a file's outline — so no front end reads the graph's node dicts or the reader's source cache itself."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..model import CLASS, FILE
from .reader import IndexReader


@dataclass(frozen=True)
class NodeInfo:
    """One node of the code graph: a file, a directory ("module") or a symbol."""

    node: str
    kind: str
    name: str
    path: str
    start_line: int | None
    end_line: int | None
    signature: str | None
    docstring: str | None
    language: str | None
    parent: str | None
    """The node that contains it (a class for a method, a file for a top-level function), if any."""
    is_test: bool = False
    """The graph's flag: a test file, or a test function or class in one (its helpers are not)."""
    unresolved_calls: tuple[str, ...] = ()
    """Calls written in it that the graph could not resolve to a definition (``obj.method`` on a local)."""


@dataclass(frozen=True)
class CurrentSource:
    """A node's code as the file is now: for a file whose content changed since indexing, a symbol's lines are
    found again in the current text (``stale``)."""

    info: NodeInfo
    start_line: int
    end_line: int
    lines: list[str]
    stale: bool
    found: bool = True
    """False when a changed file no longer holds the symbol (the lines are then the indexed span)."""


def node_info(graph: nx.MultiDiGraph, node: str) -> NodeInfo:
    data = graph.nodes[node]
    parents = [source for source, _, key in graph.in_edges(node, keys=True) if key == "contains"]
    path = data.get("path") or node
    language = data.get("language") or (graph.nodes[path].get("language") if path in graph else None)
    return NodeInfo(node, data.get("kind", ""), data.get("name") or node, path, _line(data.get("start_line")),
                    _line(data.get("end_line")), data.get("signature"), data.get("docstring"), language,
                    parents[0] if parents else None, bool(data.get("is_test")),
                    tuple(data.get("unresolved_calls") or ()))


def current_source(reader: IndexReader, info: NodeInfo) -> CurrentSource | None:
    """None for a directory, or a file that is gone or no longer text."""
    if info.kind == "module":
        return None
    source = reader.sources.get(info.path)
    if source is None:
        return None
    found = True
    if info.kind == FILE or info.start_line is None:
        first, last = 1, len(source.lines)
    else:
        first, last = info.start_line, info.end_line or info.start_line
        if source.stale:
            fresh = reader.sources.fresh_symbols(source).get(info.node)
            if fresh is None:
                found = False
            else:
                first, last = fresh.start_line, fresh.end_line
    return CurrentSource(info, first, last, source.slice(first, last), source.stale, found)


def outline(reader: IndexReader, path: str) -> list[tuple[int, int, str]]:
    """(line, depth, signature) of what a reader navigates a file by: its top-level symbols and the methods of its
    top-level classes (nested functions left out)."""
    graph = reader.graph
    entries = []
    for start, _, qname in reader.names.symbols_in(path):
        data = graph.nodes[qname]
        parent = data.get("parent")
        if parent is not None and (graph.nodes[parent].get("kind") != CLASS or graph.nodes[parent].get("parent")):
            continue
        signature = " ".join((data.get("signature") or data.get("name") or qname).split())
        entries.append((start, 0 if parent is None else 1, signature))
    return entries


def _line(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()) else None

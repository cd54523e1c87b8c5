"""Walking the code graph around one node (callers, callees, tests, neighbourhood) and exporting it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import networkx as nx

from ..model import CALLS, CLASS, CONTAINS, EDGE_KINDS, FILE, IMPORTS, INHERITS, MODULE, TESTS
from .nodes import NodeInfo, node_info

EXPORT_FORMATS = ("json", "graphml", "dot")
# What ``related`` answers: the callers, callees and tests of a node, or one section of its neighbourhood.
RELATIONS = ("callers", "callees", "tests", "subclasses", "bases", "imports", "imported_by", "contains")


@dataclass
class Neighbour:
    node: str
    kind: str  # the neighbour's node kind
    path: str | None
    start_line: int | None
    end_line: int | None
    edge: str  # edge kind
    line: int | None = None  # where the call is written (calls edges)
    detail: str | None = None  # resolution of a call, "via" of a tests edge

    def to_json(self) -> dict:
        return {
            "symbol": None if self.kind in (FILE, MODULE) else self.node,
            "node": self.node,
            "kind": self.kind,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "edge": self.edge,
            "line": self.line,
            "detail": self.detail,
        }


def _neighbour(graph: nx.MultiDiGraph, node: str, kind: str, attrs: dict) -> Neighbour:
    data = graph.nodes[node]
    return Neighbour(
        node=node,
        kind=data.get("kind", ""),
        path=data.get("path"),
        start_line=data.get("start_line"),
        end_line=data.get("end_line"),
        edge=kind,
        line=attrs.get("line"),
        detail=attrs.get("resolution") or attrs.get("via"),
    )


def _incoming(graph: nx.MultiDiGraph, node: str, kind: str) -> list[Neighbour]:
    found = [_neighbour(graph, source, kind, attrs) for source, _, key, attrs in graph.in_edges(node, keys=True, data=True)
             if key == kind]
    return sorted(found, key=lambda n: (n.path or "", n.line or 0, n.node))


def _outgoing(graph: nx.MultiDiGraph, node: str, kind: str) -> list[Neighbour]:
    found = [_neighbour(graph, target, kind, attrs) for _, target, key, attrs in graph.out_edges(node, keys=True, data=True)
             if key == kind]
    return sorted(found, key=lambda n: (n.line or 0, n.node))


def linked(graph: nx.MultiDiGraph, node: str, kinds: tuple[str, ...], incoming: bool = False) -> list[Neighbour]:
    """The nodes joined to ``node`` by an edge of ``kinds`` (leaving it, or with ``incoming`` reaching it), in the
    graph's own order."""
    if incoming:
        return [_neighbour(graph, source, key, attrs)
                for source, _, key, attrs in graph.in_edges(node, keys=True, data=True) if key in kinds]
    return [_neighbour(graph, target, key, attrs)
            for _, target, key, attrs in graph.out_edges(node, keys=True, data=True) if key in kinds]


def callers(graph: nx.MultiDiGraph, node: str) -> list[Neighbour]:
    """Who calls ``node`` (for a class: who constructs it)."""
    return _incoming(graph, node, CALLS)


def callees(graph: nx.MultiDiGraph, node: str) -> list[Neighbour]:
    """What ``node`` calls; for a file, what its module-level code calls."""
    return _outgoing(graph, node, CALLS)


def members(graph: nx.MultiDiGraph, node: str) -> list[str]:
    """``node`` and every symbol it contains, recursively (a file's or class's whole content)."""
    found = [node]
    stack = [node]
    while stack:
        current = stack.pop()
        for _, child, key in graph.out_edges(current, keys=True):
            if key == CONTAINS and graph.nodes[child].get("kind") not in (FILE, MODULE):
                found.append(child)
                stack.append(child)
    return found


def tests_for(graph: nx.MultiDiGraph, node: str) -> list[Neighbour]:
    """Tests that exercise ``node``: test functions calling it, and test files importing its file. For a
    class or file, tests of anything inside it count too."""
    targets = members(graph, node)
    data = graph.nodes[node]
    if data.get("kind") != FILE and data.get("path") in graph:
        targets.append(data["path"])  # a test importing the symbol's file
    seen: set[str] = set()
    found: list[Neighbour] = []
    for target in targets:
        for neighbour in _incoming(graph, target, TESTS):
            if neighbour.node not in seen:
                seen.add(neighbour.node)
                if target != node:
                    neighbour.detail = f"{neighbour.detail or 'tests'} {target}"
                found.append(neighbour)
    return sorted(found, key=lambda n: (n.kind == FILE, n.path or "", n.start_line or 0, n.node))


@dataclass
class Neighbourhood:
    node: str
    info: NodeInfo
    contains: list[Neighbour] = field(default_factory=list)
    calls: list[Neighbour] = field(default_factory=list)
    called_by: list[Neighbour] = field(default_factory=list)
    bases: list[Neighbour] = field(default_factory=list)
    subclasses: list[Neighbour] = field(default_factory=list)
    imports: list[Neighbour] = field(default_factory=list)
    imported_by: list[Neighbour] = field(default_factory=list)
    tests: list[Neighbour] = field(default_factory=list)

    _attrs: dict = field(default_factory=dict, repr=False)  # the node's graph attributes, for ``to_json`` only

    SECTIONS = ("contains", "calls", "called_by", "bases", "subclasses", "imports", "imported_by", "tests")

    def to_json(self) -> dict:
        keep = ("kind", "name", "path", "language", "start_line", "end_line", "signature", "docstring", "is_test",
                "unresolved_calls")
        result = {"node": self.node, **{k: self._attrs.get(k) for k in keep if k in self._attrs},
                  "parent": self.info.parent}
        for section in self.SECTIONS:
            result[section] = [n.to_json() for n in getattr(self, section)]
        return result


def neighbourhood(graph: nx.MultiDiGraph, node: str) -> Neighbourhood:
    info = node_info(graph, node)
    hood = Neighbourhood(node, info, _attrs=dict(graph.nodes[node]))
    hood.contains = sorted(_outgoing(graph, node, CONTAINS), key=lambda n: (n.start_line or 0, n.node))
    hood.calls = callees(graph, node)
    hood.called_by = callers(graph, node)
    hood.bases = _outgoing(graph, node, INHERITS)
    hood.subclasses = _incoming(graph, node, INHERITS)
    hood.imports = _outgoing(graph, node, IMPORTS)
    hood.imported_by = _incoming(graph, node, IMPORTS)
    hood.tests = tests_for(graph, node) if info.kind in (FILE, CLASS, "function", "method") else []
    return hood


def related(graph: nx.MultiDiGraph, node: str, relation: str) -> list[Neighbour]:
    """One of ``RELATIONS`` of ``node``; ValueError names the relations for any other."""
    if relation == "callers":
        return callers(graph, node)
    if relation == "callees":
        return callees(graph, node)
    if relation == "tests":
        return tests_for(graph, node)
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r}: use one of {', '.join(RELATIONS)}")
    return getattr(neighbourhood(graph, node), relation)


# ------------------------------------------------------------------------------------ export


def around(graph: nx.MultiDiGraph, node: str, depth: int = 1, kinds: tuple[str, ...] | None = None) -> nx.MultiDiGraph:
    """The part of ``graph`` within ``depth`` edges of ``node``, whichever way the edges point (a caller is as near
    as a callee), keeping only edges of ``kinds`` (all kinds when None): a neighbourhood small enough to draw and
    read, where the whole repository's graph is not."""
    kinds = tuple(kinds or EDGE_KINDS)
    reached = {node}
    frontier = {node}
    for _ in range(depth):
        step: set[str] = set()
        for current in frontier:
            step.update(t for _, t, k in graph.out_edges(current, keys=True) if k in kinds)
            step.update(s for s, _, k in graph.in_edges(current, keys=True) if k in kinds)
        frontier = step - reached
        reached |= frontier
        if not frontier:
            break
    ordered = sorted(reached)  # the same export for the same graph, run after run
    part = nx.MultiDiGraph()
    part.add_nodes_from((n, graph.nodes[n]) for n in ordered)
    part.add_edges_from((s, t, k, d) for s, t, k, d in graph.edges(ordered, keys=True, data=True)
                        if k in kinds and t in reached)
    part.graph["around"] = node  # the centre, drawn highlighted in DOT
    return part


@dataclass(frozen=True)
class GraphExport:
    """The code graph, or a part of it, written out in one of ``EXPORT_FORMATS``."""

    text: str
    nodes: int
    edges: int


def export(graph: nx.MultiDiGraph, fmt: str, centre: str | None = None, depth: int = 1,
           kinds: tuple[str, ...] | None = None) -> GraphExport:
    """The whole graph, or with ``centre`` the part ``around`` it, as ``fmt`` text."""
    part = graph if centre is None else around(graph, centre, depth=depth, kinds=kinds)
    return GraphExport(export_graph(part, fmt), part.number_of_nodes(), part.number_of_edges())


def export_graph(graph: nx.MultiDiGraph, fmt: str) -> str:
    """The graph as node-link JSON, GraphML or Graphviz DOT text."""
    if fmt == "json":
        data = nx.node_link_data(graph, edges="edges")
        return json.dumps(data, indent=1, default=_jsonable)
    if fmt == "graphml":
        import io

        buffer = io.BytesIO()
        nx.write_graphml(_graphml_ready(graph), buffer, encoding="utf-8")
        return buffer.getvalue().decode("utf-8")
    if fmt == "dot":
        return _dot(graph)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")


def _jsonable(value: object) -> object:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _scalar(value: object) -> object | None:
    """GraphML holds scalars only: lists become JSON text, None is left out."""
    if value is None:
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, default=_jsonable)


def _graphml_ready(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    ready = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        ready.add_node(node, **{k: v for k, v in ((k, _scalar(v)) for k, v in data.items()) if v is not None})
    for source, target, key, data in graph.edges(keys=True, data=True):
        ready.add_edge(source, target, key=key, **{k: v for k, v in ((k, _scalar(v)) for k, v in data.items())
                                                 if v is not None})
    return ready


def _dot_quote(text: object) -> str:
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_DOT_SHAPES = {MODULE: "folder", FILE: "note", CLASS: "box", "function": "ellipse", "method": "ellipse"}


def _dot(graph: nx.MultiDiGraph) -> str:
    lines = ["digraph code {", "  rankdir=LR;", "  node [fontsize=10];"]
    centre = graph.graph.get("around")
    for node, data in graph.nodes(data=True):
        kind = data.get("kind", "")
        label = data.get("name") or node
        # A neighbourhood names its centre in full and fills it, so the reader finds where to start.
        focus = ", style=filled, fillcolor=lightyellow" if node == centre else ""
        if node == centre:
            label = node
        lines.append(f"  {_dot_quote(node)} [label={_dot_quote(label)}, shape={_DOT_SHAPES.get(kind, 'ellipse')}, "
                     f"kind={_dot_quote(kind)}{focus}];")
    styles = {CONTAINS: "dotted", IMPORTS: "dashed", CALLS: "solid", INHERITS: "bold", TESTS: "dashed"}
    for source, target, key in graph.edges(keys=True):
        lines.append(f"  {_dot_quote(source)} -> {_dot_quote(target)} [label={_dot_quote(key)}, "
                     f"style={styles.get(key, 'solid')}];")
    lines.append("}")
    return "\n".join(lines) + "\n"

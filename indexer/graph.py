"""The code graph: directories, files and symbols as nodes; contains/imports/calls/inherits/tests as edges.

Built from per-file extracts only (no parsing here), so an incremental index can rebuild it from cached
extracts. Every node is keyed by a path or a qualified name, never by a bare identifier. What an import
or a name refers to is decided in ``indexer/resolve/``; this module turns the answers into edges.
"""

from __future__ import annotations

import gc
import gzip
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import networkx as nx

from .model import (
    CALLS,
    CLASS,
    CONTAINS,
    EDGE_KINDS,
    FILE,
    FUNCTION,
    IMPORTS,
    INHERITS,
    METHOD,
    MODULE,
    TESTS,
    FileExtract,
    Symbol,
    split_qualified_name,
)
from .safe_fs import atomic_write

if TYPE_CHECKING:
    from .resolve import Resolver
    from .resolve.manifests import Manifests

ROOT = "."


# ---------------------------------------------------------------------------------------------- tests


def is_test_path(path: str) -> bool:
    """Whether a repo-relative path is test code by the usual conventions of its language."""
    pure = PurePosixPath(path)
    name = pure.name
    directories = pure.parts[:-1]
    if "tests" in directories or "test" in directories or "__tests__" in directories:
        return True
    if "/src/test/" in f"/{path}":
        return True
    if name.endswith(".py") or name.endswith(".pyi"):
        return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    if name.endswith("_test.go"):
        return True
    return bool(re.search(r"\.(test|spec)\.[cm]?[jt]sx?$", name))


# Tests that a language marks on the definition itself, wherever its file is: `#[test]`/`#[tokio::test]`, JUnit's
# and TestNG's `@Test` and its JUnit 5 relatives. Extractors keep them in the signature, before the name.
_TEST_MARKERS = {
    "rust": re.compile(r"#\[(?:[\w:]+::)?test[\](]"),
    "java": re.compile(r"@(?:[\w.]+\.)?(?:Test|ParameterizedTest|RepeatedTest|TestFactory|TestTemplate)\b"),
}
# Code that only exists in test builds: everything inside Rust's `#[cfg(test)] mod tests`.
_TEST_ONLY_SCOPE = {"rust": re.compile(r"#\[cfg\(test\)\]")}
# Languages whose test files hold their tests in anonymous callbacks (`it("adds", () => ...)`): the file itself
# is the test that calls what they call.
_FILE_LEVEL_TESTS = frozenset({"javascript", "typescript", "tsx"})


def _is_test_symbol(symbol: Symbol, parent: Symbol | None, in_test_file: bool) -> bool:
    if symbol.kind == CLASS:
        return False
    marker = _TEST_MARKERS.get(symbol.language)
    if marker is not None and marker.search(symbol.signature):
        return True
    if not in_test_file:
        return False
    if symbol.name.startswith(("test", "Test")):
        return True
    return (
        symbol.kind == METHOD
        and parent is not None
        and (parent.name.startswith("Test") or parent.name.endswith(("Test", "Tests")))
    )


# ------------------------------------------------------------------------------------------ builder


def _dirname(path: str) -> str:
    head, _, _ = path.rpartition("/")
    return head or ROOT


class _GraphBuilder:
    """Nodes and contains edges from the extracts; imports, calls, inherits and tests edges from what
    ``Resolvers`` finds the names in them mean."""

    def __init__(self, extracts: Mapping[str, FileExtract], other_files: Iterable[str], manifests: Manifests | None):
        self.extracts = extracts
        self.other_files = [f for f in other_files if f not in extracts]
        self.graph = nx.MultiDiGraph()
        self.symbols: dict[str, Symbol] = {}
        for extract in extracts.values():
            for symbol in extract.symbols:
                self.symbols.setdefault(symbol.qname, symbol)
        self.test_files = {path for path in (*extracts, *self.other_files) if is_test_path(path)}
        from .resolve import Resolvers  # here: every command that only loads a graph skips importing them

        self.resolvers = Resolvers(extracts, self.symbols, self.other_files, manifests)
        self.unresolved: dict[str, dict[str, None]] = {}  # node -> callees, ordered and unique
        self.test_code: set[str] = set()  # symbols that tests are made of: never the target of a tests edge

    def build(self) -> nx.MultiDiGraph:
        self._add_structure()
        for path, extract in self.extracts.items():
            self._imports(path, extract)
        for path, extract in self.extracts.items():
            self._inheritance(path, extract)
        self.resolvers.forget_lookups()
        for path, extract in self.extracts.items():
            self._calls(path, extract)
        for path in self.test_files:
            for target in self.resolvers.imported_files(path):
                if target not in self.test_files:
                    self._edge(path, target, TESTS, via="import")
        for node, callees in self.unresolved.items():
            self.graph.nodes[node]["unresolved_calls"] = list(callees)
        return self.graph

    def _edge(self, source: str, target: str, kind: str, **attrs: object) -> bool:
        if self.graph.has_edge(source, target, key=kind):
            return False
        self.graph.add_edge(source, target, key=kind, kind=kind, **attrs)
        return True

    def _add_structure(self) -> None:
        graph = self.graph
        graph.add_node(ROOT, kind=MODULE, name=ROOT, path=ROOT, **_NO_SPAN)
        all_files = [*self.extracts, *self.other_files]
        for path in all_files:
            directory = self._add_directories(_dirname(path))
            extract = self.extracts.get(path)
            language = extract.language if extract is not None else None
            graph.add_node(
                path,
                kind=FILE,
                name=path.rpartition("/")[2],
                path=path,
                language=language,
                start_line=1,
                end_line=extract.line_count if extract is not None else None,
                signature="",
                docstring=extract.module_docstring if extract is not None else None,
                module=self.resolvers.module_of(path),
                is_test=path in self.test_files,
                has_errors=extract.has_errors if extract is not None else False,
                external_imports=[],
            )
            self._edge(directory, path, CONTAINS)
        for qname, symbol in self.symbols.items():
            parent = self.symbols.get(symbol.parent) if symbol.parent else None
            graph.add_node(
                qname,
                kind=symbol.kind,
                name=symbol.name,
                path=symbol.path,
                language=symbol.language,
                start_line=symbol.start_line,
                end_line=symbol.end_line,
                start_byte=symbol.start_byte,
                end_byte=symbol.end_byte,
                signature=symbol.signature,
                docstring=symbol.docstring,
                parent=symbol.parent,
                is_test=_is_test_symbol(symbol, parent, symbol.path in self.test_files),
            )
            if graph.nodes[qname]["is_test"] or self._in_test_code(symbol):
                self.test_code.add(qname)
                if symbol.path not in self.test_files:
                    # Test code in a source file (Rust's `#[cfg(test)] mod tests`, a `#[test]` function): retrieval
                    # weighs it as test code, as it does a test file. Set only where true, to keep the graph small.
                    graph.nodes[qname]["test_code"] = True
        for qname, symbol in self.symbols.items():
            container = symbol.parent if symbol.parent in self.symbols else symbol.path
            self._edge(container, qname, CONTAINS)
        # A package directory is described by its __init__ docstring.
        for path in self.resolvers.package_files():
            docstring = graph.nodes[path].get("docstring")
            if docstring:
                graph.nodes[_dirname(path)]["docstring"] = docstring

    def _in_test_code(self, symbol: Symbol) -> bool:
        """In a test file, or inside a scope that only test builds compile."""
        if symbol.path in self.test_files:
            return True
        scope = _TEST_ONLY_SCOPE.get(symbol.language)
        current: Symbol | None = symbol
        for _ in range(100):  # parents form a tree; the bound only guards against a malformed extract
            if scope is None or current is None:
                return False
            if scope.search(current.signature):
                return True
            current = self.symbols.get(current.parent) if current.parent else None
        return False

    def _add_directories(self, directory: str) -> str:
        graph = self.graph
        if directory in graph:
            return directory
        parent = self._add_directories(_dirname(directory)) if directory != ROOT else None
        graph.add_node(directory, kind=MODULE, name=directory.rpartition("/")[2], path=directory, **_NO_SPAN)
        if parent is not None:
            self._edge(parent, directory, CONTAINS)
        return directory

    # ------------------------------------------------------------------------------ edges from names

    def _imports(self, path: str, extract: FileExtract) -> None:
        imported = self.resolvers.imports(path, extract)
        for target in imported.files:
            if target in imported.via:  # resolved through go.mod, Cargo.toml, package.json or tsconfig.json
                self._edge(path, target, IMPORTS, via=imported.via[target])
            else:
                self._edge(path, target, IMPORTS)
        if imported.external:
            self.graph.nodes[path]["external_imports"] = imported.external

    def _inheritance(self, path: str, extract: FileExtract) -> None:
        resolver = self.resolvers.for_language(extract.language)
        for inheritance in extract.inherits:
            cls = self.symbols.get(inheritance.cls)
            if cls is None and extract.language == "rust":
                cls = self._impl_target(path, inheritance.cls, resolver)
            if cls is None:
                continue
            scope_owner = cls.parent if cls.parent in self.symbols else path
            found = resolver.resolve(path, scope_owner, inheritance.base, True)
            if found is None or found[0] == cls.qname or self.symbols[found[0]].kind != CLASS:
                continue
            if self._edge(cls.qname, found[0], INHERITS, line=inheritance.line):
                self.resolvers.add_base(cls.qname, found[0])

    def _impl_target(self, path: str, written: str, resolver: Resolver) -> Symbol | None:
        """The type a Rust ``impl Trait for Type`` block names when ``Type`` is defined in another file."""
        found = resolver.resolve(path, path, split_qualified_name(written)[1].replace(".", "::"), True)
        return self.symbols[found[0]] if found is not None else None

    def _calls(self, path: str, extract: FileExtract) -> None:
        resolver = self.resolvers.for_language(extract.language)
        edges = self.graph.edges
        # The same callee is often called many times from one body (self.assertEqual): resolve it once.
        resolved: dict[tuple[str, str], tuple[str, str] | None] = {}
        for call in extract.calls:
            caller = call.caller if call.caller in self.symbols else path
            key = (caller, call.callee)
            if key in resolved:
                found = resolved[key]
                if found is not None:
                    edges[caller, found[0], CALLS]["count"] += 1
                continue
            found = resolved[key] = resolver.resolve(path, caller, call.callee, False)
            if found is None:
                if not resolver.is_builtin(call.callee):
                    self.unresolved.setdefault(caller, {})[call.callee] = None
                continue
            target, resolution = found
            if not self._edge(caller, target, CALLS, resolution=resolution, line=call.line, count=1):
                # Another callee text reached the same target (e.g. `fmt` and `helpers.fmt`).
                edges[caller, target, CALLS]["count"] += 1
                continue
            if target not in self.test_code and self._is_test(caller, path, extract.language):
                self._edge(caller, target, TESTS, via="call")

    def _is_test(self, caller: str, path: str, language: str) -> bool:
        """Whether a call made in ``caller`` (a symbol, or file ``path`` itself) is a test exercising its callee."""
        if caller in self.symbols:
            return self.graph.nodes[caller]["is_test"]
        return language in _FILE_LEVEL_TESTS and path in self.test_files


_NO_SPAN = {
    "language": None,
    "start_line": None,
    "end_line": None,
    "signature": "",
    "docstring": None,
}


def build_graph(extracts: Mapping[str, FileExtract], other_files: Iterable[str] = (),
                manifests: Manifests | None = None) -> nx.MultiDiGraph:
    """The repository's code graph from per-file extracts (keyed by repo-relative path) plus plain-text
    files that get file nodes only; ``manifests`` (``indexer.resolve.manifests.read_manifests``) let imports
    resolve through go.mod, Cargo.toml, package.json, tsconfig.json and pom.xml."""
    return _GraphBuilder(extracts, other_files, manifests).build()


# --------------------------------------------------------------------------------- persistence
# The graph is stored as gzip'd JSON, never pickle: a cloned repository can ship its own `.assist/`, and
# unpickling a file runs whatever code it names. gzip's CRC also turns a torn or scribbled file into a
# clean error. Every field is checked on load: a file that does not validate is damage, not a crash.

GRAPH_FORMAT = "assist-code-graph"
GRAPH_FORMAT_VERSION = 1
_NODE_KINDS = frozenset({FILE, MODULE, CLASS, FUNCTION, METHOD})


class GraphUnreadable(ValueError):
    """The graph file is not a code graph we wrote (truncated, garbage, or another format)."""


def save_graph(graph: nx.MultiDiGraph, path: Path) -> None:
    """Write atomically: a crash leaves the previous graph, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    position = {node: index for index, node in enumerate(graph)}
    document = {
        "format": GRAPH_FORMAT,
        "version": GRAPH_FORMAT_VERSION,
        "nodes": [[node, attrs] for node, attrs in graph.nodes(data=True)],
        # Ends by node position, and no "kind" (it is the key): qualified names are long, and repeating
        # them per edge made the file twice the size and the load a third slower.
        "edges": [
            [position[source], position[target], key, {k: v for k, v in attrs.items() if k != "kind"}]
            for source, target, key, attrs in graph.edges(keys=True, data=True)
        ],
    }
    # mtime=0: the same graph gives the same bytes; level 1: a fifth of the size at little cost.
    data = gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), compresslevel=1, mtime=0)
    atomic_write(path, data, mode=0o600)  # 0o600: the mode the graph always had


def load_graph(path: Path) -> nx.MultiDiGraph:
    """Raises OSError when the file cannot be opened, GraphUnreadable when it is not a valid graph."""
    with open(path, "rb") as handle:
        raw = handle.read()
    # Millions of small objects and no cycles among them: the cyclic collector would only rescan them
    # over and over (it took half the load time on a 100k-node graph).
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            document = _json_loads(gzip.decompress(raw))
        except (OSError, EOFError, ValueError, zlib.error, RecursionError) as exc:
            raise GraphUnreadable(f"{Path(path).name} is not a readable code graph ({exc})") from None
        try:
            return _graph_from_document(document)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise GraphUnreadable(f"{Path(path).name} does not hold a valid code graph ({exc})") from None
    finally:
        if collecting:
            gc.enable()


def _graph_from_document(document: object) -> nx.MultiDiGraph:
    """Check every entry while filling networkx's own tables: retrieval loads the graph on every one-shot
    command, and going through add_edges_from doubled the load time (tests/test_graph.py checks the
    result equals the saved graph, so a networkx upgrade that changes these tables fails there)."""
    if not isinstance(document, dict) or document.get("format") != GRAPH_FORMAT:
        raise ValueError("not an assist code graph")
    if document.get("version") != GRAPH_FORMAT_VERSION:
        raise ValueError(f"graph format version {document.get('version')!r}, expected {GRAPH_FORMAT_VERSION}")
    nodes, edges = document["nodes"], document["edges"]
    if type(nodes) is not list or type(edges) is not list:
        raise ValueError("nodes and edges must be lists")
    graph = nx.MultiDiGraph()
    node_table, successors, predecessors = graph._node, graph._succ, graph._pred
    for entry in nodes:
        if type(entry) is not list or len(entry) != 2 or type(entry[0]) is not str:
            raise ValueError("a node entry is not [id, attributes]")
        node, attrs = entry
        _check_attrs(attrs)
        if attrs.get("kind") not in _NODE_KINDS:
            raise ValueError(f"node {node!r} has no valid kind")
        if node in node_table:
            raise ValueError(f"node {node!r} appears twice")
        node_table[node] = attrs
        successors[node] = {}
        predecessors[node] = {}
    names = list(node_table)
    count = len(names)
    for entry in edges:
        if type(entry) is not list or len(entry) != 4:
            raise ValueError("an edge entry is not [source, target, kind, attributes]")
        source, target, key, attrs = entry
        if type(source) is not int or type(target) is not int or not (0 <= source < count and 0 <= target < count):
            raise ValueError(f"an edge names a node that is not in the graph ({source!r} -> {target!r})")
        if key not in _EDGE_KINDS:
            raise ValueError(f"an edge has an unknown kind {key!r}")
        _check_attrs(attrs)
        attrs["kind"] = key
        source, target = names[source], names[target]
        by_key = successors[source].get(target)
        if by_key is None:
            # networkx shares one key dict between the successor and the predecessor table.
            by_key = successors[source][target] = predecessors[target][source] = {}
        elif key in by_key:
            raise ValueError(f"edge {source!r} -> {target!r} ({key}) appears twice")
        by_key[key] = attrs
    return graph


def _check_attrs(attrs: object) -> None:
    """Values are JSON scalars of the type retrieval expects, or lists of strings."""
    if type(attrs) is not dict:
        raise ValueError("attributes are not an object")
    allowed = _ATTR_TYPES.get
    for name, value in attrs.items():
        kind = type(value)
        if kind not in allowed(name, _ANY_TYPES) or (kind is list and not all(type(i) is str for i in value)):
            raise ValueError(f"attribute {name!r} has a value of the wrong type ({kind.__name__})")


_NONE = type(None)
_ANY_TYPES = frozenset({str, int, float, bool, _NONE, list})
_WHOLE = frozenset({int, _NONE})
_TEXT = frozenset({str, _NONE})
# What retrieval does arithmetic or string work on: a wrong type there would fail a query, not the load.
_ATTR_TYPES = {
    **dict.fromkeys(("start_line", "end_line", "start_byte", "end_byte", "line", "count"), _WHOLE),
    **dict.fromkeys(("kind", "name", "path", "language", "signature", "docstring", "parent", "module",
                     "resolution", "via"), _TEXT),
    **dict.fromkeys(("is_test", "test_code", "has_errors"), frozenset({bool})),
    **dict.fromkeys(("unresolved_calls", "external_imports"), frozenset({list})),
}
_EDGE_KINDS = frozenset(EDGE_KINDS)

try:  # chromadb depends on orjson, which parses the graph about twice as fast as the standard library
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover
    _json_loads = json.loads


def edge_counts(graph: nx.MultiDiGraph) -> dict[str, int]:
    """Number of edges of each kind (every kind present, zero included)."""
    counts = dict.fromkeys(EDGE_KINDS, 0)
    for _, _, kind in graph.edges(keys=True):
        counts[kind] = counts.get(kind, 0) + 1
    return counts

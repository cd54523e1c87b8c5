"""Overloads and other names defined twice in one scope (issue 15, item 0): every definition gets a key of its
own in the graph, the chunk ids and the lexical index, a bare-name mention still finds them all, and no input
file can make two chunks share an id, through the real extractors, graph builder, chunker and pipeline."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from support import run_assist
from indexer.chunks import chunk_file
from indexer.extract import extract_file
from indexer.graph import build_graph, load_graph
from indexer.languages import language_for_path
from indexer.pipeline import index_repository
from indexer.retrieval.names import NameIndex
from indexer.state_dir import StateDir
from indexer.store import IndexState
from indexer.vectors import VectorStore

# Worst cases, one file per language: overloads on consecutive lines and on one line, duplicate definitions,
# nested definitions of the same name inside each duplicate, getters and setters, reopened namespaces.
WORST_CASES = {
    "src/main/java/demo/Delegate.java": """\
        package demo;

        public class Delegate {
            private final Delegate inner;
            @Override public boolean equals(int a) { return inner.equals(a); }
            @Override public boolean equals(int a, int b) { return inner.equals(a, b); }
            @Override public int size() { return inner.size(); }
            public int get(int a) { return a; } public int get(long a) { return 1; } public int get() { return 0; }
            class Node { void visit() {} }
            class Node { void visit() {} }
        }
        """,
    "src/shapes.cpp": """\
        namespace geo { int area(int w) { return w; } }
        namespace geo { int area(int w, int h) { return w * h; } }
        struct Box { int size(); int size(int scale); };
        int Box::size() { return 1; }
        int Box::size(int scale) { return scale; }
        #ifdef FAST
        int twice(int x) { return x + x; }
        #else
        int twice(int x) { return 2 * x; }
        #endif
        """,
    "web/temperature.ts": """\
        export class Temperature {
          private c = 0;
          get celsius(): number { return this.c; }
          set celsius(value: number) { this.c = value; }
        }
        function pick(a: string): string { return a; } function pick(a: number): string { return String(a); }
        """,
    "pkg/events.py": """\
        from typing import overload


        class Event:
            @property
            def name(self) -> str:
                return self._name

            @name.setter
            def name(self, value: str) -> None:
                self._name = value


        @overload
        def parse(raw: str) -> Event: ...
        @overload
        def parse(raw: bytes) -> Event: ...
        def parse(raw):
            def helper():
                return Event()
            return helper()


        def parse(raw):
            def helper():
                return None
            return helper()
        """,
    "src/lib.rs": """\
        pub struct Meters(f64);
        impl std::fmt::Display for Meters { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { Ok(()) } }
        impl std::fmt::Debug for Meters { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { Ok(()) } }
        """,
    "cmd/setup.go": """\
        package main

        func init() { register() }
        func init() { register() }
        func register() {}
        """,
}


def extract(path: str, source: str):
    return extract_file(path, textwrap.dedent(source).encode("utf-8"), language_for_path(path))


def qnames(path: str) -> list[str]:
    return [s.qname.partition("::")[2] for s in extract(path, WORST_CASES[path]).symbols]


def write_repo(root: Path) -> Path:
    for path, source in WORST_CASES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source), encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_each_overload_and_redefinition_gets_a_key_of_its_own_the_first_keeping_the_name():
    assert qnames("src/main/java/demo/Delegate.java") == [
        "Delegate", "Delegate.equals", "Delegate.equals~2", "Delegate.size",
        "Delegate.get", "Delegate.get~2", "Delegate.get~3",
        "Delegate.Node", "Delegate.Node.visit", "Delegate.Node~2", "Delegate.Node~2.visit",
    ]
    # A reopened namespace is one scope: its second block adds members, not a second namespace.
    assert qnames("src/shapes.cpp") == [
        "geo", "geo.area", "geo.area~2", "Box", "Box.size", "Box.size~2", "twice", "twice~2",
    ]
    assert qnames("web/temperature.ts") == [
        "Temperature", "Temperature.celsius", "Temperature.celsius~2", "pick", "pick~2",
    ]
    assert qnames("pkg/events.py") == [
        "Event", "Event.name", "Event.name~2", "parse", "parse~2", "parse~3", "parse~3.helper",
        "parse~4", "parse~4.helper",
    ]
    assert qnames("src/lib.rs") == ["Meters", "Meters.fmt", "Meters.fmt~2"]
    assert qnames("cmd/setup.go") == ["init", "init~2", "register"]


def test_keys_are_stable_from_one_parse_to_the_next():
    for path, source in WORST_CASES.items():
        first = [(s.qname, s.start_line) for s in extract(path, source).symbols]
        assert [(s.qname, s.start_line) for s in extract(path, source).symbols] == first


def test_the_graph_has_a_node_per_overload_each_calling_from_its_own_body():
    extracts = {path: extract(path, source) for path, source in WORST_CASES.items()}
    graph = build_graph(extracts)
    java = "src/main/java/demo/Delegate.java::Delegate"
    for member in ("equals", "equals~2", "get", "get~2", "get~3", "Node", "Node~2"):
        assert graph.has_edge(java, f"{java}.{member}", "contains")
        assert graph.nodes[f"{java}.{member}"]["name"] == member.partition("~")[0]
    assert graph.nodes[f"{java}.equals~2"]["start_line"] == 6
    # Each Go init calls register from its own node; a name lookup still finds the first definition.
    assert graph.has_edge("cmd/setup.go::init", "cmd/setup.go::register", "calls")
    assert graph.has_edge("cmd/setup.go::init~2", "cmd/setup.go::register", "calls")
    assert graph.has_edge("pkg/events.py::parse~3", "pkg/events.py::parse~3.helper", "calls")
    assert graph.has_edge("pkg/events.py::parse~4", "pkg/events.py::parse~4.helper", "calls")
    assert graph.has_edge("pkg/events.py::parse~3.helper", "pkg/events.py::Event", "calls")
    # A mention of the bare name finds every definition of it.
    names = NameIndex(graph)
    assert sorted(names.symbols_named("equals")) == [f"{java}.equals", f"{java}.equals~2"]
    assert sorted(names.symbols_named("celsius")) == [
        "web/temperature.ts::Temperature.celsius", "web/temperature.ts::Temperature.celsius~2",
    ]
    assert len(names.symbols_named("parse")) == 4
    assert names.resolve("src/lib.rs::Meters.fmt~2") == ["src/lib.rs::Meters.fmt~2"]
    # So does a dotted mention, in the shape a user writes it.
    assert sorted(names.symbols_dotted("Delegate.equals")) == [f"{java}.equals", f"{java}.equals~2"]
    assert "pkg/events.py::parse~3.helper" in names.symbols_dotted("parse.helper")


def test_a_one_line_definition_is_not_swallowed_by_the_span_of_the_next():
    path = "src/main/java/demo/Delegate.java"
    source = textwrap.dedent(WORST_CASES[path])
    chunks = {c.symbol.partition("::")[2]: c for c in chunk_file(path, source, extract(path, source)) if c.symbol}
    assert (chunks["Delegate.equals"].start_line, chunks["Delegate.equals"].end_line) == (5, 5)
    assert (chunks["Delegate.equals~2"].start_line, chunks["Delegate.equals~2"].end_line) == (6, 6)
    assert (chunks["Delegate.size"].start_line, chunks["Delegate.size"].end_line) == (7, 7)
    # The text names the method as the source does; only the key tells the overloads apart.
    assert chunks["Delegate.equals~2"].text.split("\n")[0] == "// method Delegate.equals"
    assert "int a, int b" in chunks["Delegate.equals~2"].text and "int a)" not in chunks["Delegate.equals~2"].text


@pytest.mark.parametrize("path", sorted(WORST_CASES))
def test_no_two_chunks_of_a_file_share_an_id(path):
    source = textwrap.dedent(WORST_CASES[path])
    for max_tokens in (256, 12):  # 12: every body split into parts
        chunks = chunk_file(path, source, extract(path, source), max_tokens=max_tokens)
        assert len({c.id for c in chunks}) == len(chunks)


def test_the_chunker_keeps_ids_apart_even_for_an_extract_that_repeats_a_symbol():
    path = "src/main/java/demo/Delegate.java"
    source = textwrap.dedent(WORST_CASES[path])
    found = extract(path, source)
    twice = found.symbols[1]
    found.symbols.insert(2, twice)  # the same definition reported twice, as a buggy extractor might
    chunks = chunk_file(path, source, found)
    assert len({c.id for c in chunks}) == len(chunks)


def stored_ids(repo: Path) -> tuple[list[str], set[str]]:
    state = IndexState(StateDir(repo).index_db)
    try:
        manifest = [chunk_id for chunk_id, _ in state.chunk_tokens()]
    finally:
        state.close()
    store = VectorStore(StateDir(repo).vectors, dim=384)
    try:
        return manifest, store.all_ids()
    finally:
        store.close()


def test_the_pipeline_indexes_every_worst_case_with_a_chunk_and_a_vector_per_definition(tmp_path):
    repo = write_repo(tmp_path / "repo")
    report = index_repository(repo)
    manifest, vectors = stored_ids(repo)
    assert len(manifest) == len(set(manifest)) == report.chunks
    assert vectors == set(manifest)
    expected = {
        path: [s.qname for s in extract(path, source).symbols] for path, source in WORST_CASES.items()
    }
    graph = load_graph(StateDir(repo).graph)
    for path, keys in expected.items():
        assert all(key in graph for key in keys), path
    # Every definition that gets a chunk of its own still has it: none overwrote another in the store.
    state = IndexState(StateDir(repo).index_db)
    try:
        chunked = {row[0] for row in state.conn.execute("SELECT symbol FROM chunks WHERE symbol IS NOT NULL")}
    finally:
        state.close()
    assert {"src/main/java/demo/Delegate.java::Delegate.equals", "src/main/java/demo/Delegate.java::Delegate.equals~2",
            "src/main/java/demo/Delegate.java::Delegate.get~3", "pkg/events.py::parse~4",
            "src/shapes.cpp::geo.area~2", "src/lib.rs::Meters.fmt~2", "cmd/setup.go::init~2"} <= chunked


def test_assist_index_completes_on_the_worst_cases(tmp_path):
    repo = write_repo(tmp_path / "repo")
    result = run_assist("index", str(repo))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Indexed 6 files" in result.stdout

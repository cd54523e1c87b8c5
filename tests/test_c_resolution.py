"""C and C++ beyond includes (issue 15, item 1 for C/C++): an include is the header a build's include path
finds, a call through a header reaches the definition in the header's source twin (a declaration is no
symbol), headers included by headers count, and a C++ method defined outside its class's file belongs to
that class (`this->`, a bare member name and the class hierarchy find it). The sample projects under
tests/fixtures/languages/c/queue and cpp/geometry, through the real extractor and graph builder, asserted
edge by edge."""

from __future__ import annotations

from pathlib import Path

from fixture_graphs import LANGUAGE_FIXTURES, edges
from indexer.extract import extract_file
from indexer.graph import build_graph
from indexer.languages import language_for_path


def project_graph(folder: Path):
    paths = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return build_graph({p: extract_file(p, (folder / p).read_bytes(), language_for_path(p)) for p in paths})


def test_c_calls_through_a_header_reach_its_source_twin():
    graph = project_graph(LANGUAGE_FIXTURES / "c" / "queue")
    assert edges(graph, "imports") == {
        # "queue/queue.h" is include/queue/queue.h: examples/queue/queue.h ends the same but is on no include path
        ("src/main.c", "include/queue/queue.h"),
        ("src/queue.c", "include/queue/queue.h"),
        ("src/queue.c", "src/alloc.h"),  # beside the including file
        ("src/alloc.c", "src/alloc.h"),
    }
    assert edges(graph, "calls") == {
        # declared in include/queue/queue.h, defined in src/queue.c; examples/ring.c has a queue_new of its own
        ("src/main.c::main", "src/queue.c::queue_new", "header"),
        ("src/main.c::main", "src/queue.c::queue_push", "header"),
        ("src/queue.c::queue_new", "src/alloc.c::checked_alloc", "header"),
    }


def test_cpp_methods_out_of_line_belong_to_their_class_and_headers_include_headers():
    graph = project_graph(LANGUAGE_FIXTURES / "cpp" / "geometry")
    include, src = "include/geometry/", "src/"
    assert edges(graph, "inherits") == {(include + "circle.hpp::geo.Circle", include + "shape.hpp::geo.Shape")}
    assert edges(graph, "calls") == {
        # circle.hpp includes shape.hpp, whose describe() is defined in shape.cpp
        (src + "main.cpp::main", src + "shape.cpp::geo.Shape.describe", "header"),
        (src + "main.cpp::main", src + "circle.cpp::geo.Circle.area", "header"),
        (src + "main.cpp::main", src + "scale.cpp::rounded", "header"),
        (src + "shape.cpp::geo.Shape.describe", src + "scale.cpp::rounded", "header"),
        # a pure virtual in Shape: its one definition, found by name
        (src + "shape.cpp::geo.Shape.describe", src + "circle.cpp::geo.Circle.area", "unique_name"),
        # Circle::report, in circle.cpp, is a member of the Circle of circle.hpp: `area()` is its own member and
        # `this->describe()` is inherited from Shape, defined in yet another file
        (src + "circle.cpp::geo.Circle.report", src + "circle.cpp::geo.Circle.area", "self"),
        (src + "circle.cpp::geo.Circle.report", src + "shape.cpp::geo.Shape.describe", "self"),
    }

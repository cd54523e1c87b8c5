"""Tests edges in every language's own conventions (issue 15, item 3): which symbols are tests, and the code
they call, over the real extractors and graph builder on the samples in tests/fixtures/languages/."""

from __future__ import annotations

from pathlib import Path

from fixture_graphs import indexed_project

from indexer.extract import extract_file
from indexer.graph import build_graph
from indexer.languages import language_for_path
from indexer.retrieval import Retriever

FIXTURES = Path(__file__).parent / "fixtures" / "languages"


def graph_of(files: dict[str, str]):
    """Build the graph of fixture files (``repository path -> fixture``) laid out as a repository."""
    extracts = {
        path: extract_file(path, (FIXTURES / fixture).read_bytes(), language_for_path(path))
        for path, fixture in files.items()
    }
    return build_graph(extracts)


def edges_of_tests(graph) -> set[tuple[str, str, str]]:
    return {(s, t, a["via"]) for s, t, k, a in graph.edges(keys=True, data=True) if k == "tests"}


def nodes_that_test(graph) -> set[str]:
    return {n for n, a in graph.nodes(data=True) if a.get("is_test") and a["kind"] != "file"}


def test_go_test_functions_in_test_files_test_what_they_call():
    graph = graph_of({
        "internal/server/server.go": "go/server.go", "internal/server/server_test.go": "go/server_test.go",
    })
    t = "internal/server/server_test.go::"
    assert nodes_that_test(graph) == {t + "TestHandleRegistersRoute", t + "TestNewServerKeepsAddr"}  # not newTestServer
    assert edges_of_tests(graph) == {
        (t + "TestHandleRegistersRoute", "internal/server/server.go::Server.Handle", "call"),
        (t + "TestNewServerKeepsAddr", "internal/server/server.go::NewServer", "call"),
    }
    assert graph.nodes["internal/server/server_test.go"]["is_test"]


def test_rust_test_attributes_in_a_cfg_test_module_and_under_tests():
    graph = graph_of({"src/units.rs": "rust/units.rs", "tests/units.rs": "rust/units_integration.rs"})
    assert nodes_that_test(graph) == {"src/units.rs::tests.round_trip", "tests/units.rs::one_metre_in_feet"}
    # `close`, a helper inside `#[cfg(test)] mod tests`, is test code: calling it tests nothing; `zero` in
    # tests/ has no #[test], so its call is not a test.
    assert edges_of_tests(graph) == {
        ("src/units.rs::tests.round_trip", "src/units.rs::to_feet", "call"),
        ("src/units.rs::tests.round_trip", "src/units.rs::to_metres", "call"),
        ("tests/units.rs::one_metre_in_feet", "src/units.rs::to_feet", "call"),
    }
    assert graph.has_edge("src/units.rs::tests.round_trip", "src/units.rs::tests.close", "calls")
    assert graph.nodes["src/units.rs::tests.round_trip"]["signature"] == "#[test] fn round_trip()"
    assert not graph.nodes["src/units.rs"]["is_test"] and graph.nodes["tests/units.rs"]["is_test"]


def test_junit_test_methods_under_src_test_java_whatever_their_class_is_called():
    main = "src/main/java/com/acme/shop/OrderService.java::OrderService"
    checks = "src/test/java/com/acme/shop/OrderServiceChecks.java::OrderServiceChecks"
    graph = graph_of({
        "src/main/java/com/acme/shop/OrderService.java": "java/OrderService.java",
        "src/test/java/com/acme/shop/OrderServiceChecks.java": "java/OrderServiceChecks.java",
    })
    assert nodes_that_test(graph) == {f"{checks}.placesAnOrder", f"{checks}.comparesByPending"}  # not the helper
    assert edges_of_tests(graph) == {
        (f"{checks}.placesAnOrder", f"{main}.place", "call"),
        (f"{checks}.comparesByPending", f"{main}.compareTo", "call"),
    }


def test_typescript_and_javascript_test_files_test_what_their_callbacks_call():
    graph = graph_of({"web/service.ts": "typescript/service.ts", "web/service.test.ts": "typescript/service.test.ts"})
    assert edges_of_tests(graph) == {
        ("web/service.test.ts", "web/service.ts", "import"),
        ("web/service.test.ts", "web/service.ts::UserService", "call"),
        ("web/service.test.ts", "web/service.ts::UserService.save", "call"),
        ("web/service.test.ts", "web/service.ts::isAdmin", "call"),
    }
    graph = graph_of({"web/cart.js": "javascript/cart.js", "web/__tests__/cart.spec.js": "javascript/cart.spec.js"})
    assert edges_of_tests(graph) == {
        ("web/__tests__/cart.spec.js", "web/cart.js", "import"),
        ("web/__tests__/cart.spec.js", "web/cart.js::Cart", "call"),
        ("web/__tests__/cart.spec.js", "web/cart.js::Cart.add", "call"),
        ("web/__tests__/cart.spec.js", "web/cart.js::receipt", "call"),
    }


def test_the_same_code_outside_test_paths_draws_no_tests_edges():
    graph = graph_of({
        "internal/server/server.go": "go/server.go", "internal/server/checks.go": "go/server_test.go",
        "web/service.ts": "typescript/service.ts", "web/service_checks.ts": "typescript/service.test.ts",
    })
    assert edges_of_tests(graph) == set() and nodes_that_test(graph) == set()


def test_test_code_in_a_source_file_is_marked_and_weighs_as_test_code_in_retrieval(tmp_path):
    graph = graph_of({"src/units.rs": "rust/units.rs", "tests/units.rs": "rust/units_integration.rs"})
    # Everything inside `#[cfg(test)] mod tests`, helpers too; test files need no mark (their path says so).
    assert {n for n, a in graph.nodes(data=True) if a.get("test_code")} == {
        "src/units.rs::tests", "src/units.rs::tests.close", "src/units.rs::tests.round_trip"}

    root = indexed_project(tmp_path, {"Cargo.toml": '[package]\nname = "units"\nversion = "0.1.0"\n',
                                      "src/lib.rs": (FIXTURES / "rust" / "lengths.rs").read_text()})
    with Retriever(root, use_vectors=False) as retriever:
        report = "converting a length from feet to metres and back does not give the same length"
        found = [node.node for node in retriever.rank(report).nodes]
        assert retriever.is_test_code("src/lib.rs::tests.feet_to_metres_and_back_keeps_the_length")
        assert found[0] == "src/lib.rs::to_metres"

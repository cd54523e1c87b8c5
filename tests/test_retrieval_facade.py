"""The retriever's closed facade (issue 13 item 2): typed node views, navigation and explanations — what front ends
read instead of the graph, the reader or node dicts."""

from __future__ import annotations

import pytest

from indexer.retrieval import Evidence, Retriever, Why


def test_node_gives_a_typed_record_with_its_parent(indexed_copy):
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        node = retriever.resolve("PerishableItem.reserve")
        info = retriever.node(node)
    assert (info.kind, info.name, info.path) == ("method", "reserve", "inventory/perishables.py")
    assert info.parent == "inventory/perishables.py::PerishableItem"
    assert info.language == "python" and info.start_line and info.end_line >= info.start_line
    assert "quantity" in (info.signature or "")


def test_current_source_follows_the_file_as_it_is_now(indexed_copy):
    path = indexed_copy / "inventory" / "perishables.py"
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        node = retriever.resolve("PerishableItem.reserve")
        indexed = retriever.current_source(node)
        assert not indexed.stale and indexed.lines[0].lstrip().startswith("def reserve")
        path.write_text("# two lines\n# added above\n" + path.read_text())
        moved = retriever.current_source(node)
        assert moved.stale and moved.found
        assert moved.start_line == indexed.start_line + 2 and moved.lines == indexed.lines
        path.write_text(path.read_text().replace("def reserve(", "def hold("))
        gone = retriever.current_source(node)
        assert gone.stale and not gone.found
        path.unlink()
        assert retriever.current_source(node) is None
        assert retriever.current_source(retriever.resolve("inventory")) is None  # a directory has no source


def test_outline_lists_top_level_symbols_and_the_methods_of_top_level_classes(indexed_copy):
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        entries = retriever.outline("inventory/perishables.py")
    signatures = {signature.split("(")[0].split()[-1]: depth for _, depth, signature in entries}
    assert signatures.get("PerishableItem") == 0 and signatures.get("stock_item_from_dict") == 0
    assert signatures.get("reserve") == 1
    assert [line for line, _, _ in entries] == sorted(line for line, _, _ in entries)


def test_related_and_neighbourhood_answer_with_typed_neighbours(indexed_copy):
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        node = retriever.resolve("Order.place")
        callers = retriever.related(node, "callers")
        callees = retriever.related(node, "callees")
        tests = retriever.related(node, "tests")
        hood = retriever.neighbourhood(node)
        with pytest.raises(ValueError, match="callers, callees, tests"):
            retriever.related(node, "friends")
    assert "inventory/cli.py::cmd_order" in {n.node for n in callers}
    assert all(n.edge == "calls" and n.line for n in callers)
    assert "inventory/orders.py::Order._require_status" in {n.node for n in callees}
    # warehouse.reserve(...) with `warehouse: Warehouse` in the signature: a method of that class
    reserve = next(n for n in callees if n.node == "inventory/models.py::Warehouse.reserve")
    assert reserve.detail == "parameter"
    assert tests and all(_in_tests_folder(n.path) for n in tests)
    assert hood.info.parent == "inventory/orders.py::Order" and hood.info.kind == "method"
    assert [n.node for n in hood.calls] == [n.node for n in callees]
    assert "reserved.append" in hood.info.unresolved_calls  # a list's method, nothing of ours


def _in_tests_folder(path: str | None) -> bool:
    return bool(path) and path.startswith("tests/")


def test_edges_symbols_and_call_sites_are_what_fault_localization_walks(indexed_copy):
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        node = retriever.resolve("Order.place")
        info = retriever.node(node)
        calls = retriever.edges_from(node, ("calls",))
        called_by_tests = [n.node for n in retriever.edges_to(node, ("calls",)) if retriever.is_test_code(n.node)]
        sites = retriever.calls_in(info.path)
        names = [s.name for s in retriever.symbols_in(info.path)]
        assert retriever.symbols_named("Order.place") == [node] and node in retriever.symbols_named("place")
        assert retriever.files_matching("/elsewhere/checkout/inventory/orders.py") == ["inventory/orders.py"]
        assert retriever.symbol_at(info.path, info.start_line + 1) == node
        assert retriever.has_node(node) and not retriever.has_node("inventory/orders.py::Order.nothing")
        assert retriever.calls_in("no/such/file.py") is None
    assert all(info.start_line <= edge.line <= info.end_line for edge in calls)
    assert called_by_tests and all(n.startswith("tests/") for n in called_by_tests)
    assert not retriever.is_test_code(node)
    assert {edge.line for edge in calls} <= {site.line for site in sites if site.caller == node}
    assert names.index("Order") < names.index("place")


def test_export_graph_writes_the_part_around_a_node(indexed_copy):
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        node = retriever.resolve("Order.place")
        whole = retriever.export_graph("json")
        part = retriever.export_graph("dot", around=node, depth=1)
        callers = retriever.related(node, "callers")
        with pytest.raises(ValueError, match="unknown export format"):
            retriever.export_graph("png")
    assert part.text.startswith("digraph code {") and f'"{node}"' in part.text
    assert part.nodes >= 1 + len(callers) and part.nodes < whole.nodes and part.edges < whole.edges


def test_why_line_names_signals_score_path_and_staleness():
    why = Why(score=1.5, evidence=[Evidence("bm25", 1.0, 3), Evidence("bm25", 0.5, 1), Evidence("graph", 0.3)],
              path=[("a.py::f", "calls", "a.py::g")], path_end="a.py::g", stale=True)
    assert why.line() == "bm25 #1, graph; score 1.50; seed a.py::f --calls--> a.py::g; changed since indexing"
    assert why.line("outline").startswith("outline of the file around the code sent; bm25 #1")
    assert Why(score=0.25).line("function") == "ranked; score 0.25"

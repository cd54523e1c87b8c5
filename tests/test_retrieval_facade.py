"""The retriever's typed node views (issue 13 item 2): what front ends read instead of graph node dicts."""

from __future__ import annotations

from indexer.retrieval import Retriever


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

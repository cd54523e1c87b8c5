"""The retriever on a real index (real grammars, chromadb, the bundled embedding model) of the sample repo."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import PLANTED_AWS_KEY, PLANTED_SECRET

from indexer.pipeline import index_repository
from indexer.retrieval import (
    AmbiguousSymbol,
    IndexMissing,
    IndexUnreadable,
    RetrievalConfig,
    Retriever,
    UnknownSymbol,
    parse_query,
)
from indexer.retrieval.pack import token_counter

FIXTURES = Path(__file__).parent / "fixtures" / "retrieval"
BUDGETS = [0, 1, 8, 40, 120, 300, 800, 2000, 8000]


@pytest.fixture(scope="module")
def retriever(indexed_sample):
    with Retriever(indexed_sample) as opened:
        opened.warm()
        yield opened


def symbols(hits) -> list[str | None]:
    return [hit.symbol for hit in hits]


def callers_of(graph, qname: str) -> set[str]:
    return {source for source, _, kind in graph.in_edges(qname, keys=True) if kind == "calls"}


# ------------------------------------------------------------------------------ finding code


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how is the price of an order line computed with bulk discount and tax?", "inventory/pricing.py::price_line"),
        ("what happens to reserved stock when an order is cancelled", "inventory/orders.py::Order.cancel"),
        ("round money amounts to whole cents", "inventory/pricing.py::round_money"),
    ],
)
def test_a_prose_question_finds_the_function_that_does_it(retriever, question, expected):
    hits = retriever.search(question, top=3)
    assert expected in symbols(hits)


def test_a_capitalized_prose_word_that_names_a_class_does_not_outrank_what_the_report_describes(retriever):
    # Issue reports are full of headings; "Order" and "Warehouse" here are section titles, not code.
    report = ("Sales summary is zero\n\n## Order\nplaced yesterday and paid\n\n## Warehouse\nmain depot\n\n"
              "## Observed\nthe sales summary report shows zero revenue\n")
    hits = retriever.search(report, top=3)
    assert hits[0].symbol == "inventory/reports.py::sales_summary"
    assert "inventory/models.py::Warehouse" not in symbols(hits)


def test_a_report_not_about_tests_ranks_the_code_above_the_test_that_shares_its_words(retriever):
    report = "bulk discount and extra discount stack before taxes in the price of a line"
    found = [node.node for node in retriever.rank(report).nodes]
    test = "tests/test_pricing.py::test_price_line_stacks_bulk_and_extra_discount_then_taxes"
    assert test in found  # still ranked, as context, below the code it exercises
    assert found.index("inventory/pricing.py::bulk_discount_percent") < found.index(test)


def test_tests_named_below_a_reports_title_do_not_make_it_a_question_about_tests(retriever):
    # A report says how the problem was checked ("Added a test"); where it lives is the code, not the test.
    report = ("bulk discount and extra discount stack before taxes in the price of a line\n\n"
              "Added a test that prices a line with both discounts.")
    assert not parse_query(report).about_tests
    found = [node.node for node in retriever.rank(report).nodes]
    test = "tests/test_pricing.py::test_price_line_stacks_bulk_and_extra_discount_then_taxes"
    assert found.index("inventory/pricing.py::bulk_discount_percent") < found.index(test)


def test_a_question_about_tests_keeps_the_test_beside_the_code(retriever):
    question = "which test checks that bulk and extra discount stack before taxes"
    assert parse_query(question).about_tests
    hits = retriever.search(question, top=5)
    assert "tests/test_pricing.py::test_price_line_stacks_bulk_and_extra_discount_then_taxes" in symbols(hits)


def test_a_stack_trace_finds_the_frame_function_first_and_its_callee_next(retriever):
    trace = (FIXTURES / "pricing_traceback.txt").read_text()
    hits = retriever.search(trace, top=5)
    assert hits[0].symbol == "inventory/pricing.py::price_line"
    assert "trace" in hits[0].why.signals
    # apply_discount is what line 107 calls.
    assert hits[1].symbol == "inventory/pricing.py::apply_discount"
    assert any("called on the line" in e.detail for e in hits[1].why.evidence)


def test_trace_frames_from_other_machines_and_languages_match_by_path_suffix(retriever):
    hits = retriever.search((FIXTURES / "go_panic.txt").read_text(), top=3)
    assert hits[0].symbol == "tools/stockcheck/stock.go::Warehouse.Problems"
    order_hits = retriever.search((FIXTURES / "order_traceback.txt").read_text(), top=5)
    assert order_hits[0].symbol == "inventory/orders.py::Order.place"  # the innermost repository frame
    assert "inventory/cli.py::cmd_order" in symbols(order_hits)  # the outer frame, lower
    assert all("runpy" not in (h.path or "") for h in order_hits)  # a library frame matches nothing


@pytest.mark.parametrize("name", ["price_line", "apply_discount", "pricing.price_line"])
def test_a_symbol_name_finds_its_definition_first_and_its_callers_next(retriever, name):
    hits = retriever.search(name, top=5)
    qname = f"inventory/pricing.py::{name.rpartition('.')[2]}"
    assert hits[0].symbol == qname
    assert "mention" in hits[0].why.signals
    callers = callers_of(retriever.graph, qname)
    assert hits[1].symbol in callers


def test_file_search_rolls_symbols_up_to_files(retriever):
    hits = retriever.search("how are order totals, tax and shipping computed", top=3, kind="file")
    assert hits and all(h.kind == "file" and h.symbol is None for h in hits)
    assert len({h.path for h in hits}) == len(hits)
    assert hits[0].path == "inventory/orders.py"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_graph_found_items_explain_themselves_with_real_edges(retriever):
    graph = retriever.graph
    ranking_hits = retriever.search("Warehouse.reserve", top=10)
    explained = [h for h in ranking_hits if h.why.path]
    assert explained, "some result should be reached through the graph"
    ranking = retriever.rank("Warehouse.reserve")
    for hit in explained:
        assert "graph" in hit.why.signals
        for source, kind, target in hit.why.path:
            assert graph.has_edge(source, target, key=kind), (source, kind, target)
        nodes = hit.why.path_nodes()
        assert nodes[0] in ranking.seeds and nodes[-1] == hit.symbol
        # Consecutive steps share a node: the path is connected from the seed to the item.
        for (s1, _, t1), (s2, _, t2) in zip(hit.why.path, hit.why.path[1:]):
            assert {s1, t1} & {s2, t2}
        assert hit.why.path_text().startswith(f"seed {nodes[0]}")


def test_weights_live_in_one_config_that_changes_the_ranking(indexed_sample):
    question = "what happens to reserved stock when an order is cancelled"
    with Retriever(indexed_sample, use_vectors=False) as lexical_only:
        default = symbols(lexical_only.search(question, top=5))
        lexical_only.set_config(RetrievalConfig().with_changes(weight_graph=0.0, weight_bm25=0.0))
        assert lexical_only.search(question, top=5) == []  # no signal left: nothing is found
    with pytest.raises(TypeError):
        RetrievalConfig().with_changes(no_such_weight=1.0)
    assert default


# ------------------------------------------------------------------------------------ packing


@pytest.mark.parametrize("budget", BUDGETS)
def test_a_pack_never_exceeds_its_budget_and_never_repeats_code(retriever, budget):
    query = (FIXTURES / "order_traceback.txt").read_text() + "\nwhy is the reservation not rolled back?"
    pack = retriever.context(query, budget_tokens=budget)
    count = token_counter(retriever.count_tokens)
    assert pack.total_tokens <= budget
    assert count(pack.text) == pack.total_tokens
    if budget >= 300:
        assert len(pack.items) >= 2
    keys = [(item.path, item.symbol, item.kind) for item in pack.items]
    assert len(keys) == len(set(keys))
    for i, first in enumerate(pack.items):
        assert first.text in pack.text
        assert first.tokens == count(first.text)
        for second in pack.items[i + 1 :]:
            if first.path != second.path or "outline" in (first.kind, second.kind):
                continue
            for a, b in first.segments:
                for c, d in second.segments:
                    assert b < c or d < a, f"{first.symbol} and {second.symbol} overlap"


def test_a_pack_holds_whole_functions_in_file_then_line_order(retriever, indexed_sample):
    pack = retriever.context("how is the price of an order line computed with bulk discount and tax?", 1500)
    by_symbol = {item.symbol: item for item in pack.items}
    price_line = by_symbol["inventory/pricing.py::price_line"]
    assert price_line.part == "whole"
    source = (indexed_sample / "inventory" / "pricing.py").read_text().splitlines()
    start = source.index("def price_line(unit_price: Decimal, quantity: int, tax_class: str = \"standard\",") + 1
    assert (price_line.start_line, price_line.end_line) == (start, start + 10)
    assert price_line.text.startswith(f"inventory/pricing.py:{start}-{start + 10} (function price_line)")
    assert "return LinePrice(gross=gross" in price_line.text
    # Grouped by file; within a file, in line order; files in the order of their best item.
    seen_files: list[str] = []
    for item in pack.items:
        if not seen_files or seen_files[-1] != item.path:
            assert item.path not in seen_files, "a file's items must be adjacent"
            seen_files.append(item.path)
    for path in seen_files:
        code = [i.start_line for i in pack.items if i.path == path and i.kind != "outline"]
        assert code == sorted(code)
    assert seen_files[0] == "inventory/pricing.py"
    for item in pack.items:
        assert item.why.signals, f"{item.path} has no reason"


def test_a_big_class_is_packed_by_its_header_and_its_methods_are_not_repeated(retriever):
    pack = retriever.context("class Order: what does an order hold?", 4000)
    order = [i for i in pack.items if i.symbol == "inventory/orders.py::Order"]
    assert order and order[0].part == "header"
    assert '"""A customer\'s order: lines, status and the money they add up to."""' in order[0].text
    assert "def place" not in order[0].text
    small_class = retriever.context("OrderStatus", 4000)
    status = [i for i in small_class.items if i.symbol == "inventory/orders.py::OrderStatus"]
    assert status and status[0].part == "whole"


def test_outlines_fill_remaining_room_with_neighbouring_signatures(retriever):
    pack = retriever.context("round_money", 700)
    pricing = [o for o in pack.items if o.kind == "outline" and o.path == "inventory/pricing.py"]
    assert pricing, "the best file should get an outline"
    assert "class LinePrice" in pricing[0].text and "def to_decimal(" in pricing[0].text
    packed = {i.symbol for i in pack.items if i.path == "inventory/pricing.py" and i.kind != "outline"}
    assert "inventory/pricing.py::round_money" in packed
    for qname in packed:  # nothing shown twice
        assert f"def {qname.rpartition('::')[2]}(" not in pricing[0].text
    # An outline line is a line number and a signature, in file order.
    numbers = [int(line.split("|")[0]) for line in pricing[0].text.splitlines()[1:]]
    assert numbers == sorted(numbers)


def test_a_pack_can_be_counted_with_another_tokenizer(retriever):
    def words(text: str) -> int:
        return len(text.split())

    pack = retriever.context("how are orders placed and shipped", 250, count_tokens=words)
    assert 0 < pack.total_tokens <= 250
    assert words(pack.text) == pack.total_tokens


def test_a_pack_as_data_carries_tokens_and_reasons(retriever):
    data = retriever.context("price_line", 600).to_json()
    assert data["budget"] == 600 and 0 < data["total_tokens"] <= 600
    assert data["text"]
    item = data["items"][0]
    assert {"path", "symbol", "kind", "start_line", "end_line", "tokens", "score", "why"} <= set(item)
    assert item["why"]["signals"] and isinstance(item["why"]["evidence"], list)


def test_secrets_in_packed_files_are_masked(retriever):
    pack = retriever.context("deployment settings: AWS access key, deploy token and region", 8000)
    assert any(i.path == "inventory/settings.py" for i in pack.items)
    assert PLANTED_SECRET not in pack.text
    assert PLANTED_AWS_KEY not in pack.text


# ------------------------------------------------------------------------- stale and missing


def test_changed_files_are_read_as_they_are_now_and_flagged(indexed_copy):
    pricing = indexed_copy / "inventory" / "pricing.py"
    text = pricing.read_text()
    pricing.write_text("# a header comment added after indexing\n\n\n" + text)
    (indexed_copy / "inventory" / "reports.py").unlink()
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        pack = retriever.context("price_line stock_rows sales_summary", 4000)
        item = next(i for i in pack.items if i.symbol == "inventory/pricing.py::price_line")
        assert item.why.stale and "changed since indexing" in item.text
        lines = pricing.read_text().splitlines()
        assert lines[item.start_line - 1].startswith("def price_line(")
        assert lines[item.end_line - 1].strip().startswith("return LinePrice(")
        assert all(i.path != "inventory/reports.py" for i in pack.items)
        assert any("inventory/reports.py" in note for note in pack.notes)
        hits = retriever.search("sales summary report rows", top=10)
        assert hits and all(h.path != "inventory/reports.py" for h in hits)
        hit = retriever.search("price_line", top=1)[0]
        assert hit.symbol == "inventory/pricing.py::price_line" and hit.why.stale
        assert lines[hit.start_line - 1].startswith("def price_line(")  # current lines, not indexed ones


def test_a_file_replaced_by_a_link_out_of_the_repository_is_never_read(indexed_copy, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("def price_line(order):\n    return 'CANARY-OUTSIDE-THE-REPOSITORY'\n")
    pricing = indexed_copy / "inventory" / "pricing.py"
    pricing.unlink()
    pricing.symlink_to(outside)
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        pack = retriever.context("price_line", 4000)
        assert "CANARY" not in pack.text
        assert all(i.path != "inventory/pricing.py" for i in pack.items)
        assert all(h.path != "inventory/pricing.py" for h in retriever.search("price_line", top=10))


def test_a_retriever_sees_a_finished_reindex(indexed_copy):
    with Retriever(indexed_copy, use_vectors=False) as retriever:
        before = retriever.search("restock_threshold_for_season", top=3)
        assert all("restock_threshold_for_season" not in (h.symbol or "") for h in before)
        (indexed_copy / "inventory" / "seasons.py").write_text(
            "def restock_threshold_for_season(season: str) -> int:\n    return 10 if season == 'winter' else 5\n"
        )
        index_repository(indexed_copy)
        hits = retriever.search("restock_threshold_for_season", top=3)
        assert hits[0].symbol == "inventory/seasons.py::restock_threshold_for_season"


def test_a_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexMissing, match=r"no index at .*run `assist index"):
        Retriever(tmp_path)


def test_a_broken_index_says_how_to_rebuild_it(indexed_copy):
    graph_file = indexed_copy / ".assist" / "graph.json.gz"
    graph_file.write_bytes(b"not a graph")
    with pytest.raises(IndexUnreadable, match=r"code graph .* cannot be read .*run `assist index"):
        Retriever(indexed_copy)
    graph_file.unlink()
    with pytest.raises(IndexMissing, match=r"incomplete .*run `assist index"):
        Retriever(indexed_copy)


# -------------------------------------------------------------------------- names and queries


def test_symbol_names_resolve_in_every_written_form(retriever):
    assert retriever.resolve("inventory/orders.py::Order.place") == "inventory/orders.py::Order.place"
    assert retriever.resolve("Order.place") == "inventory/orders.py::Order.place"
    assert retriever.resolve("pricing.price_line") == "inventory/pricing.py::price_line"
    assert retriever.resolve("inventory.pricing.price_line") == "inventory/pricing.py::price_line"
    assert retriever.resolve("round_money") == "inventory/pricing.py::round_money"
    assert retriever.resolve("orders.py") == "inventory/orders.py"
    with pytest.raises(AmbiguousSymbol) as ambiguous:
        retriever.resolve("reserve")
    assert "inventory/models.py::Warehouse.reserve" in ambiguous.value.candidates
    with pytest.raises(UnknownSymbol) as unknown:
        retriever.resolve("Order.plaec")
    assert "inventory/orders.py::Order.place" in unknown.value.suggestions


def test_queries_are_read_for_frames_and_names():
    python = parse_query((FIXTURES / "order_traceback.txt").read_text())
    assert [(f.path.rpartition("/")[2], f.line, f.depth) for f in python.frames] == [
        ("orders.py", 114, 0), ("cli.py", 85, 1), ("runpy.py", 198, 2)]
    assert "inventory.errors.InsufficientStock" in {m.text for m in python.mentions}
    go = parse_query((FIXTURES / "go_panic.txt").read_text())
    assert [f.path.rpartition("/")[2] for f in go.frames] == ["stock.go", "main.go"]  # innermost first
    mixed = parse_query("see `add_line` in inventory/orders.py and parseConfig, not the Order docs")
    texts = {m.text: m for m in mixed.mentions}
    assert texts["add_line"].strong and texts["inventory/orders.py"].is_path and texts["parseConfig"].strong
    assert not texts["Order"].strong
    assert "see" not in texts and "docs" not in texts
    assert parse_query("Warehouse.reserve").code_only and not mixed.code_only


def test_warm_queries_reuse_the_open_index(retriever):
    """Latency is measured in bench/; here: repeated queries must not reload the graph or lexical index."""
    queries = ["how are orders placed", "Warehouse.reserve", (FIXTURES / "pricing_traceback.txt").read_text(),
               "round money to cents", "sales summary report"]
    retriever.search(queries[0], top=10)
    graph, lexical = retriever.reader.graph, retriever.reader.lexical
    for query in queries * 2:
        assert retriever.search(query, top=10)
    assert retriever.reader.graph is graph and retriever.reader.lexical is lexical

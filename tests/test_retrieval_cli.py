"""`assist search`, `assist context` and `assist graph` as a user runs them: real subprocesses, real index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from support import PROJECT_ROOT, run_assist

FIXTURES = Path(__file__).parent / "fixtures" / "retrieval"
HIT_KEYS = {"path", "symbol", "kind", "start_line", "end_line", "score", "why"}


def assert_clean_failure(result: subprocess.CompletedProcess, code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert result.stderr.startswith("assist: ")


def json_out(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ------------------------------------------------------------------------------------- search


def test_search_reads_a_stack_trace_from_stdin_and_prints_json_hits(indexed_sample):
    trace = (FIXTURES / "pricing_traceback.txt").read_text()
    hits = json_out(run_assist("search", "-", "--json", "--top", "4", "-C", str(indexed_sample), input=trace))
    assert 1 <= len(hits) <= 4
    for hit in hits:
        assert HIT_KEYS <= set(hit)
        assert isinstance(hit["score"], float) and hit["why"]["signals"]
    assert hits[0]["symbol"] == "inventory/pricing.py::price_line"
    assert hits[0]["path"] == "inventory/pricing.py" and hits[0]["kind"] == "function"
    assert hits[0]["start_line"] <= 107 <= hits[0]["end_line"]
    assert "trace" in hits[0]["why"]["signals"]
    assert "vector" in {s for hit in hits for s in hit["why"]["signals"]}  # the embedding model was used


def test_search_by_file_and_as_a_table(indexed_sample):
    files = json_out(run_assist("search", "order shipping fee for members", "--kind", "file", "--json",
                                "--no-vectors", "-C", str(indexed_sample)))
    assert files and all(f["kind"] == "file" and f["symbol"] is None for f in files)
    assert files[0]["path"] == "inventory/orders.py"
    table = run_assist("search", "apply_discount", "--no-vectors", "-C", str(indexed_sample))
    assert table.returncode == 0, table.stderr
    assert "inventory/pricing.py:" in table.stdout and "apply_discount" in table.stdout


def test_search_rejects_a_bad_kind_and_an_empty_query(indexed_sample):
    bad_kind = run_assist("search", "x", "--kind", "module", "-C", str(indexed_sample))
    assert bad_kind.returncode == 2 and "Traceback" not in bad_kind.stderr
    empty = run_assist("search", "-", "-C", str(indexed_sample), input="  \n")
    assert_clean_failure(empty, 2)


# ------------------------------------------------------------------------------------ context


def test_context_prints_the_pack_as_text_within_budget(indexed_sample):
    result = run_assist("context", "price_line", "--budget", "400", "--no-vectors", "-C", str(indexed_sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("inventory/pricing.py:")
    assert "def price_line(" in result.stdout and "```python" in result.stdout
    assert "/400 tokens" in result.stderr


def test_context_json_reports_items_tokens_and_reasons(indexed_sample):
    pack = json_out(run_assist("context", "how are orders cancelled and stock released", "--budget", "900",
                               "--json", "--no-vectors", "-C", str(indexed_sample)))
    assert pack["budget"] == 900 and 0 < pack["total_tokens"] <= 900
    assert pack["items"]
    for item in pack["items"]:
        assert {"path", "symbol", "kind", "start_line", "end_line", "tokens", "why"} <= set(item)
        assert item["tokens"] > 0 and item["why"]["signals"]
    assert sum(item["tokens"] for item in pack["items"]) >= pack["total_tokens"] * 0.9
    assert all(item["path"] in pack["text"] for item in pack["items"])


# -------------------------------------------------------------------------------------- graph


def test_graph_callers_callees_and_tests_as_json(indexed_sample):
    repo = str(indexed_sample)
    callers = json_out(run_assist("graph", "callers", "price_line", "--json", "-C", repo))
    assert callers["node"] == "inventory/pricing.py::price_line"
    caller_names = {c["symbol"] for c in callers["callers"]}
    assert {"inventory/orders.py::OrderLine.price", "inventory/cli.py::cmd_quote"} <= caller_names
    assert all(c["line"] for c in callers["callers"])
    callees = json_out(run_assist("graph", "callees", "pricing.price_line", "--json", "-C", repo))
    assert "inventory/pricing.py::apply_discount" in {c["symbol"] for c in callees["callees"]}
    tests = json_out(run_assist("graph", "tests", "Order.place", "--json", "-C", repo))
    assert "tests/test_orders.py::test_place_reserves_all_lines" in {t["node"] for t in tests["tests"]}


def test_graph_show_draws_the_neighbourhood(indexed_sample):
    result = run_assist("graph", "show", "inventory/pricing.py::price_line", "-C", str(indexed_sample))
    assert result.returncode == 0, result.stderr
    for text in ("inventory/pricing.py::price_line", "called by", "inventory/cli.py::cmd_quote", "calls",
                 "inventory/pricing.py::apply_discount", "def price_line("):
        assert text in result.stdout
    shown = json_out(run_assist("graph", "show", "orders.py", "--json", "-C", str(indexed_sample)))
    assert shown["node"] == "inventory/orders.py" and shown["kind"] == "file"
    assert "inventory/orders.py::Order" in {n["node"] for n in shown["contains"]}
    assert "inventory/pricing.py" in {n["node"] for n in shown["imports"]}


def test_an_ambiguous_name_lists_the_candidates(indexed_sample):
    result = run_assist("graph", "callers", "reserve", "-C", str(indexed_sample))
    assert_clean_failure(result)
    for candidate in ("inventory/models.py::StockItem.reserve", "inventory/models.py::Warehouse.reserve"):
        assert candidate in result.stderr


def test_an_unknown_symbol_suggests_close_matches(indexed_sample):
    result = run_assist("graph", "show", "Order.plaec", "-C", str(indexed_sample))
    assert_clean_failure(result)
    assert "no symbol or file named 'Order.plaec'" in result.stderr
    assert "inventory/orders.py::Order.place" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("search", "anything"), ("context", "anything"), ("graph", "callers", "f"), ("graph", "export")],
)
def test_a_missing_index_says_how_to_build_one(tmp_path, args):
    result = run_assist(*args, "-C", str(tmp_path))
    assert_clean_failure(result)
    assert "no index" in result.stderr and "assist index" in result.stderr


def test_graph_export_round_trips_as_json_graphml_and_dot(indexed_sample, tmp_path):
    repo = str(indexed_sample)
    exported = json_out(run_assist("graph", "export", "--format", "json", "-C", repo))
    graph = nx.node_link_graph(exported, edges="edges")
    assert "inventory/pricing.py::price_line" in graph
    assert graph.has_edge("inventory/orders.py::OrderLine.price", "inventory/pricing.py::price_line", key="calls")
    target = tmp_path / "code.graphml"
    written = run_assist("graph", "export", "--format", "graphml", "-o", str(target), "-C", repo)
    assert written.returncode == 0, written.stderr
    loaded = nx.read_graphml(target, force_multigraph=True)
    assert loaded.number_of_nodes() == graph.number_of_nodes()
    assert loaded.number_of_edges() == graph.number_of_edges()
    assert loaded.nodes["inventory/pricing.py::price_line"]["kind"] == "function"
    dot = run_assist("graph", "export", "--format", "dot", "-C", repo)
    assert dot.stdout.startswith("digraph code {") and dot.stdout.rstrip().endswith("}")
    assert '"inventory/orders.py::OrderLine.price" -> "inventory/pricing.py::price_line" [label="calls"' in dot.stdout


def test_the_cli_loads_no_heavy_library_until_a_command_needs_it():
    code = ("import sys, assistant.cli; heavy = [m for m in ('torch', 'chromadb', 'networkx', 'bm25s') "
            "if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    help_text = run_assist("search", "--help")
    assert help_text.returncode == 0 and "--kind" in help_text.stdout

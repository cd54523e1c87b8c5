"""`assist mcp` end to end: the official MCP SDK client spawns the real server as a subprocess over real
pipes, on a copy of the sample repository indexed with the real pipeline.

One server process per handshake serves the whole module (the new `server/discover` one with the embedding
model, the old `initialize` one with --no-vectors for a fast start). Raw-pipe tests check what only bytes
show: stdout purity, malformed frames, end of input.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from anyio.from_thread import start_blocking_portal
from jsonrpc_fuzz import assert_is_response, build_corpus, run_stdio_server
from mcp import Client, StdioServerParameters
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from support import PROJECT_ROOT

pytestmark = pytest.mark.slow

CANARY = "canary_outside_function_7f3a"
TOOLS = {"search_code", "get_context", "get_symbol", "related", "index_status", "reindex"}


def server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_")}


def server_command(repo: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "assistant.cli", "mcp", "--repo", str(repo), *extra]


@pytest.fixture(scope="module")
def repo(indexed_sample, tmp_path_factory) -> Path:
    """A private indexed copy (this module re-indexes it), with a canary file just outside it."""
    base = tmp_path_factory.mktemp("mcp")
    dest = base / "repo"
    shutil.copytree(indexed_sample, dest, symlinks=True)
    outside = base / "outside"
    outside.mkdir()
    (outside / "canary.py").write_text(f"def {CANARY}():\n    return 'outside the repository'\n")
    return dest


class Connected:
    """An MCP client session held open for the whole module, driven from synchronous tests."""

    def __init__(self, portal, client: Client):
        self.portal = portal
        self.client = client

    def call(self, name: str, arguments: dict | None = None, progress: list | None = None):
        async def record(done: float, total: float | None, message: str | None) -> None:
            progress.append((done, total, message))

        call = functools.partial(self.client.call_tool, name, arguments or {},
                                 progress_callback=record if progress is not None else None)
        return self.portal.call(call)

    def list_tools(self):
        return self.portal.call(self.client.list_tools).tools


def connect(repo: Path, mode: str, *extra: str):
    params = StdioServerParameters(command=sys.executable, args=server_command(repo, *extra)[1:],
                                   cwd=str(PROJECT_ROOT), env=server_env())
    with start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(params, mode=mode, read_timeout_seconds=300)) as client:
            yield Connected(portal, client)


@pytest.fixture(scope="module")
def modern(indexed_sample, tmp_path_factory):
    # Its own copy: the other server re-indexes `repo`, and chromadb is not safe across processes (GUIDE §4).
    own = tmp_path_factory.mktemp("mcp-modern") / "repo"
    shutil.copytree(indexed_sample, own, symlinks=True)
    yield from connect(own, "auto")


@pytest.fixture(scope="module")
def legacy(repo):
    yield from connect(repo, "legacy", "--no-vectors")


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


# ---------------------------------------------------------------------------------------- handshakes


def test_new_hosts_discover_the_server_and_old_hosts_initialize(modern, legacy):
    assert modern.client.protocol_version in MODERN_PROTOCOL_VERSIONS  # server/discover
    assert legacy.client.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS  # initialize
    for connected in (modern, legacy):
        assert connected.client.server_info.name == "assist"
        assert connected.client.server_capabilities.tools is not None
        assert "search_code" in (connected.client.instructions or "")


def test_tools_list_describes_every_tool_with_input_and_output_schemas(legacy):
    tools = {tool.name: tool for tool in legacy.list_tools()}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert len(tool.description) > 60, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
    search = tools["search_code"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["top_k"]["minimum"] == 1 and search["properties"]["kind"]["enum"] == ["symbol", "file"]
    assert set(tools["related"].input_schema["properties"]["relation"]["enum"]) >= {
        "callers", "callees", "tests", "subclasses", "imports"}
    assert tools["get_symbol"].input_schema["required"] == ["name"]
    assert tools["search_code"].annotations.read_only_hint is True
    assert tools["reindex"].annotations.read_only_hint is False


# --------------------------------------------------------------------------------------------- tools


def test_search_code_ranks_symbols_with_reasons_in_text_and_structure(modern):
    result = modern.call("search_code", {"query": "how is the shipping fee computed for an order?", "top_k": 5})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert 0 < len(data["results"]) <= 5
    assert any(hit["path"] == "inventory/orders.py" for hit in data["results"])
    for hit in data["results"]:
        assert hit["why"]["signals"] and hit["score"] > 0
        assert hit["path"] in text_of(result)
    assert "vector" in {s for hit in data["results"] for s in hit["why"]["signals"]}  # the embedding model ran

    files = modern.call("search_code", {"query": "shopping cart totals", "top_k": 3, "kind": "file"})
    assert not files.is_error
    assert all(hit["symbol"] is None and hit["kind"] == "file" for hit in files.structured_content["results"])


def test_get_context_packs_code_within_the_budget(legacy):
    result = legacy.call("get_context", {"query": "Order.total shipping", "budget_tokens": 600})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["budget"] == 600 and 0 < data["total_tokens"] <= 600
    assert data["items"] and data["text"]
    assert data["text"] in text_of(result)
    assert all((Path(legacy_repo_root(legacy)) / item["path"]).is_file() for item in data["items"])


def legacy_repo_root(connected) -> str:
    return connected.call("index_status").structured_content["root"]


def test_get_symbol_gives_definition_location_signature_and_source(legacy):
    result = legacy.call("get_symbol", {"name": "Order.total"})
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data["node"] == "inventory/orders.py::Order.total" and data["kind"] == "method"
    assert data["path"] == "inventory/orders.py" and data["start_line"] <= data["end_line"]
    assert "def total" in data["signature"] and "def total" in data["source"]
    assert data["parent"] == "inventory/orders.py::Order"
    root = Path(legacy_repo_root(legacy))
    lines = (root / data["path"]).read_text().splitlines()[data["start_line"] - 1:data["end_line"]]
    assert data["source"] == "\n".join(lines)

    whole_file = legacy.call("get_symbol", {"name": "inventory/pricing.py"})
    assert not whole_file.is_error and whole_file.structured_content["kind"] == "file"


def test_get_symbol_of_a_file_changed_since_indexing_shows_the_code_as_it_is_now(legacy, repo):
    orders = repo / "inventory" / "orders.py"
    original = orders.read_text()
    orders.write_text("# two new lines\n# push everything down\n" + original)
    try:
        data = legacy.call("get_symbol", {"name": "Order.total"}).structured_content
        lines = orders.read_text().splitlines()[data["start_line"] - 1:data["end_line"]]
        assert data["source"] == "\n".join(lines) and "def total" in data["source"]
    finally:
        orders.write_text(original)


def test_related_walks_each_relation(legacy):
    callers = legacy.call("related", {"name": "reserve", "relation": "callers"})
    if callers.is_error:  # an ambiguous bare name lists the qualified ones: take the first
        name = [line.strip() for line in text_of(callers).splitlines() if "::" in line][0]
        callers = legacy.call("related", {"name": name, "relation": "callers"})
    assert not callers.is_error, text_of(callers)
    assert callers.structured_content["relation"] == "callers"
    for relation in ("callers", "callees", "tests", "subclasses", "bases", "imports", "imported_by", "contains"):
        result = legacy.call("related", {"name": "inventory/orders.py", "relation": relation})
        assert not result.is_error, (relation, text_of(result))
        assert result.structured_content["node"] == "inventory/orders.py"
        for found in result.structured_content["results"]:
            assert found["node"] in text_of(result)
    contains = legacy.call("related", {"name": "inventory/orders.py", "relation": "contains"})
    assert "inventory/orders.py::Order" in {n["node"] for n in contains.structured_content["results"]}
    callees = legacy.call("related", {"name": "Order.total", "relation": "callees"})
    assert callees.structured_content["results"], "Order.total calls subtotal, tax and shipping"
    tests = legacy.call("related", {"name": "inventory/orders.py::Order", "relation": "tests"})
    assert any(n["path"].startswith("tests/") for n in tests.structured_content["results"])


def test_index_status_reports_the_index(legacy):
    result = legacy.call("index_status")
    assert not result.is_error
    data = result.structured_content
    assert data["files_indexed"] > 5 and data["symbols"] > 20 and data["is_stale"] is False
    assert "skipped_files" not in data


@pytest.mark.parametrize("tool, arguments, expected", [
    ("search_code", {"query": ""}, "query"),
    ("search_code", {"query": "x", "top_k": 0}, "top_k"),
    ("search_code", {"query": "x", "kind": "module"}, "kind"),
    ("search_code", {}, "query"),
    ("get_context", {"query": "x", "budget_tokens": -5}, "budget_tokens"),
    ("get_context", {"query": "x", "budget_tokens": "lots"}, "budget_tokens"),
    ("get_symbol", {"name": "NoSuchThingAnywhere"}, "no symbol or file named"),
    ("get_symbol", {"name": "total"}, "matches"),  # ambiguous: the candidates are listed
    ("related", {"name": "Order.total", "relation": "siblings"}, "relation"),
    ("related", {"name": "NoSuchThingAnywhere", "relation": "callers"}, "no symbol or file named"),
    ("reindex", {"paths": ["no/such/file.py"]}, "no such file"),
    ("reindex", {"paths": "inventory/orders.py"}, "paths"),
    ("no_such_tool", {}, "no_such_tool"),
])
def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(legacy, tool, arguments, expected):
    result = legacy.call(tool, arguments)
    assert result.is_error
    assert expected in text_of(result)
    assert "Traceback" not in text_of(result)
    assert not legacy.call("index_status").is_error  # still serving


def test_no_path_outside_the_repository_is_served(legacy, repo):
    outside = repo.parent / "outside" / "canary.py"
    (repo / "escape.py").symlink_to(outside)
    for name in ("../outside/canary.py", str(outside), CANARY, "escape.py", f"escape.py::{CANARY}"):
        result = legacy.call("get_symbol", {"name": name})
        assert result.is_error, name
        assert "outside the repository" not in text_of(result).replace("not a path inside the repository", "")
    for paths in (["../outside/canary.py"], [str(outside)], ["escape.py"]):
        result = legacy.call("reindex", {"paths": paths})
        assert result.is_error and "repository" in text_of(result)
    reindexed = legacy.call("reindex")  # the symlink is in the tree now: the indexer records and skips it
    assert not reindexed.is_error
    for query in (CANARY, "outside the repository canary"):
        for tool, arguments in (("search_code", {"query": query}), ("get_context", {"query": query})):
            result = legacy.call(tool, arguments)
            assert not result.is_error
            served = json.dumps(result.structured_content.get("results", result.structured_content.get("items")))
            served += result.structured_content.get("text", "")
            assert CANARY not in served and "return 'outside the repository'" not in text_of(result)
    (repo / "escape.py").unlink()


def test_reindex_picks_up_a_change_and_the_new_symbol_is_served(legacy, repo):
    pricing = repo / "inventory" / "pricing.py"
    original = pricing.read_text()
    pricing.write_text(original + "\n\ndef island_surcharge(weight: float) -> float:\n    return 4.5 + weight\n")
    try:
        assert legacy.call("index_status").structured_content["is_stale"] is True
        progress: list = []
        result = legacy.call("reindex", {"paths": ["inventory/pricing.py"]}, progress=progress)
        assert not result.is_error, text_of(result)
        assert result.structured_content["files_changed"] >= 1
        assert progress and {"files", "parse"} <= {message for _, _, message in progress}  # stages reported
        symbol = legacy.call("get_symbol", {"name": "island_surcharge"})
        assert not symbol.is_error and "return 4.5 + weight" in symbol.structured_content["source"]
        assert legacy.call("index_status").structured_content["is_stale"] is False
    finally:
        pricing.write_text(original)


def test_a_repository_without_an_index_says_how_to_build_one(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "app.py").write_text("def main():\n    return 1\n")
    for connected in connect(bare, "legacy", "--no-vectors"):
        for tool, arguments in (("search_code", {"query": "main"}), ("index_status", {})):
            result = connected.call(tool, arguments)
            assert result.is_error and "reindex" in text_of(result)
        assert not (bare / ".assist").exists()  # nothing is built behind the user's back


# --------------------------------------------------------------------------------------- raw pipes

INITIALIZE = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def frames(*messages: dict) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in messages)


def test_stdout_carries_only_protocol_frames_while_the_embedding_model_loads(indexed_sample, tmp_path):
    repo = tmp_path / "repo"  # its own copy: it re-indexes while the module's servers hold theirs open
    shutil.copytree(indexed_sample, repo, symlinks=True)
    calls = [{"jsonrpc": "2.0", "id": f"c{i}", "method": "tools/call", "params": {"name": name, "arguments": args}}
             for i, (name, args) in enumerate([
                 ("search_code", {"query": "reserve stock for an order"}),
                 ("get_context", {"query": "cancel an order and release stock", "budget_tokens": 500}),
                 ("get_symbol", {"name": "Order.total"}),
                 ("reindex", {}),
             ])]
    transcript = run_stdio_server(server_command(repo), frames(INITIALIZE, INITIALIZED, *calls),
                                  cwd=PROJECT_ROOT, env=server_env())
    assert transcript.returncode == 0, transcript.stderr
    by_id = {frame["id"]: frame for frame in transcript.frames}
    assert set(by_id) == {"init", "c0", "c1", "c2", "c3"}  # answered before the server stopped at EOF
    for frame in transcript.frames:
        assert_is_response(frame)
    assert all(by_id[f"c{i}"]["result"]["isError"] is False for i in range(4))
    assert "Traceback" not in transcript.stderr


def test_malformed_frames_get_json_rpc_errors_and_the_server_keeps_serving(repo):
    lines = [
        b"this is not json\n",
        b"\xff\xfe{\"jsonrpc\": \"2.0\"}\n",
        b"[1, 2, 3]\n",
        b"42\n",
        json.dumps({"jsonrpc": "2.0", "id": "no-method"}).encode() + b"\n",
        json.dumps({"jsonrpc": "1.0", "id": "old", "method": "tools/list"}).encode() + b"\n",
        json.dumps({"jsonrpc": "2.0", "id": "bad-params", "method": "tools/call", "params": "x"}).encode() + b"\n",
        json.dumps({"jsonrpc": "2.0", "id": "unknown", "method": "no/such/method"}).encode() + b"\n",
        json.dumps({"jsonrpc": "2.0", "id": "huge", "method": "tools/call",
                    "params": {"name": "search_code", "arguments": {"query": "x" * 200_000}}}).encode() + b"\n",
        json.dumps({"jsonrpc": "2.0", "id": "ünïcødé ☃", "method": "tools/call",
                    "params": {"name": "get_symbol", "arguments": {"name": "Ordér.tötal ☃ 😀"}}},
                   ensure_ascii=False).encode() + b"\n",
        json.dumps({"jsonrpc": "2.0", "id": "after", "method": "tools/list"}).encode() + b"\n",
    ]
    payload = frames(INITIALIZE, INITIALIZED) + b"".join(lines)
    transcript = run_stdio_server(server_command(repo, "--no-vectors", "--max-frame-bytes", "65536"), payload,
                                  cwd=PROJECT_ROOT, env=server_env())
    assert transcript.returncode == 0, transcript.stderr
    errors = [frame["error"] for frame in transcript.frames if frame.get("id") is None]
    codes = sorted(error["code"] for error in errors)
    # not JSON, not UTF-8 -> parse errors; a batch, a bare number, the oversized frame -> invalid requests
    assert codes == [-32700, -32700, -32600, -32600, -32600], errors
    assert any("65536-byte limit" in error["message"] for error in errors)
    by_id = {frame["id"]: frame for frame in transcript.frames if frame.get("id") is not None}
    assert by_id["old"]["error"]["code"] == -32600
    assert by_id["bad-params"]["error"]["code"] == -32600
    assert by_id["unknown"]["error"]["code"] == -32601
    assert "no-method" not in by_id  # a response to nothing: answering it would loop
    assert by_id["ünïcødé ☃"]["result"]["isError"] is True  # a proper tool error for an unknown symbol
    assert "Ordér.tötal ☃ 😀" in by_id["ünïcødé ☃"]["result"]["content"][0]["text"]
    assert [tool["name"] for tool in by_id["after"]["result"]["tools"]]


def test_fuzzed_frames_never_crash_the_server_and_every_request_is_answered(repo):
    tool_calls = [("search_code", {"query": "stock", "top_k": 3}), ("get_symbol", {"name": "Order.total"}),
                  ("related", {"name": "Order", "relation": "callers"}), ("get_context", {"query": "x"}),
                  ("index_status", {})]
    corpus = build_corpus(["initialize", "ping", "tools/list", "tools/call", "server/discover", "resources/list",
                           "prompts/list", "notifications/initialized", "logging/setLevel"],
                          count=3000, tool_calls=tool_calls)
    payload = frames(INITIALIZE, INITIALIZED) + b"".join(corpus.lines)
    transcript = run_stdio_server(server_command(repo, "--no-vectors"), payload, cwd=PROJECT_ROOT,
                                  env=server_env())
    assert transcript.returncode == 0, transcript.stderr[-3000:]
    for frame in transcript.frames:
        assert_is_response(frame)
    missing = set(corpus.request_ids) - transcript.answered_ids()
    assert not missing, sorted(missing)[:10]
    assert transcript.null_id_errors() >= corpus.unparseable
    assert "Traceback" not in transcript.stderr

"""Bounds and inert output under attack (issue 10, items 6 and 7).

- A model server that never answers, or answers forever (a stream that never ends, ignoring ``max_tokens``;
  a trickle slow enough never to trip a read timeout; a line that never ends), against both providers and
  `assist ask`: every request ends within its configured limits with a one-line message, keeping whatever
  part of the answer had arrived. The servers are loopback servers written for the purpose
  (tests/hostile_model_server.py): they stand for a broken model server, not for a component of ours.
- JSON-RPC frames nested 1,000 to 100,000 deep, to `assist mcp` and `assist acp`: every request whose id
  can be read is answered with that id, and the server keeps serving.
- A repository whose file names carry terminal escapes and rich markup: `assist status --skipped` and
  `assist search` print them inert (no ESC byte reaches the terminal, no markup is interpreted).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from hostile_model_server import TOKEN, HostileModelServer
from support import PROJECT_ROOT, git, run_assist

from assistant.providers import Completed, ProviderError, ProviderTimeout, StreamInterrupted, TextDelta
from assistant.providers.limits import ReplyCap, ReplyLimitExceeded, RequestLimits
from assistant.providers.ollama import OllamaProvider
from assistant.providers.openai_compat import OpenAICompatProvider

QUESTION = [{"role": "user", "content": "Say something."}]
ENDS_WITHIN_S = 60.0  # how long a test waits before calling a request endless (the limits under test are ~2 s)


def open_provider(kind: str, url: str, **limits) -> OllamaProvider | OpenAICompatProvider:
    if kind == "ollama":
        return OllamaProvider("hostile", base_url=url, **limits)
    return OpenAICompatProvider("hostile", base_url=f"{url}/v1", **limits)


def run_bounded(work, within: float = ENDS_WITHIN_S):
    """Run ``work()`` in a thread; fail the test if it has not ended within ``within`` seconds."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(within)
    assert not worker.is_alive(), f"still running after {within:g} s: the request has no bound"
    return outcome, time.monotonic() - started


def drain(provider, max_tokens: int) -> list:
    return list(provider.stream_chat(QUESTION, max_tokens=max_tokens))


# ------------------------------------------------------------------------------- providers, in process


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_stream_that_ignores_max_tokens_is_cut_at_the_cap(kind):
    with HostileModelServer("endless") as server:
        provider = open_provider(kind, server.url, timeout_s=10, reply_timeout_s=120)
        try:
            outcome, _ = run_bounded(lambda: drain(provider, 32))
        finally:
            provider.close()
    assert "error" not in outcome, outcome.get("error")
    events = outcome["value"]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    final = events[-1]
    assert isinstance(final, Completed) and final.done_reason == "length"
    assert 32 <= len(deltas) <= ReplyCap(32).max_deltas  # the tokens asked for plus the margin, no more
    assert final.text == TOKEN * len(deltas)
    assert server.chat_requests  # it really was asked for 32 and ignored it
    asked = server.chat_requests[0]
    assert (asked.get("max_tokens") or asked.get("options", {}).get("num_predict")) == 32


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_trickling_stream_ends_at_the_whole_reply_deadline_keeping_the_partial_answer(kind):
    with HostileModelServer("trickle", trickle_s=0.1) as server:
        provider = open_provider(kind, server.url, timeout_s=10, reply_timeout_s=2)
        try:
            outcome, elapsed = run_bounded(lambda: drain(provider, 4000))
        finally:
            provider.close()
    error = outcome.get("error")
    assert isinstance(error, ProviderTimeout), outcome
    assert "2 s" in str(error) and "reply_timeout_s" in str(error) and "kept" in str(error)
    assert "\n" not in str(error)
    assert error.partial_text.startswith(TOKEN) and set(error.partial_text.split()) == {"tok"}
    assert elapsed < 2 + 10 + 5  # the deadline, at most one silence interval, and slack for a busy machine


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_line_that_never_ends_is_stopped(kind):
    with HostileModelServer("unterminated", trickle_s=0.01) as server:
        provider = open_provider(kind, server.url, timeout_s=10, reply_timeout_s=2)
        try:
            outcome, _ = run_bounded(lambda: drain(provider, 100))
        finally:
            provider.close()
    error = outcome.get("error")
    assert isinstance(error, (ProviderTimeout, StreamInterrupted)), outcome
    assert "reply_timeout_s" in str(error) or "MiB" in str(error)


def test_a_body_past_the_byte_cap_is_refused_without_holding_it():
    limits = RequestLimits(silence_s=10, reply_s=60, max_body_bytes=1024 * 1024)
    with HostileModelServer("unterminated", trickle_s=0) as server:
        with httpx.Client(**limits.client_options()) as client:
            def read_all():
                return client.post(f"{server.url}/api/chat", json={}).content
            outcome, _ = run_bounded(read_all)
    assert isinstance(outcome.get("error"), ReplyLimitExceeded), outcome
    assert "1 MiB" in str(outcome["error"])


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_server_that_never_sends_headers_times_out_at_open(kind):
    with HostileModelServer("silent") as server:
        outcome, elapsed = run_bounded(lambda: open_provider(kind, server.url, timeout_s=1.5, reply_timeout_s=30))
    assert isinstance(outcome.get("error"), ProviderTimeout), outcome
    assert "1.5 s" in str(outcome["error"])
    assert elapsed < 1.5 * 2 + 10


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_a_chat_that_never_sends_headers_times_out(kind):
    with HostileModelServer("silent_chat") as server:
        provider = open_provider(kind, server.url, timeout_s=1.5, reply_timeout_s=30)
        try:
            outcome, _ = run_bounded(lambda: drain(provider, 32))
        finally:
            provider.close()
    assert isinstance(outcome.get("error"), ProviderTimeout), outcome
    assert "sent nothing for 1.5 s" in str(outcome["error"])


def test_a_stalled_optional_endpoint_stops_the_setup_instead_of_waiting_on_each_probe():
    # The server lists its model, then stalls: each further request would wait the whole silence limit.
    with HostileModelServer("silent_probes") as server:
        outcome, _ = run_bounded(lambda: open_provider("openai", server.url, timeout_s=1.5, reply_timeout_s=30))
    assert isinstance(outcome.get("error"), ProviderTimeout), outcome
    assert "/tokenize" in str(outcome["error"])
    assert not server.chat_requests


def test_the_silence_limit_never_outlasts_the_whole_reply_deadline():
    assert RequestLimits(silence_s=300, reply_s=5).timeout().read == 5
    with pytest.raises(ValueError):
        RequestLimits(reply_s=0)


# ------------------------------------------------------------------------------- JSON-RPC, deep frames

DEPTHS = (1_000, 10_000, 100_000)


def nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def deep_requests(method: str, params_key: str) -> tuple[list[bytes], list[str]]:
    """Requests nested 1,000 to 100,000 deep, arrays and objects, with the id before and after the nesting."""
    lines, ids = [], []
    for depth in DEPTHS:
        for kind in ("array", "object"):
            for where in ("before", "after"):
                request_id = f"deep-{depth}-{kind}-{where}"
                head = f'"jsonrpc":"2.0","method":"{method}","params":{{"{params_key}":{nested(depth, kind)}}}'
                body = (f'{{"id":"{request_id}",{head}}}' if where == "before"
                        else f'{{{head},"id":"{request_id}"}}')
                lines.append(body.encode() + b"\n")
                ids.append(request_id)
    return lines, ids


def check_deep_answers(transcript, ids: list[str]) -> dict:
    assert transcript.returncode == 0, transcript.stderr[-3000:]
    by_id = {frame.get("id"): frame for frame in transcript.frames if "method" not in frame}
    missing = [request_id for request_id in ids if request_id not in by_id]
    assert not missing, missing
    for request_id in ids:
        assert by_id[request_id]["error"]["code"] == -32700, by_id[request_id]
        assert "128 deep" in by_id[request_id]["error"]["message"]
    assert transcript.null_id_errors() == 0  # every one of them had an id to answer with
    assert "Traceback" not in transcript.stderr and "RecursionError" not in transcript.stderr
    return by_id


def test_mcp_answers_every_deeply_nested_request_with_its_id_and_keeps_serving(tmp_path):
    from jsonrpc_fuzz import run_stdio_server

    (tmp_path / "app.py").write_text("def main():\n    return 1\n")
    initialize = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "raw", "version": "1"}}}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    lines, ids = deep_requests("tools/call", "arguments")
    shallow = {"jsonrpc": "2.0", "id": "nested-but-fine", "method": "tools/call",
               "params": {"name": "search_code", "arguments": {"query": "main", "x": json.loads(nested(40, "array"))}}}
    after = {"jsonrpc": "2.0", "id": "after", "method": "tools/list"}
    payload = b"".join(json.dumps(m).encode() + b"\n" for m in (initialize, initialized)) + b"".join(lines)
    payload += json.dumps(shallow).encode() + b"\n" + json.dumps(after).encode() + b"\n"
    transcript = run_stdio_server([sys.executable, "-m", "assistant.cli", "mcp", "--repo", str(tmp_path),
                                   "--no-vectors"], payload, cwd=PROJECT_ROOT, env=clean_env(), timeout=300)
    by_id = check_deep_answers(transcript, ids)
    assert "result" in by_id["nested-but-fine"]  # nesting under the limit still reaches the tool
    assert [tool["name"] for tool in by_id["after"]["result"]["tools"]]


def test_acp_answers_every_deeply_nested_request_with_its_id_and_keeps_serving(tmp_path):
    from jsonrpc_fuzz import run_stdio_server

    initialize = {"jsonrpc": "2.0", "id": "init", "method": "initialize",
                  "params": {"protocolVersion": 1, "clientCapabilities": {}}}
    lines, ids = deep_requests("session/new", "mcpServers")
    after = {"jsonrpc": "2.0", "id": "after", "method": "initialize", "params": {"protocolVersion": 1}}
    payload = json.dumps(initialize).encode() + b"\n" + b"".join(lines) + json.dumps(after).encode() + b"\n"
    dead_model = ("--model", "openai:none", "--base-url", "http://127.0.0.1:9/v1")
    transcript = run_stdio_server([sys.executable, "-m", "assistant.cli", "acp", *dead_model, "--no-vectors"],
                                  payload, cwd=tmp_path, env=clean_env(), timeout=300)
    by_id = check_deep_answers(transcript, ids)
    assert by_id["after"]["result"]["protocolVersion"] == 1


def clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}


# ------------------------------------------------------------------------------- terminal escapes

RETITLE = "\x1b]0;pwned\x07"  # sets the terminal's title
CLEAR = "\x1b[2J"  # clears the screen
BINARY_NAME = f"evil{RETITLE}.dat"
CODE_NAME = f"{CLEAR}[red]clear.py"  # escapes plus rich markup
LINK_NAME = "[link=https:evil.example]:skull:.py"  # a hyperlink tag and an emoji code


@pytest.fixture(scope="module")
def escape_repo(tmp_path_factory) -> Path:
    """An indexed repository whose file names (and a docstring) carry terminal escapes and rich markup."""
    from indexer.pipeline import index_repository

    repo = tmp_path_factory.mktemp("escapes") / "repo"
    repo.mkdir()
    (repo / BINARY_NAME).write_bytes(b"\x00\x01 binary, so skipped and listed by status --skipped")
    (repo / CODE_NAME).write_text(f'def reserve_the_stock():\n    """Reserve {RETITLE} the stock."""\n'
                                  f"    return 1\n")
    (repo / LINK_NAME).write_text("def follow_the_link():\n    return reserve_the_stock()\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "names with escapes")
    index_repository(repo)
    (repo / f"added{CLEAR}later.py").write_text("X = 1\n")  # listed as stale by status
    return repo


def assert_inert(result: subprocess.CompletedProcess) -> None:
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\x9b" not in stream, stream
    assert "Traceback" not in result.stderr


def test_status_prints_escape_sequences_in_file_names_inert(escape_repo):
    result = run_assist("status", "--skipped", str(escape_repo))
    assert result.returncode == 0, result.stderr
    assert_inert(result)
    assert "evil\\x1b]0;pwned\\x07.dat" in result.stdout  # the skipped binary, shown with visible escapes
    assert "added\\x1b[2Jlater.py" in result.stdout  # a file added since indexing
    as_json = run_assist("status", "--skipped", "--json", str(escape_repo))
    assert as_json.returncode == 0, as_json.stderr
    assert "\x1b" not in as_json.stdout  # JSON escapes it itself, and the name stays exact
    assert [item["path"] for item in json.loads(as_json.stdout)["skipped_files"]] == [BINARY_NAME]


def test_search_prints_names_inert_and_never_as_markup(escape_repo):
    for query, kind in (("reserve_the_stock", "symbol"), ("follow_the_link", "symbol"), ("reserve stock", "file")):
        result = run_assist("search", query, "--no-vectors", "--kind", kind, "-C", str(escape_repo))
        assert result.returncode == 0, result.stderr
        assert_inert(result)
        flat = result.stdout.replace("\n", "")  # a narrow table may fold a long name
        assert "\\x1b[2J[red]clear.py" in flat or "[link=https:evil.example]:skull:.py" in flat, result.stdout


def test_context_graph_and_errors_print_repository_text_inert(escape_repo):
    context = run_assist("context", "reserve the stock", "--no-vectors", "-C", str(escape_repo))
    assert context.returncode == 0, context.stderr
    assert_inert(context)
    assert "Reserve \\x1b]0;pwned\\x07 the stock." in context.stdout  # the docstring as sent to a model
    show = run_assist("graph", "show", "reserve_the_stock", "-C", str(escape_repo))
    assert show.returncode == 0, show.stderr
    assert_inert(show)
    assert "[red]clear.py" in show.stdout.replace("\n", "")
    unknown = run_assist("graph", "callers", f"no_such{CLEAR}name", "-C", str(escape_repo))
    assert unknown.returncode != 0
    assert_inert(unknown)
    assert "no_such\\x1b[2Jname" in unknown.stderr


# ------------------------------------------------------------------------------- `assist ask`, end to end


@pytest.fixture(scope="module")
def ask_repo(tmp_path_factory) -> Path:
    from indexer.pipeline import index_repository

    repo = tmp_path_factory.mktemp("ask") / "repo"
    repo.mkdir()
    (repo / "stock.py").write_text('def reserve(order):\n    """Reserve stock for an order."""\n    return order\n')
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stock")
    index_repository(repo)
    return repo


def ask_hostile(repo: Path, server: HostileModelServer, kind: str, *, timeout_s: float, reply_timeout_s: float,
                max_tokens: int = 24) -> tuple[subprocess.CompletedProcess, float]:
    """`assist ask` against ``server`` with the limits set where users set them: .assist/config.toml."""
    (repo / ".assist" / "config.toml").write_text(
        f"[model]\ntimeout_s = {timeout_s}\nreply_timeout_s = {reply_timeout_s}\n")
    model = ("--model", "ollama:hostile", "--base-url", server.url) if kind == "ollama" else (
        "--model", "openai:hostile", "--base-url", f"{server.url}/v1")
    started = time.monotonic()
    result = run_assist("ask", "How is stock reserved?", "-C", str(repo), *model, "--no-vectors",
                        "--max-tokens", str(max_tokens), env=clean_env(), timeout=ENDS_WITHIN_S * 2)
    return result, time.monotonic() - started


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_ask_stops_a_reply_that_ignores_max_tokens_at_the_cap(ask_repo, kind):
    with HostileModelServer("endless") as server:
        result, _ = ask_hostile(ask_repo, server, kind, timeout_s=10, reply_timeout_s=60)
    assert result.returncode == 0, result.stderr
    tokens = result.stdout.split()
    assert set(tokens) == {"tok"} and 24 <= len(tokens) <= ReplyCap(24).max_deltas
    assert "24-token reply limit" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["ollama", "openai"])
def test_ask_ends_a_never_ending_reply_at_the_deadline_keeping_the_partial_answer(ask_repo, kind):
    with HostileModelServer("trickle", trickle_s=0.1) as server:
        result, elapsed = ask_hostile(ask_repo, server, kind, timeout_s=10, reply_timeout_s=3, max_tokens=2000)
    assert result.returncode == 1, result.stderr
    assert result.stdout.split() and set(result.stdout.split()) == {"tok"}  # the partial answer, on stdout
    last = error_lines(result)[-1]
    assert last.startswith("assist: ") and "3 s" in last and "reply_timeout_s" in last and "kept" in last
    assert "Traceback" not in result.stderr
    assert elapsed < ENDS_WITHIN_S


@pytest.mark.parametrize("kind,mode", [("ollama", "silent_chat"), ("openai", "silent_chat"),
                                       ("openai", "silent_probes"), ("ollama", "silent")])
def test_ask_against_a_server_that_never_sends_headers_ends_with_one_line(ask_repo, kind, mode):
    with HostileModelServer(mode) as server:
        result, elapsed = ask_hostile(ask_repo, server, kind, timeout_s=2, reply_timeout_s=30)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    last = error_lines(result)[-1]
    assert last.startswith("assist: ") and "sent nothing for 2 s" in last, result.stderr
    assert "Traceback" not in result.stderr
    if mode == "silent_probes":  # the first silence ends it; no request after it waits as long again
        assert "/tokenize" in last and not server.chat_requests
    assert elapsed < ENDS_WITHIN_S

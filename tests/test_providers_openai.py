"""The OpenAI-compatible provider against a real llama.cpp server running SmolLM2-135M (see tests/model_server.py).

Replies are asserted by structure (events, counts, reasons), never by wording.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from assistant.config import open_provider, resolve_model_settings
from assistant.providers import (
    Completed,
    ContextWindowTooSmall,
    ProviderRequestError,
    ProviderTimeout,
    ServerUnavailable,
    TextDelta,
    collect,
)
from assistant.providers.openai_compat import OpenAICompatProvider, normalize_base_url

QUESTION = [{"role": "user", "content": "Tell me a story about a lighthouse."}]
# At temperature 0 this model answers these in a few tokens and stops by itself.
SHORT_ANSWER = [{"role": "user", "content": "Is the sky blue? Answer yes or no."}]


@pytest.fixture
def provider(llama_server):
    opened = OpenAICompatProvider(base_url=llama_server, temperature=0)
    yield opened
    opened.close()


def server_counter(url: str, name: str) -> float:
    """One of the llama.cpp server's Prometheus counters."""
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    return float(re.search(rf"^llamacpp:{name} (\S+)$", metrics, re.MULTILINE).group(1))


def server_work(url: str) -> float:
    """Prompt plus generated tokens the llama.cpp server has processed so far."""
    names = ("prompt_tokens_total", "prompt_tokens_cached_total", "tokens_predicted_total")
    return sum(server_counter(url, name) for name in names)


def long_text(words: int) -> str:
    return " ".join(f"lighthouse{i % 97} keeper watches ships" for i in range(words // 4))


def test_opening_learns_model_window_and_tokenizer_from_the_server(provider, llama_server):
    props = httpx.get(f"{llama_server}/props", timeout=10).json()
    assert provider.model == "smollm2-135m"
    assert provider.name == f"openai:smollm2-135m@{llama_server}/v1"
    assert provider.context_window == props["default_generation_settings"]["n_ctx"] == 4096
    assert provider.exact_tokens and provider.notices == []
    assert provider.reply_reserve == 1024


def test_streamed_reply_arrives_in_pieces_then_one_final_event(provider):
    events = list(provider.stream_chat(QUESTION, max_tokens=12))
    deltas, final = events[:-1], events[-1]
    assert len(deltas) >= 2 and all(isinstance(e, TextDelta) and e.text for e in deltas)
    assert isinstance(final, Completed)
    assert final.text == "".join(d.text for d in deltas) and final.text.strip()
    assert final.done_reason == "length" and final.usage.completion_tokens == 12
    # The server's own count of the prompt equals ours: counting uses the server's template and tokenizer.
    assert final.usage.prompt_tokens == final.usage.estimated_prompt_tokens == provider.count_tokens(QUESTION)
    assert not final.truncated


def test_non_streaming_reply_matches_the_stream_at_temperature_zero(provider):
    whole = provider.chat(QUESTION, max_tokens=12)
    streamed = collect(provider.stream_chat(QUESTION, max_tokens=12))
    assert whole.text == streamed.text and whole.text.strip()
    assert whole.usage == streamed.usage and whole.done_reason == streamed.done_reason == "length"


def test_model_that_finishes_by_itself_stops_before_max_tokens(provider):
    whole = provider.chat(SHORT_ANSWER, max_tokens=48)
    streamed = collect(provider.stream_chat(SHORT_ANSWER, max_tokens=48))
    for reply in (whole, streamed):
        assert reply.done_reason == "stop"
        assert 0 < reply.usage.completion_tokens < 48 and reply.text.strip()


def test_max_tokens_bounds_the_reply(provider):
    for limit in (1, 5):
        reply = provider.chat(QUESTION, max_tokens=limit)
        assert reply.done_reason == "length" and reply.usage.completion_tokens == limit


def test_every_role_reaches_the_server_through_its_template(provider):
    conversation = [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one."},
    ]
    reply = provider.chat(conversation, max_tokens=4)
    # Exact equality: the server templated system, user, assistant and user turns as we counted them.
    assert reply.usage.prompt_tokens == provider.count_tokens(conversation)
    assert provider.count_tokens(conversation) > provider.count_tokens(conversation[-1:])
    with pytest.raises(ValueError, match="role"):
        provider.chat([{"role": "robot", "content": "beep"}])


def test_cancel_ends_the_stream_early_and_the_server_stays_usable(provider, llama_server):
    generated_before = server_counter(llama_server, "tokens_predicted_total")
    cancel = threading.Event()
    events = []
    for event in provider.stream_chat(QUESTION, max_tokens=200, cancel=cancel):
        events.append(event)
        cancel.set()  # stop after the first piece
    final = events[-1]
    assert isinstance(final, Completed) and final.done_reason == "cancelled"
    assert len(events) == 2 and final.text == events[0].text
    assert provider.chat(SHORT_ANSWER, max_tokens=8).done_reason in ("stop", "length")
    # Closing the stream stopped the server too: it did not go on to write the 200 tokens nobody reads.
    assert server_counter(llama_server, "tokens_predicted_total") - generated_before < 100


def test_lists_the_served_model_with_its_window(provider):
    models = provider.list_models()
    assert [m.name for m in models] == ["smollm2-135m"]
    assert models[0].context_length == 4096 and models[0].details["n_ctx_train"] == "8192"


def test_embeddings_have_one_vector_per_text(provider):
    vectors = provider.embed(["def add(a, b): return a + b", "the lighthouse keeper"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) == 576
    assert vectors[0] != vectors[1]


def test_prompt_over_the_window_is_refused_before_anything_is_sent(llama_server):
    small = OpenAICompatProvider(base_url=llama_server, context_window=512)
    prompt = [{"role": "user", "content": long_text(600)}]
    needed = small.count_tokens(prompt)
    assert 512 < needed < 4096  # the server itself would have accepted it
    before = server_work(llama_server)
    with pytest.raises(ContextWindowTooSmall) as refused:
        list(small.stream_chat(prompt, max_tokens=16))
    assert refused.value.window == 512 and refused.value.needed == needed + 16
    assert "context_window" in str(refused.value)  # says what to set
    assert server_work(llama_server) == before


def test_reply_reserve_counts_when_max_tokens_is_not_given(llama_server):
    small = OpenAICompatProvider(base_url=llama_server, context_window=200)  # reserve: a quarter of it
    prompt = [{"role": "user", "content": long_text(96)}]
    assert small.count_tokens(prompt) + 16 <= 200 < small.count_tokens(prompt) + small.reply_reserve
    assert small.exact_tokens
    assert 0 < small.chat(prompt, max_tokens=16).usage.completion_tokens <= 16
    with pytest.raises(ContextWindowTooSmall):
        small.chat(prompt)


def test_server_refusing_a_prompt_as_too_long_is_a_context_error(llama_server):
    overstated = OpenAICompatProvider(base_url=llama_server, context_window=16384)
    assert any("4096" in notice for notice in overstated.notices)
    prompt = [{"role": "user", "content": long_text(3000)}]
    assert 4096 < overstated.count_tokens(prompt) < 16384
    with pytest.raises(ContextWindowTooSmall) as refused:
        overstated.chat(prompt, max_tokens=8)
    assert refused.value.window == 4096 and refused.value.needed > 4096


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_nothing_listening_is_a_clear_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnavailable) as down:
        OpenAICompatProvider(base_url=url)
    assert url in str(down.value) and "start your server" in str(down.value)
    assert down.value.url.startswith(url)


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a stalled server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []

    def accept_forever():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept_forever, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    for connection in held:
        connection.close()


def test_stalled_server_times_out_within_the_configured_bound(silent_server):
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as stalled:
        OpenAICompatProvider(base_url=silent_server, timeout_s=1.0)
    # Only a guard against hanging: ended by the 1 s timeout, not the 300 s default (or never).
    assert time.monotonic() - started < 60
    assert silent_server in str(stalled.value) and "1 s" in str(stalled.value)


def test_base_url_gets_the_api_root_unless_a_path_is_given():
    assert normalize_base_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/v1"
    assert normalize_base_url("http://127.0.0.1:1234/v1") == "http://127.0.0.1:1234/v1"
    assert normalize_base_url("http://gateway:80/openai/v1/") == "http://gateway:80/openai/v1"
    with pytest.raises(ValueError):
        normalize_base_url("localhost:8080")


@pytest.fixture
def keyed_server():
    """A stand-in for a hosted OpenAI-compatible API that wants a bearer token; records what each request sent."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.headers.get("Authorization"))
            if seen[-1] != "Bearer sk-local-test":
                status, body = 401, {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}
            elif self.path == "/v1/models":
                status, body = 200, {"object": "list", "data": [{"id": "guarded", "object": "model"}]}
            else:
                status, body = 404, {"error": {"message": "not here"}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_api_key_goes_on_every_request_and_a_refusal_says_where_to_set_it(keyed_server, tmp_path):
    url, seen = keyed_server
    with pytest.raises(ProviderRequestError) as refused:
        OpenAICompatProvider(base_url=url)
    assert refused.value.status_code == 401 and "ASSIST_API_KEY" in str(refused.value)
    assert seen == [None]

    seen.clear()
    settings = resolve_model_settings(tmp_path, "openai:", url, env={"ASSIST_API_KEY": "sk-local-test"})
    provider = open_provider(settings)
    assert provider.model == "guarded" and provider.list_models()[0].name == "guarded"
    provider.close()
    assert len(seen) >= 2 and set(seen) == {"Bearer sk-local-test"}

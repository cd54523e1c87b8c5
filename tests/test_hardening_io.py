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

"""The provider registry: a model spec's prefix picks the provider, the same way for every front end; and the
shared streaming template, run through the scripted provider (no server needed)."""

from __future__ import annotations

import importlib
import json
import threading
import time

import pytest
from support import SAMPLE_ANSWERS, run_assist, scripted_model

from assistant.config import ConfigError, ModelSettings, open_provider, resolve_model_settings
from assistant.providers import Completed, ProviderError, StreamInterrupted, TextDelta
from assistant.providers.registry import PROVIDERS, UnknownProvider, provider_kind
from assistant.providers.scripted import ScriptedProvider
from assistant.providers.streaming import ReceivedReply, StreamingProvider, StreamRequest


def test_an_unknown_provider_is_refused_with_the_ones_there_are():
    with pytest.raises(ConfigError) as refused:
        open_provider(ModelSettings(provider="vertex", model="gemini"))
    assert str(refused.value) == ("unknown model provider 'vertex': use one of ollama:NAME, openai:NAME, "
                                  "scripted:FILE")
    with pytest.raises(UnknownProvider, match="unknown model provider 'vertex'"):
        provider_kind("vertex")


def test_every_registered_provider_module_can_open_and_list():
    assert set(PROVIDERS) == {"ollama", "openai", "scripted"}
    for kind in PROVIDERS.values():
        module = importlib.import_module(f"assistant.providers.{kind.module}")
        assert callable(module.open_provider) and callable(module.list_server_models), kind.prefix


def test_a_scripted_spec_resolves_like_any_model_and_takes_the_configured_window(tmp_path, monkeypatch):
    replies = tmp_path / "replies.json"
    scripted_model(replies, SAMPLE_ANSWERS)
    (tmp_path / ".assist").mkdir()
    (tmp_path / ".assist" / "config.toml").write_text("[model]\ncontext_window = 1024\n")
    monkeypatch.chdir(tmp_path)  # FILE is taken relative to the current directory, as a shell would
    settings = resolve_model_settings(tmp_path, "scripted:replies.json", env={})
    assert (settings.provider, settings.model, settings.spec) == ("scripted", "replies.json", "scripted:replies.json")
    provider = open_provider(settings)
    assert provider.name == "scripted:replies.json" and provider.context_window == 1024
    assert provider.chat([{"role": "user", "content": "where?"}]).text == SAMPLE_ANSWERS[0]

    with pytest.raises(ConfigError, match='"scripted:" needs a model name'):
        resolve_model_settings(tmp_path, "scripted:", env={})
    with pytest.raises(ProviderError, match="cannot read the scripted replies"):
        open_provider(resolve_model_settings(tmp_path, "scripted:missing.json", env={}))
    (tmp_path / "bad.json").write_text(json.dumps({"replies": ["x"], "pause_s": -1}))
    with pytest.raises(ProviderError, match="pause_s must be a positive number"):
        open_provider(resolve_model_settings(tmp_path, "scripted:bad.json", env={}))


def test_models_lists_the_scripted_model(tmp_path):
    model = scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS, context_window=2048)
    result = run_assist("models", "--model", model, "--json", "-C", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "scripted"
    assert [(m["name"], m["context_length"], m["selected"]) for m in data["models"]] == [
        (str(tmp_path / "replies.json"), 2048, True)]


# ------------------------------------------------------------------------------------- the streaming template


def test_a_cancelled_stream_stops_at_the_next_piece_and_keeps_what_arrived():
    provider = ScriptedProvider(["0123456789" * 20], chunk=10, pause_s=0.01)
    cancel = threading.Event()
    events = []
    for event in provider.stream_chat([{"role": "user", "content": "go"}], cancel=cancel):
        events.append(event)
        if len(events) == 3:
            cancel.set()
    assert [type(e) for e in events] == [TextDelta, TextDelta, TextDelta, Completed]
    assert events[-1].done_reason == "cancelled" and events[-1].text == "0123456789" * 3


def test_a_silent_model_sends_nothing_until_its_silence_ends():
    provider = ScriptedProvider(["hello"], silence_s=0.5)
    started = time.monotonic()
    stream = provider.stream_chat([{"role": "user", "content": "go"}])
    assert next(stream) == TextDelta("hello") and time.monotonic() - started >= 0.5
    final = next(stream)
    assert final.done_reason == "stop" and final.usage.completion_tokens == 2
    provider.close()


class _EndsEarly(StreamingProvider):
    """A provider whose server sends two pieces and then closes the stream without saying it was done."""

    context_window = 4096

    def _stream_request(self, messages, max_tokens):
        return StreamRequest(None, 7, "http://example.invalid/chat")

    def _wire_stream(self, request: StreamRequest, reply: ReceivedReply):
        yield [TextDelta("half an ")]
        yield [TextDelta("answer")]

    def _stream_failure(self, exc, request, partial):
        raise AssertionError("no transport here")


def test_a_stream_that_ends_before_the_server_said_done_is_interrupted_and_keeps_the_text():
    events = []
    with pytest.raises(StreamInterrupted) as broken:
        for event in _EndsEarly().stream_chat([{"role": "user", "content": "go"}]):
            events.append(event)
    assert events == [TextDelta("half an "), TextDelta("answer")]
    assert broken.value.partial_text == "half an answer" and "14 characters received are kept" in str(broken.value)
    assert broken.value.url == "http://example.invalid/chat"

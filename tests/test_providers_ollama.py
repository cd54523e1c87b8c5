"""The Ollama provider, through the official ``ollama`` client, against a server speaking Ollama's protocol in
front of the real SmolLM2-135M model (tests/ollama_protocol_server.py); and model selection (assistant.config).

Replies are asserted by structure (events, counts, reasons), never by wording.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from assistant.config import (
    ConfigError,
    open_provider,
    parse_model_spec,
    resolve_model_settings,
    switch_model_settings,
)
from assistant.providers import (
    ChatProvider,
    Completed,
    ContextWindowTooSmall,
    ModelNotFound,
    ProviderTimeout,
    ServerUnavailable,
    StreamInterrupted,
    TextDelta,
    collect,
)
from assistant.providers.ollama import RECOMMENDED_CONTEXT, OllamaProvider, choose_context_window
from assistant.providers.openai_compat import OpenAICompatProvider

MODEL = "smollm2:135m"
QUESTION = [{"role": "user", "content": "Tell me a story about a lighthouse."}]


@pytest.fixture
def provider(ollama_server):
    opened = OllamaProvider(MODEL, base_url=ollama_server.url, temperature=0)
    yield opened
    opened.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_lists_models_with_their_details(provider):
    models = provider.list_models()
    assert [m.name for m in models] == [MODEL]
    assert models[0].details["family"] == "llama" and models[0].details["quantization"] == "Q4_1"
    assert int(models[0].details["size_bytes"]) > 50_000_000


def test_context_window_is_chosen_once_from_show_and_configuration(ollama_server):
    model_max = ollama_server.context_length
    assert model_max == 4096
    default = OllamaProvider(MODEL, base_url=ollama_server.url)
    assert default.context_window == model_max == default.model_max_context  # min(model max, 16384)
    assert any(str(RECOMMENDED_CONTEXT) in notice for notice in default.notices)
    assert OllamaProvider(MODEL, base_url=ollama_server.url, context_window=2048).context_window == 2048
    clamped = OllamaProvider(MODEL, base_url=ollama_server.url, context_window=100_000)
    assert clamped.context_window == model_max and any("100000" in n for n in clamped.notices)
    shown = [r.body for r in ollama_server.requests if r.path == "/api/show"]
    assert shown == [{"model": MODEL}] * 3


def test_context_choice_defaults_to_16k_when_the_model_allows_more():
    assert choose_context_window(None, 131072) == (16384, [])
    assert choose_context_window(32768, 131072) == (32768, [])
    window, notices = choose_context_window(None, None)
    assert window == 4096 and "context_window" in notices[0]


def test_chat_reports_usage_counted_by_the_server(provider):
    reply = provider.chat(QUESTION, max_tokens=8)
    assert reply.text.strip() and reply.done_reason == "length"
    assert reply.usage.completion_tokens == 8
    assert reply.usage.prompt_tokens > 10 and reply.usage.estimated_prompt_tokens > 0
    assert not reply.truncated


def test_streamed_chat_matches_the_whole_reply(provider):
    events = list(provider.stream_chat(QUESTION, max_tokens=8))
    deltas, final = events[:-1], events[-1]
    assert len(deltas) >= 2 and all(isinstance(e, TextDelta) for e in deltas)
    assert isinstance(final, Completed) and final.text == "".join(d.text for d in deltas)
    assert final.done_reason == "length" and final.usage.completion_tokens == 8
    assert final.text == provider.chat(QUESTION, max_tokens=8).text  # temperature 0


def test_model_that_finishes_by_itself_reports_stop(provider):
    question = [{"role": "user", "content": "Is the sky blue? Answer yes or no."}]
    reply = collect(provider.stream_chat(question, max_tokens=48))
    assert reply.done_reason == "stop" and 0 < reply.usage.completion_tokens < 48


def test_embeddings_have_one_vector_per_text(provider):
    vectors = provider.embed(["def add(a, b): return a + b", "the lighthouse keeper", "x"])
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1 and len(vectors[0]) > 100
    assert vectors[0] != vectors[1]


def test_num_ctx_and_keep_alive_go_on_every_request_and_never_change(ollama_server):
    provider = OllamaProvider(MODEL, base_url=ollama_server.url, context_window=3000, temperature=0)
    provider.chat(QUESTION, max_tokens=4)
    collect(provider.stream_chat(QUESTION, max_tokens=6))
    cancel = threading.Event()  # no max_tokens: stop it ourselves after the first piece
    for _ in provider.stream_chat([*QUESTION, {"role": "assistant", "content": "Once"},
                                   {"role": "user", "content": "Go on."}], cancel=cancel):
        cancel.set()
    provider.embed(["a text"])
    model_requests = [r.body for r in ollama_server.requests if r.path in ("/api/chat", "/api/embed")]
    assert len(model_requests) == 4
    assert [body["options"]["num_ctx"] for body in model_requests] == [3000] * 4
    assert all(body["keep_alive"] == "30m" for body in model_requests)
    assert [o.get("num_predict") for o in ollama_server.chat_options()] == [4, 6, None]


def test_unknown_model_says_how_to_pull_it(ollama_server):
    with pytest.raises(ModelNotFound) as missing:
        OllamaProvider("qwen2.5-coder:7b", base_url=ollama_server.url)
    assert "ollama pull qwen2.5-coder:7b" in str(missing.value)
    assert missing.value.model == "qwen2.5-coder:7b" and ollama_server.url in str(missing.value)


def test_error_line_mid_stream_keeps_the_text_that_arrived(provider, ollama_server):
    ollama_server.error_after_chunks = 2
    received = []
    with pytest.raises(StreamInterrupted) as broke:
        for event in provider.stream_chat(QUESTION, max_tokens=20):
            received.append(event.text)
    assert len(received) == 2
    assert broke.value.partial_text == "".join(received) and broke.value.partial_text.strip()
    assert "unexpected EOF" in str(broke.value)  # the server's reason is passed on


def test_stalled_server_times_out_within_the_bound(ollama_server):
    provider = OllamaProvider(MODEL, base_url=ollama_server.url, timeout_s=1.0)
    ollama_server.stall_s = 30  # without the timeout the reply would come, late, and nothing would be raised
    with pytest.raises(ProviderTimeout) as stalled:
        provider.chat(QUESTION, max_tokens=4)
    assert ollama_server.url in str(stalled.value) and "1 s" in str(stalled.value)


def test_stall_mid_stream_times_out_and_keeps_the_text_that_arrived(ollama_server):
    # The timeout must outlast the real model's first tokens on a busy 2-core machine, and end the stall.
    provider = OllamaProvider(MODEL, base_url=ollama_server.url, timeout_s=8.0)
    ollama_server.stall_s, ollama_server.stall_after_chunks = 300, 3
    received = []
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as stalled:
        for event in provider.stream_chat(QUESTION, max_tokens=20):
            received.append(event.text)
    assert time.monotonic() - started < 60
    assert len(received) == 3 and stalled.value.partial_text == "".join(received)


def test_nothing_listening_is_a_clear_error_naming_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServerUnavailable) as down:
        OllamaProvider(MODEL, base_url=url)
    assert url in str(down.value) and "ollama serve" in str(down.value)


def test_server_gone_after_opening_is_the_same_clear_error(ollama_server):
    provider = OllamaProvider(MODEL, base_url=ollama_server.url)
    ollama_server.stop()
    # The client raises ConnectionError for a plain call and a raw httpx error, lazily, for a stream.
    with pytest.raises(ServerUnavailable, match="ollama serve"):
        provider.chat(QUESTION, max_tokens=4)
    stream = provider.stream_chat(QUESTION, max_tokens=4)
    with pytest.raises(ServerUnavailable, match="ollama serve"):
        next(stream)


def long_history(turns: int) -> list[dict[str, str]]:
    history = [{"role": "system", "content": "You are a helpful assistant."}]
    for turn in range(turns):
        history.append({"role": "user", "content": f"Question {turn}: " + "describe the harbour and its ships " * 8})
        history.append({"role": "assistant", "content": "The harbour is calm and the ships are moored. " * 5})
    history.append({"role": "user", "content": "Summarise."})
    return history


def test_a_prompt_cut_silently_by_the_server_is_flagged(provider, ollama_server):
    conversation = long_history(2)
    whole = collect(provider.stream_chat(conversation, max_tokens=4))
    assert not whole.truncated
    ollama_server.context_cap = 64  # as if OLLAMA_CONTEXT_LENGTH overrode our num_ctx
    cut = collect(provider.stream_chat(conversation, max_tokens=4))
    assert cut.truncated
    assert cut.usage.prompt_tokens < whole.usage.prompt_tokens / 2
    assert ollama_server.chat_options()[-1]["num_ctx"] == provider.context_window  # we did ask for the full window


def test_prompt_over_the_window_is_refused_before_sending(ollama_server):
    provider = OllamaProvider(MODEL, base_url=ollama_server.url, context_window=1024)
    with pytest.raises(ContextWindowTooSmall) as refused:
        provider.chat(long_history(8), max_tokens=16)
    assert refused.value.window == 1024 and refused.value.needed > 1024
    assert "context_window" in str(refused.value) and "4096" in str(refused.value)  # what to set, and the limit
    assert ollama_server.chat_options() == []


def test_cancel_ends_the_stream_early(provider):
    cancel = threading.Event()
    events = []
    for event in provider.stream_chat(QUESTION, max_tokens=200, cancel=cancel):
        events.append(event)
        cancel.set()
    assert len(events) == 2 and events[-1].done_reason == "cancelled" and events[-1].text == events[0].text


# -- model selection -----------------------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_defaults_to_ollama_qwen_coder_on_the_local_port(tmp_path):
    settings = resolve_model_settings(tmp_path, env={})
    assert (settings.provider, settings.model) == ("ollama", "qwen2.5-coder:7b")
    assert settings.base_url == "http://127.0.0.1:11434"
    assert settings.spec == "ollama:qwen2.5-coder:7b" and settings.sources == {}


def test_model_specs():
    assert parse_model_spec("ollama:qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b")
    assert parse_model_spec("qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b")
    assert parse_model_spec("openai:gpt-oss-20b") == ("openai", "gpt-oss-20b")
    assert parse_model_spec("openai:") == ("openai", "")
    for bad in ("", "ollama:"):
        with pytest.raises(ConfigError):
            parse_model_spec(bad)


def test_precedence_is_flag_then_environment_then_repo_config_then_pyproject(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.assist.model]\nmodel = "ollama:from-pyproject"\ncontext_window = 8192\n')
    assert resolve_model_settings(tmp_path, env={}).model == "from-pyproject"
    write(tmp_path / ".assist" / "config.toml", '[model]\nmodel = "ollama:from-config"\nkeep_alive = "1h"\n')
    settings = resolve_model_settings(tmp_path, env={})
    assert (settings.model, settings.context_window, settings.keep_alive) == ("from-config", 8192, "1h")
    assert settings.sources == {"model": ".assist/config.toml", "context_window": "pyproject.toml",
                                "keep_alive": ".assist/config.toml"}
    env = {"ASSIST_MODEL": "ollama:from-env"}
    assert resolve_model_settings(tmp_path, env=env).model == "from-env"
    flagged = resolve_model_settings(tmp_path, flag_model="ollama:from-flag", env=env)
    assert flagged.model == "from-flag" and flagged.sources["model"] == "--model"


def test_openai_model_with_base_url_and_api_key_from_the_environment(tmp_path):
    settings = resolve_model_settings(
        tmp_path, flag_model="openai:local", flag_base_url="http://127.0.0.1:1234/v1",
        env={"OPENAI_API_KEY": "sk-test", "ASSIST_BASE_URL": "http://127.0.0.1:9/v1"},
    )
    assert (settings.provider, settings.model, settings.base_url) == ("openai", "local", "http://127.0.0.1:1234/v1")
    assert settings.api_key == "sk-test" and settings.sources["api_key"] == "OPENAI_API_KEY"
    assert resolve_model_settings(tmp_path, flag_model="openai:x", env={}).base_url == "http://127.0.0.1:8080/v1"


def test_a_base_url_stays_with_the_provider_it_was_given_for(tmp_path):
    write(tmp_path / ".assist" / "config.toml",
          '[model]\nmodel = "openai:lmstudio"\nbase_url = "http://127.0.0.1:1234/v1"\n')
    assert resolve_model_settings(tmp_path, env={}).base_url == "http://127.0.0.1:1234/v1"
    switched = resolve_model_settings(tmp_path, flag_model="ollama:llama3.2", env={})
    assert (switched.provider, switched.base_url) == ("ollama", "http://127.0.0.1:11434")
    remote = resolve_model_settings(tmp_path, flag_model="ollama:llama3.2", env={"OLLAMA_HOST": "0.0.0.0:11500"})
    assert remote.base_url == "http://127.0.0.1:11500"


def test_a_name_without_prefix_takes_the_provider_its_base_url_implies_and_says_so(tmp_path):
    lm_studio = "http://127.0.0.1:1234/v1"
    taken = resolve_model_settings(tmp_path, "gpt-4o", lm_studio, env={})
    assert (taken.provider, taken.model, taken.base_url) == ("openai", "gpt-4o", lm_studio)
    assert len(taken.notices) == 1 and "taken as openai:gpt-4o" in taken.notices[0]
    gpu = resolve_model_settings(tmp_path, "qwen2.5-coder:7b", "http://gpu:11434", env={})
    assert (gpu.provider, gpu.base_url) == ("ollama", "http://gpu:11434") and "does not end in /v1" in gpu.notices[0]
    default = resolve_model_settings(tmp_path, "qwen2.5-coder:7b", env={})
    assert default.provider == "ollama" and "Ollama is the default" in default.notices[0]
    # No model at all and an OpenAI-compatible URL: that server's first model, not qwen2.5-coder on Ollama.
    unnamed = resolve_model_settings(tmp_path, None, lm_studio, env={})
    assert (unnamed.provider, unnamed.model, unnamed.base_url) == ("openai", "", lm_studio) and unnamed.notices
    assert resolve_model_settings(tmp_path, "openai:gpt-4o", lm_studio, env={}).notices == []
    assert resolve_model_settings(tmp_path, env={}).notices == []
    # A config file's bare model next to a /v1 URL is an OpenAI-compatible model too.
    write(tmp_path / ".assist" / "config.toml", f'[model]\nmodel = "local"\nbase_url = "{lm_studio}"\n')
    configured = resolve_model_settings(tmp_path, env={})
    assert (configured.provider, configured.base_url) == ("openai", lm_studio)


def test_an_ollama_model_never_inherits_an_openai_compatible_url(tmp_path):
    env = {"ASSIST_BASE_URL": "http://127.0.0.1:8080/v1"}
    ollama = resolve_model_settings(tmp_path, "ollama:llama3.2", env=env)
    assert (ollama.provider, ollama.base_url) == ("ollama", "http://127.0.0.1:11434")
    assert resolve_model_settings(tmp_path, "openai:x", env=env).base_url == "http://127.0.0.1:8080/v1"
    # Named together, the user's word goes (the Ollama provider then says the address is not Ollama's).
    assert resolve_model_settings(tmp_path, "ollama:x", "http://h:8080/v1", env={}).base_url == "http://h:8080/v1"


def test_switching_models_takes_the_new_providers_server_not_the_old_one(tmp_path):
    llama = "http://127.0.0.1:8081/v1"
    env = {"OLLAMA_HOST": "127.0.0.1:11500"}
    to_ollama = switch_model_settings(tmp_path, "ollama:qwen2.5-coder:7b", "openai:smollm2", llama, env=env)
    assert (to_ollama.provider, to_ollama.base_url) == ("ollama", "http://127.0.0.1:11500")
    back = switch_model_settings(tmp_path, "openai:other", "openai:smollm2", llama, env=env)
    assert (back.provider, back.base_url) == ("openai", llama)
    # No prefix: the provider in use, at its server, and it is said.
    same = switch_model_settings(tmp_path, "other", "openai:smollm2", "http://127.0.0.1:8081", "openai", env=env)
    assert (same.spec, same.base_url) == ("openai:other", "http://127.0.0.1:8081") and same.notices
    now_ollama = switch_model_settings(tmp_path, "llama3.2", "openai:smollm2", llama, "ollama", env=env)
    assert (now_ollama.spec, now_ollama.base_url) == ("ollama:llama3.2", "http://127.0.0.1:11500")
    to_openai = switch_model_settings(tmp_path, "openai:x", "ollama:qwen", "http://gpu:11434", "ollama", env={})
    assert to_openai.base_url == "http://127.0.0.1:8080/v1"
    assert switch_model_settings(tmp_path, "ollama:q", None, None, env=env).base_url == "http://127.0.0.1:11500"
    # Before any model answered, a bare name is taken as --model would take it.
    assert switch_model_settings(tmp_path, "q", None, None, env=env).spec == "ollama:q"


def test_mistakes_in_config_files_name_the_file_and_setting(tmp_path):
    config = tmp_path / ".assist" / "config.toml"
    for text, expected in (
        ('[model]\nmodle = "x"\n', "unknown setting 'modle'"),
        ("[model]\ncontext_window = \"big\"\n", "context_window must be int"),
        ("[model]\nnum_ctx = 0\n", "positive"),
        ("[model\n", "cannot read"),
    ):
        write(config, text)
        with pytest.raises(ConfigError, match=expected) as error:
            resolve_model_settings(tmp_path, env={})
        assert str(config) in str(error.value)
    write(config, '[model]\nbase_url = "localhost:11434"\n')
    with pytest.raises(ConfigError, match="base URL"):
        resolve_model_settings(tmp_path, env={})


def test_num_ctx_is_accepted_as_the_ollama_name_for_the_context_window(tmp_path):
    write(tmp_path / ".assist" / "config.toml", "[model]\nnum_ctx = 32768\n")
    assert resolve_model_settings(tmp_path, env={}).context_window == 32768


def test_open_provider_connects_to_what_the_settings_name(ollama_server, llama_server, tmp_path):
    write(tmp_path / ".assist" / "config.toml",
          f'[model]\nmodel = "ollama:{MODEL}"\nbase_url = "{ollama_server.url}"\nnum_ctx = 2048\ntemperature = 0\n')
    ollama = open_provider(resolve_model_settings(tmp_path, env={}))
    assert isinstance(ollama, OllamaProvider) and isinstance(ollama, ChatProvider)
    assert (ollama.name, ollama.context_window) == (f"ollama:{MODEL}", 2048)
    assert ollama.chat(QUESTION, max_tokens=2).usage.completion_tokens == 2
    assert ollama_server.chat_options()[-1] == {"num_ctx": 2048, "num_predict": 2, "temperature": 0.0}

    elsewhere = tmp_path / "elsewhere"
    openai = open_provider(resolve_model_settings(elsewhere, flag_model="openai:", flag_base_url=llama_server, env={}))
    assert isinstance(openai, OpenAICompatProvider) and isinstance(openai, ChatProvider)
    assert openai.name == f"openai:smollm2-135m@{llama_server}/v1" and openai.context_window == 4096


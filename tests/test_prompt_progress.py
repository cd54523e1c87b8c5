"""While the server reads a long prompt, llama.cpp's reports of how much it has read reach every front end.

Against the real llama.cpp test server (SmolLM2-135M, one thread): it reads a prompt in batches of 512 tokens at
~80 tokens/s, so a prompt of over 1,024 tokens gives at least two reports while it is partly read. A server
that does not report progress (Ollama's protocol, a foreign OpenAI-compatible server) yields none and still
answers.
"""

from __future__ import annotations

import asyncio
import io
import re
import shutil
import time

import pytest
from hostile_model_server import HostileModelServer
from tui_support import type_line, until

import test_acp as harness
from assistant.commands.fix_view import FixView
from assistant.fix.events import ContextBuilt, ReadingPrompt, ReplyDelta
from assistant.providers import Completed, PromptProgress, TextDelta
from assistant.providers.ollama import OllamaProvider
from assistant.providers.openai_compat import OpenAICompatProvider
from assistant.tui.app import ChatApp
from assistant.tui.fix import FixRun
from assistant.tui.widgets import Turn

pytestmark = pytest.mark.slow


def long_prompt(words: int = 800) -> list[dict[str, str]]:
    """About 1,200 tokens with the test model's tokenizer: three 512-token batches."""
    text = " ".join(f"lighthouse{i % 97} keeper watches ships" for i in range(words // 4))
    return [{"role": "user", "content": text}]


def test_llama_cpp_reports_growing_prompt_progress_before_the_first_token(llama_server):
    provider = OpenAICompatProvider(base_url=llama_server, temperature=0)
    try:
        assert provider.reports_progress  # decided from its /props
        prompt = long_prompt()
        counted = provider.count_tokens(prompt)
        events = list(provider.stream_chat(prompt, max_tokens=4))
    finally:
        provider.close()
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    progress = [e for e in events if isinstance(e, PromptProgress)]
    assert len(progress) >= 2, events
    assert all(isinstance(e, PromptProgress) for e in events[:first_text]), "progress comes before the reply"
    assert progress == events[:first_text]
    processed = [e.processed for e in progress]
    assert processed == sorted(set(processed)) and 0 < processed[0] and processed[-1] < counted, processed
    assert {e.total for e in progress} == {counted}
    final = events[-1]
    assert isinstance(final, Completed) and final.usage.prompt_tokens == counted and final.text.strip()


def test_a_server_without_llama_cpp_props_is_never_asked_for_progress_and_still_answers():
    # A foreign OpenAI-compatible server (no /props): a strict one such as vLLM may refuse an unknown field.
    with HostileModelServer("endless") as server:
        provider = OpenAICompatProvider("hostile", base_url=f"{server.url}/v1")
        try:
            assert not provider.reports_progress
            events = list(provider.stream_chat(long_prompt(), max_tokens=4))
        finally:
            provider.close()
        assert "return_progress" not in server.chat_requests[0] and server.chat_requests[0]["stream"]
    assert not any(isinstance(e, PromptProgress) for e in events)
    assert isinstance(events[-1], Completed) and events[-1].done_reason == "length" and events[-1].text


def test_the_ollama_protocol_yields_no_progress_and_still_answers(ollama_server):
    provider = OllamaProvider(ollama_server.model, base_url=ollama_server.url, temperature=0)
    try:
        events = list(provider.stream_chat(long_prompt(), max_tokens=4))
    finally:
        provider.close()
    assert not any(isinstance(e, PromptProgress) for e in events)
    assert any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-1], Completed) and events[-1].text.strip()


def test_the_tui_waiting_line_shows_how_much_of_the_prompt_the_server_has_read(indexed_copy, llama_server):
    # A window large enough for a prompt of over 1,024 tokens: retrieved code fills most of it.
    (indexed_copy / ".assist" / "config.toml").write_text("[model]\ncontext_window = 2048\ntemperature = 0\n")
    app = ChatApp(indexed_copy, model="openai:smollm2-135m", base_url=f"{llama_server}/v1")
    labels: list[str] = []

    async def scenario(pilot):
        await until(pilot, lambda: app.ready, "the session to open")
        app.session.max_reply_tokens = 8  # the answer does not matter here; keep the turn short
        await type_line(pilot, "How is stock reserved when an order is placed, and what happens on cancel?")
        state_line = app.query_one(Turn).query_one(".turn-state")

        def reading() -> bool:
            label = str(state_line.render())
            if not labels or labels[-1] != label:
                labels.append(label)
            return app.active is None

        await until(pilot, reading, "the answer")

    async def run() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await scenario(pilot)

    asyncio.run(run())
    shown = [m for label in labels if (m := re.search(r"reading the prompt: ([\d,]+) of ([\d,]+) tokens… \d+ s$",
                                                       label))]
    assert shown, labels
    read, total = (int(shown[0][i].replace(",", "")) for i in (1, 2))
    assert 0 < read < total and total > 1024, labels
    assert not re.search(r"\d+ s$", labels[-1]), "the clock stops when the answer comes"


def test_acp_shows_the_prompt_progress_in_the_waiting_tool_call(indexed_sample, llama_server, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(indexed_sample, repo, symlinks=True)
    response, client = harness.ask_once(repo, "--model", "openai:smollm2-135m", "--base-url", f"{llama_server}/v1",
                                        "--no-vectors", "--budget", "1000", "--max-tokens", "8")
    assert response.stop_reason in ("end_turn", "max_tokens")
    started = [u for u in client.updates if u.session_update == "tool_call" and u.kind == "think"]
    assert len(started) == 1, started
    total = int(re.search(r"\((\d[\d,]*) tokens\)", started[0].title)[1].replace(",", ""))
    updates = [u for u in client.updates
               if u.session_update == "tool_call_update" and u.tool_call_id == started[0].tool_call_id]
    texts = [c.content.text for u in updates for c in (u.content or [])]
    read = [(int(m[1].replace(",", "")), int(m[2].replace(",", ""))) for t in texts
            if (m := re.search(r"reading the prompt: ([\d,]+) of ([\d,]+) tokens… \d+ s$", t))]
    assert read, texts
    assert all(0 < done < of == total for done, of in read), (read, total)
    assert updates[-1].status == "completed" and "answered after" in texts[-1]


def test_the_fix_view_live_line_shows_the_prompt_progress_then_the_reply():
    from rich.console import Console

    view = FixView(live=True, quiet=False)
    screen = io.StringIO()
    view.err = Console(file=screen, force_terminal=True, width=160, color_system=None, highlight=False)
    with view:
        view.show(ContextBuilt(1, [], 4321, {}))
        time.sleep(0.3)
        view.show(ReadingPrompt(1, 1024, 4321))
        time.sleep(1.3)  # rich redraws the live line meanwhile
        view.show(ReplyDelta(1, "x"))
        time.sleep(0.3)
    drawn = screen.getvalue()
    assert "round 1: waiting for the model to read the prompt (4,321 tokens)… 0 s" in drawn
    assert re.search(r"round 1: reading the prompt: 1,024 of 4,321 tokens… 1 s", drawn), drawn[-1000:]
    assert "the model is replying… 1 characters" in drawn


def test_the_tui_fix_status_line_shows_the_prompt_progress_then_the_reply(indexed_copy, llama_server):
    app = ChatApp(indexed_copy, model="openai:smollm2-135m", base_url=f"{llama_server}/v1")

    async def run() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.ready, "the session to open")
            fix = FixRun(app, None, None)
            await fix.show(ContextBuilt(1, [], 4321, {}))
            assert "round 1: waiting for the model to read the prompt (4,321 tokens)… 0 s" in app.busy
            await fix.show(ReadingPrompt(1, 1024, 4321))
            assert app.busy == "round 1: reading the prompt: 1,024 of 4,321 tokens… 0 s"
            await pilot.pause(1.2)
            assert re.fullmatch(r"round 1: reading the prompt: 1,024 of 4,321 tokens… [1-9]\d* s", app.busy), \
                "the clock goes on"
            await fix.show(ReplyDelta(1, "x"))
            assert "reading the prompt" not in app.busy and "replying" in app.busy
            await fix.show(ReadingPrompt(1, 2048, 4321))  # a late report once the reply started changes nothing
            assert "reading the prompt" not in app.busy

    asyncio.run(run())

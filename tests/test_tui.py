"""`assist chat`: the Textual app driven by Pilot against the real session and retriever.

What the app does with a reply (streaming, cancelling, waiting, memory, slash commands) is tested with the
scripted model (``--model scripted:FILE``), which needs no server. The wire is tested against the real (tiny)
model behind llama.cpp's server (a streamed answer, a broken Ollama stream, switching between providers, the
snapshots, which show the real model's name); its answers are nonsense, so turns are asserted by structure
(streamed, finished, cancelled, what the context panel lists).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from support import SAMPLE_ANSWERS, run_assist, run_on_terminal, scripted_model
from textual import events
from textual.command import CommandList, CommandPalette
from textual.keys import _character_to_key
from tui_support import notices, screen_text, type_line, until

from assistant.chat import SessionStatus
from assistant.tui.app import ChatApp
from assistant.tui.widgets import (
    DROPPED_MARK,
    PINNED_MARK,
    ContextPanel,
    InfoBlock,
    NoticeLine,
    SlashMenu,
    StatusLine,
    Turn,
)
from indexer.status import index_status

# A small window keeps every turn of the 135M model to a few seconds on two cores.
CONTEXT_WINDOW = 1024
MODEL = "openai:smollm2-135m"
ADDED_SYMBOL = "inventory/orders.py::Order.place"


def with_model_config(repo: Path) -> Path:
    (repo / ".assist" / "config.toml").write_text(f"[model]\ncontext_window = {CONTEXT_WINDOW}\ntemperature = 0\n")
    return repo


@pytest.fixture
def chat_repo(indexed_copy) -> Path:
    return with_model_config(indexed_copy)


@pytest.fixture
def make_real_app(chat_repo, llama_server) -> Callable[[], ChatApp]:
    return lambda: ChatApp(chat_repo, model=MODEL, base_url=f"{llama_server}/v1")


@pytest.fixture
def make_app(chat_repo, tmp_path) -> Callable[..., ChatApp]:
    """The app on the scripted model: ``replies`` (default: answers citing the sample code, streamed in pieces
    a few milliseconds apart) and the replies file's options (``pause_s``, ``silence_s``, ...)."""
    def make(replies: list[str] | None = None, **options) -> ChatApp:
        options = {"chunk": 12, "pause_s": 0.01, **options}
        model = scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS * 3 if replies is None else replies,
                               **options)
        return ChatApp(chat_repo, model=model)
    return make


def drive(app: ChatApp, scenario: Callable, size: tuple[int, int] = (80, 24)) -> None:
    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            await scenario(pilot)

    asyncio.run(run())


# Only a guard against hanging: a turn of the tiny model takes seconds when idle, minutes when the machine is
# busy with benchmarks (prompt evaluation fell to ~5 tokens/s).
async def ready(pilot) -> ChatApp:
    app = pilot.app
    await until(pilot, lambda: app.ready, "the session to open")
    await pilot.pause()
    return app


def panel_rows(app: ChatApp) -> dict[str, str]:
    """key -> mark (pinned, dropped or blank) for each row of the context panel."""
    table = app.query_one(ContextPanel).table
    return {row.key.value: str(table.get_cell(row.key, "mark")) for row in table.ordered_rows}


# ---------------------------------------------------------------------------------------------- turns


def test_question_streams_an_answer_and_the_panel_lists_what_was_sent(make_real_app):
    app = make_real_app()
    seen_midstream: list[bool] = []

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, "How is stock reserved when an order is placed?")
        turn = app.query_one(Turn)
        await until(pilot, lambda: turn.state == "answering" and turn.answer_text, "the first answer delta")
        seen_midstream.append(app.active is not None)
        await pilot.press(*"typed meanwhile")  # the UI is not blocked by the model call
        assert app.prompt_input.value == "typed meanwhile"
        await until(pilot, lambda: app.active is None, "the answer to finish")
        await pilot.pause(0.3)

        assert turn.state == "done", screen_text(app)
        assert turn.answer.children, "the streamed answer was rendered as Markdown blocks"
        assert turn.answer.source.strip() == turn.answer_text.strip() != ""
        session_keys = [item.key for item in app.session.last_context]
        assert session_keys and list(panel_rows(app)) == session_keys
        text = screen_text(app)
        assert "✓ done" in text
        assert re.search(rf"│ [1-9][\d,]*/{CONTEXT_WINDOW:,} tokens", text), "the status line counts the turn"

        # Pin, then drop, the highlighted item: marked in the panel, and the session's pins follow.
        await pilot.press("tab")
        assert app.focused is app.panel.table, "Tab goes from the prompt to the context panel"
        first = session_keys[0]
        await pilot.press("p")
        await until(pilot, lambda: panel_rows(app).get(first) == PINNED_MARK, "the pinned mark")
        assert first in [item.key for item in app.session.pinned]
        await pilot.press("d")
        await until(pilot, lambda: panel_rows(app).get(first) == DROPPED_MARK, "the dropped mark")
        assert first not in [item.key for item in app.session.pinned]
        assert any(f"dropped {first}" in n for n in notices(app))
        await pilot.press("tab")
        assert app.focused is app.prompt_input

    drive(app, scenario, size=(120, 40))
    assert seen_midstream == [True]


def test_escape_cancels_a_generation_and_keeps_the_partial_answer(make_app):
    essay = " ".join(f"Section {n}: how stock moves through the warehouse and its orders." for n in range(200))
    app = make_app([essay], pause_s=0.05)

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, "Write a very long, detailed essay about every function and class in this repository.")
        turn = app.query_one(Turn)
        await type_line(pilot, "again")
        assert "still being written" in notices(app)[-1], "one question at a time"
        await until(pilot, lambda: turn.answer_text, "the first answer delta")
        await pilot.press("escape")
        await pilot.pause()
        assert turn.state == "cancelled"
        kept = turn.answer_text
        assert kept
        await until(pilot, lambda: app.active is None, "the cancelled turn to end")
        question, recorded = app.session.history[-2][1], app.session.history[-1][1]
        assert question.startswith("Write a very long") and recorded.startswith(kept)
        # The model call itself stopped: the essay did not run on to the reply limit behind the screen.
        assert app.session.provider.count_tokens(recorded) < app.session._reply_tokens()
        await pilot.pause(0.3)
        assert turn.state == "cancelled" and turn.answer_text == kept, "nothing was appended after Esc"
        assert "■ cancelled — the partial answer is kept" in screen_text(app)
        assert turn.answer.source.strip() == kept.strip()

        # Still responsive: commands run and the prompt accepts text.
        await type_line(pilot, "/help")
        assert "/reindex" in app.query(InfoBlock).last().source

    drive(app, scenario)


def test_a_question_after_esc_while_the_server_is_still_silent_says_why_it_waits(make_app):
    """The model goes silent before the first token (as while reading a long prompt): Esc stops the turn on
    screen at once; the provider only notices at the next token, and a new question is told so."""
    app = make_app(silence_s=600)

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, "What does Order.place do?")
        turn = app.query_one(Turn)
        await until(pilot, lambda: panel_rows(app), "the context sent to the model")
        await pilot.press("escape")
        assert turn.state == "cancelled" and app.active is not None
        await type_line(pilot, "And Order.cancel?")
        assert "has not let go of it yet" in notices(app)[-1]
        assert "press Esc" not in notices(app)[-1], "Esc was pressed already: asking for it again would loop"
        assert len(app.query(Turn)) == 1

    drive(app, scenario)


def test_while_the_server_reads_the_prompt_the_turn_shows_its_size_and_a_running_clock(make_app):
    app = make_app(silence_s=4)
    labels: list[str] = []

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, "What does Order.place do?")
        turn = app.query_one(Turn)
        state_line = turn.query_one(".turn-state")
        await until(pilot, lambda: panel_rows(app), "the context sent to the model")
        for _ in range(3):
            labels.append(str(state_line.render()))
            await pilot.pause(1.1)
        await until(pilot, lambda: app.active is None, "the answer")
        labels.append(str(state_line.render()))

    drive(app, scenario)
    waiting = labels[:3]
    assert all(re.search(r"prompt [\d,]+ tokens\); waiting for the model… \d+ s$", label) for label in waiting), labels
    seconds = [int(re.search(r"(\d+) s$", label)[1]) for label in waiting]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0], "the clock moves"
    assert not re.search(r"\d+ s$", labels[-1]), "the clock stops when the answer comes"


def test_a_stream_broken_mid_answer_keeps_the_partial_answer(chat_repo, ollama_server):
    """Through the Ollama protocol, with a server whose runner dies after two chunks of the answer."""
    ollama_server.error_after_chunks = 2
    app = ChatApp(chat_repo, model=f"ollama:{ollama_server.model}", base_url=ollama_server.url)

    def small_window_warnings() -> int:
        return sum("context window is 1024 tokens" in n for n in notices(app))

    async def scenario(pilot):
        await ready(pilot)
        await until(pilot, small_window_warnings, "the small window called out before any question")
        await type_line(pilot, "What does Order.place do?")
        turn = app.query_one(Turn)
        await until(pilot, lambda: app.active is None, "the failed answer")
        assert turn.state == "failed"
        assert turn.answer_text, "the part that arrived is kept"
        assert turn.answer.source.strip() == turn.answer_text.strip()
        errors = [line.text for line in turn.query(NoticeLine) if line.level == "error"]
        assert errors and "unexpected EOF" in errors[0]
        text = screen_text(app)
        assert "✗ failed — the partial answer is kept" in text and "Traceback" not in text
        assert small_window_warnings() == 1, "and only once"

    drive(app, scenario, size=(100, 30))


def test_status_line_warns_of_a_truncated_prompt(chat_repo):
    app = ChatApp(chat_repo, model=MODEL, base_url="http://127.0.0.1:9/v1")

    async def scenario(pilot):
        await until(pilot, lambda: app.connect_error is not None, "the failed connection")
        await pilot.pause()
        line = app.query_one(StatusLine)
        line.show_status(SessionStatus(MODEL, 4096, 3900, "stale", truncated=True), model=MODEL)
        await pilot.pause()
        text = screen_text(app)
        assert f"{MODEL} │ index stale │ 3,900/4,096 tokens │ ⚠ prompt truncated" in text, "fits 80 columns"
        assert line.has_class("-truncated")
        line.show_status(SessionStatus(MODEL, 4096, 1200, "fresh"), model=MODEL)
        await pilot.pause()
        assert "truncated" not in screen_text(app) and not line.has_class("-truncated")

    drive(app, scenario)


def test_server_down_opens_the_app_and_explains_on_a_question(chat_repo):
    app = ChatApp(chat_repo, model=MODEL, base_url="http://127.0.0.1:9/v1")

    async def scenario(pilot):
        await until(pilot, lambda: app.connect_error is not None, "the failed connection")
        await pilot.pause()
        assert "model unreachable" in screen_text(app)
        await type_line(pilot, "What does Order.place do?")
        turn = app.query_one(Turn)
        await until(pilot, lambda: turn.state == "failed", "the failed turn")
        errors = [line.text for line in turn.query(NoticeLine) if line.level == "error"]
        assert errors and "cannot reach a model server at http://127.0.0.1:9/v1" in errors[0]
        assert "--base-url" in errors[0], "the error says what to do"
        assert "Traceback" not in screen_text(app)

    drive(app, scenario)


def test_an_unexpected_failure_in_background_work_is_shown_not_swallowed(chat_repo):
    app = ChatApp(chat_repo, model=MODEL, base_url="http://127.0.0.1:9/v1")

    def broken() -> None:
        raise KeyError("a bug")

    async def scenario(pilot):
        await until(pilot, lambda: app.connect_error is not None, "the failed connection")
        app.in_background("probe", broken)
        await until(pilot, lambda: any("probe failed unexpectedly" in n for n in notices(app)), "the error line")
        line = [w for w in app.query(NoticeLine) if "probe failed" in w.text][0]
        assert line.level == "error" and "KeyError" in line.text and "Traceback" not in screen_text(app)

    drive(app, scenario)


def test_missing_index_is_built_inside_the_app(tmp_path):
    repo = tmp_path / "tiny"
    (repo / "shop").mkdir(parents=True)
    (repo / "shop" / "cart.py").write_text(
        "def total(prices: list[float]) -> float:\n    \"\"\"Sum of the prices in the cart.\"\"\"\n"
        "    return sum(prices)\n"
    )
    app = ChatApp(repo, model=scripted_model(tmp_path / "replies.json", SAMPLE_ANSWERS))

    async def scenario(pilot):
        await until(pilot, lambda: app.ready, "the first index", timeout=600)
        await pilot.pause()
        said = notices(app)
        assert any("has no index yet" in n for n in said)
        assert any(n.startswith("indexed 1 files") for n in said), said
        assert app.session.status.index_state == "fresh"
        assert "index fresh" in screen_text(app)

    drive(app, scenario)
    assert (repo / ".assist").is_dir()


# -------------------------------------------------------------------------------------- slash commands


def test_slash_commands(make_app):
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, "/help")
        help_text = app.query(InfoBlock).last().source
        for command in ("/context", "/add PATH|SYMBOL", "/drop KEY", "/clear", "/model NAME", "/reindex", "/fix",
                        "/quit"):
            assert command in help_text

        await type_line(pilot, "/frobnicate")
        assert notices(app)[-1] == "unknown command /frobnicate: type /help for the list"
        await type_line(pilot, "/add")
        assert "/add needs PATH|SYMBOL" in notices(app)[-1]
        await type_line(pilot, "/fix --cmd")
        assert "--cmd needs a command" in notices(app)[-1]

        await type_line(pilot, f"/add {ADDED_SYMBOL}")
        await until(pilot, lambda: ADDED_SYMBOL in panel_rows(app), "the added symbol in the panel")
        assert panel_rows(app)[ADDED_SYMBOL] == PINNED_MARK
        assert [item.key for item in app.session.pinned] == [ADDED_SYMBOL]
        await type_line(pilot, "/add no_such_thing_anywhere")
        await until(pilot, lambda: "failed" in notices(app)[-1], "the failed /add")

        await type_line(pilot, "/context")
        assert app.panel.display and app.focused is app.panel.table  # shown even at 80 columns
        app.prompt_input.focus()
        await type_line(pilot, f"/drop {ADDED_SYMBOL}")
        await until(pilot, lambda: panel_rows(app).get(ADDED_SYMBOL) == DROPPED_MARK, "the dropped mark")
        assert app.session.pinned == []

        await type_line(pilot, "/clear")
        assert [type(w) for w in app.conversation.children] == [NoticeLine]
        assert notices(app) == ["Conversation and pins cleared."]
        assert panel_rows(app) == {}

        await type_line(pilot, "/quit")
        await pilot.pause()
        assert not app.is_running

    drive(app, scenario)


def test_model_switch_keeps_the_session_and_reports_failures(make_real_app):
    app = make_real_app()

    async def scenario(pilot):
        await ready(pilot)
        session = app.session
        await type_line(pilot, f"/add {ADDED_SYMBOL}")
        await until(pilot, lambda: ADDED_SYMBOL in panel_rows(app), "the added symbol")
        await type_line(pilot, "/model openai:nothing-here")
        await until(pilot, lambda: any("now using" in n for n in notices(app)), "the switch")
        await until(pilot, lambda: "does not list 'nothing-here'" in notices(app)[-1], "the new model's warning")
        assert app.session is session and [i.key for i in session.pinned] == [ADDED_SYMBOL]
        assert "openai:nothing-here" in screen_text(app)

        await type_line(pilot, "/model ollama:")
        await until(pilot, lambda: notices(app)[-1].startswith("kept openai:nothing-here"), "the refused switch")
        assert "ollama:" in notices(app)[-1] and "needs a model name" in notices(app)[-1]

    drive(app, scenario)


def test_model_switch_to_another_provider_goes_to_that_providers_server(make_real_app, llama_server, ollama_server,
                                                                       monkeypatch):
    # Started as openai:… with --base-url …/v1; Ollama's own setting says where ollama: models are served.
    for name in ("ASSIST_MODEL", "ASSIST_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url)
    app = make_real_app()

    async def scenario(pilot):
        await ready(pilot)
        session = app.session
        await type_line(pilot, "/model ollama:smollm2:135m")
        await until(pilot, lambda: any(n.startswith(("now using", "kept")) for n in notices(app)), "the switch")
        assert "now using ollama:smollm2:135m" in notices(app), notices(app)
        assert app.session is session and session.provider.url == ollama_server.url
        assert any(r.path == "/api/show" for r in ollama_server.requests)
        assert "ollama:smollm2:135m" in screen_text(app)

        # A name without a prefix stays with the provider in use (and says so).
        await type_line(pilot, "/model smollm2:135m")
        await until(pilot, lambda: sum(n.startswith(("now using", "kept")) for n in notices(app)) == 2, "the bare name")
        stated = "the model 'smollm2:135m' has no provider prefix: taken as ollama:smollm2:135m"
        assert sum(n.startswith(stated) for n in notices(app)) == 1, notices(app)
        assert session.provider.url == ollama_server.url

        # Back to the first provider: the --base-url given at start is its server again.
        await type_line(pilot, "/model openai:smollm2-135m")
        await until(pilot, lambda: sum(n.startswith(("now using", "kept")) for n in notices(app)) == 3, "the switch back")
        assert session.provider.base_url == f"{llama_server}/v1", notices(app)

    drive(app, scenario)


def test_an_unprefixed_model_name_at_start_says_which_provider_it_was_taken_for(chat_repo, llama_server):
    app = ChatApp(chat_repo, model="smollm2-135m", base_url=f"{llama_server}/v1")

    async def scenario(pilot):
        await ready(pilot)
        await until(pilot, lambda: any("taken as openai:smollm2-135m" in n for n in notices(app)), "the notice")

    drive(app, scenario)


def test_reindex_takes_in_an_edited_file_and_the_status_line_follows(make_app, chat_repo):
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        assert "index fresh" in screen_text(app)
        # Every source file is edited, so whatever code the answer is given has changed since indexing.
        for path in (chat_repo / "inventory").rglob("*.py"):
            path.write_text(path.read_text() + "\n# reviewed\n")
        await type_line(pilot, "How is stock reserved when an order is placed?")
        await until(pilot, lambda: app.active is None, "the answer")
        sent = [(item.key, item.why) for item in app.session.last_context]
        assert "index stale" in screen_text(app), f"the edit shows once an answer has read edited code: {sent}"

        await type_line(pilot, "/reindex")
        await until(pilot, lambda: any(n.startswith("indexed ") for n in notices(app)), "the reindex summary",
                    timeout=600)
        summary = next(n for n in notices(app) if n.startswith("indexed "))
        assert re.search(r"[1-9]\d* changed", summary), summary
        await pilot.pause()
        assert "index fresh" in screen_text(app) and not index_status(chat_repo).is_stale

    drive(app, scenario)


def test_memory_trimmed_to_fit_the_window_is_announced_in_the_turn(make_app):
    app = make_app()
    # ~450 tokens: with the answer, more than the 1024-token window leaves for memory on the next turn.
    long_question = ("Explain how stock is reserved when an order is placed, and how it is released again when "
                     "the order is cancelled, step by step. ") * 16

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, long_question)
        await until(pilot, lambda: app.active is None, "the first answer")
        assert app.query(Turn).last().state == "done"
        await type_line(pilot, "And how is it released?")
        second = app.query(Turn).last()
        await until(pilot, lambda: app.active is None, "the second answer")
        memory = [line.text for line in second.query(NoticeLine) if line.text.startswith("memory:")]
        assert len(memory) == 1 and "/clear" in memory[0], notices(app)
        assert len(app.session.history) == 4

    drive(app, scenario, size=(120, 40))


# ------------------------------------------------------------------------------------------ the prompt


def test_up_and_down_recall_earlier_prompts(make_app):
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        for line in ("/help", "/fix --cmd", "/context"):
            await type_line(pilot, line)
        app.prompt_input.focus()
        await pilot.press(*"draft")
        prompt = app.prompt_input
        await pilot.press("up")
        assert prompt.value == "/context"
        await pilot.press("up", "up")
        assert prompt.value == "/help"
        await pilot.press("up")
        assert prompt.value == "/help", "the oldest prompt stays"
        await pilot.press("down")
        assert prompt.value == "/fix --cmd"
        await pilot.press("down", "down")
        assert prompt.value == "draft", "going past the newest brings back what was being typed"
        prompt.value = ""
        fixes = sum("--cmd needs a command" in n for n in notices(app))
        await pilot.press("up", "up", "enter")  # a recalled command runs again
        await pilot.pause()
        assert sum("--cmd needs a command" in n for n in notices(app)) == fixes + 1
        assert prompt.value == ""

    drive(app, scenario)


def test_slash_completion_menu(make_app):
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        menu = app.query_one(SlashMenu)
        assert not menu.display
        await pilot.press("/")
        await pilot.pause()
        assert menu.display and menu.option_count == 11
        await pilot.press("c")
        await pilot.pause()
        assert [menu.get_option_at_index(i).id for i in range(menu.option_count)] == ["context", "clear"]
        await pilot.press("down", "tab")
        assert app.prompt_input.value == "/clear"
        await pilot.press("backspace", *"-x")
        await pilot.pause()
        assert not menu.display
        app.prompt_input.value = ""
        await pilot.press(*"/ad", "enter")
        assert app.prompt_input.value == "/add ", "Enter completes a command that needs an argument"
        app.prompt_input.value = ""
        await pilot.press(*"/he", "enter")
        await pilot.pause()
        assert "/reindex" in app.query(InfoBlock).last().source, "Enter completes and runs /help"
        await pilot.press("/", "escape")
        assert not menu.display

    drive(app, scenario)


def test_command_palette_offers_the_slash_commands(make_app):
    app = make_app()

    def palette_lists(text: str) -> Callable[[], bool]:
        def listed() -> bool:
            if not isinstance(app.screen, CommandPalette):
                return False
            hits = app.screen.query_one(CommandList)
            return any(text in str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count))
        return listed

    async def scenario(pilot):
        await ready(pilot)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette", timeout=60)
        await pilot.press(*"show the commands")
        await until(pilot, palette_lists("/help"), "/help among the hits", timeout=60)
        await pilot.press("enter")
        await until(pilot, lambda: app.query(InfoBlock) and "/reindex" in app.query(InfoBlock).last().source,
                    "the help text", timeout=60)

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette", timeout=60)
        await pilot.press(*"/add")
        await until(pilot, palette_lists("/add PATH|SYMBOL"), "/add among the hits", timeout=60)
        await pilot.press("enter")
        await until(pilot, lambda: app.prompt_input.value == "/add ", "/add waiting for its argument", timeout=60)
        assert app.focused is app.prompt_input

    drive(app, scenario)


def test_typing_while_the_context_panel_has_focus_goes_to_the_prompt(make_app):
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, f"/add {ADDED_SYMBOL}")
        await until(pilot, lambda: ADDED_SYMBOL in panel_rows(app), "the added symbol in the panel")
        await type_line(pilot, "/context")
        assert app.focused is app.panel.table
        # "/model" holds a `d`, "/add" two: taken by the panel, they would drop the highlighted item. A terminal
        # delivers typed keys in one burst, all queued before the first is handled: post them the same way.
        for character in "/model tiny":
            app.post_message(events.Key(_character_to_key(character), character))
        await pilot.pause(0.3)
        assert app.focused is app.prompt_input
        assert app.prompt_input.value == "/model tiny"
        assert panel_rows(app) == {ADDED_SYMBOL: PINNED_MARK}
        assert [item.key for item in app.session.pinned] == [ADDED_SYMBOL]

        app.prompt_input.value = ""
        await pilot.press("tab")
        assert app.focused is app.panel.table
        await pilot.press("d")  # the panel's own keys still act on the highlighted item
        await until(pilot, lambda: panel_rows(app).get(ADDED_SYMBOL) == DROPPED_MARK, "the dropped mark")
        assert app.prompt_input.value == ""

    drive(app, scenario, size=(120, 40))


def test_names_with_terminal_escapes_are_shown_inert(make_app, chat_repo):
    from assistant.chat import ContextItem

    evil = "evil\x1b]0;pwned\x07\x1b[2J.py"
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        await type_line(pilot, f"/add {evil}")
        await until(pilot, lambda: "pwned" in (notices(app) or [""])[-1], "the refused /add")
        app.panel.show([ContextItem(evil, evil, None, "file", 1, 3, 12, f"mentioned as {evil}")])
        await pilot.pause()
        shown = screen_text(app)
        assert "\x1b" not in shown and "\x07" not in shown, "raw escapes reached the terminal"
        assert "\\x1b]0;pwned\\x07" in shown, shown

    drive(app, scenario, size=(120, 35))


def test_context_panel_rows_stay_readable_and_the_panel_can_be_widened(make_app):
    from assistant.chat import ContextItem
    from assistant.tui.widgets import ContextTable

    app = make_app()
    methods = ["rebuild_auth", "rebuild_proxies", "rebuild_method", "resolve_redirects"]
    items = [ContextItem(f"src/requests/sessions.py::SessionRedirectMixin.{name}", "src/requests/sessions.py",
                         f"src/requests/sessions.py::SessionRedirectMixin.{name}", "method", 10 * i + 1, 10 * i + 9,
                         120, f"bm25 #{i + 1}, graph; score {3.5 - i:.2f}; SessionRedirectMixin --contains--> it")
             for i, name in enumerate(methods)]

    async def scenario(pilot):
        await ready(pilot)
        app.panel.show(items)
        await pilot.pause()
        table = app.query_one(ContextTable)
        labels = [str(table.get_cell(item.key, "item")) for item in items]
        assert len(set(labels)) == len(labels), labels
        shown = screen_text(app)
        for label, name in zip(labels, methods):
            assert label.endswith(name) and label in shown, f"{label!r} hides which method it is\n{shown}"
        reasons = {str(table.get_cell(item.key, "why")) for item in items} if len(table.columns) == 4 else set()
        assert not any("#" in reason for reason in reasons), reasons
        assert "score" in str(app.query_one("#context-detail").render()), "the detail line keeps the whole reason"

        before = app.panel.size.width
        await pilot.press("alt+left")
        await pilot.pause()
        assert app.panel.size.width == before + 4
        await pilot.press("alt+right", "alt+right")
        await pilot.pause()
        assert app.panel.size.width == before - 4

    drive(app, scenario, size=(100, 30))


def test_the_why_column_names_every_signal_in_a_word_and_leaves_prose_as_it_is():
    from assistant.tui.widgets import _short_why

    assert _short_why("scope, literal #2, in-file; score 3.00") == "scope literal in-file"
    assert _short_why("vector #4, mention, code, graph; score 1.20; a --calls--> it") == "vec name code graph"
    assert _short_why("outline of the file around the code sent; score 0.4") == "outline of the file around the code sent"


def test_context_panel_follows_width_and_f2(make_app):
    app = make_app()

    async def scenario(pilot):
        await ready(pilot)
        assert not app.panel.display, "hidden at 80 columns"
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert app.panel.display, "shown when there is room"
        await pilot.press("f2")
        await pilot.pause()
        assert not app.panel.display
        await pilot.resize_terminal(130, 40)
        await pilot.pause()
        assert not app.panel.display, "an explicit choice outlives a resize"
        await pilot.press("f2")
        await pilot.pause()
        assert app.panel.display

    drive(app, scenario)


# ---------------------------------------------------------------------------------------------- snapshots


async def settled(pilot) -> None:
    """Wait until the conversation's Markdown has been laid out and it is scrolled to the end."""
    app = pilot.app
    conversation = app.conversation

    def laid_out() -> bool:
        blocks = list(app.query(InfoBlock))
        return bool(blocks) and all(block.children for block in blocks) and not conversation.is_scrolling \
            and conversation.scroll_y == conversation.scroll_target_y
    await until(pilot, laid_out, "the conversation to settle", timeout=60)
    await pilot.pause(0.2)


async def _ready_for_snapshot(pilot) -> None:
    await ready(pilot)
    pilot.app.prompt_input.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await settled(pilot)


async def _after_add(pilot) -> None:
    await _ready_for_snapshot(pilot)
    await type_line(pilot, f"/add {ADDED_SYMBOL}")
    await until(pilot, lambda: ADDED_SYMBOL in panel_rows(pilot.app), "the added symbol")
    await type_line(pilot, "/context")  # shows the panel at 80 columns too
    await until(pilot, lambda: pilot.app.focused is pilot.app.panel.table, "the focused panel")
    await settled(pilot)


async def _help(pilot) -> None:
    await _ready_for_snapshot(pilot)
    await type_line(pilot, "/help")
    await until(pilot, lambda: "/reindex" in pilot.app.query(InfoBlock).last().source, "the help text")
    await settled(pilot)


async def _slash_menu(pilot) -> None:
    await _ready_for_snapshot(pilot)
    await pilot.press("/")
    await until(pilot, lambda: pilot.app.query_one(SlashMenu).display, "the completion menu")
    await pilot.pause(0.2)


SNAPSHOTS: dict[str, Callable[..., Awaitable[None]]] = {
    "startup": _ready_for_snapshot,
    "added": _after_add,
    "help": _help,
    "slash_menu": _slash_menu,
}


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 35)], ids=["80x24", "100x30", "120x35"])
@pytest.mark.parametrize("screen", list(SNAPSHOTS))
def test_snapshots(screen, size, snap_compare, tmp_path, indexed_sample, llama_server):
    # A fixed path, so that nothing on screen depends on the temporary directory's name.
    repo = tmp_path / "inventory"
    shutil.copytree(indexed_sample, repo, symlinks=True)
    with_model_config(repo)
    app = ChatApp(repo, model=MODEL, base_url=f"{llama_server}/v1")
    assert snap_compare(app, terminal_size=size, run_before=SNAPSHOTS[screen])


# ------------------------------------------------------------------------------------------ the command line


def test_plain_assist_opens_the_chat_on_a_terminal_and_prints_help_when_piped(chat_repo):
    piped = run_assist(cwd=chat_repo, stdin=subprocess.DEVNULL)
    assert piped.returncode == 0 and "chat" in piped.stdout and "Usage" in piped.stdout
    assert run_assist("--help").returncode == 0
    missing = run_assist("chat", "-C", str(chat_repo / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    misplaced = run_assist("--model", MODEL, "status", cwd=chat_repo)
    assert misplaced.returncode == 2 and "assist status --help" in misplaced.stderr, "not silently ignored"

    # Plain `assist` takes the chat's options.
    env = {**os.environ, "TERM": "xterm-256color", "ASSIST_BASE_URL": "http://127.0.0.1:9"}
    output, returncode = run_on_terminal([sys.executable, "-m", "assistant.cli", "--model", "openai:flagged-model"],
                                         cwd=chat_repo, env=env, wait_for=b"Ask about this repository",
                                         keys=b"\x11")  # Ctrl+Q
    assert b"Ask about this repository" in output and returncode == 0
    assert b"openai:flagged-model" in output



"""ChatSession over a real index of the sample repository.

Turns over the wire run against the real SmolLM2-135M model (llama.cpp's server, and the Ollama-protocol server
in front of it); what the session does around a reply (pins, the window, cancelling, the index, switching
models) runs with the scripted model, which needs no server. Replies are asserted by structure (event order,
counts, reasons), never by wording. Prompts to the real model are kept small (a few hundred tokens: the test
server evaluates ~100 tokens/s on one thread) and answers short.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from support import SAMPLE_ANSWERS, git

from assistant.chat import (
    AnswerDelta,
    ChatError,
    ChatSession,
    ContextReady,
    Notice,
    PromptError,
    ReadingPrompt,
    TurnDone,
    TurnFailed,
    prompting,
)
from assistant.chat.citations import extract_citations
from assistant.providers.ollama import OllamaProvider
from assistant.providers.openai_compat import OpenAICompatProvider
from assistant.providers.scripted import ScriptedProvider
from indexer.retrieval import Retriever
from indexer.status import index_status

OLLAMA_MODEL = "smollm2:135m"
QUESTION = "How is stock reserved when an order is placed?"
# About 250 tokens: one such turn is more than a 480-token window has left for memory on the next turn.
LONG_QUESTION = ("Explain how stock is reserved when an order is placed, and how it is released again when the "
                 "order is cancelled, step by step. ") * 9


@pytest.fixture(scope="module")
def retriever(indexed_sample):
    opened = Retriever(indexed_sample, use_vectors=False)
    yield opened
    opened.close()


@pytest.fixture
def small_openai(llama_server):
    """The llama.cpp server's model with a 480-token window: small prompts keep each turn a few seconds."""
    provider = OpenAICompatProvider(None, base_url=f"{llama_server}/v1", temperature=0, context_window=480)
    yield provider
    provider.close()


@pytest.fixture
def scripted():
    """The scripted model with a 4096-token window, as the test server's."""
    return ScriptedProvider(SAMPLE_ANSWERS * 2, context_window=4096)


@pytest.fixture
def small_scripted():
    """The scripted model with a 480-token window."""
    return ScriptedProvider(SAMPLE_ANSWERS * 2, context_window=480)


def run_turn(session: ChatSession, question: str, cancel: threading.Event | None = None) -> list:
    return list(session.ask(question, cancel=cancel))


def context_of(session: ChatSession, question: str) -> tuple[list[Notice], ContextReady]:
    """The notices and the context of a turn, stopping before anything is sent to the model."""
    notices = []
    turn = session.ask(question)
    for event in turn:
        if isinstance(event, Notice):
            notices.append(event)
        elif isinstance(event, ContextReady):
            turn.close()
            return notices, event
        else:
            pytest.fail(f"unexpected event before the context: {event!r}")
    pytest.fail("the turn ended without a context")


def assert_turn_shape(events: list) -> tuple[ContextReady, list[AnswerDelta], object]:
    """Notice*, ContextReady, ReadingPrompt*, AnswerDelta*, then one final event; notices may come just before the
    end."""
    kinds = [type(e) for e in events]
    assert kinds.count(ContextReady) == 1
    assert isinstance(events[-1], (TurnDone, TurnFailed))
    assert sum(isinstance(e, (TurnDone, TurnFailed)) for e in events) == 1
    ready_at = kinds.index(ContextReady)
    assert all(k is Notice for k in kinds[:ready_at])
    assert all(k in (ReadingPrompt, AnswerDelta, Notice) for k in kinds[ready_at + 1 : -1])
    deltas = [e for e in events if isinstance(e, AnswerDelta)]
    return events[ready_at], deltas, events[-1]


def assert_real_items(ready: ContextReady, graph, session: ChatSession) -> None:
    assert ready.items, "the sample repository has code about stock reservation"
    for item in ready.items:
        assert item.path in graph and graph.nodes[item.path]["kind"] == "file"
        lines = len((session.repo_root / item.path).read_text().splitlines())
        assert 1 <= item.start_line <= item.end_line <= lines
        assert item.tokens > 0 and item.why
        if item.symbol is not None:
            assert item.symbol in graph and graph.nodes[item.symbol]["path"] == item.path
        if item.kind != "outline" and not item.pinned:
            assert session.why_details(item.key)["signals"]


# ------------------------------------------------------------------------------- OpenAI-compatible


def test_turns_stream_real_context_and_trim_memory_to_stay_in_the_window(small_openai, retriever):
    session = ChatSession(retriever.root, small_openai, retriever, max_reply_tokens=16, context_budget=120)
    limit = small_openai.context_window - 16

    first = run_turn(session, LONG_QUESTION)
    ready, deltas, done = assert_turn_shape(first)
    assert isinstance(done, TurnDone) and done.answer.strip()
    assert "".join(d.text for d in deltas) == done.answer
    assert_real_items(ready, retriever.graph, session)
    assert ready.context_window == 480 and ready.prompt_tokens <= limit
    assert ready.context_tokens <= 120
    assert done.prompt_tokens == ready.prompt_tokens  # the server counted exactly what we counted
    assert done.done_reason in ("stop", "length") and not done.truncated
    assert [c.path for c in done.citations if c.origin == "context"] == [i.path for i in ready.items]
    assert session.history == [("user", LONG_QUESTION.strip()), ("assistant", done.answer)]

    second = run_turn(session, QUESTION)
    ready2, _, done2 = assert_turn_shape(second)
    assert isinstance(done2, TurnDone)
    memory_notices = [e for e in second[: second.index(ready2)] if isinstance(e, Notice) and "memory" in e.text]
    assert len(memory_notices) == 1
    assert ready2.prompt_tokens <= limit and done2.prompt_tokens == ready2.prompt_tokens
    sent = session.last_messages
    assert [m.role for m in sent] == ["system", "user"]  # the long turn no longer fits whole...
    assert "earlier:" in sent[0].content  # ...so it is recalled in one line
    assert LONG_QUESTION.strip() not in "".join(m.content for m in sent)
    assert len(session.history) == 4  # the history itself keeps everything
    assert session.status.tokens_used == done2.prompt_tokens + done2.completion_tokens


def test_cancel_mid_stream_keeps_the_partial_answer(small_scripted, retriever):
    session = ChatSession(retriever.root, small_scripted, retriever, max_reply_tokens=64, context_budget=120)
    cancel = threading.Event()
    events = []
    for event in session.ask(QUESTION, cancel=cancel):
        events.append(event)
        if isinstance(event, AnswerDelta):
            cancel.set()
    _, deltas, done = assert_turn_shape(events)
    assert isinstance(done, TurnDone) and done.done_reason == "cancelled"
    assert deltas and done.answer == "".join(d.text for d in deltas)
    assert session.history == [("user", QUESTION), ("assistant", done.answer)]


def test_pin_drop_add_and_clear_change_the_next_context(scripted, retriever):
    session = ChatSession(retriever.root, scripted, retriever)
    _, ready = context_of(session, QUESTION)
    assert_real_items(ready, retriever.graph, session)
    chosen = next(item for item in ready.items if item.symbol is not None)

    session.pin(chosen.key)
    _, other = context_of(session, "How does the rust ledger parse its lines?")
    assert other.items[0].key == chosen.key and other.items[0].pinned
    assert sum(item.key == chosen.key for item in other.items) == 1

    session.drop(chosen.key)
    _, again = context_of(session, QUESTION)
    assert chosen.key not in {item.key for item in again.items}
    assert not any(item.pinned for item in again.items)

    errors_question = "When is InsufficientStock raised?"
    _, before = context_of(session, errors_question)
    assert "inventory/errors.py" in {i.path for i in before.items}
    added = session.add("inventory/errors.py")
    assert added.pinned and added.key == "inventory/errors.py" and added.kind == "file"
    assert (added.start_line, added.end_line) == (1, 58)
    _, with_file = context_of(session, errors_question)
    assert with_file.items[0].key == added.key
    assert not [i for i in with_file.items[1:] if i.path == added.path]  # the file is not sent twice
    assert session.last_context_text.startswith("inventory/errors.py:1-58")

    method = session.add("StockItem.reserve")
    assert method.symbol == "inventory/models.py::StockItem.reserve" and method.kind == "method"
    _, with_method = context_of(session, "How does the rust ledger parse its lines?")
    assert [i.key for i in with_method.items[:2]] == [added.key, method.key]
    assert "def reserve(" in session.last_context_text

    with pytest.raises(ChatError, match="no symbol or file named"):
        session.add("no_such_function_anywhere")

    session.clear()
    _, cleared = context_of(session, QUESTION)
    assert not any(item.pinned for item in cleared.items)
    assert chosen.key in {item.key for item in cleared.items}  # drops are forgotten too
    assert session.history == []


def test_a_file_too_big_to_pin_whole_is_added_as_its_outline(small_scripted, retriever):
    session = ChatSession(retriever.root, small_scripted, retriever, max_reply_tokens=16)
    item = session.add("inventory/orders.py")  # far more than a third of a 480-token window
    assert item.kind == "outline" and item.pinned and item.tokens <= (480 - 16) // 3
    context_of(session, QUESTION)
    assert "class Order" in session.last_context_text and "outline" in session.last_context_text
    assert "return " not in session.last_context_text.split("\n\n")[0]  # signatures, not bodies


def test_a_question_too_big_for_the_window_fails_before_sending(small_scripted, retriever):
    session = ChatSession(retriever.root, small_scripted, retriever, max_reply_tokens=16)
    events = run_turn(session, "Why? " * 800)
    assert len(events) == 1 and isinstance(events[0], TurnFailed)
    assert "480-token context window" in events[0].message and "shorten the question" in events[0].message
    assert session.history == []


# ------------------------------------------------------------------------------------------ Ollama


def test_turns_over_ollama_stream_and_report_a_cut_prompt(ollama_server, retriever):
    provider = OllamaProvider(OLLAMA_MODEL, base_url=ollama_server.url, temperature=0, context_window=1024)
    session = ChatSession(retriever.root, provider, retriever, max_reply_tokens=12, context_budget=120)
    first = run_turn(session, LONG_QUESTION)
    ready, deltas, done = assert_turn_shape(first)
    assert isinstance(done, TurnDone) and done.answer == "".join(d.text for d in deltas) != ""
    assert_real_items(ready, retriever.graph, session)
    assert ollama_server.chat_options()[-1]["num_ctx"] == 1024
    assert ollama_server.chat_options()[-1]["num_predict"] == 12
    assert done.prompt_tokens <= ready.prompt_tokens <= 1024 - 12  # our estimate errs on the safe side
    assert not done.truncated
    warnings = [e for e in first if isinstance(e, Notice) and e.level == "warning"]
    assert any("16384" in w.text for w in warnings)  # the provider's small-window notice reaches the user

    ollama_server.context_cap = 300  # the server now silently keeps only the newest messages
    second = run_turn(session, QUESTION)
    ready2, _, done2 = assert_turn_shape(second)
    assert isinstance(done2, TurnDone) and done2.truncated
    assert done2.prompt_tokens < ready2.prompt_tokens / 2
    cut = [e for e in second[second.index(ready2):] if isinstance(e, Notice) and e.level == "warning"]
    assert len(cut) == 1 and str(done2.prompt_tokens) in cut[0].text
    assert session.status.truncated


def test_an_error_mid_stream_fails_the_turn_with_the_partial_answer(ollama_server, retriever):
    provider = OllamaProvider(OLLAMA_MODEL, base_url=ollama_server.url, temperature=0, context_window=1024)
    session = ChatSession(retriever.root, provider, retriever, max_reply_tokens=24, context_budget=120)
    ollama_server.error_after_chunks = 2
    events = run_turn(session, QUESTION)
    _, deltas, failed = assert_turn_shape(events)
    assert isinstance(failed, TurnFailed) and len(deltas) == 2
    assert failed.partial_answer == "".join(d.text for d in deltas)
    assert "mid-reply" in failed.message
    assert session.history == []


def test_a_killed_server_fails_the_turn_with_a_message(ollama_server, retriever):
    provider = OllamaProvider(OLLAMA_MODEL, base_url=ollama_server.url, temperature=0, context_window=1024)
    session = ChatSession(retriever.root, provider, retriever, max_reply_tokens=12)
    ollama_server.stop()
    events = run_turn(session, QUESTION)
    _, deltas, failed = assert_turn_shape(events)
    assert isinstance(failed, TurnFailed) and not deltas
    assert "cannot reach Ollama" in failed.message and ollama_server.url in failed.message
    assert session.history == []


# --------------------------------------------------------------------------------------- the index


def test_a_stale_index_is_refreshed_before_the_first_turn(small_scripted, indexed_copy):
    pricing = indexed_copy / "inventory" / "pricing.py"
    pricing.write_text(pricing.read_text() + "\n\ndef island_shipping_surcharge(weight: float) -> float:\n"
                       "    return 4.5 + 0.2 * weight\n")
    session = ChatSession(indexed_copy, small_scripted, use_vectors=False)
    assert index_status(indexed_copy).is_stale
    notices, ready = context_of(session, "island_shipping_surcharge")
    assert any("refreshing the index" in n.text for n in notices)
    assert "inventory/pricing.py::island_shipping_surcharge" in {item.key for item in ready.items}
    assert not index_status(indexed_copy).is_stale and session.status.index_state == "fresh"
    session.close()


def test_code_edited_during_the_session_shows_the_index_as_stale_until_reindexed(small_scripted, indexed_copy):
    session = ChatSession(indexed_copy, small_scripted, use_vectors=False)
    _, ready = context_of(session, QUESTION)
    assert session.status.index_state == "fresh"
    edited = next(item.path for item in ready.items if item.kind != "outline")
    source = indexed_copy / edited
    source.write_text(source.read_text() + "\n# reviewed\n")

    _, again = context_of(session, QUESTION)
    assert any("changed since indexing" in item.why for item in again.items if item.path == edited)
    assert session.status.index_state == "stale"
    assert session.reindex().startswith("indexed ")
    assert session.status.index_state == "fresh"
    context_of(session, QUESTION)
    assert session.status.index_state == "fresh"
    session.close()


def test_a_missing_index_is_built_before_the_first_turn(small_scripted, tmp_path):
    repo = tmp_path / "tiny"
    repo.mkdir()
    (repo / "fees.py").write_text("def late_return_fee(days: int) -> int:\n    return 2 * days\n")
    git(repo, "init", "-q")
    session = ChatSession(repo, small_scripted, use_vectors=False)
    assert session.status.index_state == "missing"
    notices, ready = context_of(session, "late_return_fee")
    assert any("no index yet" in n.text for n in notices)
    assert [item.key for item in ready.items][:1] == ["fees.py::late_return_fee"]
    assert session.status.index_state == "fresh"
    session.close()


# --------------------------------------------------------------------------- citations and prompts


def test_citations_keep_only_real_files_and_lines(retriever):
    place = retriever.graph.nodes["inventory/orders.py::Order.place"]
    line = place["start_line"] + 1
    answer = (f"Stock is reserved in inventory/orders.py:{line} (see also orders.py:{line}), via "
              f"`inventory/models.py::StockItem.reserve`. Not in inventory/ghost.py:3, nor at "
              f"inventory/orders.py:99999, nor src/app.py:42.")
    cited = extract_citations(answer, retriever)
    assert [(c.path, c.line, c.symbol) for c in cited] == [
        ("inventory/orders.py", line, "inventory/orders.py::Order.place"),
        ("inventory/models.py", retriever.graph.nodes["inventory/models.py::StockItem.reserve"]["start_line"],
         "inventory/models.py::StockItem.reserve"),
    ]
    assert all(c.origin == "answer" for c in cited)


def test_prompt_templates_are_rendered_strictly():
    assert "Question: why?" in prompting.turn_prompt("why?", [])
    with pytest.raises(PromptError, match="question"):
        prompting.render("turn", context="code")
    with pytest.raises(PromptError, match="extra"):
        prompting.render("turn", context="code", question="q", extra="x")
    assert (prompting.prompts_dir() / "system.md").is_file()
    assert prompting.prompts_dir() == Path(prompting.__file__).resolve().parents[2] / "prompts"


def test_switching_models_keeps_the_conversation_and_budgets_for_the_new_window(
    indexed_sample, retriever, scripted, small_scripted
):
    session = ChatSession(indexed_sample, scripted, retriever, max_reply_tokens=16)
    ready, _, final = assert_turn_shape(run_turn(session, QUESTION))
    assert isinstance(final, TurnDone) and ready.context_window == 4096

    old = session.set_provider(small_scripted)
    assert old is scripted and session.status.context_window == 480
    assert session.history == [("user", QUESTION), ("assistant", final.answer)]
    _, ready = context_of(session, "And how is it released?")
    # The next prompt is built for the 480-token window, not the one the cached counts were made for.
    assert ready.context_window == 480
    assert ready.prompt_tokens <= 480 - session._reply_tokens()

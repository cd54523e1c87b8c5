"""A conversation about one repository: retrieval, prompt budget, streaming, citations (the index: ``index.py``;
memory: ``memory.py``; pins: ``pins.py``).

Every front end (``assist ask``, the TUI, editor agents) drives a ``ChatSession`` and renders the events
that ``ask`` yields; none of them talks to the retriever or the provider directly. One turn:

1. the index is checked once per session (missing or stale → indexed first, with a notice);
2. the prompt is budgeted (see ``prompting``): system prompt, question and pinned items first, then
   retrieved code, then as much recent conversation as still fits — counted with the provider's own
   tokenizer and never above its window;
3. ``ReadingPrompt``s while the server reads the prompt (servers that report it), then the reply streams
   as ``AnswerDelta``s and ends in one ``TurnDone`` (citations checked against the index) or ``TurnFailed``
   (with the partial answer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.config import IndexConfig
from indexer.lifecycle import VectorFiller
from indexer.model import FILE
from indexer.retrieval import PackItem, RetrievalError, Retriever

from ..providers.errors import ProviderError
from ..providers.types import ChatProvider, Completed, Message, PromptProgress, TextDelta, Usage
from . import citations, prompting
from .events import (
    AnswerDelta,
    ChatEvent,
    ContextItem,
    ContextReady,
    Notice,
    ReadingPrompt,
    SessionStatus,
    TurnDone,
    TurnFailed,
)
from .errors import ChatError
from .index import ChatIndex, Progress
from .memory import Conversation, Memory, fit_memory
from .pins import Pinned, Pins, render_node

# A pinned or added item may take at most this share of the prompt, so that a question still has room.
PIN_SHARE = 1 / 3
_COUNT_CACHE = 4096


@dataclass
class _Prompt:
    messages: list[Message]
    items: list[ContextItem]
    texts: dict[str, str]
    whys: dict[str, dict]
    context_text: str
    context_tokens: int
    prompt_tokens: int
    reply_tokens: int
    notices: list[Notice]


class ChatSession:
    def __init__(
        self,
        repo_root: Path,
        provider: ChatProvider,
        retriever: Retriever | None = None,
        *,
        context_share: float = 0.6,
        max_reply_tokens: int | None = None,
        context_budget: int | None = None,
        use_vectors: bool = True,
        index_config: IndexConfig | None = None,
    ):
        """``context_share``: the part of the prompt left after system prompt, question and pinned items that
        retrieved code may take (memory gets the rest). ``max_reply_tokens``: the longest answer (default:
        the provider's reply reserve). ``context_budget``: a cap on retrieved-code tokens.
        ``use_vectors``: whether a retriever opened here uses the embedding model. ``index_config``: how the
        index is built or refreshed (the ``[index]`` settings)."""
        if not 0.0 < context_share <= 1.0:
            raise ValueError(f"context_share must be in (0, 1], not {context_share}")
        if max_reply_tokens is not None and max_reply_tokens <= 0:
            raise ValueError(f"max_reply_tokens must be positive, not {max_reply_tokens}")
        self.repo_root = Path(repo_root).resolve()
        self.provider = provider
        self.context_share = context_share
        self.max_reply_tokens = max_reply_tokens
        self.context_budget = context_budget
        self.use_vectors = use_vectors
        self._index = ChatIndex(self.repo_root, retriever, use_vectors, index_config)
        self._lock = threading.RLock()  # conversation state: held briefly, so a UI thread never waits long
        self._busy = False
        self._conversation = Conversation()
        self._pins = Pins()
        self._last_context: list[ContextItem] = []
        self._last_texts: dict[str, str] = {}
        self._last_whys: dict[str, dict] = {}
        self._last_context_text = ""
        self._last_messages: list[Message] = []
        self._tokens_used = 0
        self._truncated = False
        self._coverage_said: str | None = None  # the vector-coverage notice last given, so it is said once a figure
        self._notices: list[str] = list(getattr(provider, "notices", []))
        self._pending: list[Notice] = [Notice(text, "warning") for text in self._notices]
        self._counts: dict[str, int] = {}

    # ------------------------------------------------------------------------------------ the turn

    def ask(self, question: str, cancel: threading.Event | None = None) -> Iterator[ChatEvent]:
        """Yields ``Notice``s, one ``ContextReady``, ``ReadingPrompt``s, ``AnswerDelta``s, then exactly one ``TurnDone`` or
        ``TurnFailed``. A warning ``Notice`` about a truncated prompt comes just before ``TurnDone``."""
        question = question.strip()
        if not question:
            yield TurnFailed("the question is empty")
            return
        with self._lock:
            busy, self._busy = self._busy, True
        if busy:
            yield TurnFailed("another question is still being answered; wait for it or cancel it")
            return
        try:
            yield from self._turn(question, cancel)
        finally:
            self._busy = False

    def _turn(self, question: str, cancel: threading.Event | None) -> Iterator[ChatEvent]:
        yield from self.take_notices()
        try:
            yield from self.ensure_index()
            prompt = self._build_prompt(question)
        except (ChatError, RetrievalError, ProviderError) as exc:
            yield TurnFailed(str(exc))
            return
        yield from prompt.notices
        with self._lock:
            self._last_context = prompt.items
            self._last_texts = prompt.texts
            self._last_whys = prompt.whys
            self._last_context_text = prompt.context_text
            self._last_messages = prompt.messages
        yield ContextReady(prompt.items, prompt.context_tokens, prompt.prompt_tokens, self.provider.context_window)

        if cancel is not None and cancel.is_set():
            yield self._finish(question, prompt, Completed("", "cancelled", _no_usage(prompt)))
            return
        parts: list[str] = []
        final: Completed | None = None
        try:
            for event in self.provider.stream_chat(prompt.messages, max_tokens=prompt.reply_tokens, cancel=cancel):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    yield AnswerDelta(event.text)
                elif isinstance(event, PromptProgress):
                    yield ReadingPrompt(event.processed, event.total)
                elif isinstance(event, Completed):
                    final = event
        except ProviderError as exc:
            yield TurnFailed(str(exc), exc.partial_text or "".join(parts))
            return
        if final is None:
            yield TurnFailed("the model's reply ended without a final event", "".join(parts))
            return
        if final.truncated:
            yield Notice(self._truncation_warning(final, prompt), "warning")
        elif final.done_reason == "length":
            yield Notice(f"the answer stopped at the {prompt.reply_tokens}-token reply limit")
        yield self._finish(question, prompt, final)

    def _finish(self, question: str, prompt: _Prompt, final: Completed) -> TurnDone:
        answer = final.text
        if answer or final.done_reason != "cancelled":
            self._conversation.record(question, answer)
        cited = citations.extract_citations(answer, self.retriever) if answer else []
        found = citations.merge(cited, citations.context_sources(prompt.items))
        server_prompt = final.usage.prompt_tokens
        completion = final.usage.completion_tokens
        self._tokens_used = (server_prompt if server_prompt is not None else prompt.prompt_tokens) + (completion or 0)
        self._truncated = final.truncated
        return TurnDone(answer, found, server_prompt, completion, final.done_reason, final.truncated)

    def _truncation_warning(self, final: Completed, prompt: _Prompt) -> str:
        text = (f"the server read only {final.usage.prompt_tokens} of the {prompt.prompt_tokens} prompt tokens "
                f"sent: it cut the prompt, so the answer may have missed code or conversation. Make the server's "
                f"context at least {self.provider.context_window} tokens (Ollama: num_ctx / OLLAMA_CONTEXT_LENGTH; "
                f"llama.cpp: -c), or set a smaller context_window under [model] in .assist/config.toml")
        self._notices.append(text)
        return text

    def take_notices(self) -> list[Notice]:
        """Notices not yet shown — the provider's setup warnings, what a background index run did — each
        returned once. ``ask`` yields them at the start of a turn; a front end may show them sooner."""
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    # ----------------------------------------------------------------------------------- the index

    @property
    def retriever(self) -> Retriever:
        if self._index.retriever is None:
            notices = self.ensure_index()
            with self._lock:
                self._pending.extend(notices)
        assert self._index.retriever is not None
        return self._index.retriever

    @property
    def index_config(self) -> IndexConfig:
        """The repository's ``[index]`` settings unless given; ChatError when its config file is wrong."""
        return self._index.config

    def ensure_index(self, progress: Progress | None = None) -> list[Notice]:
        """Once per session: build a missing index, refresh a stale one (structural tier: no question waits for
        embedding), open the retriever. Returns notices for the user (a front end may call this first to show
        progress; ``ask`` does it otherwise)."""
        return self._index.ensure(progress)

    def reindex(self, progress: Progress | None = None) -> str:
        """Bring the index up to date now, vectors included (a background filler steps aside); returns a
        one-line summary."""

        def tell(notices: list[Notice]) -> None:
            with self._lock:
                self._pending.extend(notices)

        return self._index.reindex(progress, tell)

    def fill_vectors_in_background(self, on_change: Callable[[], None] | None = None) -> VectorFiller:
        """For long-running front ends: embed what the index lacks in a low-priority child process while this
        session answers (retrieval uses the vectors there are). ``status.vectors`` follows it; ``on_change`` is
        called from the filler's thread whenever coverage or its state moves. Stopped by ``close``."""
        return self._index.fill_vectors_in_background(on_change)

    # --------------------------------------------------------------------------------- the prompt

    def _reply_tokens(self) -> int:
        reserve = self.max_reply_tokens or self.provider.reply_reserve
        return max(1, min(reserve, self.provider.context_window // 2))

    def _build_prompt(self, question: str) -> _Prompt:
        retriever = self.retriever
        pinned = self._pins.items()
        history = self._conversation.turns()
        repo_name = self.repo_root.name
        system = prompting.system_prompt(repo_name, [], self.provider.context_window)
        fixed = self._count_messages([Message("system", system), Message("user", prompting.turn_prompt(question, []))])
        pinned_tokens = sum(self._count(p.text) + 2 for p in pinned)
        reply = self._reply_tokens()
        budget = prompting.share_budget(self.provider.context_window, reply, fixed, pinned_tokens,
                                        self.context_share, self.context_budget)
        if budget.free_after_fixed < 0:
            what = f"the question and {len(pinned)} pinned items" if pinned else "the question"
            raise ChatError(
                f"{what} need about {fixed + pinned_tokens} tokens, but the {budget.window}-token context window "
                f"leaves {budget.prompt} for the prompt after {reply} kept for the answer: "
                + ("drop pinned items (/drop KEY), " if pinned else "")
                + "shorten the question, or use a model with a larger context window"
            )
        retrieved = self._retrieve(retriever, question, budget.context)
        if any(item.why.stale for item in retrieved):
            # The index was checked once, when the session began; files edited since then show up here.
            self._index.noticed_stale()
        retrieved_tokens = sum(item.tokens + 2 for item in retrieved)
        room = budget.prompt - fixed - pinned_tokens - retrieved_tokens
        memory = fit_memory(
            history, room,
            count_pair=lambda turn: self._count_messages([Message("user", turn.question),
                                                         Message("assistant", turn.answer)]),
            count_line=self._count,
        )
        messages, prompt_tokens, retrieved, memory = self._fit(question, repo_name, pinned, retrieved, memory,
                                                               budget.prompt)
        notices: list[Notice] = []
        coverage = retriever.vector_notice()
        if coverage and coverage != self._coverage_said:
            self._coverage_said = coverage
            notices.append(Notice(coverage))
        trimmed = len(history) - len(memory.turns)
        if trimmed:
            notices.append(Notice(memory.notice(trimmed, budget.window)))
        items = [p.item for p in pinned] + [self._context_item(item) for item in retrieved]
        texts = {p.item.key: p.text for p in pinned}
        whys = {}
        for context_item, pack_item in zip(items[len(pinned):], retrieved):
            texts[context_item.key] = pack_item.text
            whys[context_item.key] = pack_item.why.to_json()
        blocks = [p.text for p in pinned] + [item.text for item in retrieved]
        context_text = "\n\n".join(blocks)
        return _Prompt(messages, items, texts, whys, context_text, self._count(context_text) if blocks else 0,
                       prompt_tokens, reply, notices)

    def _fit(self, question: str, repo_name: str, pinned: list[Pinned], retrieved: list[PackItem],
             memory: Memory, limit: int) -> tuple[list[Message], int, list[PackItem], Memory]:
        """Assemble the messages and count them whole; while over ``limit`` give up memory first, then the
        lowest-ranked retrieved code."""
        retrieved = list(retrieved)
        while True:
            blocks = [p.text for p in pinned] + [item.text for item in retrieved]
            messages = prompting.outgoing([Message("system", prompting.system_prompt(repo_name, memory.summaries,
                                                                                  self.provider.context_window)),
                                           *memory.messages(),
                                           Message("user", prompting.turn_prompt(question, blocks))])
            total = self._count_messages(messages)
            if total <= limit:
                return messages, total, retrieved, memory
            if memory.give_up_oldest():
                continue
            if retrieved:
                retrieved.remove(min(retrieved, key=lambda item: (item.kind != "outline", item.score)))
            else:
                raise ChatError(
                    f"the prompt needs {total} tokens but only {limit} fit the {self.provider.context_window}-token "
                    f"window with room for the answer: drop pinned items (/drop KEY), shorten the question, or use "
                    f"a model with a larger context window"
                )

    def _retrieve(self, retriever: Retriever, question: str, budget: int) -> list[PackItem]:
        """The packed code for the question, without what the user pinned or dropped, within ``budget``."""
        if budget <= 0:
            return []
        pack = retriever.context(question, budget_tokens=budget, count_tokens=self._count)
        kept = [item for item in pack.items if not self._pins.excluded(item, _item_key(item))]
        removed = sum(item.tokens for item in pack.items) - sum(item.tokens for item in kept)
        if removed:
            # Ask again with the room the excluded items took, so the budget is still used.
            pack = retriever.context(question, budget_tokens=budget + removed, count_tokens=self._count)
            kept = [item for item in pack.items if not self._pins.excluded(item, _item_key(item))]
            while kept and sum(item.tokens + 2 for item in kept) > budget:
                kept.remove(min(kept, key=lambda item: (item.kind != "outline", item.score)))
        return kept

    def _context_item(self, item: PackItem) -> ContextItem:
        return ContextItem(_item_key(item), item.path, item.symbol, item.kind, item.start_line, item.end_line,
                           item.tokens, item.why.line(item.kind))

    # ------------------------------------------------------------------------------------ counting

    def _count(self, text: str) -> int:
        cached = self._counts.get(text)
        if cached is None:
            cached = self.provider.count_tokens(text)
            if len(self._counts) >= _COUNT_CACHE:
                self._counts.clear()
            self._counts[text] = cached
        return cached

    def _count_messages(self, messages: list[Message]) -> int:
        return self.provider.count_tokens(messages)

    # ---------------------------------------------------------------------------- pins and drops

    def pin(self, key: str) -> None:
        """Send this item with every following question until dropped. ``key`` is a ``ContextItem.key`` of
        the last context; any other symbol or file name is added as by ``add``."""
        with self._lock:
            context, texts = list(self._last_context), dict(self._last_texts)
        if not self._pins.pin(key, context, texts):
            self.add(key)

    def drop(self, key: str) -> None:
        """Leave this item out from the next question on (unpinning it if pinned). A file path drops all of
        the file's code; a class drops its methods too."""
        with self._lock:
            context = list(self._last_context)
        if self._pins.drop(key, context):
            return
        try:
            node = self.retriever.resolve(key)
        except RetrievalError as exc:
            raise ChatError(f"nothing with key {key!r} in the context, and {exc}") from exc
        self._pins.drop_node(node)

    def add(self, path_or_symbol: str) -> ContextItem:
        """Pin a file (whole, or its outline when too big) or a symbol (its code) by name."""
        retriever = self.retriever
        limit = int((self.provider.context_window - self._reply_tokens()) * PIN_SHARE)
        try:
            node = retriever.resolve(path_or_symbol)
            item, text = render_node(retriever, node, limit, self._count)
        except (RetrievalError, ProviderError) as exc:  # unknown name; or the server that counts tokens is gone
            raise ChatError(str(exc)) from exc
        self._pins.add(item, text)
        return item

    def clear(self) -> None:
        """Forget the conversation, pins and drops."""
        self._pins.clear()
        self._conversation.clear()
        with self._lock:
            self._last_context = []
            self._last_texts = {}
            self._last_whys = {}
            self._last_context_text = ""
            self._last_messages = []

    # ------------------------------------------------------------------------------------ views

    @property
    def last_context(self) -> list[ContextItem]:
        return list(self._last_context)

    @property
    def last_context_text(self) -> str:
        """The code blocks of the last prompt, exactly as sent."""
        return self._last_context_text

    @property
    def last_messages(self) -> list[Message]:
        """The whole last prompt, exactly as sent."""
        return list(self._last_messages)

    def why_details(self, key: str) -> dict | None:
        """The retriever's full reasons for a retrieved item of the last context (signals, ranks, graph path)."""
        return self._last_whys.get(key)

    @property
    def pinned(self) -> list[ContextItem]:
        return [p.item for p in self._pins.items()]

    @property
    def status(self) -> SessionStatus:
        return SessionStatus(self.provider.name, self.provider.context_window, self._tokens_used,
                             self._index.state, self._truncated, list(self._notices), self._index.vectors_label())

    @property
    def history(self) -> list[tuple[str, str]]:
        return self._conversation.pairs()

    @property
    def history_messages(self) -> list[Message]:
        """The conversation as messages, oldest first: what an edit started from the chat is sent before its
        request (`EditRun(conversation=...)`)."""
        return [Message(role, text) for role, text in self._conversation.pairs()]

    def remember(self, question: str, answer: str) -> None:
        """Record an exchange held outside ``ask`` (an `/edit` and its outcome), so the next question or edit
        can refer to it ("now do the same for `release`")."""
        self._conversation.record(question, answer)

    def set_provider(self, provider: ChatProvider) -> ChatProvider:
        """Switch models and keep the conversation, pins and index; returns the old provider for its owner
        to close. Token counts cached for the old tokenizer are forgotten: the new one counts differently."""
        with self._lock:
            old, self.provider = self.provider, provider
            self._counts.clear()
            self._notices = list(getattr(provider, "notices", []))
            self._pending.extend(Notice(text, "warning") for text in self._notices)
            self._truncated = False
        return old

    def stop_filling(self) -> None:
        """Stop the background vector filler, if any; what it stored stays."""
        self._index.stop_filling()

    def close(self) -> None:
        """Stop the vector filler (what it stored stays) and close the retriever if this session opened it (one
        passed in stays open for its owner)."""
        self._index.close()


# ---------------------------------------------------------------------------------------- helpers


def _item_key(item: PackItem) -> str:
    if item.symbol is not None:
        return item.symbol
    if item.kind == FILE and item.part == "module":
        return item.path
    return f"{item.path}:{item.start_line}-{item.end_line}"


def _no_usage(prompt: _Prompt) -> Usage:
    return Usage(None, None, prompt.prompt_tokens)

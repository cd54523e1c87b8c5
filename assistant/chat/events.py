"""What a chat turn reports while it runs. Every front end (CLI `ask`, the TUI, editor agents) consumes
these same events from ``ChatSession.ask``; none of them talks to the retriever or a provider directly."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ContextItem:
    """One item sent to the model: a symbol, an outline or a pinned file, with why it is there."""

    key: str  # stable id for pin/drop: the qname, or "path" for file-level items, or "path:start-end"
    path: str
    symbol: str | None
    kind: str
    start_line: int
    end_line: int
    tokens: int
    why: str  # one line: signals, score and graph path from a seed (human-readable)
    pinned: bool = False


@dataclass
class ContextReady:
    """Retrieval is done; the prompt is about to be sent."""

    items: list[ContextItem]
    context_tokens: int
    prompt_tokens: int  # the whole prompt as we count it (system + memory + context + question)
    context_window: int


@dataclass
class ReadingPrompt:
    """The server is partway through reading the prompt (only servers that report it: llama.cpp's); comes
    between ``ContextReady`` and the first ``AnswerDelta``, a few times a second at most."""

    processed: int  # prompt tokens read so far
    total: int  # the whole prompt, as the server counted it


@dataclass
class AnswerDelta:
    text: str


@dataclass
class Notice:
    """Something the user should see but that does not stop the turn: memory trimmed, index refreshed,
    a small context window, a possible truncation."""

    text: str
    level: str = "info"  # info | warning


@dataclass
class Citation:
    path: str
    line: int | None
    symbol: str | None
    origin: str = "answer"  # answer (cited by the model, checked against the index) | context (code it was given)


@dataclass
class TurnDone:
    answer: str
    citations: list[Citation]
    prompt_tokens: int | None  # as the server counted them
    completion_tokens: int | None
    done_reason: str  # stop | length | cancelled
    truncated: bool  # the server read fewer prompt tokens than we sent


@dataclass
class TurnFailed:
    """The model call failed; ``partial_answer`` keeps what had arrived."""

    message: str
    partial_answer: str = ""


ChatEvent = ContextReady | ReadingPrompt | AnswerDelta | Notice | TurnDone | TurnFailed


@dataclass
class SessionStatus:
    model: str  # provider name, e.g. "ollama:qwen2.5-coder:7b"
    context_window: int
    tokens_used: int  # prompt + completion of the last turn
    index_state: str  # "fresh" | "stale" | "missing" | "refreshing"
    truncated: bool = False  # the last reply showed signs of a truncated prompt
    notices: list[str] = field(default_factory=list)
    vectors: str = ""  # "vectors 36 %" while a background filler embeds, or why it is not ("… (waiting)")

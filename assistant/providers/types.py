"""What flows across the provider boundary: messages in, stream events out, and the provider protocol.

Providers know nothing of repositories or retrieval: they turn a list of messages into a reply, count tokens,
and say how big their context window is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"message role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if not isinstance(self.content, str):
            raise TypeError(f"message content must be a string, not {type(self.content).__name__}")

    def to_wire(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


MessageLike = Message | Mapping[str, str]


def as_messages(messages: Iterable[MessageLike]) -> list[Message]:
    """Accept ``Message`` objects or ``{"role", "content"}`` dicts; validate roles before anything is sent."""
    result = [m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in messages]
    if not result:
        raise ValueError("a chat needs at least one message")
    return result


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply, in the order the server produced it."""

    text: str


@dataclass(frozen=True)
class PromptProgress:
    """How much of the prompt the server has read so far, before the first token. Only servers that report it
    (llama.cpp's) yield these; a CPU can take a minute over a long prompt, and this is what moves meanwhile."""

    processed: int
    """Prompt tokens read so far, a reused cached prefix included."""
    total: int
    """The whole prompt, as the server counted it."""
    cached: int = 0
    """Tokens of ``processed`` the server took from its cache rather than reading them."""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None
    """The prompt's size as the server counted it (None when the server did not say)."""
    completion_tokens: int | None
    """Tokens the server generated for this reply."""
    estimated_prompt_tokens: int
    """Our own count of the prompt, made before sending; compared with ``prompt_tokens`` to spot truncation."""


@dataclass(frozen=True)
class Completed:
    """The last event of a stream, and the result of a non-streaming chat."""

    text: str
    """The whole reply (for a stream: every delta joined)."""
    done_reason: str
    """"stop" (the model finished), "length" (max_tokens or the window ran out), "cancelled" (we stopped it),
    or another reason the server gave."""
    usage: Usage
    truncated: bool = False
    """The server evaluated clearly fewer prompt tokens than we sent: it cut the prompt silently."""


StreamEvent = PromptProgress | TextDelta | Completed


@dataclass(frozen=True)
class ModelInfo:
    name: str
    """The name to pass back to the server (``qwen2.5-coder:7b``, ``smollm2-135m``)."""
    context_length: int | None = None
    """The model's own maximum context, when the listing says."""
    details: dict[str, str] = field(default_factory=dict)
    """Whatever else the server reported worth showing: family, size, quantization."""


@dataclass
class ServerModels:
    """What a server offers: the kind of server it turned out to be, where, its models, and the one requests
    would use (the configured name; for an OpenAI-compatible server without one, the first it lists)."""

    provider: str
    base_url: str
    models: list[ModelInfo]
    selected: str
    notices: list[str] = field(default_factory=list)


@runtime_checkable
class ChatProvider(Protocol):
    name: str
    """"ollama:qwen2.5-coder:7b", "openai:NAME@URL"."""
    context_window: int
    """Tokens of prompt + reply one request may use; fixed for the provider's lifetime."""
    reply_reserve: int
    """Tokens kept free for the reply when a request gives no ``max_tokens``."""
    notices: list[str]
    """Things the user should know about this session's setup (e.g. a context window below what agent work needs)."""

    def stream_chat(
        self,
        messages: list[MessageLike],
        *,
        max_tokens: int | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        """Yield ``PromptProgress``es while the server reads the prompt (only servers that report it), then
        ``TextDelta``s, then exactly one ``Completed``; errors are ``ProviderError``s raised while
        iterating (nothing is sent before the first ``next()``)."""
        ...

    def chat(self, messages: list[MessageLike], *, max_tokens: int | None = None) -> Completed:
        """One non-streaming request."""
        ...

    def count_tokens(self, messages_or_text: list[MessageLike] | str) -> int:
        """The prompt size of these messages (template included) or of a bare text."""
        ...

    def list_models(self) -> list[ModelInfo]: ...

    def close(self) -> None: ...


def collect(events: Iterable[StreamEvent]) -> Completed:
    """Drain a stream and return its final event."""
    final: Completed | None = None
    for event in events:
        if isinstance(event, Completed):
            final = event
    if final is None:
        raise RuntimeError("the stream ended without a final event")
    return final

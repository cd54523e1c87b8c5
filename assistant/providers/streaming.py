"""The part of a streamed reply every provider shares, so that each provider writes only its wire format.

A provider subclasses ``StreamingProvider`` and implements three things: ``_stream_request`` (check the window,
build the request), ``_wire_stream`` (send it and turn each message of the server into ``TextDelta``,
``PromptProgress`` and ``ServerReport`` events), and ``_stream_failure`` (a transport exception as a typed
``ProviderError``). The base does the rest the same way for all of them: cancel checks, the reply cap past
``max_tokens`` (a server that ignores it is stopped here), the text received so far, the final ``Completed``,
and ``StreamInterrupted`` when the stream ends before the server said the reply was done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .budget import looks_truncated
from .errors import ProviderError, StreamInterrupted
from .limits import ReplyCap
from .types import Completed, MessageLike, PromptProgress, StreamEvent, TextDelta, Usage


@dataclass(frozen=True)
class ServerReport:
    """What the server said about the reply besides its text: why it ended (None: not said in this message)
    and, when this message carries them, its token counts."""

    reason: str | None = None
    usage: tuple[int | None, int | None] | None = None
    """(prompt tokens, completion tokens) as the server counted them; None when this message has no usage."""
    last: bool = False
    """Nothing follows: stop reading at once (Ollama's ``done``; an OpenAI stream goes on to ``[DONE]``)."""


WireEvent = TextDelta | PromptProgress | ServerReport


@dataclass(frozen=True)
class StreamRequest:
    """A request ready to send: the provider's own payload, our count of the prompt, and where it goes."""

    payload: Any
    estimate: int
    endpoint: str


class ReceivedReply:
    """The reply as it arrives: its text so far (kept when the stream breaks) and the cap past max_tokens."""

    def __init__(self, cap: ReplyCap):
        self.cap = cap
        self._parts: list[str] = []

    def add(self, text: str) -> None:
        self._parts.append(text)
        self.cap.add(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)


class StreamingProvider:
    """Base of the providers: ``stream_chat`` and ``completed`` for all of them (see the module's docstring)."""

    context_window: int
    exact_tokens: bool = False
    """True when the prompt counts are the server's own tokenizer's (a smaller shortfall then means a cut)."""

    def stream_chat(
        self,
        messages: list[MessageLike],
        *,
        max_tokens: int | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        # A generator: nothing is checked or sent before the caller's first next().
        request = self._stream_request(messages, max_tokens)
        reply = ReceivedReply(self._reply_cap(max_tokens))
        reason: str | None = None
        usage: tuple[int | None, int | None] = (None, None)
        cancelled = False
        wire = self._wire_stream(request, reply)
        try:
            for message in wire:
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                last = False
                for event in message:
                    if isinstance(event, ServerReport):
                        reason = event.reason or reason
                        usage = event.usage if event.usage is not None else usage
                        last = last or event.last
                    else:
                        if isinstance(event, TextDelta):
                            reply.add(event.text)
                        yield event
                if last:
                    break
                if reply.cap.reached and reason is None:  # the server ignores max_tokens: stop it ourselves
                    reason = "length"
                    break
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
        except ProviderError:
            raise
        except Exception as exc:  # every client/transport failure becomes a typed error
            raise self._stream_failure(exc, request, reply.text) from exc
        finally:
            wire.close()  # closes the response; on a cancel this stops the server generating
        text = reply.text
        if cancelled:
            yield Completed(text, "cancelled", Usage(None, None, request.estimate))
            return
        if reason is None:
            raise StreamInterrupted(
                f"{self._stream_source(request)} the stream before the reply was done; "
                f"the {len(text)} characters received are kept",
                url=request.endpoint,
                partial_text=text,
            )
        yield self.completed(text, reason, usage, request.estimate)

    def completed(self, text: str, reason: str, usage: tuple[int | None, int | None], estimate: int) -> Completed:
        """The final event from the server's reason and counts; a prompt the server counted clearly shorter
        than ours was cut."""
        prompt_tokens, completion_tokens = usage
        return Completed(text, reason, Usage(prompt_tokens, completion_tokens, estimate),
                         looks_truncated(prompt_tokens, estimate, exact=self.exact_tokens))

    # -- what each provider writes -----------------------------------------------------------------------------

    def _reply_cap(self, max_tokens: int | None) -> ReplyCap:
        return ReplyCap(max_tokens or self.context_window)

    def _stream_request(self, messages: list[MessageLike], max_tokens: int | None) -> StreamRequest:
        raise NotImplementedError

    def _wire_stream(self, request: StreamRequest, reply: ReceivedReply) -> Iterator[Sequence[WireEvent]]:
        """Send the request; yield, for each message of the server, the events it carried. Return when the
        server says the stream is over; close the response when closed early."""
        raise NotImplementedError

    def _stream_failure(self, exc: Exception, request: StreamRequest, partial: str) -> ProviderError:
        raise NotImplementedError

    def _stream_source(self, request: StreamRequest) -> str:
        """The start of the message for a stream that ended early: who closed it ("Ollama at URL closed")."""
        return f"the server at {request.endpoint} ended"

"""Bounds assist holds every model request to itself, whatever the server does.

A server can misbehave in three ways that no client default catches: say nothing at all (accept the
connection, read the request, never answer), answer so slowly or so long that the reply never ends, or ignore
``max_tokens`` and keep generating. So every request gets

- a read timeout (``silence_s``): the longest wait for the first byte (headers) and between two chunks;
- a whole-request deadline (``reply_s``) from sending to the last byte, checked on every chunk received
  (a chunk-by-chunk trickle cannot outlast it by more than one silence interval);
- a byte cap on the body, so a reply that never ends a line cannot fill memory;
- a reply cap on what a stream yields (``ReplyCap``): the tokens we asked for plus a margin, counted by
  deltas (one per token on every server we know) and by characters (a server that batches tokens).

The first three live in an httpx response hook, so they hold for every request of both providers, the
official ``ollama`` client's included, and inside its line reader.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

DEFAULT_CONNECT_S = 5.0
DEFAULT_SILENCE_S = 300.0  # a cold local model can take minutes to load and read a long prompt
DEFAULT_REPLY_S = 600.0
MAX_BODY_BYTES = 64 * 1024 * 1024  # ~250x the NDJSON/SSE size of a 16k-token reply

_STARTED = "assist.started"  # request extension: when the request was sent (httpcore ignores unknown keys)


class ReplyLimitExceeded(httpx.HTTPError):
    """A request ran past its deadline or its byte cap; raised from inside the response body's iterator.

    An ``httpx.HTTPError``, so that every place that already turns transport failures into typed provider
    errors handles it too; the providers check for it first to say which limit it was."""

    def __init__(self, message: str, *, deadline: bool):
        super().__init__(message)
        self.deadline = deadline


@dataclass(frozen=True)
class RequestLimits:
    connect_s: float = DEFAULT_CONNECT_S
    silence_s: float = DEFAULT_SILENCE_S
    reply_s: float = DEFAULT_REPLY_S
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        for name in ("connect_s", "silence_s", "reply_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value}")

    @property
    def read_s(self) -> float:
        """The socket read timeout: never longer than the whole-request deadline."""
        return min(self.silence_s, self.reply_s)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read_s, connect=min(self.connect_s, self.reply_s))

    def client_options(self) -> dict:
        """Keyword arguments for ``httpx.Client`` (and ``ollama.Client``, which passes them on)."""
        return {"timeout": self.timeout(),
                "event_hooks": {"request": [_stamp_start], "response": [self._guard_body]}}

    def _guard_body(self, response: httpx.Response) -> None:
        started = response.request.extensions.get(_STARTED, time.monotonic())
        response.stream = _GuardedBody(response.stream, started + self.reply_s, self)


def _stamp_start(request: httpx.Request) -> None:
    request.extensions[_STARTED] = time.monotonic()


class _GuardedBody(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, deadline: float, limits: RequestLimits):
        self._inner = inner
        self._deadline = deadline
        self._limits = limits

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        for chunk in self._inner:
            received += len(chunk)
            if time.monotonic() > self._deadline:
                raise ReplyLimitExceeded(
                    f"the reply was still coming after {self._limits.reply_s:g} s, the limit on one request "
                    f"(reply_timeout_s under [model] in .assist/config.toml)", deadline=True)
            if received > self._limits.max_body_bytes:
                raise ReplyLimitExceeded(
                    f"the reply passed {self._limits.max_body_bytes // (1024 * 1024)} MiB without ending",
                    deadline=False)
            yield chunk

    def close(self) -> None:
        self._inner.close()


# A token is rarely over 16 characters even in code (runs of spaces, rulers); the average is 3-4.
CHARS_PER_TOKEN_BOUND = 16


class ReplyCap:
    """Counts a stream's deltas and characters; ``reached`` once past ``max_tokens`` plus a margin."""

    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens
        # The margin covers a server that splits a token into two deltas now and then.
        self.max_deltas = max_tokens + math.ceil(max_tokens / 8) + 16
        self.max_chars = self.max_deltas * CHARS_PER_TOKEN_BOUND
        self.deltas = 0
        self.chars = 0

    def add(self, delta: str) -> None:
        self.deltas += 1
        self.chars += len(delta)

    @property
    def reached(self) -> bool:
        return self.deltas >= self.max_deltas or self.chars >= self.max_chars

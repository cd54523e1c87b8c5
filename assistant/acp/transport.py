"""The ACP SDK's connection over guarded stdio (see ``assistant.stdio_wire``).

The SDK's own stdio transport logs and skips a line that is not JSON (the client never hears why its
request went unanswered) and stops listening on a frame that is JSON but not an object. This transport
answers every malformed frame itself, waits at end of input for the answers to requests already received,
and tells the agent when the reply to a ``session/new`` has gone out, so that updates for the new session
never reach the client before the client knows the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..stdio_wire import FrameReader, PendingRequests, Stdio, encode

log = logging.getLogger("assist.acp")

DRAIN_TIMEOUT_S = 30.0  # at end of input, the longest wait for replies to requests already received


class GuardedStdioTransport:
    """An ``acp`` message transport: ``send``/``receive`` decoded dicts, ``receive`` None at end of input."""

    def __init__(self, stdio: Stdio, max_frame_bytes: int):
        self._stdio = stdio
        self._reader = FrameReader(stdio.input, max_frame_bytes)
        self._pending = PendingRequests()
        self._lock = asyncio.Lock()
        self._methods: dict[str, str] = {}  # inbound request id -> method, for replies we watch
        self.on_session_created: Callable[[str], None] | None = None

    async def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        async with self._lock:
            await asyncio.to_thread(self._stdio.output.write, data)
        self._pending.sent(message)
        if "method" not in message and "id" in message:
            method = self._methods.pop(repr(message["id"]), None)
            result = message.get("result")
            if method == "session/new" and isinstance(result, dict) and self.on_session_created is not None:
                session_id = result.get("sessionId")
                if isinstance(session_id, str):
                    self.on_session_created(session_id)

    async def receive(self) -> dict[str, Any] | None:
        while True:
            message, error, eof = await asyncio.to_thread(self._reader.next_frame)
            if eof:
                await asyncio.to_thread(self._pending.wait_all_answered, DRAIN_TIMEOUT_S)
                return None
            if error is not None:
                await self.send(error)
                continue
            assert message is not None
            self._pending.received(message)
            if message.get("method") == "session/new" and "id" in message:
                self._methods[repr(message["id"])] = "session/new"
            return message

    async def close(self) -> None:
        return None

"""The MCP SDK's server loop over guarded stdio (see ``assistant.stdio_wire``).

The SDK's own ``stdio_server`` drops a line it cannot parse without answering, and stops serving requests
still in flight when stdin closes. This transport answers every malformed frame itself and, at end of
input, waits for the answers to requests already received before the server stops.
"""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

from ..stdio_wire import INVALID_REQUEST, FrameReader, PendingRequests, Stdio, encode, error_frame

log = logging.getLogger("assist.mcp")

DRAIN_TIMEOUT_S = 600.0  # at end of input, the longest wait for replies to requests already received


@asynccontextmanager
async def guarded_stdio(stdio: Stdio, max_frame_bytes: int):
    reader = FrameReader(stdio.input, max_frame_bytes)
    pending = PendingRequests()
    to_server_send, to_server = create_context_streams[SessionMessage | Exception](0)
    from_server, from_server_receive = create_context_streams[SessionMessage](0)
    lock = anyio.Lock()

    async def write(frame: dict) -> None:
        async with lock:
            await anyio.to_thread.run_sync(stdio.output.write, encode(frame))
        pending.sent(frame)

    async def read_loop() -> None:
        async with to_server_send:
            while True:
                message, error, eof = await anyio.to_thread.run_sync(reader.next_frame, abandon_on_cancel=True)
                if eof:
                    break
                if error is not None:
                    await write(error)
                    continue
                try:
                    parsed = types.jsonrpc_message_adapter.validate_python(message, by_name=False)
                except ValueError as exc:
                    if "method" in message:
                        request_id = message.get("id")
                        await write(error_frame(request_id, INVALID_REQUEST, f"Invalid Request: {_first_error(exc)}"))
                    continue
                pending.received(message)
                await to_server_send.send(SessionMessage(parsed))
            # End of input: let the answers to what was asked go out, then stop the server.
            await anyio.to_thread.run_sync(pending.wait_all_answered, DRAIN_TIMEOUT_S, abandon_on_cancel=True)

    async def write_loop() -> None:
        async with from_server_receive:
            async for session_message in from_server_receive:
                frame = json.loads(session_message.message.model_dump_json(by_alias=True, exclude_unset=True))
                await write(frame)

    async with anyio.create_task_group() as group:
        group.start_soon(read_loop)
        group.start_soon(write_loop)
        try:
            yield to_server, from_server
        finally:
            group.cancel_scope.cancel()


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()) if not isinstance(p, int))
            return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        except (IndexError, TypeError):
            pass
    return str(exc).splitlines()[0]

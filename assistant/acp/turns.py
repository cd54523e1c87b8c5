"""What a turn of the ACP agent is made of, below both the agent (``agent.py``) and its runs (``/fix``, ``/edit``:
``fix.py``, ``edit.py``, ``runs.py``), so neither imports the other: ``TurnCancelled``, the ``Updates`` it sends
through and asks with, and ``ModelWait``, the tool call that shows the model reading a long prompt."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from acp.helpers import start_tool_call, text_block, tool_content, update_tool_call


class TurnCancelled(Exception):
    """The client cancelled the turn; the worker thread has been told to stop."""


class Updates(Protocol):
    """Where a turn's ``session/update`` notifications go and its permission requests are made (``AssistAgent``
    is one)."""

    async def update(self, session: Any, update: Any, wait_announced: bool = False) -> None: ...

    async def choose(self, session: Any, call_id: str, title: str, kind: str, locations: list | None = None,
                     content: list | None = None, options: list | None = None) -> str | None:
        """``session/request_permission``: the id of the option picked, None when refused by failure or cancel."""
        ...

    async def run_in_worker(self, session: Any, produce: Any, handle: Any) -> None:
        """Run the blocking iterable ``produce()`` in a worker thread, ``await handle(item)`` for each item."""
        ...


class ModelWait:
    """A tool call that shows how long the model has been reading the prompt, and how much of it the server has
    read when it says (llama.cpp): a server on a CPU can take a minute before its first token, and an editor
    showing nothing meanwhile looks hung."""

    TICK_S = 2.0
    PROGRESS_S = 1.0  # at most one progress update a second: each is a message the editor must render

    def __init__(self, agent: Updates, session: Any, call_id: str) -> None:
        self.agent, self.session, self.call_id = agent, session, call_id
        self.started: float | None = None
        self.ticker: asyncio.Task | None = None
        self.read: tuple[int, int] | None = None  # (processed, total), as the server last reported
        self.reported_at = 0.0

    async def start(self, prompt_tokens: int) -> None:
        self.started = time.monotonic()
        await self.agent.update(self.session, start_tool_call(
            self.call_id, f"Waiting for the model to read the prompt ({prompt_tokens:,} tokens)", kind="think",
            status="in_progress"))
        self.ticker = asyncio.ensure_future(self._tick())

    async def reading(self, processed: int, total: int) -> None:
        if self.ticker is None:
            return
        self.read = (processed, total)
        if time.monotonic() - self.reported_at >= self.PROGRESS_S:
            await self._show()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.TICK_S)
            await self._show()

    async def _show(self) -> None:
        self.reported_at = time.monotonic()
        text = (f"waiting for the first token: {self._elapsed()}" if self.read is None
                else f"reading the prompt: {self.read[0]:,} of {self.read[1]:,} tokens… {self._elapsed()}")
        await self.agent.update(self.session, update_tool_call(self.call_id, content=[
            tool_content(text_block(text))]))

    def _elapsed(self) -> str:
        return f"{time.monotonic() - (self.started or time.monotonic()):.0f} s"

    async def stop(self, status: str) -> None:
        if self.ticker is None:
            return
        ticker, self.ticker = self.ticker, None
        ticker.cancel()
        await self.agent.update(self.session, update_tool_call(self.call_id, status=status, content=[
            tool_content(text_block(f"the model answered after {self._elapsed()}" if status == "completed"
                                    else f"stopped after {self._elapsed()}"))]))

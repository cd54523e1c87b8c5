"""Driving the chat app under Textual's Pilot: shared by the TUI and /fix tests."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from rich.console import Console

from assistant.tui.app import ChatApp
from assistant.tui.widgets import NoticeLine


async def until(pilot, condition: Callable[[], object], what: str, timeout: float = 300.0) -> float:
    """Wait for ``condition``; the timeout only guards against a hang, and its message shows the screen."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{screen_text(pilot.app)}")
        await pilot.pause(0.05)
    return time.monotonic() - started


def screen_text(app: ChatApp) -> str:
    """What a terminal would show right now, as plain text."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def type_line(pilot, text: str) -> None:
    """Enter a line at the prompt (pasted at once: key by key, Pilot takes ~0.1 s a character)."""
    prompt = pilot.app.prompt_input
    prompt.focus()
    prompt.value = text
    prompt.cursor_position = len(text)
    await pilot.press("enter")
    await pilot.pause()


def notices(app: ChatApp) -> list[str]:
    return [line.text for line in app.query(NoticeLine)]

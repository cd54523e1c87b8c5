"""`/fix` in the chat: the fix loop in a background thread, each round shown in the conversation — the
failures, the context items (also in the context panel), the proposed diff, the test result — and a
confirmation dialog before anything is written. Esc stops the run at its next step.

The loop (``assistant.fix.loop``) does all the work; this module only renders its events on the event loop.
``ChangeRun`` is what `/fix` and `/edit` (``edit.py``) share: the thread, the status-line clock, waiting for
the user's answer, and the rendering of the fix machinery's events, which an edit run reports too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Markdown

from ..chat.events import ContextItem
from ..fix.events import (
    ContextBuilt, EditRejected, EditsApplied, EditsProposed, FixEvent, FixFinished, FixNotice, Proposal, ReadingPrompt,
    Reindexed, ReplyDelta, RunStarted, TestsFinished, TestsStarted, TestSummary, Working,
)
from ..terminal import inert, inert_lines

SHOWN_FAILURES = 5
UNDO = "/undo"  # how the chat app restores what a /fix or /edit wrote: the runs name it in their messages


class FixHost(Protocol):
    """What a /fix or /edit run needs of the chat app (``ChatApp`` is one), so these modules never import it."""

    repo_root: Any
    session: Any  # the ChatSession, None until one is open
    connect_error: str | None
    change_run: ChangeRun | None
    busy: str
    panel: Any  # the ContextPanel
    conversation: Any  # the scrolling container the conversation's widgets are mounted in
    is_running: bool

    def open_session(self) -> str | None: ...
    def in_background(self, name: str, work: Callable[[], None]) -> None: ...
    def on_loop(self, callback: Callable[..., Any], *args: Any) -> Any: ...
    async def say(self, text: str, level: str = "info") -> Any: ...
    async def say_markdown(self, markdown: str) -> Any: ...
    def refresh_status(self) -> None: ...
    def push_screen(self, screen: Any, callback: Callable[[Any], Any]) -> Any: ...
    def set_interval(self, interval: float, callback: Callable[[], Any]) -> Any: ...


class ConfirmWrite(ModalScreen[bool]):
    """Shows the proposed diff; Write (y) or Skip (n / Esc) ends the run without writing."""

    DEFAULT_CSS = """
    ConfirmWrite { align: center middle; }
    ConfirmWrite > Vertical { width: 90%; height: 80%; border: thick $accent; background: $surface; padding: 0 1; }
    ConfirmWrite Markdown { height: 1fr; overflow-y: auto; }
    ConfirmWrite Horizontal { height: auto; align-horizontal: right; }
    """
    BINDINGS = [("y", "answer(True)", "Write"), ("n", "answer(False)", "Skip"), ("escape", "answer(False)", "Skip")]

    def __init__(self, proposal: Proposal) -> None:
        super().__init__()
        self.proposal = proposal

    def compose(self) -> ComposeResult:
        with Vertical():
            # Text, not a markup string: a file name may hold "[" and control characters.
            yield Label(Text(f"Round {self.proposal.round}: write these changes to "
                             f"{inert(', '.join(self.proposal.files))}?"))
            if self.proposal.test_config:
                yield Label(Text(inert(test_config_warning(self.proposal))), classes="warning")
            yield Markdown(f"```diff\n{inert_lines(self.proposal.diff.rstrip())}\n```")
            with Horizontal():
                yield Button("Write (y)", id="write", variant="primary")
                yield Button("Skip (n)", id="skip")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "write")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ChangeRun:
    """A run that may change files (`/fix`, `/edit`): started from the event loop, driven in a daemon thread,
    its events rendered on the event loop. Subclasses say which events (``events``) and how the user is asked
    before a write."""

    name: str  # the command as the user typed it ("/fix"): said in messages about the run

    def __init__(self, app: FixHost) -> None:
        self.app = app
        self.cancel = threading.Event()
        self._reply_chars = 0
        self._clock = None  # the timer moving the "waiting for the model" line while a prompt is read
        self._tick = None  # redraws that line now (a progress report came)
        self._read: tuple[int, int] | None = None  # (processed, total) as the server last reported

    def start(self) -> None:
        self.app.change_run = self
        self.app.in_background(self.name.lstrip("/"), self._work)

    def events(self, session: Any) -> Iterator[Any]:
        """In the run's thread: the events of the run, over the open chat session's model and index."""
        raise NotImplementedError

    def _work(self) -> None:
        app = self.app
        try:
            if app.session is None and app.open_session() is not None:
                app.on_loop(app.say, f"{self.name} needs a model: {app.connect_error}", "error")
                return
            for event in self.events(app.session):
                app.on_loop(self.show, event)
        except Exception as exc:  # shown as a message, never a traceback on screen
            app.on_loop(app.say, f"{self.name} failed: {type(exc).__name__}: {exc}", "error")
        finally:
            app.on_loop(self._finished)

    def ask_user(self, ask: Callable[[Callable[[Any], None]], Any], refused: Any = False) -> Any:
        """In the run's thread: ``ask(done)`` runs on the event loop and puts the question on screen; whatever is
        passed to ``done`` is the answer. Esc (or the app leaving) meanwhile answers ``refused``."""
        decided = threading.Event()
        answer = [refused]

        def done(value: Any) -> None:
            answer[0] = refused if value is None else value
            decided.set()

        self.app.on_loop(ask, done)
        while not decided.wait(0.2):
            if self.cancel.is_set() or not self.app.is_running:
                return refused
        return answer[0]

    def _finished(self) -> None:
        self._stop_clock()
        if self.app.change_run is self:
            self.app.change_run = None
        self.app.busy = ""
        self.app.refresh_status()

    def _busy(self, text: str) -> None:
        self.app.busy = text
        self.app.refresh_status()

    def _wait_for_model(self, label: str, tokens: int) -> None:
        """The status line with the prompt size and a clock (as the chat's own turns show): a server on a CPU
        can read a long prompt for a minute, and a line that does not move looks like a hang."""
        started = time.monotonic()

        def tick() -> None:
            seconds = f"{time.monotonic() - started:.0f} s"
            if self._read is None:
                self._busy(f"{label}: waiting for the model to read the prompt ({tokens:,} tokens)… {seconds}")
            else:
                self._busy(f"{label}: reading the prompt: {self._read[0]:,} of {self._read[1]:,} tokens… {seconds}")

        self._stop_clock()
        self._read = None
        tick()
        self._tick = tick
        self._clock = self.app.set_interval(1.0, tick)

    def _stop_clock(self) -> None:
        if self._clock is not None:
            self._clock.stop()
            self._clock = None
        self._tick = None

    def step(self, number: int) -> str:
        """How a round is named in the conversation: round 0 is the tests before the first fix."""
        return "before" if number == 0 else f"round {number}"

    # ---------------------------------------------------------------------------------- rendering

    async def show(self, event: Any) -> None:
        """On the event loop: one event of the run, in the conversation or on the status line."""
        if not isinstance(event, (FixNotice, ReadingPrompt)):
            self._stop_clock()  # the model is done reading: whatever came next says what happens now
        await self.render(event)

    async def render(self, event: FixEvent) -> None:
        """The fix machinery's events (a subclass renders its own first, and hands these on)."""
        app = self.app
        if isinstance(event, ReadingPrompt):
            if self._tick is not None:  # the clock runs: the prompt is still being read
                self._read = (event.processed, event.total)
                self._tick()
        elif isinstance(event, RunStarted):
            await app.say(f"fixing with {event.model} ({event.edit_format.replace('_', '/')} edits, up to "
                          f"{event.max_iterations} rounds); tests: {event.test_command} — Esc stops"
                          + (f"\nsandbox: {event.sandbox}" if event.sandbox else ""))
        elif isinstance(event, TestsStarted):
            self._busy(f"{self.step(event.round)}: running the tests…")
        elif isinstance(event, TestsFinished):
            await app.say_markdown(tests_markdown(self.step(event.round), event.summary))
        elif isinstance(event, Working):
            self._busy(f"{self.step(event.round)}: {event.doing}…")
        elif isinstance(event, ContextBuilt):
            items = [ContextItem(item.symbol or f"{item.path}:{item.start_line}-{item.end_line}", item.path,
                                 item.symbol, "code", item.start_line, item.end_line, item.tokens, item.why)
                     for item in event.items]
            app.panel.show(items, [])
            await app.say_markdown(f"**{self.step(event.round)}** · context: {event.describe(code)}")
            self._reply_chars = 0
            self._wait_for_model(self.step(event.round), event.tokens)
        elif isinstance(event, ReplyDelta):
            self._reply_chars += len(event.text)
            self._busy(f"{self.step(event.round)}: model replying… {self._reply_chars:,} chars")
        elif isinstance(event, EditRejected):
            await app.say(f"{self.step(event.round)}: reply not applied, nothing written: {event.reason}", "warning")
        elif isinstance(event, EditsProposed):
            diff = inert_lines(event.diff.rstrip())
            where = event.describe_symbols(code)
            await app.say_markdown(f"**{self.step(event.round)}** · proposed changes to {code(', '.join(event.files))}"
                                   + (f" — {where}" if where else "") + f":\n\n```diff\n{diff}\n```")
        elif isinstance(event, EditsApplied):
            await app.say(f"{self.step(event.round)}: wrote {', '.join(event.files)}")
        elif isinstance(event, Reindexed):
            await app.say(f"{self.step(event.round)}: {event.text}")
        elif isinstance(event, FixNotice):
            await app.say(event.text, event.level)
        elif isinstance(event, FixFinished):
            result = event.result  # its message names /undo when files changed (``UNDO``, given to the run)
            await app.say(f"fix {result.status.replace('_', ' ')}: {result.message}", "info" if result.ok else "warning")


class FixRun(ChangeRun):
    """One `/fix` run: the fix loop, each write confirmed in a dialog."""

    name = "/fix"

    def __init__(self, app: FixHost, test_paths: list[str] | None, command: str | None) -> None:
        super().__init__(app)
        self.test_paths = test_paths
        self.command = command

    def events(self, session: Any) -> Iterator[FixEvent]:
        from ..fix.loop import FixLoop, FixOptions

        options = FixOptions(test_paths=self.test_paths, command=self.command, use_vectors=session.use_vectors,
                             undo=UNDO)
        loop = FixLoop(self.app.repo_root, session.provider, options, approve=self._approve,
                       retriever=session.retriever)
        return loop.run(self.cancel)

    def _approve(self, proposal: Proposal) -> bool:
        return bool(self.ask_user(lambda done: self.app.push_screen(ConfirmWrite(proposal), done)))


def test_config_warning(proposal: Proposal) -> str:
    """Said beside a proposal that changes what the next test run executes (conftest.py, pyproject.toml, ...)."""
    return (f"These change test infrastructure ({', '.join(proposal.test_config)}): its code runs with your rights "
            "on the next test run.")


def code(text: str) -> str:
    """Repository text as inline code in Markdown: inert, and never read as emphasis or a link."""
    shown = inert(text)
    fence = "``" if "`" in shown else "`"
    return f"{fence} {shown} {fence}" if fence == "``" else f"`{shown}`"


def tests_markdown(label: str, summary: TestSummary) -> str:
    """A test run in the conversation: ``label``, its headline, and the first failures."""
    mark = "✓" if summary.green else "✗"
    lines = [f"**{label}** · tests {mark} {inert(summary.headline())}"]
    for failure in summary.failures[:SHOWN_FAILURES]:
        lines.append(f"- {code(failure.test_id)} — {inert(failure.exc_type or 'failed')}: {inert(failure.message)}")
    if len(summary.failures) > SHOWN_FAILURES:
        lines.append(f"- … and {len(summary.failures) - SHOWN_FAILURES} more")
    return "\n".join(lines)

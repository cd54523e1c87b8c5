"""`assist chat`: a Textual front end over ``ChatSession``.

The session does all the work (retrieval, prompting, the model call); this module only shows its events, and
hands slash commands to ``commands.py``.
Everything that may block — connecting to the model, loading the index, a chat turn, /add, /reindex — runs in a
background thread, and its results come back to the event loop as messages or through ``call_from_thread``.
Those are daemon threads rather than Textual's thread workers: a worker runs in asyncio's executor, which the
app waits for on exit, and leaving must not wait for a model still reading a long prompt or for an index run
(the indexer resumes an interrupted run next time).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Input

from ..chat.events import AnswerDelta, ChatEvent, ContextReady, Notice, ReadingPrompt, TurnDone, TurnFailed
from ..terminal import inert_lines
from . import slash
from .commands import SlashCommands, SlashPalette
from .widgets import ContextPanel, ContextTable, InfoBlock, NoticeLine, PromptInput, SlashMenu, StatusLine, Turn

if TYPE_CHECKING:
    from ..chat.session import ChatSession

log = logging.getLogger(__name__)

WIDE_ENOUGH_FOR_PANEL = 100
PANEL_MIN_WIDTH = 28
CONVERSATION_MIN_WIDTH = 30


class SessionEvent(Message):
    """A ``ChatEvent`` from the turn running in a thread, delivered on the event loop in order."""

    def __init__(self, turn: Turn, event: ChatEvent) -> None:
        super().__init__()
        self.turn = turn
        self.event = event


class VectorsMoved(Message):
    """The background vector filler's coverage or state changed (posted from its thread)."""


class TurnFinished(Message):
    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self.turn = turn


class ActiveTurn:
    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.cancel = threading.Event()
        self.stopped_by_user = False


class ChatApp(App[None]):
    """Ask questions about one repository; see what context each answer was given; pin and drop it."""

    CSS_PATH = "chat.tcss"
    TITLE = "assist"
    # The context panel shows by default from 100 columns on (chat.tcss); F2 overrides that either way.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE_ENOUGH_FOR_PANEL, "-wide")]
    COMMANDS = App.COMMANDS | {SlashPalette}
    BINDINGS = [
        Binding("escape", "stop", "Stop answer"),
        Binding("f2", "toggle_context", "Context"),
        Binding("f1", "help", "Help"),
        Binding("pageup", "scroll_conversation(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll_conversation(1)", "Scroll down", show=False),
        Binding("alt+left", "resize_panel(4)", "Wider context panel", show=False),
        Binding("alt+right", "resize_panel(-4)", "Narrower context panel", show=False),
    ]

    def __init__(self, repo_root: Path, *, model: str | None = None, base_url: str | None = None) -> None:
        super().__init__()
        self.repo_root = Path(repo_root).resolve()
        self.flag_model = model
        self.flag_base_url = base_url
        self.session: ChatSession | None = None
        self.model_label = model or "model"
        self.connect_error: str | None = None
        self.active: ActiveTurn | None = None
        self.busy = ""  # what a background command is doing, for the status line
        self._connect_lock = threading.Lock()
        self.ready = False
        """True once the session is open and the index checked: questions are answered from now on."""
        self.change_run = None  # the /fix or /edit run in progress (assistant.tui.fix.ChangeRun)
        self.slash_commands = SlashCommands(self)

    # ------------------------------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            # Not in the focus chain: Tab goes prompt <-> context panel; PageUp/PageDown scroll from anywhere.
            yield VerticalScroll(id="conversation", can_focus=False, can_focus_children=False)
            yield ContextPanel()
        yield SlashMenu()
        yield PromptInput()
        yield StatusLine()
        yield Footer()

    @property
    def conversation(self) -> VerticalScroll:
        return self.query_one("#conversation", VerticalScroll)

    @property
    def panel(self) -> ContextPanel:
        return self.query_one(ContextPanel)

    @property
    def prompt_input(self) -> PromptInput:
        return self.query_one(PromptInput)

    async def on_mount(self) -> None:
        self.conversation.anchor()
        self.query_one(SlashMenu).display = False
        await self.say_markdown(
            f"**assist** · `{self.repo_root.name}`\n\n"
            "Ask a question about this repository. `/help` lists commands; Esc stops an answer; "
            "F2 shows what the model was given."
        )
        self.prompt_input.focus()
        self.refresh_status()
        self.connect()

    def show_panel(self, shown: bool) -> None:
        """An explicit choice, kept across resizes (until the next one)."""
        self.screen.set_class(shown, "-panel-shown")
        self.screen.set_class(not shown, "-panel-hidden")

    # ------------------------------------------------------------------------------------------ output

    async def say(self, text: str, level: str = "info") -> NoticeLine:
        line = NoticeLine(text, level)
        await self.conversation.mount(line)
        return line

    async def say_markdown(self, markdown: str) -> InfoBlock:
        block = InfoBlock(markdown)
        await self.conversation.mount(block)
        return block

    def refresh_status(self) -> None:
        status = self.session.status if self.session is not None else None
        state = self.busy
        if self.session is None:
            state = state or ("model unreachable" if self.connect_error else "connecting…")
        self.query_one(StatusLine).show_status(status, model=self.model_label, state=state)

    # ------------------------------------------------------------------------------------------ session

    def in_background(self, name: str, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            except Exception as exc:  # expected failures are reported by ``work``; a bug still gets a line
                log.exception("background task %s failed", name)
                self.on_loop(self.say, f"{name} failed unexpectedly: {type(exc).__name__}: {exc}", "error")

        threading.Thread(target=run, name=f"assist-{name}", daemon=True).start()

    def on_loop(self, callback: Callable[..., Any], *args: Any) -> Any:
        """From a background thread: run ``callback`` on the event loop and wait for it. Once the app is leaving
        there is nothing left to update: the call is skipped, or its failure ignored, and None returned."""
        if not self.is_running:
            return None
        try:
            return self.call_from_thread(callback, *args)
        except (RuntimeError, CancelledError):  # the loop stopped before or while running the callback
            return None
        except Exception:
            if self.is_running:
                raise
            return None  # the widgets it touched were taken down with the app

    def connect(self) -> None:
        self.in_background("connect", self._connect)

    def _connect(self) -> None:
        """Open the model and the session, then check the index once (building it when missing)."""
        error = self.open_session()
        self.on_loop(self.refresh_status)
        if error is not None:
            self.on_loop(self.say, f"{error}\nQuestions will try to connect again.", "warning")
            return
        self.show_notices()  # e.g. a context window too small for the work: worth knowing before asking
        # The session's own notices (index built or refreshed, and how) are shown once it is done; meanwhile
        # the status line shows the progress.
        first = self.session.status.index_state == "missing"
        self.index_in_thread(lambda progress: self.session.ensure_index(progress),
                             "no index yet: indexing…" if first else "checking the index…")
        self.ready = True
        if self.session.use_vectors:
            # Questions are answered from the structural index and whatever vectors exist meanwhile.
            self.session.fill_vectors_in_background(on_change=lambda: self.post_message(VectorsMoved()))

    def open_session(self) -> str | None:
        """Resolve settings, open the provider and the session; returns an error message, or None."""
        from ..config import ConfigError, open_provider, resolve_model_settings
        from ..providers import ProviderError

        with self._connect_lock:
            if self.session is not None:
                return None
            try:
                settings = resolve_model_settings(self.repo_root, self.flag_model, self.flag_base_url)
                self.model_label = settings.spec
                for text in settings.notices:  # e.g. which provider an unprefixed model name was taken for
                    self.on_loop(self.say, text)
                provider = open_provider(settings)
            except (ConfigError, ProviderError) as exc:
                self.connect_error = str(exc)
                return self.connect_error
            self.model_label = provider.name.split("@", 1)[0]
            try:
                from ..chat import ChatSession

                self.session = ChatSession(self.repo_root, provider)
            except Exception as exc:  # an unreadable index must not take the app down
                provider.close()
                log.exception("opening the chat session failed")
                self.connect_error = f"cannot open the repository's index: {exc}"
                return self.connect_error
            self.connect_error = None
            return None

    # ------------------------------------------------------------------------------------------ input

    @on(Input.Submitted, "#prompt")
    async def _submitted(self, event: Input.Submitted) -> None:
        prompt = self.prompt_input
        text = event.value.strip()
        chosen = prompt.menu.chosen() if prompt.menu is not None else None
        parsed = slash.parse(text)
        if chosen and parsed and parsed.command is None and not parsed.argument:
            prompt.action_complete()  # "/he" + Enter completes, like Tab, rather than failing
            if not slash.BY_NAME[chosen].args:
                await self._submitted(Input.Submitted(prompt, prompt.value))
            return
        if not text:
            return
        prompt.remember(text)
        prompt.value = ""
        if parsed is not None:
            await self.slash_commands.run(parsed)
        else:
            await self.ask(text)

    # ------------------------------------------------------------------------------------------ turns

    async def ask(self, question: str) -> None:
        if self.change_run is not None:
            # The run shares this session's model and index: a question now would race its requests.
            await self.say(f"A {self.change_run.name} run is still going: wait for it (or answer what it asks), or "
                           "press Esc to stop it, then ask.", "warning")
            return
        if self.active is not None:
            if self.active.stopped_by_user:
                # Providers notice a cancel between tokens: a server still reading a long prompt answers late.
                await self.say("The last answer is stopped, but the model server has not let go of it yet (it "
                               "stops at its next token, and reading a long prompt can take a while): ask again "
                               "in a moment.", "warning")
            else:
                await self.say("An answer is still being written: press Esc to stop it, then ask again.", "warning")
            return
        turn = Turn(question)
        await self.conversation.mount(turn)
        turn.open_stream()
        active = self.active = ActiveTurn(turn)
        self.in_background("turn", lambda: self._run_turn(active, question))

    def _run_turn(self, active: ActiveTurn, question: str) -> None:
        turn = active.turn
        try:
            if self.session is None:
                error = self.open_session()
                self.on_loop(self.refresh_status)
                if error is not None:
                    self.post_message(SessionEvent(turn, TurnFailed(error)))
                    return
            for event in self.session.ask(question, active.cancel):
                self.post_message(SessionEvent(turn, event))
        except Exception as exc:  # a bug must show up as a message, not take the screen down
            log.exception("chat turn failed")
            self.post_message(SessionEvent(turn, TurnFailed(f"unexpected error: {type(exc).__name__}: {exc}")))
        finally:
            self.post_message(TurnFinished(turn))

    async def on_session_event(self, message: SessionEvent) -> None:
        turn, event = message.turn, message.event
        stopped = self.active is not None and self.active.turn is turn and self.active.stopped_by_user
        if isinstance(event, Notice):
            await turn.add_notice(event.text, event.level)
        elif isinstance(event, ContextReady):
            self.panel.show(event.items, self._pinned_items())
            if not stopped:
                turn.wait_for_model(f"sent {len(event.items)} context items ({event.context_tokens:,} tokens; "
                                    f"prompt {event.prompt_tokens:,} tokens); waiting for the model…")
            self.refresh_status()
        elif isinstance(event, ReadingPrompt):
            if not stopped:
                turn.reading_prompt(f"reading the prompt: {event.processed:,} of {event.total:,} tokens…")
        elif isinstance(event, AnswerDelta):
            if stopped:
                return  # the user asked to stop: what they saw is what stays
            if turn.state != "answering":
                turn.set_state("answering", "answering… (Esc stops)")
            await turn.write(event.text)
        elif isinstance(event, TurnDone):
            await turn.close_stream()
            if stopped or event.done_reason == "cancelled":
                turn.set_state("cancelled", "■ cancelled — the partial answer is kept")
            else:
                turn.set_state("done", _done_label(event))
            self.refresh_status()
        elif isinstance(event, TurnFailed):
            await turn.close_stream()
            if event.partial_answer and not turn.answer_text:
                await turn.answer.update(inert_lines(event.partial_answer))
                turn.answer_text = event.partial_answer
            await turn.add_notice(event.message, "error")
            turn.set_state("failed", "✗ failed" + (" — the partial answer is kept" if turn.answer_text else ""))
            self.refresh_status()

    async def on_turn_finished(self, message: TurnFinished) -> None:
        turn = message.turn
        await turn.close_stream()
        if self.active is not None and self.active.turn is turn:
            self.active = None
        self.refresh_status()
        if turn.state == "done" and self.active is None and self.change_run is None:
            from ..edit.run import reply_has_edits

            if reply_has_edits(turn.answer_text):  # the answer proposes changes: offered as an edit to apply
                from .edit import ChatEdit

                ChatEdit.offer(self, turn)

    async def action_stop(self) -> None:
        menu = self.prompt_input.menu
        if menu is not None and menu.display:
            menu.display = False
            return
        run = self.change_run
        if run is not None and not run.cancel.is_set():
            run.cancel.set()
            await self.say(f"stopping the {run.name} run at its next step…", "warning")
            return
        active = self.active
        if active is None or active.stopped_by_user:
            return
        active.cancel.set()
        active.stopped_by_user = True
        await active.turn.close_stream()
        active.turn.set_state("cancelled", "■ cancelled — the partial answer is kept")

    def _pinned_items(self) -> list:
        return self.session.pinned if self.session is not None else []

    # ------------------------------------------------------------------------------ session work (commands too)

    def index_in_thread(self, run: Callable[[Callable[[str, int, int], None]], list[Notice]],
                        starting: str = "indexing…") -> None:
        """Run an index job in this background thread: progress on the status line, notices inline."""

        def progress(stage: str, done: int, total: int) -> None:
            label = f"indexing: {stage} {done}/{total}"
            if label != self.busy:
                self.busy = label
                self.on_loop(self.refresh_status)

        self.busy = starting
        self.on_loop(self.refresh_status)
        try:
            notices = run(progress)
        except Exception as exc:  # ChatError, or the indexer's own failures: shown, never a traceback
            log.exception("indexing failed")
            notices = [Notice(f"indexing failed: {exc}", "error")]
        finally:
            self.busy = ""
        for notice in notices:
            self.on_loop(self.say, notice.text, notice.level)
        self.on_loop(self.refresh_status)

    def adopt_provider(self, provider: Any) -> None:
        """In a background thread: answer with ``provider`` from now on (the first model opens the session)."""
        with self._connect_lock:
            if self.session is None:
                from ..chat import ChatSession

                self.session = ChatSession(self.repo_root, provider)
            else:
                # Same conversation, pins and index; only the model changes.
                self.session.set_provider(provider).close()
            self.model_label = provider.name.split("@", 1)[0]
            self.connect_error = None

    def show_notices(self) -> None:
        """In a background thread: the session's notices not shown yet."""
        for notice in self.session.take_notices():
            self.on_loop(self.say, notice.text, notice.level)

    # ------------------------------------------------------------------------------------------ keys

    def action_toggle_context(self) -> None:
        shown = not self.panel.display
        self.show_panel(shown)
        if not shown and self.focused is not None and self.panel in self.focused.ancestors:
            self.prompt_input.focus()

    def action_resize_panel(self, columns: int) -> None:
        """Move the panel's left edge: long names and reasons need room that the conversation can lend."""
        panel = self.panel
        if not panel.display:
            return
        width = max(PANEL_MIN_WIDTH, min(panel.outer_size.width + columns, self.size.width - CONVERSATION_MIN_WIDTH))
        panel.styles.max_width = width
        panel.styles.width = width

    def action_scroll_conversation(self, pages: int) -> None:
        if pages < 0:
            self.conversation.scroll_page_up()
        else:
            self.conversation.scroll_page_down()

    async def action_help(self) -> None:
        await self.slash_commands.help("")

    @on(ContextTable.PinRequested)
    def _pin_requested(self, event: ContextTable.PinRequested) -> None:
        self.slash_commands.pin_item(event.key)

    @on(ContextTable.DropRequested)
    def _drop_requested(self, event: ContextTable.DropRequested) -> None:
        self.slash_commands.drop_item(event.key)

    def on_vectors_moved(self, message: VectorsMoved) -> None:
        self.refresh_status()

    async def on_unmount(self) -> None:
        if self.session is not None:
            self.session.stop_filling()
        if self.change_run is not None:
            self.change_run.cancel.set()
        if self.active is not None:
            self.active.cancel.set()  # lets the turn's thread return, so leaving does not wait for the model


def _done_label(event: TurnDone) -> str:
    parts = ["✓ done"]
    if event.completion_tokens is not None:
        parts.append(f"{event.completion_tokens:,} tokens")
    if event.done_reason not in ("stop", ""):
        parts.append(f"stopped: {event.done_reason}")
    cited = [c for c in event.citations if c.origin == "answer"]  # not the code it was merely given
    if cited:
        parts.append("cites " + ", ".join(f"{c.path}:{c.line}" if c.line else c.path for c in cited[:4]))
    return " · ".join(parts)


def run_chat(repo_root: Path, *, model: str | None = None, base_url: str | None = None) -> None:
    ChatApp(repo_root, model=model, base_url=base_url).run()


__all__ = ["ChatApp", "run_chat"]

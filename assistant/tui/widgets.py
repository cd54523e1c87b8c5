"""The chat screen's widgets: a conversation turn, inline notices, an edit request and its proposed diff with
the choices under it, the context panel, the prompt, the status line."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.css.query import NoMatches
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widget import NoScreen
from textual.widgets import Button, DataTable, Input, Markdown, OptionList, Static
from textual.widgets.markdown import MarkdownStream
from textual.widgets.option_list import Option

from ..chat.events import ContextItem, SessionStatus
from ..terminal import inert, inert_lines
from . import slash

PINNED_MARK = "●"
DROPPED_MARK = "✗"


class NoticeLine(Static):
    """A one-paragraph message in the conversation: info, warning or error (never a traceback)."""

    def __init__(self, text: str, level: str = "info") -> None:
        level = level if level in ("info", "warning", "error") else "info"
        prefix = {"info": "·", "warning": "⚠", "error": "✗"}[level]
        super().__init__(Text(f"{prefix} {inert_lines(text)}"), classes=f"notice -{level}")
        self.level = level
        self.text = text


class InfoBlock(Markdown):
    """Text the app itself writes into the conversation (/help, command replies)."""

    DEFAULT_CLASSES = "info-block"


class Turn(Vertical):
    """One question and its answer; the answer is streamed into a Markdown widget as it arrives."""

    def __init__(self, question: str) -> None:
        super().__init__(classes="turn")
        self.question = question
        self.answer_text = ""
        self.state = "waiting"
        self._stream: MarkdownStream | None = None
        self._clock: Timer | None = None
        self._waiting_since = 0.0
        self._waiting_label = ""

    def compose(self) -> ComposeResult:
        yield Markdown(inert_lines(self.question), classes="prompt")
        yield Vertical(classes="turn-notices")
        yield Markdown("", classes="answer")
        yield Static("retrieving context…", classes="turn-state")

    @property
    def answer(self) -> Markdown:
        return self.query_one(".answer", Markdown)

    def open_stream(self) -> None:
        """Must run on the event loop (a MarkdownStream owns an asyncio task), never in a thread worker."""
        self._stream = Markdown.get_stream(self.answer)

    async def write(self, text: str) -> None:
        self.answer_text += text
        if self._stream is not None:
            await self._stream.write(inert_lines(text))  # the model's text never reaches the terminal raw

    async def close_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def add_notice(self, text: str, level: str = "info") -> None:
        await self.query_one(".turn-notices", Vertical).mount(NoticeLine(text, level))

    def wait_for_model(self, label: str) -> None:
        """The waiting state with a clock: a server on a CPU can read a long prompt for a minute or more, and a
        line that does not move looks like a hang."""
        if self._clock is not None:  # a clock left from before must not tick on
            self._clock.stop()
        self._waiting_since = time.monotonic()
        self._waiting_label = label
        self._show_wait()
        self._clock = self.set_interval(1.0, self._show_wait)

    def reading_prompt(self, label: str) -> None:
        """What the server says it has read of the prompt so far replaces the waiting label; the clock goes on."""
        if self.state == "waiting" and self._clock is not None:
            self._waiting_label = label
            self._show_wait()

    def _show_wait(self) -> None:
        if self.state == "waiting":
            seconds = time.monotonic() - self._waiting_since
            self.set_state("waiting", f"{self._waiting_label} {seconds:.0f} s", keep_clock=True)

    def set_state(self, state: str, label: str, *, keep_clock: bool = False) -> None:
        """``state`` is one of waiting, answering, done, cancelled, failed; it becomes a CSS class."""
        if self._clock is not None and not keep_clock:
            self._clock.stop()
            self._clock = None
        line = self.query_one(".turn-state", Static)
        line.remove_class(f"-{self.state}")
        self.state = state
        line.add_class(f"-{state}")
        line.update(Text(inert(label)))


class EditRequest(Markdown):
    """An `/edit` request in the conversation, shown like a question."""

    DEFAULT_CLASSES = "edit-request"

    def __init__(self, request: str) -> None:
        super().__init__(inert_lines(f"/edit {request}"))
        self.request = request


# A diff line's style by how it starts (the first match wins): file headers, hunk headers, added and removed
# lines, and the edit core's own "# assist:" remarks (a new file, a file the model was not shown).
DIFF_STYLES = (("+++ ", "bold"), ("--- ", "bold"), ("@@", "bold cyan"), ("+", "green"), ("-", "red"),
               ("# assist:", "italic yellow"))
# The code of an added or removed line keeps its own colours on a tint of the line's colour.
CHANGED_LINE_TINT = {"+": "on #0f2f14", "-": "on #3a1214"}


def diff_view(diff: str) -> Text:
    """A unified diff, its text made inert first: headers and markers by DIFF_STYLES, and each line's code
    highlighted for the language of its file (by the `+++` header's path). Rich's Syntax is used per line, not
    for the whole diff: on Textual's screen it paints a box of its own background behind every context line."""
    text = Text()
    code: Syntax | None = None
    for line in inert_lines(diff.rstrip("\n")).split("\n"):
        if line.startswith("+++ "):
            code = _highlighter_for(line[4:].strip())
        style = next((style for start, style in DIFF_STYLES if line.startswith(start)), "")
        is_code = line[:1] in ("+", "-", " ") and not line.startswith(("+++ ", "--- "))
        if code is None or not is_code:
            text.append(line + "\n", style=style)
            continue
        highlighted = _colours_only(code.highlight(line[1:]))
        if line[0] in CHANGED_LINE_TINT:
            highlighted.stylize(CHANGED_LINE_TINT[line[0]])
        text.append(line[0], style=style)
        text.append_text(highlighted)
        text.append("\n")
    text.rstrip()
    return text


def _colours_only(highlighted: Text) -> Text:
    """The token colours of a highlighted line without the background Syntax lays under it: on Textual's screen
    that background is the terminal's, a dark box in the conversation."""
    highlighted.rstrip()
    highlighted.style = ""
    highlighted.spans = [span for span in highlighted.spans
                         if not isinstance(span.style, str) and span.style.color is not None]
    return highlighted


def _highlighter_for(path: str) -> Syntax | None:
    """A highlighter for the file a diff part changes (``b/x.py`` or ``x.py``), or None for a kind of file
    Pygments does not know."""
    name = path.removeprefix("b/")
    lexer = Syntax.guess_lexer(name)
    return None if lexer == "default" else Syntax("", lexer, theme="ansi_dark", background_color="default")


@dataclass(frozen=True)
class Choice:
    """One thing the user may do with a proposed diff: a button, and a key that presses it."""

    label: str
    key: str
    value: Any  # what the run is answered
    id: str


class ProposedEdit(Vertical):
    """A proposed diff in the conversation, with the choices under it as buttons (Apply / Reject / Apply and
    test). Nothing is decided until one is pressed (or its key typed while the buttons have focus; left and
    right move between them); then the buttons give way to a line saying what was chosen."""

    DEFAULT_CLASSES = "proposed-edit"

    def __init__(self, title: str, diff: str) -> None:
        super().__init__()
        self.title = title
        self.diff = diff
        self.choices: tuple[Choice, ...] = ()
        self._answer: Callable[[Any], None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(inert(self.title)), classes="proposed-title")
        yield Static(diff_view(self.diff), classes="proposed-diff")
        yield Horizontal(classes="proposed-choices")
        yield Static("", classes="proposed-state")

    @property
    def waiting(self) -> bool:
        """Whether the choices are on screen, waiting for the user."""
        return self._answer is not None

    async def ask(self, choices: tuple[Choice, ...], answer: Callable[[Any], None], warning: str | None = None) -> None:
        """Show ``choices`` (the first is the default and takes focus); ``answer`` gets the chosen value, once."""
        self.choices = choices
        self._answer = answer
        row = self.query_one(".proposed-choices", Horizontal)
        if warning:
            await self.mount(NoticeLine(warning, "warning"), before=row)
        await row.mount_all([Button(f"{choice.label} ({choice.key})", id=choice.id,
                                    variant="primary" if index == 0 else "default")
                             for index, choice in enumerate(choices)])
        self.query_one(f"#{choices[0].id}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        chosen = next((choice for choice in self.choices if choice.id == event.button.id), None)
        if chosen is not None and self.waiting:
            self.choose(chosen)

    def on_key(self, event: events.Key) -> None:
        if not self.waiting:
            return
        chosen = next((choice for choice in self.choices if choice.key == event.key), None)
        if chosen is not None:
            event.stop()
            self.choose(chosen)
        elif event.key in ("left", "right"):
            event.stop()
            buttons = list(self.query(Button))
            focused = self.screen.focused
            at = buttons.index(focused) if focused in buttons else 0
            buttons[(at + (1 if event.key == "right" else -1)) % len(buttons)].focus()

    def choose(self, choice: Choice) -> None:
        answer = self._answer
        self.settle(f"→ {choice.label}", "chosen")
        if answer is not None:
            answer(choice.value)

    def settle(self, label: str, state: str) -> None:
        """No more choices: the buttons give way to ``label``; ``state`` (chosen, stopped) becomes a CSS class.
        Focus goes back to the prompt if it was on the buttons."""
        self._answer = None
        had_focus = self.screen.focused is not None and self in self.screen.focused.ancestors
        row = self.query_one(".proposed-choices", Horizontal)
        row.remove_children()
        row.display = False
        line = self.query_one(".proposed-state", Static)
        line.add_class(f"-{state}")
        line.update(Text(inert(label)))
        if had_focus:
            self.screen.query_one(PromptInput).focus()


class ContextTable(DataTable):
    """The items of the latest answer; ``p`` pins the highlighted one, ``d`` drops it, for the next turns.

    Any other character typed here was meant for the prompt (a user who opened the panel with /context goes
    on typing ``/model …``): it goes there, so no keystroke is lost or taken as a pin or a drop."""

    BINDINGS = [
        Binding("p", "pin", "Pin"),
        Binding("d", "drop", "Drop"),
    ]

    def on_key(self, event: events.Key) -> None:
        if not (event.is_printable and event.character):
            return
        # Keys typed in one burst are all queued here before the first is handled: once one of them moved focus
        # to the prompt, the rest (a `d` in "/model" too) were meant for it.
        if event.key in ("p", "d") and self.screen.focused is self:
            return
        try:
            prompt = self.screen.query_one(PromptInput)
        except NoMatches:
            return
        event.stop()
        event.prevent_default()
        self.screen.set_focus(prompt)  # now, not scheduled as Widget.focus() would: the check above must see it
        prompt.insert_text_at_cursor(event.character)

    class PinRequested(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class DropRequested(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def highlighted_key(self) -> str | None:
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value

    def action_pin(self) -> None:
        if key := self.highlighted_key():
            self.post_message(self.PinRequested(key))

    def action_drop(self) -> None:
        if key := self.highlighted_key():
            self.post_message(self.DropRequested(key))


class ContextPanel(Vertical):
    """What the latest answer was given — file or symbol, tokens, why — plus what is pinned for the next turns."""

    def __init__(self) -> None:
        super().__init__(id="context-panel")
        self.items: dict[str, ContextItem] = {}
        self.dropped: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("Context", id="context-title")
        table = ContextTable(id="context-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("Ask a question to see what the model is given.\n/add PATH|SYMBOL pins one.",
                     id="context-detail")

    def on_resize(self) -> None:
        self._render_rows()

    @property
    def table(self) -> ContextTable:
        return self.query_one(ContextTable)

    def show(self, items: list[ContextItem], pinned: list[ContextItem] = ()) -> None:
        """The items sent with the latest answer, then pinned items that were not among them."""
        self.items = {}
        self.dropped = set()
        for item in [*items, *pinned]:
            if item.key not in self.items:
                self.items[item.key] = item
        self._render_rows()

    def upsert(self, item: ContextItem) -> None:
        self.items[item.key] = item
        self.dropped.discard(item.key)
        self._render_rows(select=item.key)

    def set_pinned(self, key: str, pinned: bool) -> None:
        if key in self.items:
            self.items[key] = replace(self.items[key], pinned=pinned)
        if pinned:
            self.dropped.discard(key)
        else:
            self.dropped.add(key)
        self._render_rows(select=key)

    def clear(self) -> None:
        self.items = {}
        self.dropped = set()
        self._render_rows()

    def mark(self, key: str) -> str:
        if key in self.dropped:
            return DROPPED_MARK
        return PINNED_MARK if self.items[key].pinned else ""

    def _render_rows(self, select: str | None = None) -> None:
        table = self.table
        current = select or table.highlighted_key()
        table.clear(columns=True)
        labels = {key: _label(item) for key, item in self.items.items()}
        reasons = {key: _short_why(item.why) for key, item in self.items.items()}
        # Fixed widths, so a long name or reason is shortened rather than pushing the token count out of view.
        # What the item and why columns share: the table less the mark and token columns, each column's cell
        # padding on both sides, and the vertical scrollbar.
        room = max(table.size.width - 1 - 5 - 2 * table.cell_padding * 4 - 2, 12)
        # The name matters most; "why" gets what is left, or no column when that is too little to read (the
        # detail lines under the table show the highlighted item whole either way).
        widest_why = max((len(reason) for reason in reasons.values()), default=3)
        widest_label = max((len(label) for label in labels.values()), default=4)
        if widest_label + 8 <= room:
            item_width = widest_label
            why_width = min(room - item_width, widest_why)
        else:  # names do not fit beside a readable reason: the names get the room (the why column's padding too)
            item_width, why_width = min(widest_label, room + 2 * table.cell_padding), 0
        table.add_column(" ", key="mark", width=1)
        table.add_column("item", key="item", width=item_width)
        table.add_column(Text("tok", justify="right"), key="tokens", width=5)
        if why_width:
            table.add_column("why", key="why", width=why_width)
        for key, item in self.items.items():
            cells = [self.mark(key), elide(inert(labels[key]), item_width, keep="end"),
                     Text(f"{item.tokens:,}", justify="right")]
            if why_width:
                cells.append(elide(inert(reasons[key]), why_width, keep="start"))
            table.add_row(*cells, key=key)
        total = sum(item.tokens for key, item in self.items.items() if key not in self.dropped)
        pinned = sum(1 for item in self.items.values() if item.pinned)
        count = len(self.items)
        parts = [f"{count} item{'' if count == 1 else 's'}"] + ([f"{pinned} pinned"] if pinned else [])
        title = " · ".join([*parts, f"{total:,} tok"]) if count else "Context"
        self.query_one("#context-title", Static).update(Text(title))
        if current in self.items:
            table.move_cursor(row=table.get_row_index(current))
        self._describe(table.highlighted_key())

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._describe(event.row_key.value)

    def _describe(self, key: str | None) -> None:
        detail = self.query_one("#context-detail", Static)
        if key is None or key not in self.items:
            detail.update(Text("Ask a question to see what the model is given.\n/add PATH|SYMBOL pins one."))
            return
        item = self.items[key]
        state = {PINNED_MARK: "pinned", DROPPED_MARK: "dropped", "": "sent"}[self.mark(key)]
        lines = f"{item.start_line}-{item.end_line}" if item.end_line else str(item.start_line)
        detail.update(Text(f"{inert(item.path)}:{lines} ({item.kind}, {state})\n{inert(item.why)}\np pin · d drop"))


def elide(text: str, width: int, keep: str = "end") -> str:
    """``text`` in at most ``width`` columns with "…" where it was cut: a qualified name keeps its last part
    whole (``SessionRe….rebuild_auth`` tells methods of one class apart, ``src/re…/utils.py`` files), a reason keeps
    its start."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    if keep == "start":
        return text[: width - 1] + "…"
    separator = "/" if "/" in text else "."
    last = text[text.rfind(separator) :] if separator in text else ""
    if last and len(last) <= width - 4:
        return text[: width - 1 - len(last)] + "…" + last
    if last and len(last) <= width:
        return "…" + last[1:]
    head = (width - 1) // 3 if not last else 0  # a name too long even alone: its end tells rows apart
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


_SIGNAL_SHORT = {"vector": "vec", "mention": "name"}
_SIGNAL_WORD = re.compile(r"[a-z0-9][a-z0-9-]*")


def _short_why(why: str) -> str:
    """The signals that found an item, without ranks and scores: "bm25 vec graph" (the detail line has the rest).
    Any signal the retriever names reads as its own word, so a new one needs nothing here."""
    first = re.sub(r" #\d+", "", why.split(";")[0]).strip()
    signals = [part.strip() for part in first.split(",")]
    if all(_SIGNAL_WORD.fullmatch(part) for part in signals):
        return " ".join(_SIGNAL_SHORT.get(part, part) for part in signals)
    return first


def _label(item: ContextItem) -> str:
    """A symbol by its name inside its file (the path is in the detail line below the table)."""
    if item.symbol:
        return item.symbol.partition("::")[2] or item.symbol
    return item.path


class StatusLine(Static):
    """Model, index freshness, tokens used against the window, and a warning when the prompt was cut."""

    def __init__(self) -> None:
        super().__init__(id="status-line")

    def show_status(self, status: SessionStatus | None, *, model: str, state: str = "") -> None:
        parts = [model]
        if status is not None:
            parts.append(f"index {status.index_state}")
            if status.vectors:
                parts.append(status.vectors)
            if status.context_window:
                parts.append(f"{status.tokens_used:,}/{status.context_window:,} tokens")
        if state:
            parts.append(state)
        text = Text(inert(" │ ".join(parts)))
        truncated = status is not None and status.truncated
        if truncated:
            text.append(" │ ")
            text.append("⚠ prompt truncated", style="bold")
        self.set_class(truncated, "-truncated")
        self.update(text)


class SlashMenu(OptionList):
    """The completion list that opens above the prompt while a /command name is typed."""

    can_focus = False

    def __init__(self) -> None:
        super().__init__(id="slash-menu")

    def show_matches(self, matches: list[slash.SlashCommand]) -> None:
        self.clear_options()
        self.add_options(Option(Text.assemble((command.usage, "bold"), f"  {command.help}"), id=command.name)
                         for command in matches)
        if matches:
            self.highlighted = 0
        self.display = bool(matches)

    def chosen(self) -> str | None:
        if not self.display or self.highlighted is None:
            return None
        return self.get_option_at_index(self.highlighted).id


class PromptInput(Input):
    """The question line: Up/Down recall earlier prompts; a leading / completes commands."""

    BINDINGS = [
        Binding("up", "history(-1)", "Earlier prompt", show=False),
        Binding("down", "history(1)", "Later prompt", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(
            placeholder="Ask about this repository, or /help",
            id="prompt",
            suggester=SuggestFromList([command.usage.split(" ")[0] for command in slash.COMMANDS]),
            # Coming back from the context panel must not select the draft: the next key would replace it.
            select_on_focus=False,
        )
        self.history: list[str] = []
        self._recall: int | None = None  # index into history while browsing it
        self._draft = ""

    @property
    def menu(self) -> SlashMenu | None:
        try:
            return self.screen.query_one(SlashMenu)
        except (NoMatches, NoScreen):  # the app is shutting down
            return None

    def remember(self, text: str) -> None:
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self._recall = None
        self._draft = ""

    def action_history(self, step: int) -> None:
        menu = self.menu
        if self._recall is None and menu is not None and menu.display:
            # Typing a /command: the arrows move through the completions instead.
            if step < 0:
                menu.action_cursor_up()
            else:
                menu.action_cursor_down()
            return
        if not self.history:
            return
        if self._recall is None:
            if step > 0:
                return
            self._draft = self.value
            self._recall = len(self.history)
        self._recall += step
        if self._recall >= len(self.history):
            self._recall = None
            self._set_text(self._draft)
            return
        self._recall = max(self._recall, 0)
        self._set_text(self.history[self._recall])

    def _set_text(self, text: str) -> None:
        self.value = text
        self.cursor_position = len(text)

    def action_complete(self) -> None:
        name = self.menu.chosen() if self.menu is not None else None
        if name is None:
            raise SkipAction()  # let Tab move focus as usual
        command = slash.BY_NAME[name]
        self._set_text(f"/{name} " if command.args else f"/{name}")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._recall is not None and event.value != self.history[self._recall]:
            self._recall = None  # the recalled prompt is being edited: it is a new draft now
        self._show_completions([] if self._recall is not None else slash.completions(event.value))

    def on_blur(self, event: events.Blur) -> None:
        self._show_completions([])

    def _show_completions(self, matches: list[slash.SlashCommand]) -> None:
        if (menu := self.menu) is not None:
            menu.show_matches(matches)

"""The chat's slash commands: what each one does, and their entries in Textual's command palette (Ctrl+P).

Which commands exist, their arguments and help live in the shared table (``assistant/slash.py``, read through
``slash.py``); this module runs them. It sees the app only through the ``CommandHost`` protocol, so it never
imports the app (which imports it). Anything that may block — a session call, switching models, indexing —
runs in the app's background threads; its result comes back on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..chat.events import Notice
from . import slash


class CommandHost(Protocol):
    """What the commands need of the chat app (``ChatApp`` is one)."""

    repo_root: Any
    flag_model: str | None
    flag_base_url: str | None
    session: Any  # the ChatSession, None until one is open
    connect_error: str | None
    model_label: str
    active: Any  # the turn being answered, if any
    change_run: Any  # the /fix or /edit run in progress, if any
    panel: Any  # the ContextPanel
    conversation: Any
    prompt_input: Any

    def open_session(self) -> str | None: ...
    def adopt_provider(self, provider: Any) -> None: ...
    def show_notices(self) -> None: ...
    def in_background(self, name: str, work: Callable[[], None]) -> None: ...
    def on_loop(self, callback: Callable[..., Any], *args: Any) -> Any: ...
    def index_in_thread(self, run: Callable[[Callable[[str, int, int], None]], list[Notice]],
                        starting: str = "indexing…") -> None: ...
    async def say(self, text: str, level: str = "info") -> Any: ...
    async def say_markdown(self, markdown: str) -> Any: ...
    def refresh_status(self) -> None: ...
    def show_panel(self, shown: bool) -> None: ...
    def exit(self) -> None: ...
    def call_after_refresh(self, callback: Callable[..., Any], *args: Any) -> Any: ...
    def call_later(self, callback: Callable[..., Any], *args: Any) -> Any: ...


class SlashCommands:
    """Runs ``/help``, ``/add``, ``/model``, ... for one app: ``run`` dispatches a parsed command to its handler
    (the method named like the command)."""

    def __init__(self, host: CommandHost) -> None:
        self.host = host

    async def run(self, parsed: slash.ParsedCommand) -> None:
        host, command = self.host, parsed.command
        if command is None:
            await host.say(f"unknown command /{parsed.name}: type /help for the list", "warning")
            return
        if command.args and not parsed.argument:
            await host.say(f"/{command.name} needs {command.args}: {command.usage}", "warning")
            return
        await getattr(self, command.name)(parsed.argument)

    def run_from_palette(self, command: slash.SlashCommand) -> None:
        """A command chosen in the palette: one that needs an argument is typed into the prompt to finish."""
        prompt = self.host.prompt_input
        prompt.focus()
        if command.args:
            prompt.value = f"/{command.name} "
            prompt.cursor_position = len(prompt.value)
            return
        self.host.call_later(self.run, slash.ParsedCommand(command.name, "", command))

    # ------------------------------------------------------------------------------------------ handlers

    async def help(self, argument: str) -> None:
        await self.host.say_markdown(slash.help_markdown())

    async def context(self, argument: str) -> None:
        self.host.show_panel(True)
        self.host.call_after_refresh(self.host.panel.table.focus)

    async def quit(self, argument: str) -> None:
        self.host.exit()

    async def fix(self, argument: str) -> None:
        from ..slash import parse_fix_arguments
        from .fix import FixRun

        host = self.host
        if await self._still_running("/fix"):
            return
        try:
            test_paths, command = parse_fix_arguments(argument)
        except ValueError as exc:
            await host.say(str(exc), "warning")
            return
        FixRun(host, test_paths, command).start()

    async def edit(self, argument: str) -> None:
        from .edit import ChatEdit

        if not await self._still_running("/edit"):
            await ChatEdit.begin(self.host, argument)

    async def undo(self, argument: str) -> None:
        if not await self._still_running("/undo"):
            self.host.in_background("undo", self._undo)

    async def _still_running(self, command: str) -> bool:
        """Whether an answer or a /fix or /edit run is going (and the user was told so): they would race."""
        host = self.host
        if host.active is None and host.change_run is None:
            return False
        doing = "An answer is still being written" if host.active is not None else \
            f"A {host.change_run.name} run is still going"
        await host.say(f"{doing}: press Esc to stop it, then {command} again.", "warning")
        return True

    def _undo(self) -> None:
        """In a background thread: restore what the last /fix or /edit wrote (`assist undo`'s checkpoints)."""
        from indexer.lock import IndexBusy

        from ..fix.checkpoint import NothingToUndo, UndoConflict, undo_latest
        from ..fix.index_refresh import refresh_after_undo

        host = self.host
        try:
            report = undo_latest(host.repo_root)
        except (NothingToUndo, UndoConflict, IndexBusy) as exc:
            host.on_loop(host.say, str(exc), "warning")
            return
        except OSError as exc:
            host.on_loop(host.say, f"undo failed: {exc}; the saved originals are kept under .assist/checkpoints/: "
                                   "run /undo again", "error")
            return
        # The index first, so that once "undone" shows, the next question reads the restored code.
        index_warning = refresh_after_undo(host.repo_root, report)
        host.on_loop(host.say, f"undone: {report.summary('/undo')}", "warning" if report.refused else "info")
        if index_warning:
            host.on_loop(host.say, index_warning, "warning")

    async def clear(self, argument: str) -> None:
        host = self.host
        if await self._still_running("/clear"):  # a run's proposal on screen must not vanish under it
            return
        await host.conversation.remove_children()
        host.panel.clear()
        if host.session is not None:
            host.session.clear()
        await host.say("Conversation and pins cleared.")
        host.refresh_status()

    async def add(self, argument: str) -> None:
        async def added(item: Any) -> None:
            self.host.panel.upsert(item)
            await self.host.say(f"pinned {item.key} ({item.tokens:,} tokens) for the next questions")

        self.in_session(f"adding {argument}", lambda session: session.add(argument), added)

    async def drop(self, argument: str) -> None:
        self.drop_item(argument)

    async def model(self, argument: str) -> None:
        host = self.host
        if host.active is not None:
            await host.say("An answer is still being written: press Esc first, then switch models.", "warning")
            return
        if host.change_run is not None:
            # Switching closes the model the run is talking to.
            await host.say(f"A {host.change_run.name} run is using the model: press Esc to stop it first, then "
                           "switch models.", "warning")
            return
        await host.say(f"connecting to {argument}…")
        host.in_background("model", lambda: self._switch_model(argument))

    async def reindex(self, argument: str) -> None:
        def work() -> None:
            session = self._session_or_say("cannot index without the chat session")
            if session is not None:
                self.host.index_in_thread(lambda progress: [Notice(session.reindex(progress))])

        self.host.in_background("reindex", work)

    # ------------------------------------------------------------------------------------------ pins

    def pin_item(self, key: str) -> None:
        async def pinned(_: Any) -> None:
            self.host.panel.set_pinned(key, True)
            await self.host.say(f"pinned {key} for the next questions")

        self.in_session(f"pinning {key}", lambda session: session.pin(key), pinned)

    def drop_item(self, key: str) -> None:
        async def dropped(_: Any) -> None:
            self.host.panel.set_pinned(key, False)
            await self.host.say(f"dropped {key}: it is left out of the next questions")

        self.in_session(f"dropping {key}", lambda session: session.drop(key), dropped)

    # ------------------------------------------------------------------------------------------ threads

    def in_session(self, doing: str, call: Callable[[Any], Any], done: Callable[[Any], Any]) -> None:
        """Run a session call off the event loop, then ``done(result)`` on it; a failure becomes a message."""

        def work() -> None:
            session = self._session_or_say(f"{doing} needs the chat session")
            if session is None:
                return
            try:
                result = call(session)
            except Exception as exc:  # ChatError says what to do; anything else is still only a message
                self.host.on_loop(self.host.say, f"{doing} failed: {exc}", "error")
                return
            self.host.on_loop(done, result)

        self.host.in_background("command", work)

    def _session_or_say(self, why: str) -> Any:
        """In a background thread: the session, connecting first if need be; None (and a message) if it cannot."""
        host = self.host
        if host.session is None and host.open_session() is not None:
            host.on_loop(host.refresh_status)
            host.on_loop(host.say, f"{why}: {host.connect_error}", "error")
            return None
        return host.session

    def _switch_model(self, spec: str) -> None:
        from ..config import ConfigError, open_provider, switch_model_settings
        from ..providers import ProviderError

        host = self.host
        try:
            # The --base-url given at start belongs to the model given at start (flag_model stays that one):
            # a model of another provider goes to its own provider's server.
            current = host.session.provider.name.partition(":")[0] if host.session is not None else None
            settings = switch_model_settings(host.repo_root, spec, host.flag_model, host.flag_base_url, current)
            provider = open_provider(settings)
        except (ConfigError, ProviderError) as exc:
            host.on_loop(host.say, f"kept {host.model_label}: {exc}", "error")
            return
        host.adopt_provider(provider)
        for notice in settings.notices:  # e.g. which provider a name without a prefix was taken for
            host.on_loop(host.say, notice)
        host.on_loop(host.say, f"now using {host.model_label}")
        host.show_notices()
        host.on_loop(host.refresh_status)


class SlashPalette(Provider):
    """The slash commands in Textual's command palette (Ctrl+P)."""

    async def discover(self) -> Hits:
        for command in slash.COMMANDS:
            yield DiscoveryHit(command.usage, self._runner(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in slash.COMMANDS:
            score = matcher.match(f"{command.usage} {command.help}")
            if score > 0:
                yield Hit(score, matcher.highlight(command.usage), self._runner(command), help=command.help)

    def _runner(self, command: slash.SlashCommand) -> Callable[[], None]:
        commands = self.app.slash_commands  # a ChatApp's
        return lambda: commands.run_from_palette(command)


__all__ = ["CommandHost", "SlashCommands", "SlashPalette"]

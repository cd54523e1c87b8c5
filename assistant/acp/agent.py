"""`assist acp`: an Agent Client Protocol agent (protocol version 1) over stdio, for editors.

A thin front end over ``ChatSession`` (the core that `assist ask` and the TUI drive) and the fix loop:

- ``session/new`` takes the editor's working directory as the repository, opens the model (configured as
  for `assist ask`) and opens or builds the index in the background, reporting progress as a tool call
  once the client knows the session;
- ``session/prompt`` streams the answer as ``agent_message_chunk``s, retrieval as a ``search`` tool call
  with the locations it found, notices as thoughts; ``/fix`` runs the test-driven fix loop (see
  ``fix.py``), asking ``session/request_permission`` before it runs a command or writes a file; ``/edit``
  and an answer that holds edit blocks become an edit, with its diff, asked before it is written (``edit.py``);
- ``session/cancel`` ends the turn at once with ``stopReason: "cancelled"`` and tells the worker to stop.

Files the user attaches as links are read through the client's ``fs/read_text_file`` when it advertises
it (so unsaved buffers are seen), otherwise from disk, inside the repository only.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from acp import PROTOCOL_VERSION, RequestError, run_agent
from acp.helpers import (
    start_tool_call,
    text_block,
    tool_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_tool_call,
)
from acp.schema import (
    AgentCapabilities,
    AvailableCommand,
    AvailableCommandsUpdate,
    ClientCapabilities,
    Implementation,
    InitializeResponse,
    McpCapabilities,
    NewSessionResponse,
    PermissionOption,
    PromptCapabilities,
    PromptResponse,
    ToolCallLocation,
    ToolCallUpdate,
)

from .. import slash
from ..stdio_wire import MAX_FRAME_BYTES
from .transport import GuardedStdioTransport
from .turns import ModelWait, TurnCancelled

log = logging.getLogger("assist.acp")

ATTACHMENT_CHARS = 6000  # of each attached file, in the question
COMMANDS = slash.commands_for(slash.ACP)  # /clear, /reindex, /fix, /edit, /undo
ALLOW_OR_REJECT = [PermissionOption(option_id="allow", name="Allow", kind="allow_once"),
                   PermissionOption(option_id="reject", name="Reject", kind="reject_once")]


def invalid_params(details: str) -> RequestError:
    """A JSON-RPC invalid-params error whose message says what was wrong (editors show the message, not the
    data: a bare "Invalid params" left the user guessing)."""
    return RequestError(-32602, f"Invalid params: {details}", {"details": details})


def internal_error(details: str) -> RequestError:
    return RequestError(-32603, f"Internal error: {details}", {"details": details})


@dataclass
class AgentOptions:
    model: str | None = None
    base_url: str | None = None
    use_vectors: bool = True
    max_reply_tokens: int | None = None
    context_budget: int | None = None
    max_frame_bytes: int = MAX_FRAME_BYTES


@dataclass
class _Session:
    id: str
    root: Path
    chat: Any  # ChatSession
    provider: Any
    cancel: threading.Event = field(default_factory=threading.Event)  # tells the worker thread to stop
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)  # ends the turn on the event loop
    worker: threading.Thread | None = None  # the thread of the last turn (chat or fix)
    index_ready: threading.Event = field(default_factory=threading.Event)
    announced: asyncio.Event = field(default_factory=asyncio.Event)
    turns: int = 0


class AssistAgent:
    def __init__(self, options: AgentOptions, transport: GuardedStdioTransport | None = None):
        self.options = options
        self.client: Any = None
        self.capabilities = ClientCapabilities()
        self.sessions: dict[str, _Session] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        if transport is not None:
            transport.on_session_created = self._session_announced

    def on_connect(self, conn: Any) -> None:
        self.client = conn

    # ------------------------------------------------------------------------------ lifecycle

    async def initialize(self, protocol_version: int, client_capabilities: ClientCapabilities | None = None,
                         client_info: Implementation | None = None, **kwargs: Any) -> InitializeResponse:
        self.loop = asyncio.get_running_loop()
        self.capabilities = client_capabilities or ClientCapabilities()
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=False,
                prompt_capabilities=PromptCapabilities(image=False, audio=False, embedded_context=True),
                mcp_capabilities=McpCapabilities(http=False, sse=False),
            ),
            auth_methods=[],
            agent_info=Implementation(name="assist", title="assist", version=_version()),
        )

    async def authenticate(self, method_id: str, **kwargs: Any) -> None:
        raise invalid_params("assist needs no authentication")

    async def new_session(self, cwd: str, mcp_servers: list | None = None, **kwargs: Any) -> NewSessionResponse:
        self.loop = asyncio.get_running_loop()
        root = Path(cwd)
        if not root.is_absolute():
            raise invalid_params(f"cwd must be an absolute path, not {cwd!r}")
        if not root.is_dir():
            raise invalid_params(f"{cwd} is not a directory")
        root = root.resolve()
        provider = await asyncio.to_thread(self._open_provider, root)
        from ..chat import ChatSession

        chat = ChatSession(root, provider, max_reply_tokens=self.options.max_reply_tokens,
                           context_budget=self.options.context_budget, use_vectors=self.options.use_vectors)
        session = _Session(uuid.uuid4().hex, root, chat, provider)
        self.sessions[session.id] = session
        threading.Thread(target=self._prepare_index, args=(session,), name=f"index-{session.id[:8]}",
                         daemon=True).start()
        return NewSessionResponse(session_id=session.id)

    def _open_provider(self, root: Path):
        from ..config import ConfigError
        from ..fix.models import open_model
        from ..providers import ProviderError

        try:
            return open_model(root, self.options.model, self.options.base_url)
        except (ConfigError, ProviderError) as exc:
            raise internal_error(str(exc)) from exc

    def _session_announced(self, session_id: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.announced.set()
            asyncio.ensure_future(self._announce_commands(session))

    async def _announce_commands(self, session: _Session) -> None:
        from acp.schema import AvailableCommandInput, UnstructuredCommandInput

        commands = [AvailableCommand(name=name, description=description,
                                     input=AvailableCommandInput(root=UnstructuredCommandInput(hint=hint))
                                     if hint else None)
                    for name, description, hint in ((c.name, c.help, c.hint) for c in COMMANDS)]
        await self.update(session, AvailableCommandsUpdate(session_update="available_commands_update",
                                                            available_commands=commands))

    # ---------------------------------------------------------------------------- the index

    def _prepare_index(self, session: _Session) -> None:
        """Worker thread: open or build the index; progress becomes a tool call once the session is known."""
        call_id = f"index-{session.id[:8]}"
        started = False
        last: tuple[str, int] = ("", -1)

        def progress(stage: str, done: int, total: int) -> None:
            nonlocal started, last
            step = (done * 10 // total) if total else 0
            if (stage, step) == last:
                return
            last = (stage, step)
            title = f"Indexing {session.root.name}: {stage}" + (f" {done}/{total}" if total else "")
            if not started:
                started = True
                self._post(session, start_tool_call(call_id, title, kind="other", status="in_progress"))
            else:
                self._post(session, update_tool_call(call_id, title=title, status="in_progress"))

        try:
            notices = session.chat.ensure_index(progress=progress)
        except Exception as exc:  # ChatError and indexer failures: the first prompt reports them again
            log.warning("indexing %s failed: %s", session.root, exc)
            if started:
                self._post(session, update_tool_call(call_id, status="failed", content=[
                    tool_content(text_block(str(exc)))]))
            session.index_ready.set()
            return
        if session.chat.use_vectors:
            session.chat.fill_vectors_in_background()  # answers meanwhile use the vectors there are
        if started:
            summary = "; ".join(n.text for n in notices) or "index ready"
            self._post(session, update_tool_call(call_id, title=f"Indexed {session.root.name}", status="completed",
                                                 content=[tool_content(text_block(summary))]))
        session.index_ready.set()

    def _post(self, session: _Session, update: Any) -> None:
        """From a worker thread: send a session update once the session has been announced."""
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(self.update(session, update, wait_announced=True), self.loop)

    async def update(self, session: _Session, update: Any, wait_announced: bool = False) -> None:
        """Send one ``session/update`` to the client (dropped when the client is gone)."""
        if wait_announced:
            await session.announced.wait()
        try:
            await self.client.session_update(session_id=session.id, update=update)
        except ConnectionError:
            log.debug("client gone; update dropped")

    # ------------------------------------------------------------------------------ prompting

    async def prompt(self, session_id: str, prompt: list, **kwargs: Any) -> PromptResponse:
        session = self._session(session_id)
        session.announced.set()  # the client uses the id, so it knows it
        previous = session.worker
        if previous is not None and previous.is_alive():
            # A cancelled turn's worker is told to stop; wait for it so that turns never overlap.
            await asyncio.to_thread(previous.join)
        session.cancel = threading.Event()
        session.cancelled = asyncio.Event()
        session.turns += 1
        text, attachments = await self._read_prompt(session, prompt)
        parsed = slash.parse(text, COMMANDS)
        command = parsed.command.name if parsed is not None and parsed.command is not None else None
        if command == "fix":
            from .fix import run_fix

            return await run_fix(self, session, parsed.argument)
        if command == "edit":
            from .edit import run_edit

            return await run_edit(self, session, parsed.argument)
        if command == "undo":
            from .fix import run_undo

            return await run_undo(self, session)
        if command == "clear":
            session.chat.clear()
            await self.update(session, update_agent_message_text("Conversation cleared."))
            return PromptResponse(stop_reason="end_turn")
        if command == "reindex":
            return await self._reindex(session)
        question = text + "".join(attachments)
        if not question.strip():
            raise invalid_params("the prompt has no text")
        return await self._chat(session, question)

    def _session(self, session_id: str) -> _Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise invalid_params(f"unknown session {session_id!r}; create one with session/new")
        return session

    async def _chat(self, session: _Session, question: str) -> PromptResponse:
        from ..chat import AnswerDelta, ContextReady, Notice, ReadingPrompt, TurnDone, TurnFailed

        call_id = f"retrieve-{session.turns}"
        await self.update(session, start_tool_call(call_id, f"Searching {session.root.name} for relevant code",
                                                    kind="search", status="in_progress",
                                                    raw_input={"query": question[:2000]}))
        state: dict[str, Any] = {"call_open": True}
        waiting = ModelWait(self, session, f"wait-{session.turns}")

        async def handle(event) -> None:
            if isinstance(event, Notice):
                await self.update(session, update_agent_thought_text(f"{event.text}\n"))
            elif isinstance(event, ContextReady):
                state["call_open"] = False
                await self.update(session, _context_update(call_id, session.root, event))
                await waiting.start(event.prompt_tokens)
            elif isinstance(event, ReadingPrompt):
                await waiting.reading(event.processed, event.total)
            elif isinstance(event, AnswerDelta):
                await waiting.stop("completed")
                await self.update(session, update_agent_message_text(event.text))
            elif isinstance(event, (TurnDone, TurnFailed)):
                await waiting.stop("completed" if isinstance(event, TurnDone) else "failed")
                state["end"] = event

        cancel = session.cancel
        earlier = session.chat.history_messages  # the conversation before this turn, for an edit its answer proposes
        try:
            await self.run_in_worker(session, lambda: session.chat.ask(question, cancel=cancel), handle)
        except TurnCancelled:
            await waiting.stop("failed")
            if state["call_open"]:
                await self.update(session, update_tool_call(call_id, status="failed", content=[
                    tool_content(text_block("cancelled"))]))
            return PromptResponse(stop_reason="cancelled")
        finally:
            await waiting.stop("failed")
        end = state.get("end")
        if isinstance(end, TurnDone):
            if end.done_reason == "cancelled" or cancel.is_set():
                return PromptResponse(stop_reason="cancelled")
            from ..edit.run import reply_has_edits
            from .edit import run_edit

            if reply_has_edits(end.answer):  # the answer is an edit: offered as one, asked before it is written
                return await run_edit(self, session, question, reply=end.answer, earlier=earlier)
            return PromptResponse(stop_reason="max_tokens" if end.done_reason == "length" else "end_turn")
        message = end.message if isinstance(end, TurnFailed) else "the turn ended without an answer"
        if state["call_open"]:
            await self.update(session, update_tool_call(call_id, status="failed", content=[
                tool_content(text_block(message))]))
        raise internal_error(message)

    async def _reindex(self, session: _Session) -> PromptResponse:
        call_id = f"reindex-{session.turns}"
        await self.update(session, start_tool_call(call_id, f"Indexing {session.root.name}", kind="other",
                                                    status="in_progress"))

        async def handle(summary: str) -> None:
            await self.update(session, update_tool_call(call_id, status="completed", content=[
                tool_content(text_block(summary))]))

        try:
            await self.run_in_worker(session, lambda: iter([session.chat.reindex()]), handle)
        except TurnCancelled:
            return PromptResponse(stop_reason="cancelled")
        except Exception as exc:
            await self.update(session, update_tool_call(call_id, status="failed", content=[
                tool_content(text_block(str(exc)))]))
            raise internal_error(str(exc)) from exc
        return PromptResponse(stop_reason="end_turn")

    async def run_in_worker(self, session: _Session, produce, handle) -> None:
        """Run the blocking iterable ``produce()`` in a daemon thread and ``await handle(item)`` for each item
        here. Raises ``TurnCancelled`` as soon as the session is cancelled: the thread is told to stop (through
        the session's cancel event) and left to finish on its own; the next turn waits for it."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        done = object()
        cancel = session.cancel

        def work() -> None:
            try:
                for item in produce():
                    loop.call_soon_threadsafe(queue.put_nowait, (item, None))
                    if cancel.is_set():
                        break
            except BaseException as exc:  # handed to the event loop, raised there
                loop.call_soon_threadsafe(queue.put_nowait, (done, exc))
                return
            loop.call_soon_threadsafe(queue.put_nowait, (done, None))

        worker = threading.Thread(target=work, name=f"turn-{session.id[:8]}", daemon=True)
        session.worker = worker
        worker.start()
        cancelled = asyncio.ensure_future(session.cancelled.wait())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                finished, _ = await asyncio.wait({getter, cancelled}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in finished:
                    getter.cancel()
                    raise TurnCancelled()
                item, error = getter.result()
                if item is done:
                    if error is not None:
                        raise error
                    return
                await handle(item)
        finally:
            cancelled.cancel()

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.cancel.set()
            session.cancelled.set()

    # -------------------------------------------------------------------------- attachments

    async def _read_prompt(self, session: _Session, blocks: list) -> tuple[str, list[str]]:
        texts: list[str] = []
        attachments: list[str] = []
        for block in blocks:
            kind = getattr(block, "type", None)
            if kind == "text":
                texts.append(block.text)
            elif kind == "resource_link":
                attachments.append(await self._attach_link(session, block.uri))
            elif kind == "resource":
                resource = block.resource
                text = getattr(resource, "text", None)
                if text is not None:
                    attachments.append(_attachment(_display_path(session.root, resource.uri), text))
        return "\n".join(texts), attachments

    async def _attach_link(self, session: _Session, uri: str) -> str:
        """A linked file's text: from the editor's buffer when the client offers fs/read_text_file, else
        from disk; never a file outside the repository."""
        from indexer.safe_fs import resolve_inside

        path = _uri_path(uri)
        try:
            if path is None:
                raise ValueError(f"{uri} is not a file")
            relative = path.relative_to(session.root) if path.is_absolute() else path
            full = session.root / resolve_inside(session.root, str(relative)).relative
        except (OSError, ValueError):  # PathRefused is an OSError
            return f"\n\n(attached {uri}: not a file inside {session.root}, left out)"
        call_id = f"read-{session.turns}-{uuid.uuid4().hex[:6]}"
        shown = str(full.relative_to(session.root))
        await self.update(session, start_tool_call(call_id, f"Read {shown}", kind="read", status="in_progress",
                                                    locations=[ToolCallLocation(path=str(full))]))
        try:
            if self.capabilities.fs and self.capabilities.fs.read_text_file:
                response = await self.client.read_text_file(session_id=session.id, path=str(full))
                text = response.content
            else:
                text = await asyncio.to_thread(_read_own, full, shown)
        except (OSError, RequestError, ValueError) as exc:
            await self.update(session, update_tool_call(call_id, status="failed",
                                                         content=[tool_content(text_block(str(exc)))]))
            return f"\n\n(attached {shown}: could not be read: {exc})"
        await self.update(session, update_tool_call(call_id, status="completed"))
        return _attachment(shown, text)

    # ---------------------------------------------------------------------------- permission

    async def ask_permission(self, session: _Session, call_id: str, title: str, kind: str,
                             locations: list[ToolCallLocation] | None = None, content: list | None = None) -> bool:
        """``session/request_permission`` for one action; True only when the user picked allow."""
        return await self.choose(session, call_id, title, kind, locations, content) == "allow"

    async def choose(self, session: _Session, call_id: str, title: str, kind: str,
                     locations: list[ToolCallLocation] | None = None, content: list | None = None,
                     options: list[PermissionOption] | None = None) -> str | None:
        """``session/request_permission`` with ``options`` (allow or reject when None): the id of the option the
        user picked; None when the request failed or the client cancelled it."""
        options = options or ALLOW_OR_REJECT
        tool_call = ToolCallUpdate(tool_call_id=call_id, title=title, kind=kind, status="pending",
                                   locations=locations, content=content)
        try:
            response = await self.client.request_permission(session_id=session.id, tool_call=tool_call,
                                                            options=options)
        except (RequestError, ConnectionError) as exc:
            log.warning("permission request failed (%s); treated as rejected", exc)
            return None
        outcome = response.outcome
        picked = getattr(outcome, "option_id", None)
        if getattr(outcome, "outcome", None) != "selected" or picked not in {option.option_id for option in options}:
            return None
        return picked

    def close(self) -> None:
        for session in self.sessions.values():
            session.cancel.set()
            try:
                session.chat.close()
                session.provider.close()
            except Exception:  # closing is best effort at exit
                log.debug("close failed", exc_info=True)


# ------------------------------------------------------------------------------------ helpers


def _context_update(call_id: str, root: Path, ready) -> Any:
    lines = [f"{len(ready.items)} items, {ready.context_tokens} tokens of code "
             f"(prompt {ready.prompt_tokens} of a {ready.context_window}-token window)"]
    for item in ready.items:
        name = f" {item.symbol.partition('::')[2]}" if item.symbol else ""
        lines.append(f"- {item.path}:{item.start_line}-{item.end_line}{name} — {item.why}")
    locations = [ToolCallLocation(path=str(root / item.path), line=item.start_line) for item in ready.items]
    return update_tool_call(call_id, title=f"Found {len(ready.items)} relevant pieces of code", status="completed",
                            locations=locations, content=[tool_content(text_block("\n".join(lines)))],
                            raw_output={"items": [{"path": i.path, "symbol": i.symbol, "start_line": i.start_line,
                                                   "end_line": i.end_line, "tokens": i.tokens} for i in ready.items]})


def _uri_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path if parsed.scheme else uri))
    return None


def _display_path(root: Path, uri: str) -> str:
    path = _uri_path(uri)
    if path is not None and path.is_absolute():
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return uri


def _read_own(full: Path, shown: str) -> str:
    from indexer.secrets import is_secret_path

    if is_secret_path(shown):
        raise ValueError("it may hold secrets, so it is never sent to a model")
    with full.open("rb") as handle:
        data = handle.read(ATTACHMENT_CHARS * 4 + 1)
    return data.decode("utf-8", errors="replace")


def _attachment(label: str, text: str) -> str:
    cut = text[:ATTACHMENT_CHARS]
    more = f"\n[… {len(text) - ATTACHMENT_CHARS} more characters left out]" if len(text) > ATTACHMENT_CHARS else ""
    return f"\n\nAttached file {label}:\n```\n{cut}\n```{more}"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assist")
    except PackageNotFoundError:
        return "0"


class _OneLineNotificationErrors(logging.Filter):
    """A notification cannot be answered, so the SDK logs its failures with a traceback; a client that sends
    malformed notifications would flood stderr. One line each is enough to debug with."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Unhandled error while handling notification") and record.exc_info:
            error = record.exc_info[1]
            record.msg = "ignored a notification that failed (%s): %s"
            record.args = (record.args[0] if record.args else "?", str(error).splitlines()[0] if error else "")
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def serve(options: AgentOptions) -> None:
    """Serve one client over stdin/stdout until stdin closes."""
    from ..stdio_wire import claim_stdio

    logging.getLogger().addFilter(_OneLineNotificationErrors())
    stdio = claim_stdio()
    transport = GuardedStdioTransport(stdio, options.max_frame_bytes)
    agent = AssistAgent(options, transport)

    async def main() -> None:
        agent.loop = asyncio.get_running_loop()
        await run_agent(agent, transport)

    try:
        asyncio.run(main())
    finally:
        agent.close()


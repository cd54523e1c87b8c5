"""What `/fix` (``fix.py``) and `/edit` (``edit.py``) share: a run of the fix loop or of an edit, in a worker
thread, shown to the editor as tool calls.

- ``RunView``: the events both runs yield (``assistant.fix.events``: tests, context, the model's reply, edits
  proposed and written, notices) as ``session/update``s; each front end adds its own start and end.
- ``proposed_diffs``: the files an edit proposes, old and new text, as ACP diff content, so the editor shows a
  real diff in the tool call and in the permission request rather than a block of text.
- ``ClientFileWriter``: writes through the editor's ``fs/write_text_file`` (its buffers stay in step), else
  the run keeps its own atomic writer.
- ``answer_in_worker``: a permission request made from the worker thread, given up when the turn is cancelled.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

from acp import RequestError
from acp.helpers import (
    start_tool_call,
    text_block,
    tool_content,
    tool_diff_content,
    update_agent_message_text,
    update_agent_thought_text,
    update_tool_call,
)
from acp.schema import ToolCallLocation

from .turns import ModelWait, TurnCancelled, Updates

CLIENT_WRITE_TIMEOUT_S = 120.0
UNDO = "/undo"  # how an editor's session restores what /fix or /edit wrote: the runs name it in their messages
ANSWER_POLL_S = 0.2


class ClientFileWriter:
    """Writes through the editor (``fs/write_text_file``), then checks the file on disk holds the new text.

    An editor whose buffer of the file holds unsaved changes would have them replaced by text planned from
    the disk: when the client offers ``fs/read_text_file`` the buffer is read first and such a write refused
    (the run then puts back whatever it wrote, so nothing is applied)."""

    def __init__(self, agent, session, loop: asyncio.AbstractEventLoop):
        self.agent, self.session, self.loop = agent, session, loop

    def write(self, path: Path, data: bytes, mode: int | None) -> None:
        self._refuse_unsaved_buffer(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            from indexer.safe_fs import atomic_write

            # The protocol carries text only: keep the file's own encoding. With the root, the path is walked
            # from it without following links, like every other write of the loop.
            atomic_write(path, data, mode=mode, root=self.session.root)
            return
        future = asyncio.run_coroutine_threadsafe(
            self.agent.client.write_text_file(session_id=self.session.id, path=str(path), content=text), self.loop)
        try:
            future.result(timeout=CLIENT_WRITE_TIMEOUT_S)
        except (RequestError, ConnectionError, TimeoutError) as exc:
            raise OSError(f"the editor could not write {path}: {exc}") from exc
        if not path.is_file() or path.read_bytes() != data:
            raise OSError(f"the editor did not save {path}; nothing was applied")


    def _refuse_unsaved_buffer(self, path: Path) -> None:
        fs = self.agent.capabilities.fs
        if not (fs and fs.read_text_file) or not path.is_file():
            return
        try:
            on_disk = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return  # not text to the editor either: nothing it could hold unsaved
        future = asyncio.run_coroutine_threadsafe(
            self.agent.client.read_text_file(session_id=self.session.id, path=str(path)), self.loop)
        try:
            buffer = future.result(timeout=CLIENT_WRITE_TIMEOUT_S).content
        except (RequestError, ConnectionError, TimeoutError) as exc:
            raise OSError(f"the editor could not show its buffer of {path} ({exc}); nothing was applied") from exc
        if buffer != on_disk:
            raise OSError(f"{path.name} has unsaved changes in the editor, which this edit would overwrite: save or "
                          "revert them there, then ask again; nothing was applied")


def client_writer(agent, session, loop: asyncio.AbstractEventLoop) -> ClientFileWriter | None:
    """The editor as the writer when it advertises ``fs/write_text_file``; None leaves the run's atomic writer."""
    fs = agent.capabilities.fs
    return ClientFileWriter(agent, session, loop) if fs and fs.write_text_file else None


def answer_in_worker(asking: Coroutine, loop: asyncio.AbstractEventLoop, cancel: threading.Event) -> Any:
    """From the worker thread: run ``asking`` (a permission request) on the event loop and wait for its answer;
    None as soon as the turn is cancelled, so a cancelled turn never waits on the editor."""
    future = asyncio.run_coroutine_threadsafe(asking, loop)
    while True:
        try:
            return future.result(timeout=ANSWER_POLL_S)
        except TimeoutError:  # concurrent.futures' is this one since Python 3.11
            if cancel.is_set():
                future.cancel()
                return None


def proposed_diffs(root: Path, changes: list, diff: str) -> list:
    """A proposal as ACP content: one ``diff`` per file, its old and new text exactly as the run planned them
    and would write them (taken from the run's event, never read or planned again here), then the unified diff
    as text (what a client without diff rendering shows)."""
    diffs = [tool_diff_content(str(root / change.path), _text(change.new),
                               None if change.old is None else _text(change.old)) for change in changes]
    return [*diffs, tool_content(text_block(f"```diff\n{diff}```"))]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class RunView:
    """The events a fix or edit run yields as ACP updates: test runs (execute), context (search), the model's
    reply (thoughts), edits (edit, with diffs); ``show`` takes what is shared, subclasses the rest."""

    context_title = "Localize the failure (round {round})"

    def __init__(self, agent: Updates, session, run_id: str):
        self.agent, self.session, self.run_id = agent, session, run_id
        self.root: Path = session.root
        self.result: Any = None  # how the run ended (its last event's result), once it has
        self.open: dict[str, str] = {}  # tool call id -> title, for calls not yet finished
        self.waiting: ModelWait | None = None  # "waiting for the model" with its clock, while a prompt is read

    async def play(self, events: Callable[[], Iterator], what: str) -> str:
        """Show the events of ``events()``, run in the turn's worker thread; the turn's stop reason:
        "cancelled" when the turn or the run was, else "end_turn". Any other failure is the request's internal
        error, after the open tool calls were closed saying why."""
        try:
            await self.agent.run_in_worker(self.session, events, self.show)
        except TurnCancelled:
            await self.close_open("cancelled")
            return "cancelled"
        except Exception as exc:
            await self.close_open(str(exc))
            raise RequestError.internal_error({"details": f"{what} failed: {exc}"}) from exc
        return "cancelled" if self.result is None or self.result.status == "cancelled" else "end_turn"

    def model_asked_after(self, context) -> bool:
        """Whether the model is asked once this context is built (then its wait is shown)."""
        return True

    def edit_call(self, round_: int) -> str:
        """The id of the tool call of a round's proposed edits; its permission request uses the same id."""
        return f"{self.run_id}-edit-{round_}"

    async def send(self, update) -> None:
        await self.agent.update(self.session, update)

    async def say(self, text: str) -> None:
        await self.send(update_agent_message_text(text))

    async def start(self, call_id: str, title: str, kind: str, **extra) -> None:
        self.open[call_id] = title
        await self.send(start_tool_call(call_id, title, kind=kind, status="in_progress", **extra))

    async def finish(self, call_id: str, status: str, text: str | None = None, **extra) -> None:
        self.open.pop(call_id, None)
        content = [tool_content(text_block(text))] if text else None
        await self.send(update_tool_call(call_id, status=status, content=content, **extra))

    async def stop_waiting(self, status: str) -> None:
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            await waiting.stop(status)

    async def close_open(self, why: str) -> None:
        await self.stop_waiting("failed")
        for call_id in list(self.open):
            await self.finish(call_id, "failed", why)

    async def decline_open_edits(self, why: str) -> None:
        """Edits proposed and then declined or not applied: their tool calls end as failed, saying why."""
        for call_id in list(self.open):
            if "-edit-" in call_id:
                await self.finish(call_id, "failed", "not applied: " + why)

    async def show(self, event) -> None:
        """Show one of the events both runs yield; others are the subclass's to show (or to leave out)."""
        from assistant.fix import events as ev

        tests = f"{self.run_id}-tests-{getattr(event, 'round', 0)}"
        if not isinstance(event, (ev.ContextBuilt, ev.FixNotice, ev.ReadingPrompt, ev.Working)):
            await self.stop_waiting("completed" if isinstance(event, (ev.ReplyDelta, ev.ReplyReceived)) else "failed")
        if isinstance(event, ev.TestsStarted):
            await self.start(tests, f"Run tests: {event.command}", "execute",
                             raw_input={"command": event.command, "round": event.round})
        elif isinstance(event, ev.TestsFinished):
            await self.finish(tests, "completed", test_report(event.summary), raw_output=event.summary.to_json())
        elif isinstance(event, ev.ContextBuilt):
            call_id = f"{self.run_id}-context-{event.round}"
            await self.start(call_id, self.context_title.format(round=event.round), "search")
            lines = [f"- {item.path}:{item.start_line}-{item.end_line} {item.symbol or ''} — {item.why}"
                     for item in event.items]
            if event.suspects:
                lines.insert(0, f"suspects: {', '.join(event.suspects[:5])}")
            await self.finish(call_id, "completed", "\n".join(lines) or "no code found",
                              locations=[ToolCallLocation(path=str(self.root / item.path), line=item.start_line)
                                         for item in event.items])
            if self.model_asked_after(event):
                self.waiting = ModelWait(self.agent, self.session, f"{self.run_id}-wait-{event.round}")
                await self.waiting.start(event.tokens)
        elif isinstance(event, ev.ReadingPrompt):
            if self.waiting is not None:
                await self.waiting.reading(event.processed, event.total)
        elif isinstance(event, ev.ReplyDelta):
            await self.send(update_agent_thought_text(event.text))
        elif isinstance(event, ev.EditRejected):
            which = f"Round {event.round}: the reply" if event.round else "The reply"  # round 0: an edit's own
            await self.say(f"\n\n{which} could not be applied ({event.reason}); asking again.\n\n")
        elif isinstance(event, ev.EditsProposed):
            call_id = self.edit_call(event.round)
            self.open[call_id] = f"Edit {', '.join(event.files)}"
            await self.send(start_tool_call(
                call_id, self.open[call_id], kind="edit", status="pending",
                locations=[ToolCallLocation(path=str(self.root / f)) for f in event.files],
                content=proposed_diffs(self.root, event.changes, event.diff)))
        elif isinstance(event, ev.EditsApplied):
            await self.finish(self.edit_call(event.round), "completed",
                              f"written; {UNDO} restores the files (checkpoint {event.checkpoint})")
        elif isinstance(event, ev.FixNotice):
            await self.send(update_agent_thought_text(event.text + "\n"))

    def ask_to_apply(self, proposal, loop: asyncio.AbstractEventLoop, cancel: threading.Event, title: str,
                     choices: list | None = None) -> bool | str:
        """From the worker thread: ``session/request_permission`` for a proposal, on the tool call that shows
        it, with its diffs. With ``choices`` (``PermissionOption``s) the id of the option picked, else allow or
        reject as True or False; False when rejected, when the request failed and when the turn is cancelled."""
        asking = self.agent.choose(
            self.session, self.edit_call(proposal.round), title, "edit",
            locations=[ToolCallLocation(path=str(self.root / f)) for f in proposal.files],
            content=proposed_diffs(self.root, proposal.changes, proposal.diff), options=choices)
        picked = answer_in_worker(asking, loop, cancel)
        if choices is None:
            return picked == "allow"
        return False if picked is None or picked == "reject" else picked


def test_report(summary) -> str:
    """A test run in a few lines: the headline, where the full log is, the first failures."""
    failures = "\n".join(f"- {failure.text()}" for failure in summary.failures[:20])
    return f"{summary.headline()}\nfull log: {summary.log_path}" + (f"\n{failures}" if failures else "")

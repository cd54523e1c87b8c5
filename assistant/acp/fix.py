"""`/fix` and `/undo` in an ACP session: the test-driven fix loop (``assistant.fix``) as editor tool calls.

The loop's own safety rules hold unchanged (paths inside the repository, all-or-nothing edits, a checkpoint
before the first write, `/undo`). On top, the editor is asked before anything happens: once before the
tests run (they run again after each edit in this `/fix`), and before each set of edits is written, with
the diff. A refusal is honoured: nothing runs, nothing is written. Edits go through the client's
``fs/write_text_file`` when it advertises it (so they land in the editor's buffers), else through the loop's
own atomic writer.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from acp import RequestError
from acp.helpers import start_tool_call, text_block, tool_content, update_agent_message_text, update_tool_call
from acp.schema import PromptResponse, ToolCallLocation

from ..slash import parse_fix_arguments
from .turns import ModelWait, TurnCancelled

log = logging.getLogger("assist.acp")

CLIENT_WRITE_TIMEOUT_S = 120.0


class ClientFileWriter:
    """Writes through the editor (``fs/write_text_file``), then checks the file on disk holds the new text."""

    def __init__(self, agent, session, loop: asyncio.AbstractEventLoop):
        self.agent, self.session, self.loop = agent, session, loop

    def write(self, path: Path, data: bytes, mode: int | None) -> None:
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


async def run_undo(agent, session) -> PromptResponse:
    from assistant.fix.checkpoint import NothingToUndo, UndoConflict, undo_latest
    from indexer.lock import IndexBusy

    call_id = f"undo-{session.turns}"
    allowed = await agent.ask_permission(session, call_id, "Undo the last /fix: restore the files it changed",
                                         "edit")
    if not allowed:
        await agent.update(session, update_agent_message_text("Undo refused: nothing was changed."))
        return PromptResponse(stop_reason="end_turn")
    try:
        report = await asyncio.to_thread(undo_latest, session.root)
    except (NothingToUndo, UndoConflict, IndexBusy) as exc:
        await agent.update(session, update_agent_message_text(str(exc)))
        return PromptResponse(stop_reason="end_turn")
    except OSError as exc:
        await agent.update(session, update_agent_message_text(
            f"Undo failed: {exc}. The saved originals are kept under .assist/checkpoints/; run /undo again."))
        return PromptResponse(stop_reason="end_turn")
    files = report.restored + report.deleted
    refused = [f"{refusal['path']} ({refusal['reason']})" for refusal in report.refused]
    await agent.update(session, start_tool_call(
        call_id, f"Restored {len(report.restored)} files, deleted {len(report.deleted)}"
        + (f", refused {len(refused)}" if refused else ""), kind="edit",
        status="failed" if refused else "completed",
        locations=[ToolCallLocation(path=str(session.root / f)) for f in files]))
    said = "Restored the files of the last /fix: " + (", ".join(files) or "they were already as before") + "."
    if refused:
        # A directory on these paths became a link since the run: undo left them alone (nothing outside the
        # repository was touched) and keeps the checkpoint, so /undo works again once the link is gone.
        said += (f" Refused, and left as they are: {'; '.join(refused)}. Nothing outside the repository was "
                 f"touched; the originals stay under .assist/checkpoints/{report.id}/: remove the link, then run "
                 f"/undo again.")
    await agent.update(session, update_agent_message_text(said))
    return PromptResponse(stop_reason="end_turn")


async def run_fix(agent, session, argument: str) -> PromptResponse:
    from assistant.fix.loop import FixLoop, FixOptions

    try:
        test_paths, command = parse_fix_arguments(argument)
    except ValueError as exc:
        await agent.update(session, update_agent_message_text(str(exc)))
        return PromptResponse(stop_reason="end_turn")
    described = command or "pytest" + (" " + " ".join(test_paths) if test_paths else "")
    run_id = f"fix-{session.turns}"
    allowed = await agent.ask_permission(
        session, f"{run_id}-permission", f"Run `{described}` in {session.root.name} (again after each edit)",
        "execute", content=[tool_content(text_block(f"$ {described}\n(in {session.root})"))])
    if not allowed:
        await agent.update(session, update_agent_message_text(
            f"Not running `{described}`: permission refused. Nothing was run or changed."))
        return PromptResponse(stop_reason="end_turn")

    loop_ = asyncio.get_running_loop()
    cancel = session.cancel

    def approve(proposal) -> bool:
        future = asyncio.run_coroutine_threadsafe(agent.ask_permission(
            session, f"{run_id}-edit-{proposal.round}", f"Apply the edits to {', '.join(proposal.files)}"
            + (f" (test infrastructure: {', '.join(proposal.test_config)} runs on the next test run)"
               if proposal.test_config else ""), "edit",
            locations=[ToolCallLocation(path=str(session.root / f)) for f in proposal.files],
            content=[tool_content(text_block(f"```diff\n{proposal.diff}```"))]), loop_)
        while True:  # a cancelled turn stops waiting for the answer
            try:
                return future.result(timeout=0.2)
            except TimeoutError:
                if cancel.is_set():
                    future.cancel()
                    return False

    capabilities = agent.capabilities
    writer = ClientFileWriter(agent, session, loop_) if capabilities.fs and capabilities.fs.write_text_file else None
    options = FixOptions(test_paths=test_paths, command=command, use_vectors=agent.options.use_vectors,
                         context_budget=agent.options.context_budget,
                         max_reply_tokens=agent.options.max_reply_tokens)

    def events():
        loop = FixLoop(session.root, session.provider, options, approve=approve, writer=writer,
                       retriever=session.chat.retriever)
        yield from loop.run(cancel)

    view = _FixView(agent, session, run_id)
    try:
        await agent.run_in_worker(session, events, view.show)
    except TurnCancelled:
        await view.close_open("cancelled")
        return PromptResponse(stop_reason="cancelled")
    except Exception as exc:
        await view.close_open(str(exc))
        raise RequestError.internal_error({"details": f"the fix loop failed: {exc}"}) from exc
    if view.result is not None and view.result.status == "cancelled":
        return PromptResponse(stop_reason="cancelled")
    return PromptResponse(stop_reason="end_turn")


class _FixView:
    """The loop's events as ACP updates: test runs (execute), context (search), edits (edit), the report."""

    def __init__(self, agent, session, run_id: str):
        self.agent, self.session, self.run_id = agent, session, run_id
        self.root: Path = session.root
        self.open: dict[str, str] = {}  # tool call id -> title, for calls not yet finished
        self.result: Any = None
        self.waiting = None  # the chat's "waiting for the model" call with its clock, while a prompt is read

    async def _send(self, update) -> None:
        await self.agent.update(self.session, update)

    async def _start(self, call_id: str, title: str, kind: str, **extra) -> None:
        self.open[call_id] = title
        await self._send(start_tool_call(call_id, title, kind=kind, status="in_progress", **extra))

    async def _finish(self, call_id: str, status: str, text: str | None = None, **extra) -> None:
        self.open.pop(call_id, None)
        content = [tool_content(text_block(text))] if text else None
        await self._send(update_tool_call(call_id, status=status, content=content, **extra))

    async def _stop_waiting(self, status: str) -> None:
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            await waiting.stop(status)

    async def close_open(self, why: str) -> None:
        await self._stop_waiting("failed")
        for call_id in list(self.open):
            await self._finish(call_id, "failed", why)

    async def show(self, event) -> None:
        from assistant.fix import events as ev

        tests = f"{self.run_id}-tests-{getattr(event, 'round', 0)}"
        if not isinstance(event, (ev.ContextBuilt, ev.FixNotice, ev.ReadingPrompt)):
            await self._stop_waiting("completed" if isinstance(event, (ev.ReplyDelta, ev.ReplyReceived)) else "failed")
        if isinstance(event, ev.RunStarted):
            await self._send(update_agent_message_text(
                f"Fixing with {event.model} ({event.edit_format} edits, at most {event.max_iterations} rounds); "
                f"tests: `{event.test_command}`" + (f"; sandbox: {event.sandbox}" if event.sandbox else "")
                + "\n\n"))
        elif isinstance(event, ev.TestsStarted):
            await self._start(tests, f"Run tests: {event.command}", "execute",
                              raw_input={"command": event.command, "round": event.round})
        elif isinstance(event, ev.TestsFinished):
            summary = event.summary
            failures = "\n".join(f"- {failure.text()}" for failure in summary.failures[:20])
            text = f"{summary.headline()}\nfull log: {summary.log_path}" + (f"\n{failures}" if failures else "")
            await self._finish(tests, "completed", text, raw_output=summary.to_json())
        elif isinstance(event, ev.ContextBuilt):
            call_id = f"{self.run_id}-context-{event.round}"
            await self._start(call_id, f"Localize the failure (round {event.round})", "search")
            lines = [f"- {item.path}:{item.start_line}-{item.end_line} {item.symbol or ''} — {item.why}"
                     for item in event.items]
            if event.suspects:
                lines.insert(0, f"suspects: {', '.join(event.suspects[:5])}")
            await self._finish(call_id, "completed", "\n".join(lines) or "no code found",
                               locations=[ToolCallLocation(path=str(self.root / item.path), line=item.start_line)
                                          for item in event.items])
            self.waiting = ModelWait(self.agent, self.session, f"{self.run_id}-wait-{event.round}")
            await self.waiting.start(event.tokens)
        elif isinstance(event, ev.ReadingPrompt):
            if self.waiting is not None:
                await self.waiting.reading(event.processed, event.total)
        elif isinstance(event, ev.ReplyDelta):
            await self._send(_thought(event.text))
        elif isinstance(event, ev.EditRejected):
            await self._send(update_agent_message_text(f"\n\nRound {event.round}: the reply could not be applied "
                                                       f"({event.reason}); asking again.\n\n"))
        elif isinstance(event, ev.EditsProposed):
            call_id = f"{self.run_id}-edit-{event.round}"
            await self._start(call_id, f"Edit {', '.join(event.files)}", "edit",
                              locations=[ToolCallLocation(path=str(self.root / f)) for f in event.files])
        elif isinstance(event, ev.EditsApplied):
            await self._finish(f"{self.run_id}-edit-{event.round}", "completed",
                               f"written; /undo restores the files (checkpoint {event.checkpoint})")
        elif isinstance(event, ev.FixNotice):
            await self._send(_thought(event.text + "\n"))
        elif isinstance(event, ev.FixFinished):
            self.result = result = event.result
            for call_id, title in list(self.open.items()):
                if "-edit-" in call_id:  # proposed, then declined or not applied
                    await self._finish(call_id, "failed", "not applied: " + result.message)
            await self.close_open(result.message)
            after = result.tests_after or result.tests_before
            report = [f"\n\n**{result.status}**: {result.message}"]
            if after is not None:
                report.append(f"tests: {after.headline()}")
            if result.files_changed:
                report.append(f"changed: {', '.join(result.files_changed)} (/undo restores them)")
            if result.diff:
                report.append(f"```diff\n{result.diff}```")
            await self._send(update_agent_message_text("\n".join(report) + "\n"))


def _thought(text: str):
    from acp.helpers import update_agent_thought_text

    return update_agent_thought_text(text)

"""`/fix` and `/undo` in an ACP session: the test-driven fix loop (``assistant.fix``) as editor tool calls.

The loop's own safety rules hold unchanged (paths inside the repository, all-or-nothing edits, a checkpoint
before the first write, `/undo`). On top, the editor is asked before anything happens: once before the
tests run (they run again after each edit in this `/fix`), and before each set of edits is written, with
the diff. A refusal is honoured: nothing runs, nothing is written. Edits go through the client's
``fs/write_text_file`` when it advertises it (so they land in the editor's buffers), else through the loop's
own atomic writer (``runs.py``, shared with `/edit`). `/undo` restores the files of the last `/fix` or
`/edit`: both save their originals in the same kind of checkpoint.
"""

from __future__ import annotations

import asyncio

from acp.helpers import start_tool_call, text_block, tool_content, update_agent_message_text
from acp.schema import PromptResponse, ToolCallLocation

from ..slash import parse_fix_arguments
from .runs import UNDO, RunView, client_writer


async def run_undo(agent, session) -> PromptResponse:
    from assistant.fix.checkpoint import NothingToUndo, UndoConflict, undo_latest
    from assistant.fix.index_refresh import refresh_after_undo
    from indexer.lock import IndexBusy

    call_id = f"undo-{session.turns}"
    allowed = await agent.ask_permission(session, call_id, "Undo the last /fix or /edit: restore the files it changed",
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
    index_warning = await asyncio.to_thread(refresh_after_undo, session.root, report)
    refused = [f"{refusal['path']} ({refusal['reason']})" for refusal in report.refused]
    await agent.update(session, start_tool_call(
        call_id, f"Restored {len(report.restored)} files, deleted {len(report.deleted)}"
        + (f", refused {len(refused)}" if refused else ""), kind="edit",
        status="failed" if refused else "completed",
        locations=[ToolCallLocation(path=str(session.root / f)) for f in files]))
    said = "Restored the files of the last /fix or /edit: " + (", ".join(files) or "they were already as before") + "."
    if refused:
        said += " " + report.refusal_note(UNDO) + "."
    if index_warning:
        said += f" {index_warning[0].upper()}{index_warning[1:]}."
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
    view = FixView(agent, session, run_id)

    def approve(proposal) -> bool:
        return view.ask_to_apply(proposal, loop_, cancel, f"Apply the edits to {', '.join(proposal.files)}"
                                 + (f" (test infrastructure: {', '.join(proposal.test_config)} runs on the next "
                                    "test run)" if proposal.test_config else ""))

    writer = client_writer(agent, session, loop_)
    options = FixOptions(test_paths=test_paths, command=command, use_vectors=agent.options.use_vectors,
                         context_budget=agent.options.context_budget,
                         max_reply_tokens=agent.options.max_reply_tokens, undo=UNDO)

    def events():
        loop = FixLoop(session.root, session.provider, options, approve=approve, writer=writer,
                       retriever=session.chat.retriever)
        yield from loop.run(cancel)

    return PromptResponse(stop_reason=await view.play(events, "the fix loop"))


class FixView(RunView):
    """The fix loop's run: its start, the shared steps (``RunView``), and the report it ends with."""

    async def show(self, event) -> None:
        from assistant.fix import events as ev

        if isinstance(event, ev.RunStarted):
            await self.say(f"Fixing with {event.model} ({event.edit_format} edits, at most {event.max_iterations} "
                           f"rounds); tests: `{event.test_command}`"
                           + (f"; sandbox: {event.sandbox}" if event.sandbox else "") + "\n\n")
        elif isinstance(event, ev.FixFinished):
            self.result = result = event.result
            await self.decline_open_edits(result.message)
            await self.close_open(result.message)
            after = result.tests_after or result.tests_before
            # The message names the changed files and /undo (the run was given ``UNDO``).
            report = [f"\n\n**{result.status}**: {result.message}"]
            if after is not None:
                report.append(f"tests: {after.headline()}")
            if result.diff:
                report.append(f"```diff\n{result.diff}```")
            await self.say("\n".join(report) + "\n")
        else:
            await super().show(event)

"""`/edit REQUEST`, and a reply to an ordinary prompt that holds edit blocks, in an ACP session: the edit run
(``assistant.edit.run.EditRun``) as editor tool calls.

The proposed edit is a tool call of kind ``edit`` whose content is one ACP diff per file (path, old and new
text); ``session/request_permission`` on that tool call offers Apply, Apply and run the tests, and Reject.
Nothing is written before the answer, and a rejection leaves every file as it was. Writes go through the
editor's ``fs/write_text_file`` when it advertises it (the change lands in its buffer, which never goes stale
behind the user's back), else through the run's atomic writer; either way after a checkpoint, so `/undo` restores the files. The tests, when asked
for, are ``execute`` tool calls; when they fail, the fix loop's rounds follow as in `/fix`. Every way an edit
ends — written, declined, answered instead, not applicable, another run holding the repository, the model
gone, cancelled — ends the turn with a report saying so.
"""

from __future__ import annotations

import asyncio
from typing import Any

from acp.helpers import (
    start_tool_call,
    text_block,
    tool_content,
    update_agent_message_text,
    update_agent_thought_text,
)
from acp.schema import PermissionOption, PromptResponse

from .runs import UNDO, RunView, client_writer, test_report

USAGE = "/edit REQUEST, e.g. /edit add a timeout to fetch_url"
INDEX_POLL_S = 0.2


def edit_choices() -> list[PermissionOption]:
    from assistant.edit.events import APPLY_AND_TEST, APPLY_ONLY

    return [PermissionOption(option_id=APPLY_ONLY, name="Apply", kind="allow_once"),
            PermissionOption(option_id=APPLY_AND_TEST, name="Apply and run the tests", kind="allow_once"),
            PermissionOption(option_id="reject", name="Reject", kind="reject_once")]


async def run_edit(agent, session, request: str, *, reply: str | None = None,
                   earlier: list | None = None) -> PromptResponse:
    """The edit ``request`` asks for; ``reply``: the model's answer already in hand (a chat turn's), planned
    first instead of asking again; ``earlier``: the conversation before it (``Message``s), the session's
    whole conversation when None. A `/edit` and its outcome join the conversation, for follow-ups."""
    from assistant.edit.run import EditOptions, EditRun

    if not request.strip():
        await agent.update(session, update_agent_message_text(f"Say what to change: {USAGE}"))
        return PromptResponse(stop_reason="end_turn")
    if not await _index_ready(session):
        return PromptResponse(stop_reason="cancelled")
    loop_ = asyncio.get_running_loop()
    cancel = session.cancel
    view = EditView(agent, session, f"edit-{session.turns}", reply_in_hand=reply is not None)

    def approve(proposal) -> Any:
        files = ", ".join(proposal.files)
        guarded = (f" (test infrastructure: {', '.join(proposal.test_config)} runs when the tests run)"
                   if proposal.test_config else "")
        if proposal.round == 0:  # the edit itself
            return view.ask_to_apply(proposal, loop_, cancel, f"Apply the edit to {files}{guarded}", edit_choices())
        return view.ask_to_apply(proposal, loop_, cancel, f"Apply the fix to {files}{guarded}")

    options = EditOptions(use_vectors=agent.options.use_vectors, context_budget=agent.options.context_budget,
                          max_reply_tokens=agent.options.max_reply_tokens, undo=UNDO)
    conversation = session.chat.history_messages if earlier is None else earlier
    try:
        run = EditRun(session.root, session.provider, request, [], options, approve=approve,
                      writer=client_writer(agent, session, loop_), retriever=session.chat.retriever,
                      conversation=conversation, reply=reply)
    except ValueError as exc:
        await agent.update(session, update_agent_message_text(f"{exc}: {USAGE}"))
        return PromptResponse(stop_reason="end_turn")

    stop = await view.play(lambda: run.run(cancel), "the edit")
    if stop == "cancelled":
        return PromptResponse(stop_reason=stop)
    if reply is None:  # a chat answer is in the conversation already
        session.chat.remember(request, _outcome(view.result))
    return PromptResponse(stop_reason="end_turn")


def _outcome(result) -> str:
    """What an `/edit` came to, as the conversation remembers it: the model's answer when it gave one, else
    how the edit ended and what it wrote."""
    if result.answer:
        return result.answer
    return result.message + (f"\n```diff\n{result.diff}```" if result.written else "")


async def _index_ready(session) -> bool:
    """Wait for the index the session is opening or building in the background (the edit would otherwise
    find it locked); False when the turn is cancelled meanwhile."""
    while not session.index_ready.is_set():
        if session.cancel.is_set():
            return False
        await asyncio.sleep(INDEX_POLL_S)
    return True


class EditView(RunView):
    """The edit run: its start, the shared steps (``RunView``), the tests before the edit, an answer given
    instead of an edit, and the report it ends with."""

    context_title = "Find the code the request is about"

    def __init__(self, *args: Any, reply_in_hand: bool = False):
        super().__init__(*args)
        self.reply_in_hand = reply_in_hand  # a chat answer: the first context is not sent to the model

    def model_asked_after(self, context) -> bool:
        asked, self.reply_in_hand = not self.reply_in_hand, False
        return asked

    async def show(self, event) -> None:
        from assistant.edit import events as edit_events
        from assistant.fix.events import FixNotice

        if isinstance(event, edit_events.EditStarted):
            await self.say(f"\n\nEditing with {event.model} ({event.edit_format} edits): {event.request}\n\n")
        elif isinstance(event, edit_events.TargetsPinned):
            if event.pinned:
                await self.send(update_agent_thought_text(f"the request names: {', '.join(event.pinned)}\n"))
        elif isinstance(event, edit_events.TestsBeforeEdit):
            await self._tests_before(event.summary)
        elif isinstance(event, edit_events.Answered):
            await self.say(f"{event.text}\n")
        elif isinstance(event, FixNotice) and event.level == "warning":
            await self.say(f"Note: {event.text}\n\n")
        elif isinstance(event, edit_events.EditFinished):
            await self._finished(event.result)
        elif not isinstance(event, edit_events.Committed):  # commits are off in an editor
            await super().show(event)

    async def _tests_before(self, summary) -> None:
        await self.stop_waiting("failed")
        await self.send(start_tool_call(f"{self.run_id}-tests-before", f"Run tests before the edit: {summary.command}",
                                        kind="execute", status="completed", raw_output=summary.to_json(),
                                        content=[tool_content(text_block(test_report(summary)))]))

    async def _finished(self, result) -> None:
        self.result = result
        await self.decline_open_edits(result.message)
        await self.close_open(result.message)
        report = [f"\n\n**{result.status}**: {result.message}"]  # it names /undo: the run was given ``UNDO``
        if result.tests_before is not None:
            report.append(f"tests before the edit: {result.tests_before.headline()}")
        if result.tests_after is not None:
            report.append(f"tests after: {result.tests_after.headline()}")
        await self.say("\n".join(report) + "\n")

"""`/edit REQUEST` in the chat — and an answer that holds edit blocks — through the edit core
(``assistant.edit.run.EditRun``) in a background thread: the proposed diff shows in the conversation with
Apply / Reject / Apply and test under it, and nothing is written before one is chosen. Esc stops the run.

The conversation so far goes with the request ("now do the same for `release`"), the pinned items (/add) are
the targets the edit may touch first, and the finished exchange is remembered by the session for the next
question or edit. What the edit shares with /fix — the thread, the status line, the fix rounds that follow a
failing test run — is ``fix.ChangeRun``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..edit import events as ev
from ..fix.events import EditRejected, EditsProposed, Proposal, ReplyReceived, RunStarted, TestsFinished
from ..providers.types import Message
from ..terminal import inert_lines
from .fix import UNDO, ChangeRun, FixHost, test_config_warning, tests_markdown
from .widgets import Choice, EditRequest, ProposedEdit, Turn

APPLY = Choice("Apply", "a", ev.APPLY_ONLY, "apply")
REJECT = Choice("Reject", "r", False, "reject")
APPLY_AND_TEST = Choice("Apply and test", "t", ev.APPLY_AND_TEST, "apply-and-test")
EDIT_CHOICES = (APPLY, REJECT, APPLY_AND_TEST)
# A fix round after "Apply and test" found failing tests: the tests run again after it either way.
FIX_ROUND_CHOICES = (Choice("Apply", "a", True, "apply"), REJECT)


class ChatEdit(ChangeRun):
    """One edit in the chat: ``reply`` is the answer it plans from when it came from an ordinary question
    (the model is asked only if that does not apply); otherwise the model is asked for the edit."""

    name = "/edit"

    def __init__(self, app: FixHost, request: str, *, reply: str | None = None) -> None:
        super().__init__(app)
        self.request = request
        self.reply = reply
        self._proposal: ProposedEdit | None = None  # the latest proposed diff on screen
        self._replied = ""  # the model's reply to the request, remembered with the outcome

    @classmethod
    async def begin(cls, app: FixHost, request: str) -> None:
        """`/edit REQUEST`: the request shows in the conversation, and the run starts."""
        await app.conversation.mount(EditRequest(request))
        cls(app, request).start()

    @classmethod
    def offer(cls, app: FixHost, turn: Turn) -> None:
        """An answered question whose answer holds edit blocks: offer them as a proposed edit."""
        cls(app, turn.question, reply=turn.answer_text).start()

    def step(self, number: int) -> str:
        return "edit" if number == 0 else f"fix round {number}"

    def events(self, session: Any) -> Iterator[Any]:
        from ..edit.run import EditOptions, EditRun

        conversation = session.history_messages
        if self.reply is not None:
            # The answer being offered is the latest exchange: it goes as the reply, not as an earlier turn.
            conversation = _without_last_exchange(conversation, self.request, self.reply)
        targets = [item.symbol or item.path for item in session.pinned]
        run = EditRun(self.app.repo_root, session.provider, self.request, targets,
                      EditOptions(use_vectors=session.use_vectors, undo=UNDO), approve=self._approve,
                      retriever=session.retriever, conversation=conversation, reply=self.reply)
        return run.run(self.cancel)

    def _approve(self, proposal: Proposal) -> Any:
        """In the run's thread: the buttons under the proposed diff (shown by ``render`` just before) answer."""
        widget = self._proposal
        if widget is None:  # no diff on screen to decide on: nothing is written
            return False
        choices = EDIT_CHOICES if proposal.round == 0 else FIX_ROUND_CHOICES
        warning = test_config_warning(proposal) if proposal.test_config else None
        answer = self.ask_user(lambda done: widget.ask(choices, done, warning), refused=None)
        if answer is None:  # Esc, or the app is leaving
            self.app.on_loop(widget.settle, "■ stopped — nothing was written", "stopped")
            return False
        return answer

    # ---------------------------------------------------------------------------------- rendering

    async def render(self, event: Any) -> None:
        app = self.app
        if isinstance(event, ev.EditStarted):
            doing = ("the answer holds edits: checking them against the code" if self.reply is not None
                     else f"editing with {event.model} ({event.edit_format.replace('_', '/')} edits)")
            await app.say(f"{doing} — Esc stops")
        elif isinstance(event, ev.TargetsPinned):
            if event.pinned:
                nearby = f"; {len(event.nearby)} callers, callees and tests nearby" if event.nearby else ""
                await app.say(f"edit: pinned {', '.join(event.pinned)}{nearby}")
        elif isinstance(event, ReplyReceived) and event.round == 0:
            self._replied = event.text
        elif isinstance(event, EditRejected) and event.round == 0:
            # Its first line says why; the rest (the closest lines of the file) is for the model's next try.
            await app.say(f"edit: reply not applied, nothing written: {event.reason.splitlines()[0]}", "warning")
        elif isinstance(event, EditsProposed):
            where = event.describe_symbols()
            title = (f"{self.step(event.round)} · proposed changes to {', '.join(event.files)}"
                     + (f" — {where}" if where else ""))
            self._proposal = ProposedEdit(title, event.diff)
            await app.conversation.mount(self._proposal)
            self._busy(f"{self.step(event.round)}: waiting for your choice under the diff")
        elif isinstance(event, ev.TestsBeforeEdit):
            await app.say_markdown(tests_markdown("before the edit", event.summary))
        elif isinstance(event, RunStarted):  # the fix loop, checking the written edit
            await app.say(f"checking the edit: {event.test_command} (then up to {event.max_iterations} fix rounds "
                          "while it fails) — Esc stops")
        elif isinstance(event, TestsFinished) and event.round == 0:
            await app.say_markdown(tests_markdown("after the edit", event.summary))
        elif isinstance(event, ev.Answered):
            if self.reply is None:  # an answer given in the chat is on screen already
                await app.say_markdown(inert_lines(event.text))
        elif isinstance(event, ev.Committed):
            await app.say(f"edit: committed {event.sha[:12]} {event.subject}")
        elif isinstance(event, ev.EditFinished):
            await self._finish(event.result)
        else:
            await super().render(event)

    async def _finish(self, result: ev.EditResult) -> None:
        level = "info" if result.ok else "error" if result.status == ev.ERROR else "warning"
        # One line, whatever happened; a refusal because a file changed meanwhile goes on with that change.
        first, _, rest = result.message.partition("\n")  # it names /undo: the run was given ``UNDO``
        await self.app.say(f"edit {result.status.replace('_', ' ')}: {first}", level)
        if rest.strip() and result.status == ev.REFUSED:
            await self.app.say_markdown(f"```diff\n{inert_lines(rest.rstrip())}\n```")
        reply = self._replied or result.answer
        if self.reply is None and reply and self.app.session is not None:  # an answer given is remembered already
            self.app.session.remember(self.request, _outcome(reply, result))


def _outcome(reply: str, result: ev.EditResult) -> str:
    """What the model is reminded of about an edit when asked the next thing: its reply, and what came of it."""
    return f"{reply.strip()}\n\n({result.status.replace('_', ' ')}: {result.message})"


def _without_last_exchange(conversation: list[Message], question: str, answer: str) -> list[Message]:
    if conversation[-2:] == [Message("user", question), Message("assistant", answer)]:
        return conversation[:-2]
    return conversation


__all__ = ["ChatEdit", "EDIT_CHOICES"]

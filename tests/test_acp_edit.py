"""Edits on request in an editor (issue 16, ACP): `/edit REQUEST` and a chat answer holding edit blocks, end
to end through the agent-client-protocol SDK's own client and the real `assist acp` subprocess over real pipes,
on an indexed copy of the sample repository, with the scripted model (``--model scripted:FILE``).

The agent opens the model at ``session/new``, so each test writes the replies its session is to get, then
opens a session on its own copy of the repository; one agent process per client kind serves the module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from acp.schema import (
    AllowedOutcome,
    ClientCapabilities,
    DeniedOutcome,
    FileSystemCapabilities,
    RequestPermissionResponse,
)
from test_acp import Agent, RecordingClient, agent_args, text

from assistant.fix.checkpoint import fix_lock
from indexer.status import index_status

pytestmark = pytest.mark.slow

PRICING = "inventory/pricing.py"
OLD_DOC = '    """Round to whole cents, halves away from zero."""'
NEW_DOC = '    """Round to whole cents (two decimal places), halves away from zero."""'
REQUEST = "say in `round_money`'s docstring that it rounds to two decimal places"
EDIT = f"/edit {REQUEST}"


def sr(search: str, replace: str, path: str = PRICING) -> str:
    return f"Here is the change.\n\n{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


DOC_EDIT = sr(OLD_DOC, NEW_DOC)
ROUNDING = "    return to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)"
BROKEN_ROUNDING = "    return to_decimal(amount).quantize(CENT)"  # the context's half-even: 2.345 -> 2.34
BREAKING = sr(ROUNDING, BROKEN_ROUNDING)
NOT_MATCHING = sr('    """No such line in the file."""', NEW_DOC)
APPLY, APPLY_AND_TEST, REJECT, ALLOW = "apply", "apply_and_test", "reject", "allow"


class EditorClient(RecordingClient):
    """An editor that answers each permission request with the option id it is told to pick (``answers`` in
    order, then ``permission``), or cancels the turn when told ``"cancel"``, as an editor does when its user
    presses stop while the question is open."""

    def __init__(self):
        super().__init__(permission=REJECT)
        self.conn = None
        self.asked: list = []  # every permission request's tool call and options, as sent

    async def request_permission(self, session_id, tool_call, options, **kwargs):
        self.asked.append((tool_call, [option.option_id for option in options]))
        self.calls.append(("session/request_permission", {"title": tool_call.title, "kind": tool_call.kind}))
        answer = self.answers.pop(0) if self.answers else self.permission
        if answer == "cancel":
            await self.conn.cancel(session_id=session_id)
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        assert answer in [option.option_id for option in options], (answer, options)
        return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=answer))


class Editor:
    """One agent process for a client kind; ``session`` gives each test a session with its own replies."""

    def __init__(self, capabilities: ClientCapabilities, replies: Path):
        self.client = EditorClient()
        self.replies = replies
        self.agent = Agent(self.client, agent_args("--model", f"scripted:{replies}", "--no-vectors"), capabilities)
        self.client.conn = self.agent.conn

    def session(self, repo: Path, replies: list[str]) -> str:
        self.replies.write_text(json.dumps({"replies": replies}), encoding="utf-8")
        return self.agent.new_session(repo)

    def prompt(self, session: str, words: str, *answers: str):
        """Send ``words``, answering the permission requests of the turn with ``answers`` (option ids, or
        "cancel"): (the stop reason, the updates of this turn, what the agent said in it)."""
        self.client.answers = list(answers)
        start = len(self.client.updates)
        response = self.agent.prompt(session, text(words))
        updates = self.client.updates[start:]
        said = "".join(u.content.text for u in updates if u.session_update == "agent_message_chunk")
        return response.stop_reason, updates, said

    def writes(self) -> list[str]:
        return [args["path"] for name, args in self.client.calls if name == "fs/write_text_file"]


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    """A client that advertises fs/read_text_file and fs/write_text_file."""
    capabilities = ClientCapabilities(fs=FileSystemCapabilities(read_text_file=True, write_text_file=True))
    editor = Editor(capabilities, tmp_path_factory.mktemp("edit-replies") / "replies.json")
    yield editor
    assert editor.agent.close() == 0
    assert not editor.agent.stray.lines, editor.agent.stray.lines


@pytest.fixture(scope="module")
def plain_editor(tmp_path_factory):
    """A client that advertises no file system access."""
    editor = Editor(ClientCapabilities(), tmp_path_factory.mktemp("plain-replies") / "replies.json")
    yield editor
    assert editor.agent.close() == 0


@pytest.fixture
def repo(indexed_sample, tmp_path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(indexed_sample, dest, symlinks=True)
    return dest


def calls(updates, kind: str) -> list:
    return [u for u in updates if u.session_update == "tool_call" and u.kind == kind]


def final_status(updates, call_id: str) -> str | None:
    statuses = [u.status for u in updates if u.session_update in ("tool_call", "tool_call_update")
                and u.tool_call_id == call_id and u.status]
    return statuses[-1] if statuses else None


# ----------------------------------------------------------------------------------------- the flow


def test_edit_is_a_diff_tool_call_asked_about_then_written_through_the_editor_and_undone(editor, repo):
    before = (repo / PRICING).read_bytes()
    session = editor.session(repo, [DOC_EDIT])
    stop, updates, said = editor.prompt(session, EDIT, APPLY)
    assert stop == "end_turn", said

    edits = calls(updates, "edit")
    assert len(edits) == 1
    diffs = [c for c in edits[0].content if c.type == "diff"]
    assert [Path(d.path) for d in diffs] == [repo / PRICING]
    assert OLD_DOC in diffs[0].old_text and NEW_DOC not in diffs[0].old_text
    assert NEW_DOC in diffs[0].new_text and OLD_DOC not in diffs[0].new_text

    tool_call, options = editor.client.asked[-1]
    assert options == [APPLY, APPLY_AND_TEST, REJECT]
    assert tool_call.kind == "edit" and tool_call.tool_call_id == edits[0].tool_call_id
    assert [c.type for c in tool_call.content if c.type == "diff"] == ["diff"]  # the diff is in the question too

    assert editor.writes() == [str(repo / PRICING)]  # advertised: written through the editor
    assert (repo / PRICING).read_text() == before.decode().replace(OLD_DOC, NEW_DOC)
    assert final_status(updates, edits[0].tool_call_id) == "completed"
    assert not calls(updates, "execute")  # "Apply" runs no tests
    assert "**applied**" in said and f"changed {PRICING} (/undo restores them)" in said
    assert "assist undo" not in said  # the run was told the editor's command; nothing rewrote its message
    assert not index_status(repo).is_stale  # the session's next question reads the edited code

    stop, _, said = editor.prompt(session, "/undo", ALLOW)
    assert stop == "end_turn"
    assert f"Restored the files of the last /fix or /edit: {PRICING}" in said
    assert (repo / PRICING).read_bytes() == before
    assert not index_status(repo).is_stale, "and after /undo, the restored code"


def test_unsaved_changes_in_the_editors_buffer_are_never_overwritten(editor, repo):
    before = (repo / PRICING).read_bytes()
    writes = len(editor.writes())
    editor.client.unsaved[str(repo / PRICING)] = before.decode() + "\n# typed in the editor, not saved yet\n"
    try:
        session = editor.session(repo, [DOC_EDIT])
        stop, _, said = editor.prompt(session, EDIT, APPLY)
    finally:
        editor.client.unsaved.clear()
    assert stop == "end_turn"
    assert "unsaved changes in the editor" in said and "nothing was applied" in said
    assert len(editor.writes()) == writes  # the buffer was read, never written
    assert (repo / PRICING).read_bytes() == before


def test_without_fs_write_the_edit_is_written_atomically_by_the_agent(plain_editor, repo):
    session = plain_editor.session(repo, [DOC_EDIT])
    stop, updates, said = plain_editor.prompt(session, EDIT, APPLY)
    assert stop == "end_turn", said
    assert NEW_DOC in (repo / PRICING).read_text()
    assert not {name for name, _ in plain_editor.client.calls if name.startswith("fs/")}  # never called
    assert calls(updates, "edit") and "**applied**" in said


def test_a_refused_edit_leaves_the_file_byte_identical_and_says_so(editor, repo):
    before = (repo / PRICING).read_bytes()
    writes = len(editor.writes())
    session = editor.session(repo, [DOC_EDIT])
    stop, updates, said = editor.prompt(session, EDIT, REJECT)
    assert stop == "end_turn"
    assert (repo / PRICING).read_bytes() == before
    assert len(editor.writes()) == writes
    assert "**declined**" in said and "nothing was written" in said
    edit = calls(updates, "edit")[0]
    assert final_status(updates, edit.tool_call_id) == "failed"
    assert not (repo / ".assist" / "checkpoints").exists() or not any((repo / ".assist" / "checkpoints").iterdir())


def test_apply_and_test_runs_the_tests_that_reach_the_change_as_an_execute_tool_call(editor, repo):
    session = editor.session(repo, [DOC_EDIT])
    stop, updates, said = editor.prompt(session, EDIT, APPLY_AND_TEST)
    assert stop == "end_turn", said
    assert NEW_DOC in (repo / PRICING).read_text()
    runs = calls(updates, "execute")
    assert runs, said
    assert all("test_round_money_rounds_half_up" in (run.title or "") for run in runs)  # chosen by the graph
    results = [u for u in updates if u.session_update in ("tool_call", "tool_call_update")
               and u.tool_call_id in {run.tool_call_id for run in runs} and u.status == "completed"]
    assert results and all(r.raw_output["green"] for r in results)
    assert "tests after: " in said and "**applied**" in said


def test_when_the_tests_fail_after_the_edit_the_fix_rounds_follow_each_asked_about(editor, repo):
    before = (repo / PRICING).read_bytes()
    session = editor.session(repo, [BREAKING, sr(BROKEN_ROUNDING, ROUNDING)])  # the edit, then the fix round's
    stop, updates, said = editor.prompt(session, "/edit make `round_money` round as the decimal context does",
                                        APPLY_AND_TEST, ALLOW)
    assert stop == "end_turn", said
    assert [options for _, options in editor.client.asked[-2:]] == [[APPLY, APPLY_AND_TEST, REJECT], [ALLOW, REJECT]]
    edits = calls(updates, "edit")
    assert len(edits) == 2 and all(final_status(updates, e.tool_call_id) == "completed" for e in edits)
    verdicts = [u.raw_output["green"] for u in updates if u.session_update in ("tool_call", "tool_call_update")
                and u.status == "completed" and isinstance(u.raw_output, dict) and "green" in u.raw_output]
    assert verdicts[0] is True and False in verdicts and verdicts[-1] is True  # green, broken, green again
    assert "**fixed**" in said
    assert (repo / PRICING).read_bytes() == before  # the fix round put the rounding back


def test_a_chat_answer_with_edit_blocks_is_offered_as_the_same_edit(editor, repo):
    session = editor.session(repo, [DOC_EDIT])  # one reply: the answer is not asked for twice
    question = "Could round_money's docstring mention the two decimal places?"
    stop, updates, said = editor.prompt(session, question, APPLY)
    assert stop == "end_turn", said
    kinds = [u.kind for u in updates if u.session_update == "tool_call"]
    assert kinds.index("search") < kinds.index("edit")  # the answer first, then the edit it holds
    waits = {u.tool_call_id for u in updates if u.session_update == "tool_call" and u.kind == "think"}
    assert len(waits) == 1 and final_status(updates, waits.pop()) == "completed"  # the model was asked once
    assert [c.type for c in calls(updates, "edit")[0].content if c.type == "diff"] == ["diff"]
    assert editor.client.asked[-1][1] == [APPLY, APPLY_AND_TEST, REJECT]
    assert NEW_DOC in (repo / PRICING).read_text() and editor.writes()[-1] == str(repo / PRICING)


class Recorder:
    """Where a ``RunView`` sends its updates and permission requests, kept to be read: the diff an editor would
    show, in the tool call and in the question, without a process in between."""

    def __init__(self):
        self.updates: list = []
        self.asked: list = []

    async def update(self, session, update, wait_announced: bool = False) -> None:
        self.updates.append(update)

    async def choose(self, session, call_id, title, kind, locations=None, content=None, options=None):
        self.asked.append(content)
        return "reject"


def test_the_editor_is_shown_the_runs_own_plan_not_one_made_again_from_the_disk(repo):
    """The diffs in the tool call and in the permission request are the run's planned changes, byte for byte,
    even when the file changed on disk after the run planned them (a save in another program): the ACP layer
    neither reads the files nor plans the reply a second time."""
    import asyncio
    import threading
    from types import SimpleNamespace

    from assistant.acp.runs import RunView
    from assistant.edit.run import EditOptions, EditRun
    from assistant.fix.events import EditsProposed
    from assistant.providers.scripted import ScriptedProvider

    proposals = []
    run = EditRun(repo, ScriptedProvider([DOC_EDIT]), REQUEST, [], EditOptions(use_vectors=False),
                  approve=lambda proposal: proposals.append(proposal) or False)
    events = list(run.run())
    assert run.result.status == "declined"
    [proposed] = [event for event in events if isinstance(event, EditsProposed)]
    [proposal] = proposals
    planned = [(str(repo / change.path), change.old.decode(), change.new.decode()) for change in proposed.changes]
    assert [path for path, _, _ in planned] == [str(repo / PRICING)]
    assert OLD_DOC in planned[0][1] and NEW_DOC in planned[0][2]

    (repo / PRICING).write_text("# rewritten by another program after the plan\n")
    recorder = Recorder()
    view = RunView(recorder, SimpleNamespace(root=repo), "edit-test")

    async def show_and_ask() -> None:
        await view.show(proposed)
        await asyncio.to_thread(view.ask_to_apply, proposal, asyncio.get_running_loop(), threading.Event(), "Apply")

    asyncio.run(show_and_ask())
    [call] = [u for u in recorder.updates if u.session_update == "tool_call" and u.kind == "edit"]
    for content in (call.content, recorder.asked[-1]):
        assert [(c.path, c.old_text, c.new_text) for c in content if c.type == "diff"] == planned
        assert content[-1].content.text == f"```diff\n{proposed.diff}```"  # the text diff for plain clients


# -------------------------------------------------------------------------------- how it may end


def test_an_answer_instead_of_an_edit_is_shown_as_the_answer(editor, repo):
    before = (repo / PRICING).read_bytes()
    asked = len(editor.client.asked)
    answer = "Which docstring do you mean? round_money has one already."
    session = editor.session(repo, [answer])
    stop, updates, said = editor.prompt(session, EDIT)
    assert stop == "end_turn"
    assert answer in said and "**answered**" in said
    assert not calls(updates, "edit") and len(editor.client.asked) == asked  # nothing to ask about
    assert (repo / PRICING).read_bytes() == before


def test_a_reply_that_does_not_apply_writes_nothing_and_says_why(editor, repo):
    before = (repo / PRICING).read_bytes()
    session = editor.session(repo, [NOT_MATCHING, NOT_MATCHING])  # sent back once with the reason
    stop, _, said = editor.prompt(session, EDIT)
    assert stop == "end_turn"
    assert "**not_applied**" in said and "nothing was written" in said
    assert (repo / PRICING).read_bytes() == before


def test_a_dead_model_or_a_busy_repository_is_a_clear_message_and_nothing_is_written(editor, repo):
    before = (repo / PRICING).read_bytes()
    session = editor.session(repo, [])  # the model fails on the first request, as a dead server would
    stop, _, said = editor.prompt(session, EDIT)
    assert stop == "end_turn"
    assert "**error**" in said and "the model failed" in said

    session = editor.session(repo, [DOC_EDIT])
    with fix_lock(repo):  # an `assist fix` or `assist edit` in a terminal holds the repository
        stop, _, said = editor.prompt(session, EDIT)
    assert stop == "end_turn"
    assert "**busy**" in said and "fixing this repository" in said
    stop, _, said = editor.prompt(session, "/edit")
    assert stop == "end_turn" and "Say what to change: /edit REQUEST" in said
    assert (repo / PRICING).read_bytes() == before


def test_cancelling_while_the_edit_is_asked_about_writes_nothing_and_the_session_goes_on(editor, repo):
    before = (repo / PRICING).read_bytes()
    session = editor.session(repo, [DOC_EDIT, DOC_EDIT])
    stop, _, _ = editor.prompt(session, EDIT, "cancel")
    assert stop == "cancelled"
    assert (repo / PRICING).read_bytes() == before
    stop, _, said = editor.prompt(session, EDIT, APPLY)
    assert stop == "end_turn" and "**applied**" in said, said
    assert NEW_DOC in (repo / PRICING).read_text()

"""What the chat front ends (TUI, ACP) need of the edit core beyond `assist edit`: the conversation so far sent
before the request, a chat answer that already holds edit blocks planned without asking again, and the
Apply / Apply-and-test choice made when the diff is shown. In process, on the bookings example indexed by the
run itself, with a scripted model."""

from __future__ import annotations

from pathlib import Path

from test_edit_cli import NEW_FREE, OLD_FREE, REQUEST, ROOMS, SORTED, bookings, sr  # noqa: F401 (fixture)

from assistant.edit import events as ev
from assistant.edit.run import EditOptions, EditRun, reply_has_edits
from assistant.fix.events import Proposal
from assistant.providers.scripted import ScriptedProvider
from assistant.providers.types import Message

EARLIER = [Message("user", "what does free_rooms return?"),
           Message("assistant", "The numbers of the rooms free for every night of the stay.")]


def run_edit(repo: Path, provider: ScriptedProvider, request: str = REQUEST, **kwargs) -> tuple[ev.EditResult, list]:
    options = kwargs.pop("options", None) or EditOptions(use_vectors=False)
    run = EditRun(repo, provider, request, [], options, **kwargs)
    events = list(run.run())
    assert run.result is not None
    return run.result, events


def roles_and_text(prompt) -> list[tuple[str, str]]:
    return [(message.role, message.content) for message in prompt]


def test_the_conversation_so_far_goes_before_the_request(bookings):
    provider = ScriptedProvider([SORTED])
    result, _ = run_edit(bookings, provider, "now make it sorted", conversation=EARLIER,
                         approve=lambda proposal: ev.APPLY_ONLY)
    assert result.status == ev.APPLIED, result.message
    sent = roles_and_text(provider.prompts[0])
    assert [role for role, _ in sent] == ["system", "user", "assistant", "user"]
    assert sent[1][1] == EARLIER[0].content and sent[2][1] == EARLIER[1].content
    assert "now make it sorted" in sent[3][1] and "free_rooms" in sent[3][1]  # the code came with the request


def test_a_conversation_too_long_for_the_window_loses_its_oldest_turns_not_the_code(bookings):
    long_turns = []
    for n in range(12):
        long_turns += [Message("user", f"question {n} " + "about rooms " * 150),
                       Message("assistant", f"answer {n} " + "the rooms are free " * 150)]
    provider = ScriptedProvider([SORTED], context_window=8192)
    result, events = run_edit(bookings, provider, conversation=long_turns, approve=lambda proposal: ev.APPLY_ONLY)
    assert result.status == ev.APPLIED, result.message
    sent = roles_and_text(provider.prompts[0])
    assert sent[-1][0] == "user" and "def free_rooms" in sent[-1][1]
    assert sent[-2][1].startswith("answer 11")  # the latest turn kept, the oldest gone
    assert not any(text.startswith("question 0 ") for _, text in sent)
    assert any("oldest turns of the conversation were left out" in getattr(e, "text", "") for e in events)


def test_a_chat_answer_with_edit_blocks_is_applied_without_asking_the_model_again(bookings):
    assert reply_has_edits(SORTED) and not reply_has_edits("free_rooms returns a list of numbers.")
    provider = ScriptedProvider([])  # any request to the model would fail: it has no replies
    shown = []
    result, events = run_edit(bookings, provider, reply=SORTED,
                              approve=lambda proposal: shown.append(proposal) or ev.APPLY_ONLY)
    assert result.status == ev.APPLIED, result.message
    assert provider.prompts == []
    assert NEW_FREE in (bookings / ROOMS).read_text()
    assert len(shown) == 1 and isinstance(shown[0], Proposal) and f"-{OLD_FREE}" in shown[0].diff
    assert result.tests == ""  # "Apply": no tests ran


def test_a_chat_answer_that_does_not_apply_is_sent_back_once_with_the_reason(bookings):
    stale = sr(ROOMS, "    return [room for room in rooms]", NEW_FREE)
    provider = ScriptedProvider([SORTED])
    result, _ = run_edit(bookings, provider, reply=stale, approve=lambda proposal: ev.APPLY_ONLY)
    assert result.status == ev.APPLIED, result.message
    assert len(provider.prompts) == 1
    retry = provider.prompts[0][-1].content
    assert "could not be applied" in retry and f"({ROOMS}): the SEARCH lines are not in the file" in retry
    assert NEW_FREE in (bookings / ROOMS).read_text()


def test_apply_and_test_runs_the_tests_that_reach_the_change_even_when_the_run_was_started_without(bookings):
    provider = ScriptedProvider([SORTED])
    result, _ = run_edit(bookings, provider, options=EditOptions(use_vectors=False, run_tests=False),
                         approve=lambda proposal: ev.APPLY_AND_TEST)
    assert result.status == ev.APPLIED, result.message
    assert "tests/test_rooms.py::test_free_rooms_lists_rooms_free_for_every_night" in result.tests
    assert result.tests_before is not None and result.tests_before.green
    assert result.tests_after is not None and result.tests_after.green


def test_rejecting_the_proposal_writes_nothing(bookings):
    before = (bookings / ROOMS).read_bytes()
    result, _ = run_edit(bookings, ScriptedProvider([SORTED]), approve=lambda proposal: False)
    assert result.status == ev.DECLINED and not result.written
    assert (bookings / ROOMS).read_bytes() == before


def test_stopping_while_the_diff_is_shown_is_a_cancel_not_a_decline(bookings):
    import threading

    stop = threading.Event()
    provider = ScriptedProvider([SORTED])
    run = EditRun(bookings, provider, REQUEST, [], EditOptions(use_vectors=False),
                  approve=lambda proposal: stop.set() or False)
    list(run.run(stop))
    assert run.result.status == ev.CANCELLED and not run.result.written


def test_the_chat_asks_for_changes_as_edit_blocks_only_where_an_edit_fits_the_window():
    from assistant.chat.prompting import EDIT_WINDOW, system_prompt

    assert "<<<<<<< SEARCH" in system_prompt("shop", [], EDIT_WINDOW)
    assert "<<<<<<< SEARCH" not in system_prompt("shop", [], EDIT_WINDOW - 1)

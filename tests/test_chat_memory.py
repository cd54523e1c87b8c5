"""Conversation memory (assistant/chat/memory.py): what of a long chat the next prompt keeps, and what it says."""

from __future__ import annotations

import threading

from assistant.chat.memory import SUMMARY_CHARS, Conversation, fit_memory, summary_line


def chars(text: str) -> int:
    return len(text)


def count_pair(turn) -> int:
    return len(turn.question) + len(turn.answer)


def line_cost(turn) -> int:
    return len(summary_line(turn.question, turn.answer)) + 1


def test_the_newest_turns_stay_whole_older_ones_become_lines_and_the_oldest_are_left_out():
    chat = Conversation()
    for n in range(6):
        chat.record(f"question {n} " + "about stock " * 5, f"answer {n} " + "the reserve method " * 20)
    history = chat.turns()
    room = count_pair(history[-1]) + count_pair(history[-2]) + line_cost(history[3]) + line_cost(history[2])
    memory = fit_memory(history, room, count_pair, chars)
    assert [t.question for t in memory.turns] == [history[4].question, history[5].question]
    assert len(memory.summaries) == 2 and memory.summaries[0].startswith('- earlier: asked "question 2')
    assert memory.left_out == 2 and memory.shortened == 2
    assert [m.role for m in memory.messages()] == ["user", "assistant", "user", "assistant"]
    notice = memory.notice(4, 480)
    assert notice.startswith("memory: the 4 oldest turns") and "2 shortened to one line, 2 left out" in notice
    assert "/clear" in notice


def test_giving_up_memory_drops_whole_turns_first_then_summaries():
    chat = Conversation()
    for n in range(3):
        chat.record(f"q{n}", f"a{n} " + "because " * 40)
    history = chat.turns()
    room = count_pair(history[2]) + count_pair(history[1]) + line_cost(history[0])  # two whole, one line
    memory = fit_memory(history, room, count_pair, chars)
    assert (len(memory.turns), len(memory.summaries), memory.left_out) == (2, 1, 0)
    assert memory.give_up_oldest() and [t.question for t in memory.turns] == ["q2"]
    assert memory.give_up_oldest() and memory.give_up_oldest()
    assert (memory.turns, memory.summaries, memory.left_out) == ([], [], 3)
    assert not memory.give_up_oldest()


def test_a_summary_line_squeezes_long_text_and_says_when_nothing_was_answered():
    line = summary_line("why\n\n  is   it slow? " + "x" * 300, "")
    asked = line.split('"')[1]
    assert asked.startswith("why is it slow? ") and len(asked) == SUMMARY_CHARS and asked.endswith("…")
    assert line.endswith('answered "(nothing)"')


def test_the_history_is_kept_whole_and_safe_to_read_while_a_turn_is_recorded():
    chat = Conversation()
    threads = [threading.Thread(target=chat.record, args=(f"q{n}", f"a{n}")) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pairs = chat.pairs()
    assert len(pairs) == 40 and {role for role, _ in pairs[::2]} == {"user"}
    chat.clear()
    assert chat.pairs() == [] and chat.turns() == []

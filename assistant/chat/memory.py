"""Conversation memory: the turns a chat has had, and the part of them that fits the next prompt.

The whole history is kept (``/clear`` forgets it); each prompt carries what fits the room the budget leaves
(see ``prompting``): the newest turns whole, older ones shortened to one "earlier:" line each, the oldest left
out. When the assembled prompt still runs over, memory is what gives way first (``Memory.give_up_oldest``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..providers.types import Message

SUMMARY_CHARS = 90  # per side of an "earlier:" line: enough to recall the topic of a turn


@dataclass
class Turn:
    """A finished exchange kept as conversation memory."""

    question: str
    answer: str
    tokens: int | None = None  # what the pair costs in a prompt, counted once


@dataclass
class Memory:
    """The part of the history that fits: whole recent turns, one-line summaries of older ones."""

    turns: list[Turn] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)
    left_out: int = 0  # turns neither whole nor summarised
    tokens: int = 0

    @property
    def shortened(self) -> int:
        return len(self.summaries)

    def messages(self) -> list[Message]:
        result: list[Message] = []
        for turn in self.turns:
            result.append(Message("user", turn.question))
            result.append(Message("assistant", turn.answer))
        return result

    def give_up_oldest(self) -> bool:
        """Leave out the oldest whole turn, else the oldest summary; False when nothing is left to give up."""
        if self.turns:
            self.turns.pop(0)
        elif self.summaries:
            self.summaries.pop(0)
        else:
            return False
        self.left_out += 1
        return True

    def notice(self, trimmed: int, window: int) -> str:
        """What the user is told when the ``trimmed`` oldest turns no longer fit whole."""
        how = []
        if self.shortened:
            how.append(f"{self.shortened} shortened to one line")
        if self.left_out:
            how.append(f"{self.left_out} left out")
        turns = "turn" if trimmed == 1 else "turns"
        return (f"memory: the {trimmed} oldest {turns} of this conversation no longer fit the {window}-token window "
                f"({', '.join(how)}); /clear starts afresh")


class Conversation:
    """The turns of one chat, safe to read from a UI thread while a turn is being answered."""

    def __init__(self) -> None:
        self._turns: list[Turn] = []
        self._lock = threading.Lock()

    def record(self, question: str, answer: str) -> None:
        with self._lock:
            self._turns.append(Turn(question, answer))

    def turns(self) -> list[Turn]:
        with self._lock:
            return list(self._turns)

    def pairs(self) -> list[tuple[str, str]]:
        """The history as (role, text), oldest first."""
        pairs: list[tuple[str, str]] = []
        for turn in self.turns():
            pairs.append(("user", turn.question))
            pairs.append(("assistant", turn.answer))
        return pairs

    def clear(self) -> None:
        with self._lock:
            self._turns.clear()


def fit_memory(history: list[Turn], room: int, count_pair: Callable[[Turn], int],
               count_line: Callable[[str], int]) -> Memory:
    """Keep the newest whole turns that fit ``room``; then summarise older ones while lines still fit."""
    memory = Memory()
    cut = len(history)
    for index in range(len(history) - 1, -1, -1):
        turn = history[index]
        if turn.tokens is None:
            turn.tokens = count_pair(turn)
        if memory.tokens + turn.tokens > room:
            break
        memory.turns.insert(0, turn)
        memory.tokens += turn.tokens
        cut = index
    for index in range(cut - 1, -1, -1):
        line = summary_line(history[index].question, history[index].answer)
        cost = count_line(line) + 1  # the newline joining it to the others
        if memory.tokens + cost > room:
            memory.left_out = index + 1
            break
        memory.summaries.insert(0, line)
        memory.tokens += cost
    return memory


def summary_line(question: str, answer: str) -> str:
    """One line recalling a turn that no longer fits whole."""
    return f"- earlier: asked \"{_squeeze(question)}\"; answered \"{_squeeze(answer) or '(nothing)'}\""


def _squeeze(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[: SUMMARY_CHARS - 1].rstrip() + "…"

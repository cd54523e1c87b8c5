"""The messages of one fix round, fitted to the model's window.

The system message states the edit format; the user message carries the failure excerpt, the localized
code and the history of earlier attempts, in that order of importance: the excerpt and the latest attempt
always go in (shortened if they must), then code fills what the budget leaves, then older attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..chat.prompting import outgoing, render
from ..providers.types import Message
from .edits import SEARCH_REPLACE

CountTokens = Callable[[str], int]
EXCERPT_SHARE = 0.35  # the most of the prompt the failure output may take
ATTEMPTS_SHARE = 0.25  # ... and the history of earlier attempts
CUT = "\n[… {n} characters left out …]\n"


@dataclass
class Attempt:
    round: int
    outcome: str  # what happened, written for the model (the error, or the diff and the new failure)
    short: str  # one line, used when the full outcome no longer fits


def system_message(repo_name: str, edit_format: str) -> str:
    rules = render("fix_format_search_replace" if edit_format == SEARCH_REPLACE else "fix_format_whole_file")
    return render("fix_system", repo_name=repo_name, format_rules=rules)


def round_message(command: str, excerpt: str, context: str, attempts: list[Attempt], room: int,
                  count: CountTokens) -> str:
    """The user message with ``attempts`` fitted into ``room`` tokens (newest whole, older ones shortened)."""
    lines = _fit_attempts(attempts, room, count)
    history = ("Earlier attempts in this run:\n" + "\n".join(lines) + "\n\n") if lines else ""
    request = render("fix_request_again" if attempts else "fix_request_first")
    code = render("context", blocks=context) if context.strip() else "(No code could be localized for this failure.)"
    return render("fix_round", command=command, failures=excerpt.strip("\n"), context=code, attempts=history,
                  request=request)


def _fit_attempts(attempts: list[Attempt], room: int, count: CountTokens) -> list[str]:
    chosen: list[str] = []
    used = 0
    for position, attempt in enumerate(reversed(attempts)):
        full = render("fix_attempt", round=str(attempt.round), outcome=attempt.outcome)
        short = render("fix_attempt", round=str(attempt.round), outcome=attempt.short)
        for text in ((full, short) if position == 0 else (short,)):
            cost = count(text)
            if used + cost <= room or (position == 0 and text is short):
                chosen.insert(0, text)
                used += cost
                break
    return chosen


def shorten(text: str, max_chars: int) -> str:
    """Keep the head and the tail of ``text`` (where a failure's cause and its summary usually are)."""
    if len(text) <= max_chars:
        return text
    keep = max(0, max_chars - 40)
    head = keep // 3
    tail = keep - head
    return text[:head] + CUT.format(n=len(text) - head - tail) + text[len(text) - tail:]


def fit_excerpt(excerpt: str, room_tokens: int, count: CountTokens) -> str:
    """Shorten the failure excerpt until it fits ``room_tokens``."""
    text = excerpt
    for _ in range(8):
        tokens = count(text)
        if tokens <= room_tokens:
            return text
        text = shorten(text, max(200, int(len(text) * room_tokens / tokens * 0.9)))
    return text


def messages(system: str, user: str) -> list[Message]:
    """The round's messages as the model will get them (secrets masked), so they are counted as sent."""
    return outgoing([Message("system", system), Message("user", user)])

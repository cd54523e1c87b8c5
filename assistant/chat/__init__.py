"""Chat about a repository: ``ChatSession`` runs turns and yields the events of ``events.py``.

- `events.py` — what a turn reports (the contract every front end renders).
- `session.py` — ``ChatSession``: a turn from question to events: retrieval, prompt budget, streaming.
- `index.py` — ``ChatIndex``: the index checked once per session, re-indexed on request, vectors filled meanwhile.
- `memory.py` — the conversation's turns and the part of them that fits the next prompt.
- `pins.py` — what the user pinned, added and dropped, and the block an added file or symbol sends.
- `errors.py` — ``ChatError``.
- `prompting.py` — prompt templates (``prompts/*.md``) and how a prompt's tokens are shared out.
- `citations.py` — ``path:line`` citations in an answer, checked against the index.
"""

from .events import (
    AnswerDelta,
    ChatEvent,
    Citation,
    ContextItem,
    ContextReady,
    Notice,
    ReadingPrompt,
    SessionStatus,
    TurnDone,
    TurnFailed,
)
from .prompting import PromptError
from .session import ChatError, ChatSession

__all__ = [
    "AnswerDelta",
    "ChatError",
    "ChatEvent",
    "ChatSession",
    "Citation",
    "ContextItem",
    "ContextReady",
    "Notice",
    "PromptError",
    "ReadingPrompt",
    "SessionStatus",
    "TurnDone",
    "TurnFailed",
]

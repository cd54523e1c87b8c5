"""Token estimates, the context-window check made before sending, and the truncation check made after.

Where a server has a tokenizer endpoint (llama.cpp's ``/tokenize``) providers count exactly. Ollama has none,
so its provider uses ``estimate_tokens``: UTF-8 bytes / 3, plus the chat template's per-message cost. BPE
tokenizers of current code models average 3.5-4.5 bytes per token on code and English and about 3 on CJK
text, so the estimate runs 15-40 % high: prompts are refused a little early rather than cut silently late.
The server's ``prompt_eval_count`` on every reply is the check on the estimate (``looks_truncated``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .errors import ContextWindowTooSmall
from .types import Message

BYTES_PER_TOKEN = 3.0
# ChatML-style templates spend ~4 tokens per message on role markers, and ~3 to open the reply.
TOKENS_PER_MESSAGE = 4
TOKENS_TO_PRIME_REPLY = 3

# With an estimate, a server count below half of ours cannot be tokenizer variance; with an exact count,
# any shortfall past a few tokens means the server dropped part of the prompt.
ESTIMATE_TRUNCATION_RATIO = 0.5
EXACT_TRUNCATION_RATIO = 0.95
TRUNCATION_MIN_SHORTFALL = 16


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def estimate_messages(messages: Sequence[Message]) -> int:
    body = sum(estimate_tokens(m.content) + TOKENS_PER_MESSAGE for m in messages)
    return body + TOKENS_TO_PRIME_REPLY


def check_fits(
    prompt_tokens: int,
    *,
    max_tokens: int | None,
    reply_reserve: int,
    window: int,
    remedy: str,
    url: str = "",
) -> None:
    """Raise ``ContextWindowTooSmall`` unless the prompt plus room for the reply fits the window."""
    reply = max_tokens if max_tokens is not None else reply_reserve
    needed = prompt_tokens + reply
    if needed <= window:
        return
    raise ContextWindowTooSmall(
        f"the prompt needs about {prompt_tokens} tokens plus {reply} for the reply ({needed} in all), but the "
        f"context window is {window} tokens; nothing was sent. {remedy}",
        needed=needed,
        window=window,
        url=url,
    )


def looks_truncated(server_prompt_tokens: int | None, our_prompt_tokens: int, *, exact: bool) -> bool:
    """True when the server evaluated clearly fewer prompt tokens than we sent (a silent cut)."""
    if server_prompt_tokens is None:
        return False
    if our_prompt_tokens - server_prompt_tokens < TRUNCATION_MIN_SHORTFALL:
        return False
    ratio = EXACT_TRUNCATION_RATIO if exact else ESTIMATE_TRUNCATION_RATIO
    return server_prompt_tokens < our_prompt_tokens * ratio

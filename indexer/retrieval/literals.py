"""Literal evidence: does a string literal in the code say what a message quoted in the query says?

Code builds its messages with placeholders (``f"{name} must be positive"``, ``"no option %s" % x``), so a
code literal is read as its fixed fragments, in order, and matches a quoted message that holds every
fragment in that order. How much it says is the number of fixed characters it matched. Pure text work:
the caller reads the source lines of the chunks BM25 finds for the message.
"""

from __future__ import annotations

import re

# A one-line string literal with an optional prefix (f, r, b, u, rb, ...), either quote.
_STRING = re.compile(r"""(?<![\w])[rRbBuUfF]{0,2}(?:"(?P<double>(?:[^"\\\n]|\\.)*)"|'(?P<single>(?:[^'\\\n]|\\.)*)')""")
# What a message is built with and the user never sees as written: f-string fields, %-formats,
# escapes, and .format's {} fields.
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdrifgxXeEcab]|\\.")


def normalize(text: str) -> str:
    return " ".join(text.lower().split())


def fragments(literal: str) -> list[str]:
    """The fixed text of a code literal, split at its placeholders, normalized; empty pieces dropped."""
    return [piece for piece in (normalize(p) for p in _PLACEHOLDER.split(literal)) if piece]


def best_match(code: str, message: str, min_chars: int) -> tuple[int, str] | None:
    """(fixed characters matched, the literal as written) of the code literal in ``code`` that says most of
    ``message`` (normalized with ``normalize``), or None when none holds ``min_chars`` fixed characters."""
    best: tuple[int, str] | None = None
    for match in _STRING.finditer(code):
        body = match["double"] if match["double"] is not None else match["single"]
        if body is None or len(body) < min_chars:
            continue
        pieces = fragments(body)
        fixed = sum(len(p) for p in pieces)
        if fixed < min_chars or (best is not None and fixed <= best[0]):
            continue
        if _in_order(pieces, message):
            best = (fixed, body)
    return best


def _in_order(pieces: list[str], message: str) -> bool:
    position = 0
    for piece in pieces:
        found = message.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True

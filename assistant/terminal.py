"""Text from a repository, a model or a server, made inert before it reaches a terminal.

A file name, a symbol, a code excerpt or a server's error message can carry control characters: ``ESC ]0;…
BEL`` retitles the terminal, ``ESC [2J`` clears it, a bare ``CR`` overwrites what was printed. Every such
character is shown as a visible escape (``\\x1b``) instead. Bidirectional overrides (U+202A-E, U+2066-9) are
shown too: they reorder how the rest of a line reads ("Trojan Source").

``rich`` reads ``[red]…[/red]`` and ``[link=…]`` in a string as markup, so repository text printed through
rich goes in as ``rich_text`` (a ``Text``, never parsed as markup) or through ``markup``.

JSON output needs none of this: JSON escapes control characters itself. Only the standard library is
imported at load time (``common.fail`` uses this module, and ``--help`` must stay instant).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

# Piped or redirected output is laid out this wide: wide enough that no line of ours ever wraps, and still
# a size rich can lay a table out in (tables take their natural width, not this one).
_UNWRAPPED_WIDTH = 100_000

_CONTROL = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_VISIBLE = ({code: f"\\x{code:02x}" for code in _CONTROL} | {code: f"\\u{code:04x}" for code in _BIDI}
            | {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_VISIBLE_KEEP_LINES = {code: shown for code, shown in _VISIBLE.items() if code not in (0x09, 0x0A)}


def inert(text: object) -> str:
    """One line: every control character, newline and tab included, shown as a visible escape."""
    return str(text).translate(_VISIBLE)


def inert_lines(text: object) -> str:
    """Multi-line text (code, an answer, a message): newlines and tabs kept, ``CR LF`` read as a newline,
    every other control character shown as a visible escape."""
    return str(text).replace("\r\n", "\n").translate(_VISIBLE_KEEP_LINES)


def rich_text(text: object, style: str = "") -> Text:
    """A rich ``Text`` of one line of repository text: inert, and never parsed as markup or emoji codes."""
    from rich.text import Text

    return Text(inert(text), style=style)


def markup(text: object, *, lines: bool = False) -> str:
    """Repository text to place inside a rich markup string: inert (``lines``: as ``inert_lines``), its
    brackets escaped."""
    from rich.markup import escape

    return escape(inert_lines(text) if lines else inert(text))


def console(*, stderr: bool = False) -> Console:
    """The rich ``Console`` for a command's human output. On a terminal it wraps to the terminal's width; piped
    or redirected it never wraps (rich would cut at 80 columns), so ``grep`` and scripts get whole lines and
    whole paths. No highlighting and no ``:emoji:`` codes: repository text prints as written."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, highlight=False, emoji=False)
    return Console(stderr=stderr, highlight=False, emoji=False, soft_wrap=True, width=_UNWRAPPED_WIDTH)

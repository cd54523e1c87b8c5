"""What the user pinned, added and dropped in a conversation, and the block an added file or symbol sends.

``Pins`` keeps the pinned items (with the exact text sent), the dropped keys and the dropped outlines behind one
lock, and says which retrieved items they keep out of the prompt. ``render_node`` turns a graph node into the block
a pin sends: whole, its first lines, or the file's outline when it is over the pin's share of the prompt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from indexer.model import FILE, MODULE
from indexer.retrieval import PackItem, Retriever

from . import prompting
from .errors import ChatError
from .events import ContextItem


@dataclass
class Pinned:
    item: ContextItem
    text: str  # the block as sent, captured when pinned or added


class Pins:
    """Thread-safe: a UI thread pins or drops while a turn's thread builds the prompt."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pinned: dict[str, Pinned] = {}
        self._dropped: set[str] = set()
        self._dropped_outlines: set[str] = set()

    def items(self) -> list[Pinned]:
        with self._lock:
            return list(self._pinned.values())

    def pin(self, key: str, last_context: list[ContextItem], last_texts: dict[str, str]) -> bool:
        """Pin ``key`` if it is an item of the last context (True), or was pinned already; False: not there (the
        caller adds it by name)."""
        with self._lock:
            self._dropped.discard(key)
            if key in self._pinned:
                return True
            item = next((i for i in last_context if i.key == key), None)
            if item is None:
                return False
            if item.kind == "outline":
                self._dropped_outlines.discard(item.path)
            self._pinned[key] = Pinned(replace(item, pinned=True, why=f"pinned; {item.why}"), last_texts[key])
            return True

    def drop(self, key: str, last_context: list[ContextItem]) -> bool:
        """Unpin and drop ``key`` (an outline drops the file's outline); False when ``key`` is neither pinned nor
        in the last context (the caller resolves it as a name and calls ``drop_node``)."""
        with self._lock:
            was_pinned = self._pinned.pop(key, None) is not None
            item = next((i for i in last_context if i.key == key), None)
            if item is not None and item.kind == "outline":
                self._dropped_outlines.add(item.path)
                return True
            if item is not None or was_pinned:
                self._dropped.add(key)
                return True
            return False

    def drop_node(self, node: str) -> None:
        with self._lock:
            self._pinned.pop(node, None)
            self._dropped.add(node)

    def add(self, item: ContextItem, text: str) -> None:
        with self._lock:
            self._dropped.discard(item.key)
            self._dropped_outlines.discard(item.path)
            self._pinned[item.key] = Pinned(item, text)

    def excluded(self, item: PackItem, key: str) -> bool:
        """Whether a retrieved item stays out of the prompt: pinned already (sent as pinned) or dropped — a file
        drops its code, a class its methods."""
        with self._lock:
            blocked = self._dropped | set(self._pinned)
            pinned_outlines = {p.item.path for p in self._pinned.values() if p.item.kind == "outline"}
            dropped_outlines = set(self._dropped_outlines)
        if key in blocked or item.path in blocked:
            return True
        if item.kind == "outline" and (item.path in dropped_outlines or item.path in pinned_outlines):
            return True
        return item.symbol is not None and any(item.symbol.startswith(f"{b}.") for b in blocked if "::" in b)

    def clear(self) -> None:
        with self._lock:
            self._pinned.clear()
            self._dropped.clear()
            self._dropped_outlines.clear()


def render_node(retriever: Retriever, node: str, limit: int, count: Callable[[str], int]) -> tuple[ContextItem, str]:
    """The block pinning ``node`` sends: the file or symbol whole; its first lines, or a file's outline, when it
    is over ``limit`` tokens (as ``count`` counts them)."""
    info = retriever.node(node)
    if info.kind == MODULE:
        raise ChatError(f"{node} is a directory: add one of its files or symbols")
    source = retriever.current_source(node)
    if source is None:
        raise ChatError(f"{info.path} was deleted, or is no longer text, since indexing; run /reindex")
    if not source.found:
        raise ChatError(f"{node} is no longer in {info.path}; run /reindex")
    path, kind, language = info.path, info.kind, info.language
    first, last, lines = source.start_line, source.end_line, source.lines
    if kind == FILE:
        while last > 1 and not lines[last - 1].strip():
            last -= 1  # the empty "line" after a final newline, and trailing blank lines
        lines, label = lines[:last], "file, added"
    else:
        label = f"{kind} {node.partition('::')[2]}, added"
    text = prompting.code_block(path, first, last, label, language, lines)
    tokens = count(text)
    entries = retriever.outline(path) if tokens > limit and kind == FILE else []
    if entries:
        def outline(part: list) -> str:
            return prompting.outline_block(path, part, left_out=len(entries) - len(part))

        text = outline(entries[: most_that_fit(entries, limit, lambda part: count(outline(part)))])
        tokens = count(text)
        item = ContextItem(f"{path}:{first}-{last}", path, None, "outline", first, last, tokens,
                           "added by you (outline: the whole file is too big)", pinned=True)
        return item, text
    if tokens > limit:

        def head(part: list[str]) -> str:
            shown = [*part, f"{prompting.GAP} ({len(lines) - len(part)} more lines)"]
            return prompting.code_block(path, first, first + len(part) - 1,
                                        f"{label}, first {len(part)} lines", language, shown)

        keep = most_that_fit(lines, limit, lambda part: count(head(part)))
        text, last = head(lines[:keep]), first + keep - 1
        tokens = count(text)
    key = node if kind != FILE else path
    item = ContextItem(key, path, None if kind == FILE else node, kind, first, last, tokens, "added by you",
                       pinned=True)
    return item, text


def most_that_fit(rows: list, limit: int, cost: Callable[[list], int]) -> int:
    """How many leading rows (lines, outline entries) fit ``limit`` once rendered (at least one)."""
    low, high, best = 1, len(rows), 1
    while low <= high:
        middle = (low + high) // 2
        if cost(rows[:middle]) <= limit:
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best

"""What can go wrong when reading an index; every message says how to fix it."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base class: the message is meant for the user as it stands."""


class IndexMissing(RetrievalError):
    """There is no index at the path, or it was never completed."""


class IndexUnreadable(RetrievalError):
    """The index exists but a part of it cannot be read; rebuilding fixes it."""


class IndexVersionMismatch(IndexUnreadable):
    """The index was made by another version of assist's indexing code than this process runs (its tokens or
    extracts mean something else here): searching it would quietly give wrong results."""


class UnknownSymbol(RetrievalError):
    """A symbol or file name matched nothing in the graph."""

    def __init__(self, name: str, suggestions: list[str]):
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no symbol or file named {name!r} in the index{hint}")


class AmbiguousSymbol(RetrievalError):
    """A bare name matched several definitions; the caller must pick one."""

    def __init__(self, name: str, candidates: list[str]):
        self.name = name
        self.candidates = candidates
        listed = "\n  ".join(candidates)
        super().__init__(f"{name!r} matches {len(candidates)} definitions; use one of:\n  {listed}")

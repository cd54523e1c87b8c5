"""Citations: ``path:line`` references in an answer, kept only when they name real code.

Small models invent plausible paths and line numbers; a citation the user cannot follow is worse than
none. So each one is checked against the index: the file must be indexed (a written path may be partial,
``orders.py:12``, when it matches one file only), the line must exist, and the symbol at that line is
looked up. The code sent as context is always returned too, as sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from indexer.model import FILE, split_qualified_name

from .events import Citation, ContextItem

if TYPE_CHECKING:
    from indexer.retrieval import Retriever

# `pkg/mod.py:12`, `mod.py:12-20`, `pkg/mod.py::Class.method` (with optional :line after it).
_CITATION = re.compile(
    r"(?<![\w/.-])"
    r"(?P<path>(?:[\w.-]+/)*[\w.-]*\w\.[A-Za-z0-9]+)"
    r"(?:::(?P<symbol>[A-Za-z_][\w.]*))?"
    r"(?::(?P<line>\d+)(?:-\d+)?)?"
)


def extract_citations(answer: str, retriever: Retriever) -> list[Citation]:
    """The valid ``path:line`` and ``path::symbol`` citations of ``answer``, in order, without repeats."""
    found: list[Citation] = []
    seen: set[tuple[str, int | None, str | None]] = set()
    for match in _CITATION.finditer(answer):
        if match.group("line") is None and match.group("symbol") is None:
            continue  # a bare file name in prose is a mention, not a citation
        citation = _validated(match.group("path"), match.group("symbol"), match.group("line"), retriever)
        if citation is None:
            continue
        key = (citation.path, citation.line, citation.symbol)
        if key not in seen:
            seen.add(key)
            found.append(citation)
    return found


def context_sources(items: Iterable[ContextItem]) -> list[Citation]:
    return [Citation(item.path, item.start_line, item.symbol, origin="context") for item in items]


def merge(cited: list[Citation], sources: list[Citation]) -> list[Citation]:
    """What the answer cited first, then the context it was given (each place once)."""
    result = list(cited)
    places = {(c.path, c.line, c.symbol) for c in cited}
    for source in sources:
        if (source.path, source.line, source.symbol) not in places:
            places.add((source.path, source.line, source.symbol))
            result.append(source)
    return result


def _validated(written_path: str, symbol: str | None, line_text: str | None,
               retriever: Retriever) -> Citation | None:
    path = _indexed_file(written_path, retriever)
    if path is None:
        return None
    line = int(line_text) if line_text is not None else None
    qname = None
    if symbol is not None:
        qname = f"{path}::{symbol}"
        if not retriever.has_node(qname):
            return None
        if line is None:
            line = retriever.node(qname).start_line
    if line is not None:
        last = retriever.node(path).end_line
        if line < 1 or (last is not None and line > last):
            return None
        if qname is None:
            qname = retriever.symbol_at(path, line)
    if qname is not None and split_qualified_name(qname)[0] != path:
        qname = None
    return Citation(path, line, qname, origin="answer")


def _indexed_file(written: str, retriever: Retriever) -> str | None:
    written = written.removeprefix("./")
    if retriever.has_node(written) and retriever.node(written).kind == FILE:
        return written
    matches = retriever.files_matching(written)
    return matches[0] if len(matches) == 1 else None

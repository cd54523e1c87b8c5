"""Packing ranked items into a token budget: whole functions, class headers, outlines — never over budget.

What a model needs is the code of the few symbols that matter, not whole files (the gold file is usually
bigger than the whole context; the gold functions are a few hundred tokens). So items are symbols: a
function or method whole, a small class whole or a big one by its header, module-level code by its own
lines. Where room remains, each file gets an outline of its other definitions, so the model sees what
exists around the code it was given. Every item keeps the reasons it was chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..model import CLASS, FILE, Symbol, split_qualified_name
from .config import RetrievalConfig
from .rank import RankedNode, Ranking
from .sources import SourceText
from .why import Evidence, Why

if TYPE_CHECKING:
    from .reader import IndexReader

CountTokens = Callable[[str], int]

_GAP = "⋮"
_MIN_PARTIAL_LINES = 4
_WHOLE_FILE_MAX_LINES = 400  # a file named as a whole is shown from its top; more would never fit anyway
_FENCE_LANGUAGE = {"tsx": "tsx", "typescript": "typescript", "javascript": "javascript", "cpp": "cpp"}
# Lines directly above a definition that belong to it: decorators, attributes, doc comments.
_LEADING = {"python": ("@", "#")}
_DEFAULT_LEADING = ("@", "#[", "//", "/*", "*")


@dataclass
class PackItem:
    path: str
    symbol: str | None  # qname; None for module-level code, text and outlines
    kind: str  # function | method | class | file | outline
    part: str  # whole | header | module | text | truncated | outline
    segments: list[tuple[int, int]]  # line ranges shown, 1-based inclusive, current file lines
    text: str  # the block exactly as it appears in the pack
    tokens: int
    score: float
    why: Why

    @property
    def start_line(self) -> int:
        return self.segments[0][0]

    @property
    def end_line(self) -> int:
        return self.segments[-1][1]

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "symbol": self.symbol,
            "kind": self.kind,
            "part": self.part,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "segments": [list(s) for s in self.segments],
            "tokens": self.tokens,
            "score": round(self.score, 4),
            "why": self.why.to_json(),
        }


@dataclass
class Pack:
    query: str
    budget: int
    items: list[PackItem]  # in the order they appear in ``text``
    text: str
    total_tokens: int  # tokens of ``text`` as the tokenizer counts them inside a prompt
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "budget": self.budget,
            "total_tokens": self.total_tokens,
            "items": [item.to_json() for item in self.items],
            "notes": list(self.notes),
            "text": self.text,
        }


@dataclass
class _Unit:
    """What one ranked item would contribute, before it is rendered."""

    node: RankedNode
    source: SourceText
    segments: list[tuple[int, int]]
    kind: str
    part: str
    label: str
    language: str | None


def token_counter(count_tokens: CountTokens) -> CountTokens:
    """Tokens a text adds to a prompt: the tokenizer's own start/end markers are not counted, since a
    prompt carries them once, not once per piece."""
    overhead = count_tokens("")

    def count(text: str) -> int:
        return max(0, count_tokens(text) - overhead) if text else 0

    return count


class Packer:
    def __init__(self, reader: IndexReader, config: RetrievalConfig, count_tokens: CountTokens):
        self.reader = reader
        self.config = config
        self.tokens = token_counter(count_tokens)

    def pack(self, ranking: Ranking, budget_tokens: int) -> Pack:
        budget = max(0, int(budget_tokens))
        notes = list(ranking.notes)
        placed: list[PackItem] = []
        too_big: list[_Unit] = []
        remaining = budget
        candidates = ranking.nodes[: self.config.pack_candidates]
        floor = candidates[0].score * self.config.outline_priority_ratio if candidates else 0.0
        strong = [n for n in candidates if n.score >= floor]
        weak = [n for n in candidates if n.score < floor]
        remaining = self._place(strong, placed, too_big, remaining, notes)
        for outline in self._outlines(placed, remaining):
            if outline.tokens <= remaining:
                placed.append(outline)
                remaining -= outline.tokens
        if weak:
            remaining = self._place(weak, placed, too_big, remaining, notes)
            remaining = self._refresh_outlines(placed, remaining)

        if remaining >= self.config.min_partial_tokens:
            for unit in too_big:
                if any(p.path == unit.node.path and p.kind != "outline" and _overlaps(unit.segments, p.segments)
                       for p in placed):
                    continue
                partial = self._truncated(unit, remaining)
                if partial is not None:
                    placed.append(partial)
                    remaining -= partial.tokens
                    remaining = self._refresh_outlines(placed, remaining)
                    break

        return self._assemble(ranking.query.text, budget, placed, notes)

    def _place(self, nodes: list[RankedNode], placed: list[PackItem], too_big: list[_Unit], remaining: int,
               notes: list[str]) -> int:
        """Add the items of ``nodes`` that fit, best first; returns the budget left."""
        for node in nodes:
            if remaining <= 0:
                break
            source = self.reader.sources.get(node.path)
            if source is None:
                notes.append(f"{node.path} was deleted (or is no longer text) since indexing; skipped")
                continue
            node.why.stale = source.stale
            unit = self._unit(node, source, placed)
            if unit is None:
                notes.append(f"{node.node} is no longer in {node.path}; skipped")
                continue
            cover = _covering(unit, placed)
            if cover is not None:
                cover.why.merge(node.why)
                cover.why.notes.append(f"also covers {node.node}")
                continue
            code = [p for p in placed if p.path == unit.node.path and p.kind != "outline"]
            inside = [p for p in code if _contains(unit.segments, p.segments)]
            if any(_overlaps(unit.segments, p.segments) for p in code if p not in inside):
                continue
            refund = sum(p.tokens for p in inside)
            if placed and _surely_too_big(unit, remaining + refund):
                too_big.append(unit)  # not worth tokenizing: it cannot fit (a full budget's common case)
                continue
            item = self._render(unit)
            if item.tokens <= remaining + refund:
                for p in inside:
                    placed.remove(p)
                    item.why.merge(p.why)
                    item.why.notes.append(f"covers {p.symbol or p.path}")
                placed.append(item)
                remaining -= item.tokens - refund
                continue
            if not placed and not too_big:
                # The best item is too big: its first lines beat a lesser item whole.
                allowed = min(remaining, max(self.config.min_partial_tokens, remaining // 2))
                partial = self._truncated(unit, allowed)
                if partial is not None:
                    placed.append(partial)
                    remaining -= partial.tokens
                    continue
            too_big.append(unit)
        return remaining

    # --------------------------------------------------------------------------------- units

    def _unit(self, node: RankedNode, source: SourceText, placed: list[PackItem]) -> _Unit | None:
        graph = self.reader.graph
        data = graph.nodes[node.node]
        language = data.get("language") or (graph.nodes[node.path].get("language") if node.path in graph else None)
        stale = " · changed since indexing" if source.stale else ""
        if node.kind == FILE:
            return self._file_unit(node, source, language, stale)
        span = self._span(node, source)
        if span is None:
            return None
        start, end = span
        first = _extend_up(source.lines, start, language)
        dotted = split_qualified_name(node.node)[1]
        if node.kind != CLASS:
            return _Unit(node, source, [(first, end)], node.kind, "whole", f"{node.kind} {dotted}{stale}", language)
        members = self._members(node.node, source)
        whole = _Unit(node, source, [(first, end)], CLASS, "whole", f"class {dotted}{stale}", language)
        if not members:
            return whole
        member_placed = any(p.symbol and p.symbol.startswith(node.node + ".") for p in placed)
        limit = self.config.whole_class_max_tokens
        if not member_placed and not _surely_too_big(whole, limit // 2) \
                and self.tokens("\n".join(source.slice(first, end))) <= limit:
            return whole
        header_end = min(_extend_up(source.lines, s, language) for s, _ in members) - 1
        while header_end > first and not source.lines[header_end - 1].strip():
            header_end -= 1
        return _Unit(node, source, [(first, max(first, header_end))], CLASS, "header",
                     f"class {dotted}, header{stale}", language)

    def _span(self, node: RankedNode, source: SourceText) -> tuple[int, int] | None:
        if source.stale:
            symbol = self.reader.sources.fresh_symbols(source).get(node.node)
            return (symbol.start_line, symbol.end_line) if symbol is not None else None
        if node.start_line is None or node.end_line is None:
            return None
        return int(node.start_line), min(int(node.end_line), len(source.lines))

    def _members(self, qname: str, source: SourceText) -> list[tuple[int, int]]:
        if source.stale:
            return [(s.start_line, s.end_line) for s in self.reader.sources.fresh_symbols(source).values()
                    if s.parent == qname]
        graph = self.reader.graph
        return [
            (graph.nodes[child]["start_line"], graph.nodes[child]["end_line"])
            for child, keys in graph._succ[qname].items()
            if "contains" in keys and graph.nodes[child].get("start_line") is not None
        ]

    def _file_unit(self, node: RankedNode, source: SourceText, language: str | None, stale: str) -> _Unit | None:
        chunk = self.reader.chunks.get(node.chunk) if node.chunk else None
        total = len(source.lines)
        if chunk is not None and chunk.kind == "module":
            spans = self._top_level_spans(node.path, source)
            segments = _module_lines(source.lines, 1 if source.stale else chunk.start_line,
                                     total if source.stale else min(chunk.end_line, total), spans, language)
            if segments:
                return _Unit(node, source, segments, FILE, "module", f"module-level code{stale}", language)
        elif chunk is not None:
            first, last = max(1, chunk.start_line), min(chunk.end_line, total)
            if first <= last:
                return _Unit(node, source, [(first, last)], FILE, "text", f"text{stale}", language)
        # Named or reached as a whole file: its opening lines (a truncated item shows as much as fits).
        return _Unit(node, source, [(1, max(1, min(total, _WHOLE_FILE_MAX_LINES)))], FILE, "text",
                     f"file{stale}", language)

    def _top_level_spans(self, path: str, source: SourceText) -> list[tuple[int, int]]:
        if source.stale:
            symbols = self.reader.sources.fresh_symbols(source).values()
            return [(s.start_line, s.end_line) for s in symbols if s.parent is None]
        graph = self.reader.graph
        return [(s, e) for s, e, q in self.reader.names.symbols_in(path) if graph.nodes[q].get("parent") is None]

    # ----------------------------------------------------------------------------- rendering

    def _render(self, unit: _Unit, keep_lines: int | None = None) -> PackItem:
        lines: list[str] = []
        for i, (first, last) in enumerate(unit.segments):
            if i:
                lines.append(_GAP)
            lines.extend(unit.source.slice(first, last))
        segments = unit.segments
        label = unit.label
        part = unit.part
        if keep_lines is not None and keep_lines < len(lines):
            dropped = len(lines) - keep_lines
            lines = [*lines[:keep_lines], f"{_GAP} ({dropped} more lines)"]
            segments = _cut_segments(unit.segments, keep_lines)
            label = f"{label}, first {keep_lines} lines"
            part = "truncated"
        text = _block(unit.node.path, segments, label, unit.language, lines)
        why = unit.node.why
        why.score = unit.node.score
        return PackItem(unit.node.path, unit.node.symbol, unit.kind, part, segments, text, self.tokens(text),
                        unit.node.score, why)

    def _truncated(self, unit: _Unit, allowed: int) -> PackItem | None:
        if allowed < self.config.min_partial_tokens:
            return None
        # Fewer lines than this is a signature with no body, which an outline shows for less.
        low, high = _MIN_PARTIAL_LINES, sum(last - first + 1 for first, last in unit.segments) - 1
        best: PackItem | None = None
        while low <= high:
            middle = (low + high) // 2
            item = self._render(unit, keep_lines=middle)
            if item.tokens <= allowed:
                best, low = item, middle + 1
            else:
                high = middle - 1
        return best

    # ------------------------------------------------------------------------------ outlines

    def _outlines(self, placed: list[PackItem], room: int) -> list[PackItem]:
        """One outline per file with packed items, best file first: its other definitions' signatures,
        nearest to the packed code first."""
        by_file: dict[str, list[PackItem]] = {}
        for item in placed:
            by_file.setdefault(item.path, []).append(item)
        outlines: list[PackItem] = []
        for path, items in sorted(by_file.items(), key=lambda kv: -max(i.score for i in kv[1])):
            if room <= 0:
                break
            outline = self._outline(path, items, room)
            if outline is not None:
                outlines.append(outline)
                room -= outline.tokens
        return outlines

    def _refresh_outlines(self, placed: list[PackItem], remaining: int) -> int:
        """Drop from each outline the definitions that got packed whole after it was made."""
        kept: list[PackItem] = []
        for item in placed:
            if item.kind != "outline":
                kept.append(item)
                continue
            code = [p for p in placed if p.path == item.path and p.kind != "outline"]
            fresh = self._outline(item.path, code, item.tokens)
            remaining += item.tokens - (fresh.tokens if fresh is not None else 0)
            if fresh is not None:
                kept.append(fresh)
        placed[:] = kept
        return remaining

    def _outline(self, path: str, items: list[PackItem], room: int) -> PackItem | None:
        source = self.reader.sources.get(path)
        if source is None:
            return None
        entries = self._outline_entries(path, source)
        shown = [seg for item in items for seg in item.segments]
        packed = {item.symbol for item in items}
        entries = [e for e in entries if e[2] not in packed and not any(a <= e[0] <= b for a, b in shown)]
        if not entries:
            return None

        def distance(entry: tuple[int, int, str, str]) -> int:
            return min(min(abs(entry[0] - a), abs(entry[0] - b)) for a, b in shown)

        chosen = sorted(entries, key=distance)[: self.config.outline_max_lines]
        best_item = max(items, key=lambda i: i.score)
        while chosen:
            ordered = sorted(chosen)
            body = [f"{line:>5}| {'    ' * depth}{signature}" for line, depth, _, signature in ordered]
            text = f"{path} (outline: other definitions in this file)\n" + "\n".join(body)
            tokens = self.tokens(text)
            if tokens <= room:
                why = Why(score=best_item.score * 0.5,
                          evidence=[Evidence(e.signal, 0.0, e.rank, f"outline beside packed code: {e.detail}")
                                    for e in best_item.why.evidence[:3]],
                          stale=source.stale,
                          notes=["signatures of the file's other definitions, around the packed code"])
                segments = [(ordered[0][0], ordered[-1][0])]
                return PackItem(path, None, "outline", "outline", segments, text, tokens, why.score, why)
            if len(chosen) <= 3:
                return None
            chosen = chosen[: max(3, len(chosen) * 2 // 3)]
        return None

    def _outline_entries(self, path: str, source: SourceText) -> list[tuple[int, int, str, str]]:
        """(line, depth, qname, signature) of top-level definitions and class members."""
        if source.stale:
            symbols: dict[str, Symbol] = self.reader.sources.fresh_symbols(source)
            entries = []
            for symbol in symbols.values():
                parent = symbols.get(symbol.parent) if symbol.parent else None
                if parent is None and symbol.parent is None:
                    entries.append((symbol.start_line, 0, symbol.qname, _one_line(symbol.signature)))
                elif parent is not None and parent.kind == CLASS and parent.parent is None:
                    entries.append((symbol.start_line, 1, symbol.qname, _one_line(symbol.signature)))
            return entries
        graph = self.reader.graph
        entries = []
        for start, _, qname in self.reader.names.symbols_in(path):
            data = graph.nodes[qname]
            parent = data.get("parent")
            if parent is None:
                entries.append((start, 0, qname, _one_line(data.get("signature") or data.get("name") or qname)))
            elif graph.nodes[parent].get("kind") == CLASS and graph.nodes[parent].get("parent") is None:
                entries.append((start, 1, qname, _one_line(data.get("signature") or data.get("name") or qname)))
        return entries

    # ------------------------------------------------------------------------------ assembly

    def _assemble(self, query: str, budget: int, placed: list[PackItem], notes: list[str]) -> Pack:
        """Group by file (best file first), in line order, outlines last; then make sure the whole text,
        counted in one piece, fits: separators or a tokenizer that merges across pieces can add a little."""
        items = list(placed)
        while True:
            ordered = _ordered(items)
            text = "\n\n".join(item.text for item in ordered)
            total = self.tokens(text)
            if total <= budget or not items:
                return Pack(query, budget, ordered, text, total if items else 0, notes)
            items.remove(min(items, key=lambda i: (i.kind != "outline", i.score)))


def _ordered(items: list[PackItem]) -> list[PackItem]:
    file_score: dict[str, float] = {}
    for item in items:
        file_score[item.path] = max(file_score.get(item.path, 0.0), item.score if item.kind != "outline" else 0.0)
    return sorted(items, key=lambda i: (-file_score[i.path], i.path, i.kind == "outline", i.start_line))


def _block(path: str, segments: list[tuple[int, int]], label: str, language: str | None, lines: list[str]) -> str:
    first, last = segments[0][0], segments[-1][1]
    fence = "```"
    if any("```" in line for line in lines):
        while any(line.lstrip().startswith(fence) for line in lines):
            fence += "`"
    tag = _FENCE_LANGUAGE.get(language or "", language or "")
    return f"{path}:{first}-{last} ({label})\n{fence}{tag}\n" + "\n".join(lines) + f"\n{fence}"


def _extend_up(lines: list[str], start: int, language: str | None) -> int:
    """Include the decorators and doc comments written directly above a definition."""
    prefixes = _LEADING.get(language or "", _DEFAULT_LEADING)
    first = max(1, min(start, len(lines)))
    indent = _indent(lines[first - 1]) if lines else 0
    while first > 1:
        above = lines[first - 2]
        stripped = above.lstrip()
        if not stripped.startswith(prefixes) or _indent(above) not in (indent, indent + 1):
            break
        first -= 1
    return first


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _module_lines(lines: list[str], first: int, last: int, spans: list[tuple[int, int]],
                  language: str | None) -> list[tuple[int, int]]:
    """Runs of lines in [first, last] outside every top-level definition, without blank edges."""
    inside = bytearray(len(lines) + 2)
    for start, end in spans:
        start = _extend_up(lines, start, language)
        inside[start : end + 1] = b"\x01" * (end + 1 - start)
    segments: list[tuple[int, int]] = []
    run_start: int | None = None
    for n in range(first, last + 2):
        keep = n <= last and not inside[n]
        if keep and run_start is None:
            run_start = n
        elif not keep and run_start is not None:
            a, b = run_start, n - 1
            while a <= b and not lines[a - 1].strip():
                a += 1
            while b >= a and not lines[b - 1].strip():
                b -= 1
            if a <= b:
                segments.append((a, b))
            run_start = None
    return segments


def _cut_segments(segments: list[tuple[int, int]], keep_lines: int) -> list[tuple[int, int]]:
    """The segments covering the first ``keep_lines`` rendered lines (gap markers count as lines)."""
    kept: list[tuple[int, int]] = []
    left = keep_lines
    for i, (first, last) in enumerate(segments):
        if i:
            left -= 1  # the gap marker
        if left <= 0:
            break
        take = min(left, last - first + 1)
        kept.append((first, first + take - 1))
        left -= take
    return kept or [segments[0]]


def _surely_too_big(unit: _Unit, room: int) -> bool:
    """A cheap lower bound says the unit exceeds ``room`` twice over. Tokenizers cut code into pieces of
    about 2-3 visible characters (whole words for a word counter: 6-8); four per token underestimates."""
    visible = sum(len(line) - line.count(" ") for first, last in unit.segments for line in unit.source.slice(first, last))
    return visible / 4 > 2 * room


def _contains(outer: list[tuple[int, int]], inner: list[tuple[int, int]]) -> bool:
    return all(any(a <= s and e <= b for a, b in outer) for s, e in inner)


def _overlaps(left: list[tuple[int, int]], right: list[tuple[int, int]]) -> bool:
    return any(a <= e and s <= b for a, b in left for s, e in right)


def _covering(unit: _Unit, placed: list[PackItem]) -> PackItem | None:
    for item in placed:
        if item.path == unit.node.path and item.kind != "outline" and _contains(item.segments, unit.segments):
            return item
    return None


def _one_line(signature: str) -> str:
    return " ".join(signature.split())

"""Cuts a file into the chunks we embed and index lexically.

Parsed files are cut by symbol: one chunk per function or method, one per class *header* (the class with
its methods' bodies left out), one for the module's top-level code. Other files are cut into text chunks on
blank lines and Markdown headings. Anything longer than the token budget is split on line boundaries.

A chunk's text starts with a header naming the symbol and never contains the file path, so that renaming
a file leaves every chunk text (and so every cached embedding) unchanged.
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from .languages import language_for_path
from .model import CLASS, Chunk, FileExtract, Symbol, as_written, split_qualified_name

CountTokens = Callable[[str], int]

MODULE_CHUNK = "module"
TEXT_CHUNK = "text"

# Lines directly above a definition that belong to it: decorators, attributes and doc comments.
_LEADING_PREFIXES: dict[str, tuple[str, ...]] = {
    "python": ("@", "#"),
    "rust": ("#[", "//", "/*", "*"),
    # "#" starts preprocessor lines in C/C++, which belong to the file, not the next function.
    "c": ("//", "/*", "*"),
    "cpp": ("//", "/*", "*", "["),
    "csharp": ("[", "//", "/*", "*"),  # [HttpGet] attributes and /// doc comments
    "php": ("#[", "//", "/*", "*"),
    "ruby": ("#",),
    "bash": ("#",),
    "elixir": ("#", "@"),  # @doc "...", @spec and @impl lines belong to the def below them
    "lua": ("--",),
    "haskell": ("--",),  # -- | Haddock comments
}
_DEFAULT_LEADING_PREFIXES = ("@", "//", "/*", "*")

_HEADER_COMMENT = {"python": "#"}
_DEFAULT_HEADER_COMMENT = "//"

_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx", ".mkd"}
_MARKDOWN_HEADING = re.compile(r"#{1,6}\s")
_MARKDOWN_FENCE = re.compile(r"\s{0,3}(```|~~~)")


def estimate_tokens(text: str) -> int:
    """A cheap token estimate for code (about 3.2 characters per token); used when no tokenizer is given."""
    return math.ceil(len(text) / 3.2)


def chunk_id(path: str, symbol: str | None, part: int, start_line: int, repeat: int = 1) -> str:
    """Deterministic; ``repeat`` > 1 tells apart chunks of one file that agree on everything else."""
    key = f"{path}\0{symbol or ''}\0{part}\0{start_line}"
    if repeat > 1:
        key += f"\0{repeat}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:24]


def chunk_file(
    path: str,
    text: str,
    extract: FileExtract | None,
    max_tokens: int = 256,
    count_tokens: CountTokens | None = None,
) -> list[Chunk]:
    """Cut one file into chunks that each fit ``max_tokens`` as measured by ``count_tokens``."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    builder = _ChunkBuilder(path, lines, max_tokens, count_tokens or estimate_tokens)
    if extract is not None:
        builder.language = extract.language
        _chunk_by_symbol(builder, extract)
    else:
        builder.language = _text_language(path)
        _chunk_text(builder, markdown=builder.language == "markdown")
    return builder.chunks


def _text_language(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in _MARKDOWN_SUFFIXES:
        return "markdown"
    return language_for_path(path) or "text"


@dataclass
class _ChunkBuilder:
    """Turns (header, lines) units into chunks, splitting those over the budget."""

    path: str
    lines: list[str]  # the file's lines; line n is lines[n - 1]
    max_tokens: int
    count: CountTokens
    language: str = "text"

    def __post_init__(self) -> None:
        self.chunks: list[Chunk] = []
        self._ids: set[str] = set()
        # Tokenizers that add special tokens ([CLS], [SEP]) count them once per text, not once per line.
        self.overhead = self.count("")

    def emit(
        self,
        header: str,
        line_numbers: list[int],
        symbol: str | None,
        kind: str,
        continuation_header: str | None = None,
    ) -> None:
        """Add the chunk(s) for one unit. Parts after the first carry ``continuation_header`` (default:
        ``header``) so that every part still says what it belongs to."""
        body_lines = _trim_blank(line_numbers, self.lines)
        if not body_lines:
            return
        if body_lines[-1] - body_lines[0] + 1 != len(body_lines):
            # Cutting definitions out of a module or class leaves runs of blank lines behind.
            body_lines = _collapse_blank_runs(body_lines, self.lines)
        text = self._text(header, [self.lines[n - 1] for n in body_lines])
        if self.count(text) <= self.max_tokens:
            self._add(symbol, kind, 0, body_lines[0], body_lines[-1], text)
            return
        if continuation_header is None:
            continuation_header = header
        widest = max(header, continuation_header, key=self.cost)
        for part, (first, last, piece_lines) in enumerate(self._split(widest, body_lines)):
            part_header = header if part == 0 else continuation_header
            self._add(symbol, kind, part, first, last, self._text(part_header, piece_lines))

    def _text(self, header: str, body: list[str]) -> str:
        return "\n".join([header, *body]) if header else "\n".join(body)

    def _add(self, symbol: str | None, kind: str, part: int, first: int, last: int, text: str) -> None:
        identifier = chunk_id(self.path, symbol, part, first)
        repeat = 1
        while identifier in self._ids:
            # Extractors key every definition apart (model.DistinctNames); should two chunks still meet, the
            # second must not overwrite the first in the store.
            repeat += 1
            identifier = chunk_id(self.path, symbol, part, first, repeat)
        self._ids.add(identifier)
        self.chunks.append(
            Chunk(
                id=identifier,
                path=self.path,
                symbol=symbol,
                kind=kind,
                language=self.language,
                start_line=first,
                end_line=last,
                text=text,
                part=part,
            )
        )

    def _split(self, header: str, line_numbers: list[int]) -> list[tuple[int, int, list[str]]]:
        """Packs lines into pieces under the budget: (first line, last line, piece lines). Pieces aim at an
        even share of the total, so a long body does not end in a one-line scrap."""
        header_cost = self.cost(header) if header else 0
        budget = max(1, self.max_tokens - self.overhead - header_cost)
        costs = [self.cost(self.lines[n - 1]) for n in line_numbers]
        target = sum(costs) / max(1, math.ceil(sum(costs) / budget))
        pieces: list[tuple[int, int, list[str]]] = []
        current: list[tuple[int, str]] = []
        current_cost = 0

        def flush() -> None:
            nonlocal current, current_cost
            while current:
                taken = self._fit(header, current)
                piece = current[:taken]
                if any(line.strip() for _, line in piece):
                    kept = _trim_blank_pairs(piece)
                    pieces.append((kept[0][0], kept[-1][0], [line for _, line in kept]))
                current = current[taken:]
            current_cost = 0

        for number, cost in zip(line_numbers, costs):
            line = self.lines[number - 1]
            if cost > budget:
                flush()
                for fragment in self._split_line(header, line, budget):
                    current = [(number, fragment)]
                    flush()
                continue
            if current and (current_cost + cost > budget or current_cost >= target):
                flush()
            current.append((number, line))
            current_cost += cost
        flush()
        return pieces

    def _fit(self, header: str, piece: list[tuple[int, str]]) -> int:
        """How many leading lines of ``piece`` fit once measured together (per-line costs only estimate)."""
        taken = len(piece)
        while taken > 1 and self.count(self._text(header, [line for _, line in piece[:taken]])) > self.max_tokens:
            taken -= 1
        return taken

    def _split_line(self, header: str, line: str, budget: int) -> list[str]:
        """Cuts one over-long line (minified code, a huge literal) into character slices that fit."""
        fragments: list[str] = []
        rest = line
        while rest:
            size = max(1, int(len(rest) * budget / max(1, self.cost(rest))))
            while size > 1 and self.count(self._text(header, [rest[:size]])) > self.max_tokens:
                size = max(1, int(size * 0.8))
            fragments.append(rest[:size])
            rest = rest[size:]
        return fragments

    def cost(self, line: str) -> int:
        """Tokens that ``line`` adds to a text it is joined into."""
        return max(0, self.count(line + "\n") - self.overhead)


def _trim_blank(line_numbers: list[int], lines: list[str]) -> list[int]:
    start, end = 0, len(line_numbers)
    while start < end and not lines[line_numbers[start] - 1].strip():
        start += 1
    while end > start and not lines[line_numbers[end - 1] - 1].strip():
        end -= 1
    return line_numbers[start:end]


def _collapse_blank_runs(line_numbers: list[int], lines: list[str]) -> list[int]:
    kept: list[int] = []
    previous_blank = False
    for n in line_numbers:
        blank = not lines[n - 1].strip()
        if not (blank and previous_blank):
            kept.append(n)
        previous_blank = blank
    return kept


def _trim_blank_pairs(piece: list[tuple[int, str]]) -> list[tuple[int, str]]:
    start, end = 0, len(piece)
    while start < end and not piece[start][1].strip():
        start += 1
    while end > start and not piece[end - 1][1].strip():
        end -= 1
    return piece[start:end]


# --- parsed files -----------------------------------------------------------------------------------------


def _chunk_by_symbol(builder: _ChunkBuilder, extract: FileExtract) -> None:
    lines = builder.lines
    line_total = len(lines)
    comment = _HEADER_COMMENT.get(extract.language, _DEFAULT_HEADER_COMMENT)
    chunked = _chunked_symbols(extract.symbols)
    ends = sorted(s.end_line for s in chunked)
    spans = {id(s): _span(s, lines, extract.language, _end_before(ends, s.start_line)) for s in chunked}
    children: dict[str, list[Symbol]] = {}
    for symbol in chunked:
        if symbol.parent is not None:
            children.setdefault(symbol.parent, []).append(symbol)

    outside_definitions = bytearray(b"\x01") * (line_total + 1)
    for first, last in spans.values():
        outside_definitions[first : last + 1] = bytes(last + 1 - first)

    module_lines = [n for n in range(1, line_total + 1) if outside_definitions[n]]
    builder.emit(f"{comment} module top-level code", module_lines, None, MODULE_CHUNK)

    for symbol in chunked:
        # The name as the source writes it: a second overload's text does not carry its key's ``~2``.
        dotted = as_written(split_qualified_name(symbol.qname)[1]) or symbol.name
        header = f"{comment} {symbol.kind} {dotted}"
        first, last = spans[id(symbol)]
        if symbol.kind == CLASS:
            members = [s for s in children.get(symbol.qname, []) if first <= s.start_line <= last]
            body = _class_header_lines(first, last, members, spans, lines)
        else:
            body = list(range(first, last + 1))
        builder.emit(header, body, symbol.qname, symbol.kind)


def _chunked_symbols(symbols: list[Symbol]) -> list[Symbol]:
    """Top-level definitions and members of chunked classes, in file order.

    Definitions nested inside a function are part of that function's text, so they get no chunk of their own.
    """
    by_qname = {s.qname: s for s in symbols}
    decided: dict[str, bool] = {}

    def is_chunked(symbol: Symbol, depth: int = 0) -> bool:
        if symbol.qname in decided:
            return decided[symbol.qname]
        parent = by_qname.get(symbol.parent) if symbol.parent else None
        if parent is None or parent is symbol or depth > 100:
            result = True
        else:
            result = parent.kind == CLASS and is_chunked(parent, depth + 1)
        decided[symbol.qname] = result
        return result

    chosen: dict[tuple[str, int], Symbol] = {}
    for symbol in symbols:
        # A symbol reported twice would give two chunks the same id.
        if symbol.end_line >= symbol.start_line >= 1 and is_chunked(symbol):
            chosen.setdefault((symbol.qname, symbol.start_line), symbol)
    return sorted(chosen.values(), key=lambda s: (s.start_line, -s.end_line))


def _end_before(ends: list[int], line: int) -> int:
    """The last line of the closest definition that ends above ``line`` (0 when none does)."""
    index = bisect_left(ends, line)
    return ends[index - 1] if index else 0


def _span(symbol: Symbol, lines: list[str], language: str, floor: int) -> tuple[int, int]:
    """The symbol's lines, extended upward over the decorators and comments that introduce it, but never
    into the definition that ends at line ``floor``: a one-line ``@Override`` method or ``#[inline] fn``
    above is a definition of its own, not an annotation of this one."""
    prefixes = _LEADING_PREFIXES.get(language, _DEFAULT_LEADING_PREFIXES)
    last = min(symbol.end_line, len(lines))
    first = min(symbol.start_line, last)
    indent = _indent(lines[first - 1])
    while first > floor + 1:
        above = lines[first - 2]
        stripped = above.lstrip()
        # Block-comment continuation lines (" * text", " */") sit one column right of the opener.
        shift = _indent(above) - indent
        if not stripped.startswith(prefixes) or not (shift == 0 or (shift == 1 and stripped.startswith("*"))):
            break
        first -= 1
    return first, last


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _class_header_lines(
    first: int,
    last: int,
    members: list[Symbol],
    spans: dict[int, tuple[int, int]],
    lines: list[str],
) -> list[int]:
    """The class's own lines, with each member reduced to its decorators and signature."""
    keep = bytearray(b"\x01") * (last + 1)
    for member in members:
        member_first, member_last = spans[id(member)]
        signature_last = min(member_last, _signature_end(member, lines))
        for n in range(max(first, signature_last + 1), min(last, member_last) + 1):
            keep[n] = 0
    return [n for n in range(first, last + 1) if keep[n]]


def _signature_end(symbol: Symbol, lines: list[str]) -> int:
    """The last line of the symbol's signature. Extractors hand the signature over with whitespace
    collapsed and decorators left out, while ``start_line`` may point at the first decorator."""
    last = min(symbol.end_line, len(lines))
    wanted = "".join(symbol.signature.split())
    if not wanted:
        return symbol.start_line
    first = symbol.start_line
    seen = 0
    for n in range(symbol.start_line, last + 1):
        text = "".join(lines[n - 1].split())
        # Usually the signature starts on this line; Rust's starts with attributes written above the span.
        offset = wanted.find(text[:12]) if text else -1
        if offset == 0 or (offset > 0 and n == symbol.start_line):
            first, seen = n, offset
            break
    for n in range(first, last + 1):
        seen += len("".join(lines[n - 1].split()))
        if seen >= len(wanted):
            return n
    return first


# --- plain text ------------------------------------------------------------------------------------------


@dataclass
class _Block:
    first: int
    last: int
    is_heading: bool
    heading: str | None  # the Markdown heading in force at this block


def _chunk_text(builder: _ChunkBuilder, markdown: bool) -> None:
    blocks = _text_blocks(builder.lines, markdown)
    budget = builder.max_tokens - builder.overhead
    group: list[_Block] = []
    group_cost = 0

    def flush() -> None:
        nonlocal group, group_cost
        if group:
            first, last = group[0].first, group[-1].last
            # A chunk that starts at its heading needs no header; one that starts inside a section gets it.
            heading = group[0].heading or ""
            header = "" if group[0].is_heading else heading
            builder.emit(header, list(range(first, last + 1)), None, TEXT_CHUNK, continuation_header=heading)
        group, group_cost = [], 0

    for block in blocks:
        cost = builder.cost("\n".join(builder.lines[block.first - 1 : block.last]))
        starts_section = all(b.is_heading for b in group)  # a heading stays with the text under it
        if group and (block.is_heading or (group_cost + cost > budget and not starts_section)):
            flush()
        if not group and block.heading and not block.is_heading:
            group_cost = builder.cost(block.heading)
        group.append(block)
        group_cost += cost
    flush()


def _text_blocks(lines: list[str], markdown: bool) -> list[_Block]:
    """Runs of non-blank lines; in Markdown a heading also starts a block and fenced code stays whole."""
    blocks: list[_Block] = []
    heading: str | None = None
    start: int | None = None
    start_is_heading = False
    in_fence = False
    for n, line in enumerate(lines, start=1):
        is_heading = markdown and not in_fence and _MARKDOWN_HEADING.match(line) is not None
        if markdown and _MARKDOWN_FENCE.match(line):
            in_fence = not in_fence
        blank = not line.strip() and not in_fence
        if start is not None and (blank or is_heading):
            blocks.append(_Block(start, n - 1, start_is_heading, heading))
            start = None
        if is_heading:
            heading = line.strip()
        if start is None and not blank:
            start, start_is_heading = n, is_heading
    if start is not None:
        blocks.append(_Block(start, len(lines), start_is_heading, heading))
    return blocks

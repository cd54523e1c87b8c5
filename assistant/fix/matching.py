"""Finding a SEARCH block in a file: exactly, then tolerant of whitespace, never guessing between two places.

Texts here are lists of lines without line endings. A tolerant match ignores trailing whitespace, then also
indentation; when only indentation differed, the replacement is re-indented by the same amount so a model
that dropped a method's indentation still produces valid code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Match:
    start: int  # index of the first matched line
    end: int  # one past the last matched line
    how: str  # exact | trailing-whitespace | indentation
    indent_fix: tuple[str, str] = ("", "")  # (what the model wrote, what the file has) as a leading-space prefix


class NoMatch(Exception):
    def __init__(self, nearby: list[tuple[int, str]]):
        super().__init__("no match")
        self.nearby = nearby  # (1-based line number, line) of the closest place in the file


class Ambiguous(Exception):
    def __init__(self, lines: list[int]):
        super().__init__("ambiguous")
        self.lines = lines  # 1-based first line of every place the block matches


def find_block(file_lines: list[str], search: list[str]) -> Match:
    search = _trim_blank_edges(search)
    if not search:
        raise ValueError("empty search block")
    for how, key in (("exact", _same), ("trailing-whitespace", str.rstrip), ("indentation", str.strip)):
        starts = _starts(file_lines, search, key)
        if len(starts) > 1:
            raise Ambiguous([s + 1 for s in starts])
        if starts:
            start = starts[0]
            fix = _indent_fix(file_lines[start:start + len(search)], search) if how == "indentation" else ("", "")
            return Match(start, start + len(search), how, fix)
    raise NoMatch(_nearby(file_lines, search))


def reindent(lines: list[str], fix: tuple[str, str]) -> list[str]:
    """Shift ``lines`` from the model's indentation to the file's (one prefix swap per line)."""
    wrote, has = fix
    if wrote == has:
        return lines
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
        elif line.startswith(wrote):
            out.append(has + line[len(wrote):])
        else:
            out.append(line)
    return out


def _same(line: str) -> str:
    return line


def _starts(file_lines: list[str], search: list[str], key) -> list[int]:
    wanted = [key(line) for line in search]
    keyed = [key(line) for line in file_lines]
    first = wanted[0]
    size = len(wanted)
    return [i for i in range(len(keyed) - size + 1) if keyed[i] == first and keyed[i:i + size] == wanted]


def _trim_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _indent_fix(found: list[str], search: list[str]) -> tuple[str, str]:
    for have, wrote in zip(found, search):
        if have.strip():
            return wrote[: len(wrote) - len(wrote.lstrip())], have[: len(have) - len(have.lstrip())]
    return "", ""


def _nearby(file_lines: list[str], search: list[str], context: int = 2) -> list[tuple[int, str]]:
    """The window of the file most like the block (by stripped lines), with a little context either side."""
    if not file_lines:
        return []
    size = len(search)
    wanted = "\n".join(line.strip() for line in search)
    stripped = [line.strip() for line in file_lines]
    anchors = {line.strip() for line in search if line.strip()}
    hits = [i for i, line in enumerate(stripped) if line in anchors]
    starts = sorted({s for hit in hits for s in range(max(0, hit - size + 1), hit + 1)}) or range(len(file_lines))
    best, best_ratio = 0, -1.0
    for start in list(starts)[:600]:
        window = "\n".join(stripped[start:start + size])
        ratio = difflib.SequenceMatcher(None, wanted, window, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = start, ratio
    first = max(0, best - context)
    last = min(len(file_lines), best + size + context)
    return [(i + 1, file_lines[i]) for i in range(first, last)]

"""The two edit formats a local model is asked for, and a strict parser for its replies.

``search_replace`` (asked for first: small, precise edits)::

    path/to/file.py
    <<<<<<< SEARCH
    lines exactly as they are in the file
    =======
    the lines that replace them
    >>>>>>> REPLACE

``whole_file`` (the fallback: models that cannot quote lines exactly still write whole files)::

    path/to/file.py
    ```python
    the complete new content of the file
    ```

Either format is accepted whichever was asked for. Anything malformed — a block cut off, a missing path, a
marker out of place, a file shortened with "rest unchanged" — raises ``FormatError`` with a message written
for the model, so that it can answer again; nothing is applied from a reply that does not parse whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEARCH_REPLACE = "search_replace"
WHOLE_FILE = "whole_file"
FORMATS = (SEARCH_REPLACE, WHOLE_FILE)

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+#.-]*)\s*$")
_PATH_LABEL = re.compile(r"^(?:#+\s*)?(?:(?:file(?:name)?|path)\s*:\s*)?", re.IGNORECASE)
_PATHLIKE = re.compile(r"^[\w.@+~/\\-][\w.@+~/\\ -]*$")
_ELISION = re.compile(
    r"(^\s*(#|//|/\*|\*|--)\s*\.\.\.)|((rest|remainder) of (the )?(file|code|class|module)"
    r"|(code|file|everything) (above|below) (is )?unchanged|unchanged (code|lines)|existing code)",
    re.IGNORECASE,
)


class FormatError(ValueError):
    """The reply cannot be read as edits; the message tells the model exactly what to fix."""


@dataclass(frozen=True)
class SearchReplace:
    path: str
    search: list[str]
    replace: list[str]
    block: int  # 1-based position in the reply, for messages


@dataclass(frozen=True)
class WholeFile:
    path: str
    lines: list[str]
    block: int


Edit = SearchReplace | WholeFile


@dataclass(frozen=True)
class ParsedReply:
    edits: list[Edit]
    edit_format: str  # the format the reply actually used


def parse_reply(text: str, cut_off: bool = False) -> ParsedReply:
    """Edits in ``text``. ``cut_off``: the model stopped at its token limit (said in errors)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    try:
        if any(_SEARCH.match(line) for line in lines):
            return ParsedReply(_search_replace_blocks(lines), SEARCH_REPLACE)
        stray = next((line for line in lines if _DIVIDER.match(line) or _REPLACE.match(line)), None)
        if stray is not None:
            raise FormatError(f"the reply has a {stray.strip()!r} line but no '<<<<<<< SEARCH' line before it")
        edits = _whole_files(lines)
        if not edits:
            raise FormatError("the reply contains no edits: give each change as a SEARCH/REPLACE block "
                              "(or the whole new file in a fenced code block) after the file's path")
        return ParsedReply(edits, WHOLE_FILE)
    except FormatError as exc:
        if cut_off:
            raise FormatError(f"{exc} (the reply stopped at the token limit: make it shorter)") from None
        raise


def looks_like_edits(text: str) -> bool:
    """Whether ``text`` tries to be edits at all: a SEARCH/REPLACE marker, or a fenced block with a file path
    before it. A reply without either (a question back, a refusal, an explanation) is an answer, not a
    malformed edit — `assist edit` shows it as such instead of sending the model back to try again."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if any(_SEARCH.match(line) or _DIVIDER.match(line) or _REPLACE.match(line) for line in lines):
        return True
    return any(_FENCE.match(line) and _path_before(lines, 0, index) for index, line in enumerate(lines))


def _search_replace_blocks(lines: list[str]) -> list[Edit]:
    edits: list[Edit] = []
    index, previous_end, last_path = 0, 0, None
    while index < len(lines):
        line = lines[index]
        if _DIVIDER.match(line) or _REPLACE.match(line):
            raise FormatError(f"line {index + 1} of the reply, {line.strip()!r}, is outside any SEARCH/REPLACE block")
        if not _SEARCH.match(line):
            index += 1
            continue
        number = len(edits) + 1
        path = _path_before(lines, previous_end, index) or last_path
        if path is None:
            raise FormatError(f"SEARCH/REPLACE block {number} has no file path: write the file's path, alone on "
                              f"the line before '<<<<<<< SEARCH'")
        divider = _next(lines, index + 1, _DIVIDER, stop=_SEARCH)
        if divider is None:
            raise FormatError(f"block {number} ({path}) is cut off: after '<<<<<<< SEARCH' there is no '=======' "
                              f"line")
        end = _next(lines, divider + 1, _REPLACE, stop=_SEARCH)
        if end is None:
            raise FormatError(f"block {number} ({path}) is cut off: after '=======' there is no "
                              f"'>>>>>>> REPLACE' line")
        edits.append(SearchReplace(path, _unfence(lines[index + 1:divider]), _unfence(lines[divider + 1:end]),
                                   number))
        last_path, previous_end, index = path, end + 1, end + 1
    return edits


def _next(lines: list[str], start: int, pattern: re.Pattern, stop: re.Pattern) -> int | None:
    for index in range(start, len(lines)):
        if pattern.match(lines[index]):
            return index
        if stop.match(lines[index]):
            return None
    return None


def _path_before(lines: list[str], low: int, index: int) -> str | None:
    """The file path written above a block: the nearest non-blank line that is not a code fence."""
    for candidate in range(index - 1, max(low, index - 4) - 1, -1):
        text = lines[candidate].strip()
        if not text or _FENCE.match(text):
            continue
        return _clean_path(text)
    return None


def _clean_path(text: str) -> str | None:
    previous = None
    while text != previous:  # peel decorations in any order: **`path`**:, "File: path", `path`:
        previous = text
        text = _PATH_LABEL.sub("", text.strip()).strip("*`'\":").strip()
    if not text or not _PATHLIKE.match(text) or ("." not in text and "/" not in text) or "  " in text:
        return None
    if " " in text and not ("/" in text and "." in text.rsplit("/", 1)[-1]):
        return None  # a sentence, not a path
    return text


def _unfence(block: list[str]) -> list[str]:
    """Models sometimes put fences inside a block around the code; those lines are not part of the file."""
    if len(block) >= 2 and _FENCE.match(block[0]) and _FENCE.match(block[-1]):
        return block[1:-1]
    return block


def _whole_files(lines: list[str]) -> list[Edit]:
    edits: list[Edit] = []
    index = 0
    while index < len(lines):
        opened = _FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        fence = opened.group(1)
        close = next((i for i in range(index + 1, len(lines))
                      if lines[i].strip() and set(lines[i].strip()) == {fence[0]} and len(lines[i].strip()) >= len(fence)),
                     None)
        path = _path_before(lines, 0, index)
        if close is None:
            what = f" for {path}" if path else ""
            raise FormatError(f"the code block{what} that opens on line {index + 1} of the reply is never closed "
                              f"with {fence}: the reply was cut off")
        if path is None:
            raise FormatError(f"the code block on line {index + 1} of the reply has no file path: write the path "
                              f"alone on the line before the opening {fence}")
        body = lines[index + 1:close]
        elided = next((line for line in body if _ELISION.search(line)), None)
        if elided is not None:
            raise FormatError(f"the new content of {path} leaves code out ({elided.strip()!r}): a whole-file "
                              f"edit must contain the complete file, every line")
        edits.append(WholeFile(path, body, len(edits) + 1))
        index = close + 1
    return edits

"""Reading a query: the stack-trace frames and the code names it contains. Pure text work, no index needed.

A query can be anything a user pastes: a question, an issue report, a traceback, a list of names. We
pull out what can be matched exactly (frames and names); the rest is left to BM25 and the embedding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# `File "/abs/or/rel/path.py", line 12, in func` — Python's own traceback.
_PYTHON_FRAME = re.compile(r'File "(?P<path>[^"\n]+)", line (?P<line>\d+)(?:, in (?P<name>[\w<>.$]+))?')
# `path/to/file.ext:12`, `file.ext:12:5`, `(File.java:12)`, `at fn (/x/y.js:3:9)`, `\t/x/main.go:12 +0x1d`.
_GENERIC_FRAME = re.compile(
    r"(?:\bat (?P<name>[\w.$<>]+) \()?"
    r"(?<![\w./\\-])(?P<path>(?:[A-Za-z]:)?(?:[\w.~@+-]*[/\\])*[\w.+-]*\w\.[A-Za-z][A-Za-z0-9]{0,5}):(?P<line>\d+)\b"
)
# The indented source line Python prints under a frame.
_SOURCE_LINE = re.compile(r"[^\n]*\n[ \t]+(\S[^\n]*)")
# pytest's short form: `path/file.py:12: in func`.
_PYTEST_NAME = re.compile(r"\s*:? in (?P<name>[\w<>.$]+)")

_BACKTICKED = re.compile(r"`([^`\n]{1,200})`")
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_$][\w$]*(?:(?:\.|::|->|#)[A-Za-z_$][\w$]*)*(?P<call>\(\))?")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")

# Extensions that make a bare word like `orders.py` a file name rather than `orders` `.` `py`.
_FILE_EXTENSIONS = (
    "py", "pyi", "js", "mjs", "cjs", "jsx", "ts", "tsx", "go", "rs", "java", "c", "h", "cc", "cpp", "cxx", "hpp",
    "hh", "rb", "php", "cs", "kt", "swift", "scala", "sh", "md", "rst", "txt", "toml", "yaml", "yml", "json", "cfg",
    "ini", "sql", "html", "css",
)
# `a/b/c.py`, `pkg/sub/`, or a bare `orders.py` with a known extension.
_PATH = re.compile(
    r"(?<![\w/.-])(?:[\w.@~+-]+/)+[\w.@+-]*\w(?:\.[A-Za-z][A-Za-z0-9]{0,5})?"
    r"|(?<![\w/.-])[\w+-]+\.(?:" + "|".join(_FILE_EXTENSIONS) + r")\b"
)

_TEST_WORDS = re.compile(r"\btest|\bspec\b|\bfixture", re.IGNORECASE)


@dataclass(frozen=True)
class Frame:
    """One stack-trace frame. ``depth`` 0 is the innermost frame (where the error was raised)."""

    path: str  # as written, with "/" separators
    line: int
    name: str | None
    depth: int
    text: str  # the frame as it appeared, for explanations
    source: str | None = None  # the source line a Python traceback prints under the frame, stripped


@dataclass(frozen=True)
class Mention:
    """A code name or file path written in the query."""

    text: str
    parts: tuple[str, ...]  # dotted components for names; path components for paths
    is_path: bool
    strong: bool  # unmistakably code (dotted, snake_case, camelCase, backticks, a call, a path)


@dataclass
class ParsedQuery:
    text: str
    frames: list[Frame] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    code_only: bool = False  # the query is nothing but code names
    about_tests: bool = False


def parse_query(text: str) -> ParsedQuery:
    frames, rest = _frames(text)
    words = text.split()
    # A one-word query is a name even when it reads as an English word ("reserve").
    mentions = _mentions(rest, accept_plain=len(words) == 1 and not frames)
    code_only = bool(mentions) and not frames and (
        len(words) == 1 or (len(words) <= 6 and all(_is_strong_word(w) for w in words))
    )
    if code_only:
        # "reserve" alone is a name, not a word: promote weak mentions of a names-only query.
        mentions = [Mention(m.text, m.parts, m.is_path, True) for m in mentions]
    # Test files in a traceback do not make the question one about tests.
    return ParsedQuery(text, frames, mentions, code_only, bool(_TEST_WORDS.search(rest)))


def _frames(text: str) -> tuple[list[Frame], str]:
    """Frames in innermost-first order, and the text with the frames blanked out."""
    # (offset, path, line, name, text, python order, source line)
    found: list[tuple[int, str, int, str | None, str, bool, str | None]] = []
    blanked = list(text)
    for match in _PYTHON_FRAME.finditer(text):
        end = match.end()
        # The frame's source line belongs to the frame: what it calls is found through the frame, and
        # counting its names again as mentions would rank the callee above the frame's own function.
        source = _SOURCE_LINE.match(text, end)
        source_text = None
        if source is not None and not _PYTHON_FRAME.match(text, source.start(1)):
            end = source.end()
            source_text = source[1].strip()
        found.append((match.start(), match["path"], int(match["line"]), match["name"], match[0], True, source_text))
        blanked[match.start() : end] = " " * (end - match.start())
    rest = "".join(blanked)
    for match in _GENERIC_FRAME.finditer(rest):
        path = match["path"]
        name = match["name"]
        tail = _PYTEST_NAME.match(rest, match.end())
        if name is None and tail is not None:
            name = tail["name"]
        # Python tools print the outermost frame first; most other runtimes print the innermost first.
        python_order = path.endswith((".py", ".pyi"))
        found.append((match.start(), path, int(match["line"]), name, match[0].strip(), python_order, None))
        end = tail.end() if tail is not None else match.end()
        blanked[match.start() : end] = " " * (end - match.start())
    found.sort()
    python = [f for f in found if f[5]]
    other = [f for f in found if not f[5]]
    ordered = list(reversed(python)) + other
    frames: list[Frame] = []
    seen: set[tuple[str, int]] = set()
    for _, path, line, name, frame_text, _, source_text in ordered:
        path = path.replace("\\", "/")
        if (path, line) in seen:
            continue
        seen.add((path, line))
        if name is not None:
            name = name.rpartition(".")[2] if not name.startswith("<") else None
        frames.append(Frame(path, line, name, len(frames), frame_text, source_text))
    return frames, "".join(blanked)


def _mentions(text: str, accept_plain: bool = False) -> list[Mention]:
    mentions: dict[str, Mention] = {}

    def add(mention: Mention) -> None:
        old = mentions.get(mention.text)
        if old is None or (mention.strong and not old.strong):
            mentions[mention.text] = mention

    for match in _BACKTICKED.finditer(text):
        for inner in _mentions(match[1]):
            add(Mention(inner.text, inner.parts, inner.is_path, True))
    for match in _PATH.finditer(text):
        path = match[0].strip("./") if not match[0].startswith("/") else match[0].lstrip("/")
        parts = tuple(p for p in path.split("/") if p and p not in (".", ".."))
        if parts and (len(parts) > 1 or "." in parts[-1]):
            add(Mention("/".join(parts), parts, True, True))
    without_paths = _PATH.sub(" ", text)
    for match in _IDENTIFIER.finditer(without_paths):
        written = match[0].removesuffix("()")
        parts = tuple(p for p in re.split(r"\.|::|->|#", written) if p)
        if not parts or len(parts[-1]) < 2 and len(parts) == 1:
            continue
        strong = bool(match["call"]) or len(parts) > 1 or _looks_like_code(parts[0])
        weak = accept_plain or (parts[0][:1].isupper() and len(parts[0]) > 2)
        if strong or weak:
            add(Mention(".".join(parts), parts, False, strong))
    return list(mentions.values())


def _looks_like_code(word: str) -> bool:
    return "_" in word.strip("_") or word.startswith("_") or _CAMEL.search(word) is not None or "$" in word


def _is_strong_word(word: str) -> bool:
    word = word.strip("`'\",;")
    if not word:
        return True
    if _PATH.fullmatch(word):
        return True
    match = _IDENTIFIER.fullmatch(word)
    if match is None:
        return False
    written = word.removesuffix("()")
    return bool(match["call"]) or any(sep in written for sep in (".", "::", "->", "#")) or _looks_like_code(written)

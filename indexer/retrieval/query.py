"""Reading a query: stack-trace frames, code names, code blocks and quoted messages. Pure text work, no index needed.

A query can be anything a user pastes: a question, an issue report, a traceback, a list of names. We
pull out what can be matched exactly — frames, names (told apart by where they stand: prose or a code
block), and messages the code may hold verbatim as string literals (``ValueError: x must be y``, a
quoted warning, an output line in a code block); the rest is left to BM25 and the embedding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .traces import trace_frames

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
    "hh", "rb", "rake", "php", "cs", "kt", "kts", "swift", "scala", "sh", "bash", "lua", "ex", "exs", "hs", "dart",
    "zig", "md", "rst", "txt", "toml", "yaml", "yml", "json", "cfg", "ini", "sql", "html", "css", "xml", "gradle",
    "lock", "properties",
)
# `a/b/c.py`, `pkg/sub/`, or a bare `orders.py` with a known extension.
_PATH = re.compile(
    r"(?<![\w/.-])(?:[\w.@~+-]+/)+[\w.@+-]*\w(?:\.[A-Za-z][A-Za-z0-9]{0,5})?"
    r"|(?<![\w/.-])[\w+-]+\.(?:" + "|".join(_FILE_EXTENSIONS) + r")\b"
)

# A fenced code block (``` or ~~~, with or without a language tag) or a run of `>>> ` / `... ` lines.
_FENCED = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n(?P<body>.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_DOCTEST = re.compile(r"(?:^[ \t]*(?:>>>|\.\.\.)[ \t][^\n]*\n?)+", re.MULTILINE)
# `name(` with arguments: inside a code block that is a call, however plain the name.
_CALL = re.compile(r"(?<![\w.$])([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*\(")
# `from a.b import c, d` / `import a.b as c`.
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(?P<module>[\w.]+)[ \t]+import[ \t]+(?P<names>[\w, \t()]+)"
                     r"|import[ \t]+(?P<plain>[\w.]+))", re.MULTILINE)
_KEYWORDS = frozenset("""
    if elif else for while with return yield print assert raise def class lambda not and or in is del pass
    try except finally import from as global nonlocal async await len str int float dict list set tuple type
    isinstance range open super repr bool bytes getattr setattr hasattr sorted map filter zip enumerate
    """.split())
# `SomeError: message`, `Warning: message`, `error: message`, a logging line `ERROR:name:message`.
_MESSAGE_LINE = re.compile(
    r"^[ \t>]*(?:[\w.]*(?:Error|Exception|Warning|Exit|Interrupt)"
    r"|error|warning|Error|Warning|ERROR|WARNING|CRITICAL|FATAL)"
    r"(?::[\w.]+)?:[ \t]+(?P<message>\S[^\n]*)$", re.MULTILINE)
_DOUBLE_QUOTED = re.compile(r'(?<![\w"])"(?P<text>[^"\n]{6,200})"(?![\w"])')
_SINGLE_QUOTED = re.compile(r"(?<![\w'])'(?P<text>[^'\n]{6,200})'(?![\w'])")
_CODE_LOOKING = re.compile(r"[=(){}\[\];]|^\s*(?:>>>|\.\.\.|\$|#|%|def |class |import |from |return )")
_MAX_LITERALS = 8

_TEST_WORDS = re.compile(r"\btest|\bspec\b|\bfixture", re.IGNORECASE)
# "TS" for TypeScript, but not the extension of a file the title names ("crash in router.ts").
_TYPE_WORDS = re.compile(r"\b(?:typ(?:e|es|ed|ing|ings)|typescript|(?<!\.)ts|declarations?|definitions?)\b",
                         re.IGNORECASE)


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
    in_code: bool = False  # written in a code block (the user's reproduction), not in prose


@dataclass
class ParsedQuery:
    text: str
    frames: list[Frame] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    code_only: bool = False  # the query is nothing but code names
    about_tests: bool = False
    about_types: bool = False  # TypeScript's declaration files (.d.ts) are what such a question may be about
    literals: list[str] = field(default_factory=list)  # messages the code may hold verbatim, longest first
    scopes: list[tuple[str, ...]] = field(default_factory=list)  # the title's "net/http: ..." part, as path words


# A title that names the part of the code it is about before a colon: Go's and the Linux kernel's
# "net/http: ...", "automata/nfa: ...", conventional commits' "fix(parser): ..." and "feat(help,derive)!: ...".
# The prefix form is lower case, as package names are: "Error: ..." or "TypeError: ..." starts a message.
_SCOPE = re.compile(r"^[ \t]*(?:[A-Za-z]+\((?P<scope>[\w.@/ ,-]{1,80})\)!?"
                    r"|(?P<prefix>[a-z0-9_.@/-]+(?:, ?[a-z0-9_.@/-]+)*)):[ \t]+\S")
# What compilers, loggers and runtimes start a line with: "error: could not compile", "panic: runtime error".
_MESSAGE_WORDS = re.compile(r"error|warning|warn|panic|fatal|info|debug|note|hint|help|trace|exception")

# The vocabulary of reports and commit messages ("Fix ...", "fix bug on ...", "Fixes #12"): as a plain word it
# says the text is a report, not which code is meant, yet it matches every `fix_position` and `BugReport`.
_REPORT_WORDS = re.compile(r"(?<![\w`'\"])(?:fix|fixe[sd]|fixing|bug|bugs|bugfix|issue|issues)(?![\w`'\"])",
                           re.IGNORECASE)


def without_report_words(text: str) -> str:
    """``text`` for word search: report vocabulary written as plain prose left out; inside backticks or
    quotes (`` `fix` ``, "fix") it stays, since there it names something."""
    kept: list[str] = []
    last = 0
    for match in _BACKTICKED.finditer(text):
        kept.append(_REPORT_WORDS.sub(" ", text[last:match.start()]))
        kept.append(match[0])
        last = match.end()
    kept.append(_REPORT_WORDS.sub(" ", text[last:]))
    searched = "".join(kept)
    return searched if re.search(r"\w", searched) else text  # "fix bug": nothing else to search for


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
    blocks = code_blocks(rest)
    if blocks and not code_only:
        mentions = _with_code_mentions(mentions, blocks)
    # Whether it is about tests or types is read from the first line (a one-line question, a report's title):
    # further down a report, tests are how the problem was found or checked ("Added a test", a reproduction's
    # ``def test_...``), not where it lives. Test files in a traceback never count (``rest`` has no frames).
    first_line = rest.strip().split("\n", 1)[0]
    return ParsedQuery(text, frames, mentions, code_only, about_tests=bool(_TEST_WORDS.search(first_line)),
                       about_types=bool(_TYPE_WORDS.search(first_line)), literals=literals(rest, blocks),
                       scopes=title_scopes(first_line))


def title_scopes(title: str) -> list[tuple[str, ...]]:
    """The parts of the code a title names before its colon, each as its path words: "net/http: ..." gives
    ``("net", "http")``; "fix(help, derive): ..." gives ``("help",)`` and ``("derive",)``. Report words
    ("fix: ...", "bug: ..."), version numbers and a message's start ("error: ...", "Error: ...") name no part
    of the code."""
    match = _SCOPE.match(title)
    if match is None or (match["prefix"] and _MESSAGE_WORDS.fullmatch(match["prefix"])):
        return []
    scopes: list[tuple[str, ...]] = []
    for written in re.split(r"\s*,\s*", match["scope"] or match["prefix"]):
        words = tuple(w.lower() for w in re.split(r"[/\s]+", written.strip()) if re.search(r"[A-Za-z]", w))
        if words and not any(_REPORT_WORDS.fullmatch(w) for w in words) and words not in scopes:
            scopes.append(words)
    return scopes


def code_blocks(text: str) -> list[str]:
    """The bodies of fenced code blocks and runs of interpreter (``>>>``) lines."""
    blocks = [match["body"] for match in _FENCED.finditer(text)]
    outside = _FENCED.sub(" ", text)
    blocks += [match[0] for match in _DOCTEST.finditer(outside)]
    return blocks


def _with_code_mentions(mentions: list[Mention], blocks: list[str]) -> list[Mention]:
    """Names a code block calls or imports are the user's reproduction talking about our code: they count
    as strong mentions of their own kind (``render(tpl, data)`` names ``render`` however plain the word).
    Names the text already gave as mentions stay what they were."""
    known = {m.text for m in mentions}
    found: dict[str, Mention] = {}

    def add(written: str) -> None:
        parts = tuple(p for p in written.split(".") if p)
        if not parts or parts[-1] in _KEYWORDS or len(parts[-1]) < 2 or parts[-1].startswith("__"):
            return
        if ".".join(parts) in known:
            return
        found.setdefault(".".join(parts), Mention(".".join(parts), parts, False, True, in_code=True))

    for block in blocks:
        for match in _CALL.finditer(block):
            add(match[1])
        for match in _IMPORT.finditer(block):
            if match["module"]:
                for name in re.split(r"[\s,()]+", match["names"]):
                    if name and name != "as":
                        add(f"{match['module']}.{name}")
            elif match["plain"] and "." in match["plain"]:
                add(match["plain"])
    return mentions + list(found.values())


def literals(text: str, blocks: list[str] | None = None) -> list[str]:
    """Text the code may hold as a string literal: the message of ``SomeError: message`` and log lines,
    double- or single-quoted phrases, backticked text that is not a name, and output lines of code blocks
    (prose-like lines: no brackets, no assignment). Longest first; short or one-word text says too little."""
    found: dict[str, None] = {}

    def add(candidate: str) -> None:
        candidate = " ".join(candidate.strip().strip("'\"`").split())
        if len(candidate) >= 8 and (" " in candidate or len(candidate) >= 16) and not _IDENTIFIER.fullmatch(candidate):
            found.setdefault(candidate, None)

    for match in _MESSAGE_LINE.finditer(text):
        add(match["message"])
    for pattern in (_DOUBLE_QUOTED, _SINGLE_QUOTED, _BACKTICKED):
        for match in pattern.finditer(text):
            add(match[match.lastindex or 0] if pattern is _BACKTICKED else match["text"])
    for block in blocks if blocks is not None else code_blocks(text):
        for line in block.splitlines():
            if not _CODE_LOOKING.search(line) and len(line.split()) >= 3:
                add(line)
    return sorted(found, key=len, reverse=True)[:_MAX_LITERALS]


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
    # Go, Rust, Java and Node traces say more than `path:line` (the function, Java's package, which cause
    # is the root): read them first, in the order they give, then whatever `path:line` is left.
    traced = trace_frames(rest)
    for frame in traced:
        blanked[frame.start : frame.end] = " " * (frame.end - frame.start)
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
    ordered = [*reversed(python), *((f.start, f.path, f.line, f.function, f.text, False, None) for f in traced), *other]
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

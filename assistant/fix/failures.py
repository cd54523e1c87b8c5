"""Reading test output: which tests failed, with what exception, and through which frames.

pytest's own report is read section by section (its long and short tracebacks, the short test summary);
other runners are read by their usual markers (unittest, go test, cargo test, jest/mocha), Go panics,
Rust backtraces, Java exceptions and Node stacks by their own formats (``indexer.retrieval.traces``), and
generic ``file:line`` patterns. Frames are always listed outermost first, innermost (where it raised) last,
whatever order the runner printed them in; a path inside the repository is made repository-relative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from indexer.retrieval import trace_frames

__all__ = ["Failure", "Frame", "parse_failures", "pytest_counts"]


@dataclass(frozen=True)
class Frame:
    path: str  # repository-relative when inside the repository, else as printed
    line: int
    function: str | None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where} in {self.function}" if self.function else where


@dataclass
class Failure:
    test_id: str  # pytest node id (``tests/test_x.py::TestA::test_b[1]``), or the runner's test name
    exc_type: str | None
    message: str  # the exception's message (first line), or the assertion that failed
    detail: str  # everything the runner printed about the error (pytest's ``E`` lines), capped
    frames: list[Frame] = field(default_factory=list)  # outermost first

    @property
    def signature(self) -> str:
        """What identifies "the same failure": test, exception type and message, without the parts that
        change from run to run (object addresses, timings)."""
        return "|".join((self.test_id, self.exc_type or "", _normalized(self.message)))

    @property
    def innermost(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    def to_json(self) -> dict:
        return {
            "test_id": self.test_id,
            "exc_type": self.exc_type,
            "message": self.message,
            "detail": self.detail,
            "frames": [{"path": f.path, "line": f.line, "function": f.function} for f in self.frames],
        }


_DETAIL_CAP = 4000
_MESSAGE_CAP = 500

# ------------------------------------------------------------------------------------------ pytest

_RULE = re.compile(r"^=+ (?P<title>.*?) =+$")
_SECTION = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_SUMMARY = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<id>\S+?)(?: - (?P<message>.*))?$")
# `tests/test_x.py:12: in test_f`, `pkg/mod.py:11: ValueError`, `tests/test_x.py:11: ` (long mode).
_PYTEST_FRAME = re.compile(r"^(?P<path>[^\s:][^:\n]*?\.\w+):(?P<line>\d+): ?(?:in (?P<function>\S+)|(?P<exc>[\w.]+))?\s*$")
_DEF_LINE = re.compile(r"^\s*>?\s*(?:async\s+)?def (?P<name>\w+)\s*\(")
_E_LINE = re.compile(r"^E {1,}(?P<text>.*)$")
_EXCEPTION = re.compile(r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Warning|Interrupt|Failure|Failed|Iteration|Timeout|Exceeded)|Failed|Exception|AssertionError|[A-Z]\w*Error)(?::\s?(?P<message>.*))?$")
_COUNTS = re.compile(r"(?P<count>\d+) (?P<what>passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)\b")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_DURATION = re.compile(r"\b\d+(?:\.\d+)?\s?(?:s|ms|sec|seconds)\b")


def parse_failures(output: str, root: Path) -> list[Failure]:
    """The failures reported in ``output`` (a test run's combined stdout and stderr)."""
    root = Path(root).resolve()
    lines = _plain(output).splitlines()
    if _looks_like_pytest(lines):
        return _pytest_failures(lines, root)
    return _generic_failures(lines, root)


def pytest_counts(output: str) -> tuple[int | None, int | None]:
    """(passed, failed) from pytest's final line; failed counts errors too. (None, None) if absent."""
    for line in reversed(_plain(output).splitlines()[-40:]):
        stripped = line.strip("= ").strip()
        if not re.search(r"\bin \d+(?:\.\d+)?s\b", stripped):
            continue
        counts = {m["what"].rstrip("s") if m["what"].startswith("error") else m["what"]: int(m["count"])
                  for m in _COUNTS.finditer(stripped)}
        if not counts and "no tests ran" not in stripped:
            continue
        return counts.get("passed", 0), counts.get("failed", 0) + counts.get("error", 0)
    return None, None


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).replace("\r\n", "\n")


def _looks_like_pytest(lines: list[str]) -> bool:
    for line in lines:
        match = _RULE.match(line)
        if match and match["title"] in ("FAILURES", "ERRORS", "short test summary info", "test session starts"):
            return True
        if _SUMMARY.match(line) and "::" in line:
            return True
    return False


def _pytest_failures(lines: list[str], root: Path) -> list[Failure]:
    summary: list[tuple[str, str, str]] = []  # (kind, node id, message)
    sections: list[tuple[str, list[str]]] = []
    in_report = False
    current: list[str] | None = None
    for line in lines:
        rule = _RULE.match(line)
        if rule:
            in_report = rule["title"] in ("FAILURES", "ERRORS")
            current = None
            continue
        summary_line = _SUMMARY.match(line)
        if summary_line and not in_report:
            summary.append((summary_line["kind"], summary_line["id"], summary_line["message"] or ""))
            continue
        if not in_report:
            continue
        section = _SECTION.match(line)
        if section and not section["title"].startswith("_ _"):
            current = []
            sections.append((section["title"], current))
        elif current is not None:
            current.append(line)

    failures: list[Failure] = []
    used: set[int] = set()
    for title, body in sections:
        failure = _pytest_section(title, body, root)
        index = _match_summary(title, summary, used)
        if index is not None:
            used.add(index)
            kind, node_id, message = summary[index]
            failure.test_id = node_id
            if not failure.message and message:
                failure.message = message
        failures.append(failure)
    # Runs with --tb=no (or a report cut short) have summary lines only.
    for index, (kind, node_id, message) in enumerate(summary):
        if index in used:
            continue
        exc_type, text = _split_exception(message)
        failures.append(Failure(node_id, exc_type, text, message, []))
    return failures


def _pytest_section(title: str, body: list[str], root: Path) -> Failure:
    frames: list[Frame] = []
    detail: list[str] = []
    exc_type: str | None = None
    last_def: str | None = None
    block_start = 0
    for i, line in enumerate(body):
        definition = _DEF_LINE.match(line)
        if definition:
            last_def = definition["name"]
        e_line = _E_LINE.match(line)
        if e_line:
            detail.append(e_line["text"].rstrip())
            continue
        frame = _PYTEST_FRAME.match(line)
        if frame is None:
            continue
        function = frame["function"]
        if function is None:
            # Long tracebacks print the frame's source above its location: the nearest `def` names it.
            function = _last_def(body[block_start:i]) or last_def
        frames.append(Frame(_relative(frame["path"], root), int(frame["line"]), _clean_function(function)))
        if frame["exc"]:
            exc_type = frame["exc"]
        block_start = i + 1
        last_def = None
    message = ""
    first = next((d for d in detail if d.strip()), "")
    found_type, found_message = _split_exception(first)
    if found_type:
        exc_type = exc_type or found_type
        if exc_type == found_type or exc_type.endswith("." + found_type) or found_type.endswith("." + exc_type):
            message = found_message
        else:
            message = first
    else:
        message = first
    if message.startswith("assert ") and exc_type is None:
        exc_type = "AssertionError"
    if not detail:
        # Collection errors print plain text before the traceback (`ImportError while importing ...`).
        detail = [line for line in body if line.strip()][:20]
        message = message or (detail[0] if detail else "")
    test_id = _title_to_test(title)
    return Failure(test_id, exc_type, message[:_MESSAGE_CAP], _capped("\n".join(detail)), frames)


def _last_def(block: list[str]) -> str | None:
    for line in reversed(block):
        match = _DEF_LINE.match(line)
        if match:
            return match["name"]
    return None


def _clean_function(name: str | None) -> str | None:
    if name is None or name.startswith("<"):
        return None
    return name


def _title_to_test(title: str) -> str:
    for prefix in ("ERROR collecting ", "ERROR at setup of ", "ERROR at teardown of "):
        if title.startswith(prefix):
            return title[len(prefix):]
    return title.replace(".", "::")


def _match_summary(title: str, summary: list[tuple[str, str, str]], used: set[int]) -> int | None:
    wanted = _title_to_test(title)
    for index, (_, node_id, _) in enumerate(summary):
        if index in used:
            continue
        if node_id == wanted or node_id.endswith("::" + wanted) or node_id.endswith("/" + wanted):
            return index
    return None



def _split_exception(text: str) -> tuple[str | None, str]:
    text = text.strip()
    if text.startswith("assert "):
        return "AssertionError", text
    match = _EXCEPTION.match(text)
    if match is None:
        return None, text
    return match["type"], (match["message"] or "").strip()


def _relative(written: str, root: Path) -> str:
    """Repository-relative when the path is inside the repository. A relative path the runner printed
    from another directory (``../repo/pkg/mod.py``) is matched by its longest suffix that exists here."""
    written = written.strip().replace("\\", "/")
    path = Path(written)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            return written
    written = written.removeprefix("./")
    if written.startswith("../") or not (root / written).exists():
        parts = [p for p in written.split("/") if p not in ("", ".", "..")]
        for start in range(len(parts)):
            candidate = "/".join(parts[start:])
            if (root / candidate).is_file():
                return candidate
    return written


def _capped(text: str) -> str:
    if len(text) <= _DETAIL_CAP:
        return text
    return text[: _DETAIL_CAP - 20] + "\n… (detail cut)"


def _normalized(message: str) -> str:
    return _DURATION.sub("<t>", _ADDRESS.sub("0x…", message)).strip()


# ----------------------------------------------------------------------------------- other runners

_PY_TRACEBACK = "Traceback (most recent call last):"
_PY_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>\S+))?')
_UNITTEST = re.compile(r"^(?P<kind>FAIL|ERROR): (?P<name>\S+) \((?P<where>[^)]+)\)")
_GO_FAIL = re.compile(r"^\s*--- FAIL: (?P<name>\S+)")
_RUST_FAIL = re.compile(r"^---- (?P<name>\S+) stdout ----")
_JEST_FAIL = re.compile(r"^\s*● (?P<name>.+?)\s*$")
# `at fn (src/x.js:3:9)`, `at src/x.js:3:9`, `src/lib.rs:10:5`, `x_test.go:12:`, `file.c:3:1: error`.
_GENERIC_FRAME = re.compile(
    r"(?:\bat (?P<function>[\w.$<>\[\] ]+?) \()?"
    r"(?<![\w./\\-])(?P<path>(?:[A-Za-z]:)?(?:[\w.~@+-]*[/\\])*[\w.+-]*\w\.[A-Za-z][A-Za-z0-9]{0,5}):(?P<line>\d+)(?::\d+)?"
)
_IN_FUNCTION = re.compile(r":? in (?P<name>[\w<>.$]+)")
_JAVA_THREAD = re.compile(r'^Exception in thread "[^"\n]*" ')  # what the JVM prints before the exception
_ERROR_WORDS = re.compile(r"error|fail|panic|assert|exception|expected", re.IGNORECASE)


def _generic_failures(lines: list[str], root: Path) -> list[Failure]:
    blocks = _runner_blocks(lines)
    failures: list[Failure] = []
    for name, block in blocks:
        failure = _python_traceback(block, root) if any(_PY_TRACEBACK in line for line in block) else None
        if failure is None:
            failure = _generic_block(block, root)
        if failure is None:
            continue
        failure.test_id = name or failure.test_id
        failures.append(failure)
    return failures


def _runner_blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Split output at each runner's "this test failed" marker; without markers, at Python tracebacks;
    without those, the whole output is one block."""
    starts: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        for pattern in (_UNITTEST, _GO_FAIL, _RUST_FAIL, _JEST_FAIL):
            match = pattern.match(line)
            if match:
                name = match["name"]
                if pattern is _UNITTEST:
                    where = match["where"]
                    name = where if where.endswith("." + name) else f"{where}.{name}"
                starts.append((i, name))
                break
    if not starts:
        starts = [(i, "") for i, line in enumerate(lines) if _PY_TRACEBACK in line]
    if not starts:
        return [("", lines)]
    blocks = []
    for (start, name), (end, _) in zip(starts, [*starts[1:], (len(lines), "")]):
        blocks.append((name, lines[start:end]))
    return blocks


def _python_traceback(block: list[str], root: Path) -> Failure | None:
    frames: list[Frame] = []
    exc_type: str | None = None
    message = ""
    detail: list[str] = []
    after_frames = False
    for i, line in enumerate(block):
        frame = _PY_FRAME.match(line)
        if frame:
            frames.append(Frame(_relative(frame["path"], root), int(frame["line"]),
                                _clean_function(frame["function"])))
            after_frames = True
            detail = []
            continue
        if after_frames and line and not line.startswith((" ", "\t")):
            found_type, found_message = _split_exception(line)
            if found_type and exc_type is None or (found_type and frames):
                exc_type, message = found_type, found_message
                detail = [line]
                after_frames = False
                continue
        if detail and line.strip() and not _PY_FRAME.match(line) and _PY_TRACEBACK not in line:
            detail.append(line)
    if not frames and exc_type is None:
        return None
    return Failure("", exc_type, message[:_MESSAGE_CAP], _capped("\n".join(detail[:40])), frames)


def _generic_block(block: list[str], root: Path) -> Failure | None:
    # Go panics, Rust backtraces, Java exceptions and Node stacks are read in their own format (the
    # function of each frame, Java's package directories); other `file:line` mentions by the pattern.
    traced = trace_frames("\n".join(block))
    located = {(f.path.removeprefix("./"), f.line) for f in traced}
    found: list[tuple[int, str, int, str | None]] = []
    offset = 0
    for line in block:
        for match in _GENERIC_FRAME.finditer(line):
            start = offset + match.start()
            path = match["path"]
            if path.startswith(("http", "www.")) or any(f.start <= start < f.end for f in traced):
                continue
            if (path.removeprefix("./"), int(match["line"])) in located:
                continue  # a trace's frame said again (Rust's `panicked at`), without the function
            function = match["function"].strip() if match["function"] else None
            named = _IN_FUNCTION.match(line, match.end())
            if function is None and named is not None:
                function = named["name"]
            found.append((start, path, int(match["line"]), function))
        offset += len(line) + 1
    # The traces' frames come innermost first, in the order trace_frames gives (a Java root cause first).
    found = [(f.start, f.path, f.line, f.function) for f in traced] + found
    frames = [Frame(_relative(path, root), line, _clean_function(function)) for _, path, line, function in found]
    python_only = all(path.endswith((".py", ".pyi")) for _, path, _, _ in found)
    if not python_only:
        # Node, Go, Rust and C toolchains print the innermost location first; Python tools (pytest's
        # tracebacks outside its report, e.g. a conftest that fails to import) the outermost.
        frames.reverse()
    exc_type, message = None, ""
    for line in reversed(block):
        e_line = _E_LINE.match(line)
        if e_line:
            exc_type, message = _split_exception(e_line["text"])
            if exc_type:
                break
    if exc_type is None:
        message_line = next((line.strip() for line in block if _ERROR_WORDS.search(line)
                             and not _GO_FAIL.match(line) and not _RUST_FAIL.match(line)), "")
        message_line = _JAVA_THREAD.sub("", message_line)
        if not frames and not message_line:
            return None
        exc_type, message = _split_exception(message_line)
    detail = "\n".join(line for line in block if line.strip())
    return Failure("", exc_type, message[:_MESSAGE_CAP], _capped(detail), _dedupe(frames))


def _dedupe(frames: list[Frame]) -> list[Frame]:
    seen: set[tuple[str, int]] = set()
    kept: list[Frame] = []
    for frame in frames:
        if (frame.path, frame.line) not in seen:
            seen.add((frame.path, frame.line))
            kept.append(frame)
    return kept

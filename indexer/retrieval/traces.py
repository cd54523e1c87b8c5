"""Stack traces of Go, Rust, Java and Node read frame by frame: where each frame is (a path and a line) and
which function it is in, in that language's own notation. Pure text work, shared by the query parser and
``assist fix``'s reading of test output.

What a generic ``path:line`` pattern misses, and these formats tell:

- Go panics print the function on the line above its location (``pkg/path.(*Type).Method(...)`` then
  ``\\t/abs/file.go:12 +0x1d``);
- Rust backtraces likewise (``   3: crate::module::Type::method`` then ``at ./src/lib.rs:10:5``), and the
  panic's own location (``panicked at src/lib.rs:10:5:``) is the innermost frame;
- Java names the class, not the file's directory (``at com.example.Foo.bar(Foo.java:42)``): the package
  says where the file is (``com/example/Foo.java``), which tells apart files of one name;
- Node writes ``at fn (/abs/file.js:3:9)``, ``at fn (file:///abs/file.js:3:9)``, ``at async Class.method``,
  ``at new Class``, ``at obj.fn [as alias]`` and bare ``at /abs/file.js:3:9``.

Frames come innermost first, as all four runtimes print them; of a Java exception with causes, the root
cause's (the last ``Caused by:``) come first. The function is the bare name a graph node has (``Get``,
``bar``, ``location``), None where the runtime gives none (``<anonymous>``, a static initializer).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TraceFrame:
    start: int  # where the frame's text begins and ends in the trace
    end: int
    path: str  # as written; for Java, the package's directories and the file name
    line: int
    function: str | None
    text: str  # the frame as printed, on one line
    runtime: str  # go, rust, java (any JVM language) or node


# Go: `pkg/path.(*Type).Method(args)` or `created by pkg.fn in goroutine 1`, then `\t/path/file.go:12 +0x1d`
# (the name's length bounded: a long line of pasted text is not tried at every length).
_GO_FRAME = re.compile(
    r"^(?:created by )?(?P<function>[^\s()][^\s]{0,300}?)(?:\((?:[^()\n]|\([^()\n]*\))*\))?"
    r"(?: in goroutine \d+)?[ \t]*\n"
    r"[ \t]+(?P<path>[^\s:][^\n:]*?\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?[ \t]*$",
    re.MULTILINE,
)
# Rust: `   3: crate::module::func` (a hash suffix or `{{closure}}` possible), then `at ./src/lib.rs:10:5`.
_RUST_FRAME = re.compile(
    r"^[ \t]*\d+:[ \t]+(?:0x[0-9a-f]+ - )?(?P<function>\S[^\n]*?)[ \t]*\n"
    r"[ \t]+at (?P<path>[^\n]+?\.rs):(?P<line>\d+)(?::\d+)?[ \t]*$",
    re.MULTILINE,
)
# `thread 'main' panicked at src/lib.rs:10:5:` (Rust 1.73+) or `panicked at 'message', src/lib.rs:10:5`.
_RUST_PANIC = re.compile(
    r"panicked at (?:'(?:[^'\n]|'(?!, ))*', )?(?P<path>[^\s:'][^\n:']*?\.rs):(?P<line>\d+)(?::\d+)?"
)
# Java (and the JVM's other languages): `at [module/]com.example.Foo$Inner.bar(Foo.java:42)`.
_JAVA_FRAME = re.compile(
    r"^[ \t]*at (?:[\w.$-]+(?:@[\w.-]+)?/)*(?P<cls>[\w$]+(?:\.[\w$]+)*)\.(?P<method>[\w$<>]+)"
    r"\((?P<file>[\w$-]+\.(?:java|kt|scala|groovy)):(?P<line>\d+)\)",
    re.MULTILINE,
)
# Node/V8: `at fn (location)` or `at location`, the location a path or a file:// URL with line and column.
_NODE_FRAME = re.compile(
    r"^[ \t]*at (?:(?P<function>[^\n()]+?) \()?(?P<location>(?:file://)?[^\s()]+?):(?P<line>\d+):\d+\)?[ \t]*$",
    re.MULTILINE,
)

_GO_CLOSURE = re.compile(r"^(?:func\d+|gowrap\d+|deferwrap\d+|\d+)$")  # `main.main.func1.2`: nested closures
_RUST_HASH = re.compile(r"::h[0-9a-f]{16}$")
_RUST_IMPL = re.compile(r"<(?P<type>[^<>]*?)(?: as [^<>]*)?>")
_JAVA_LAMBDA = re.compile(r"^lambda\$(?P<name>[\w$]+?)\$\d+$")
_CAUSED_BY = re.compile(r"^[ \t]*Caused by: ", re.MULTILINE)
_NODE_NOISE = re.compile(r"^(?:async |new )|\s*\[as [^\]]*\]$")


def trace_frames(text: str) -> list[TraceFrame]:
    """Every Go, Rust, Java and Node frame in ``text``, innermost first within each trace, traces in the
    order they appear; frames whose spans overlap an earlier format's are not counted twice."""
    frames: list[TraceFrame] = []
    taken: list[tuple[int, int]] = []
    for reader in (_go_frames, _rust_frames, _java_frames, _node_frames):
        for frame in reader(text):
            if not any(frame.start < end and start < frame.end for start, end in taken):
                frames.append(frame)
                taken.append((frame.start, frame.end))
    return _root_cause_first(text, sorted(frames, key=lambda f: f.start))


def _root_cause_first(text: str, frames: list[TraceFrame]) -> list[TraceFrame]:
    """A JVM exception prints its causes after itself, the root cause last, and the root cause is where
    things went wrong: its frames take the places of the JVM frames, last section first."""
    causes = [match.start() for match in _CAUSED_BY.finditer(text)]
    if not causes:
        return frames
    jvm = [f for f in frames if f.runtime == "java"]
    reordered = iter(sorted(jvm, key=lambda f: (-bisect.bisect(causes, f.start), f.start)))
    return [next(reordered) if f.runtime == "java" else f for f in frames]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _go_frames(text: str) -> list[TraceFrame]:
    if "goroutine " not in text and "created by " not in text:
        return []
    return [TraceFrame(m.start(), m.end(), m["path"], int(m["line"]), _go_function(m["function"]), _one_line(m[0]),
                       "go") for m in _GO_FRAME.finditer(text)]


def _go_function(written: str) -> str | None:
    """``example.com/app/store.(*Store).Get`` -> ``Get``; a closure (``main.main.func1``) is its function's."""
    qualified = written.rpartition("/")[2]  # the package path's last element onwards: `store.(*Store).Get`
    parts = [p for p in re.sub(r"\[[^\]]*\]", "", qualified).split(".")[1:] if p]  # generics' `[...]` dropped
    while parts and _GO_CLOSURE.match(parts[-1]):
        parts.pop()
    if not parts:
        return None
    return parts[-1].removesuffix("-fm").strip("()*") or None  # `-fm`: a method value


def _rust_frames(text: str) -> list[TraceFrame]:
    if ".rs:" not in text:
        return []
    backtrace = [TraceFrame(m.start(), m.end(), _rust_path(m["path"]), int(m["line"]), _rust_function(m["function"]),
                            _one_line(m[0]), "rust") for m in _RUST_FRAME.finditer(text)]
    # Where it panicked: the innermost frame when there is no backtrace (the default), else the backtrace's
    # own frame there says the same and names the function.
    located = {(f.path, f.line) for f in backtrace}
    panics = [TraceFrame(m.start(), m.end(), _rust_path(m["path"]), int(m["line"]), None, _one_line(m[0]), "rust")
              for m in _RUST_PANIC.finditer(text) if (_rust_path(m["path"]), int(m["line"])) not in located]
    return sorted(panics + backtrace, key=lambda f: f.start)


def _rust_path(written: str) -> str:
    return written.strip().removeprefix("./")


def _rust_function(written: str) -> str | None:
    """``garden::water::<impl garden::Plant>::soak::h0123...`` -> ``soak``; a closure is its function's."""
    name = _RUST_HASH.sub("", written.strip())
    name = _RUST_IMPL.sub(lambda m: m["type"].rpartition("::")[2], name)
    parts = [p for p in name.split("::") if p and not p.startswith("{{")]
    return parts[-1] if parts and parts[-1].isidentifier() else None


def _java_frames(text: str) -> list[TraceFrame]:
    if "(" not in text or "at " not in text:
        return []
    frames = []
    for match in _JAVA_FRAME.finditer(text):
        package = match["cls"].split(".")[:-1]
        path = "/".join([*package, match["file"]])
        frames.append(TraceFrame(match.start(), match.end(), path, int(match["line"]),
                                 _java_method(match["cls"], match["method"]), _one_line(match[0]), "java"))
    return frames


def _java_method(cls: str, method: str) -> str | None:
    """``bar`` as written; a constructor (``<init>``) is its class's name; ``lambda$bar$0`` is ``bar``."""
    if method == "<init>":
        simple = cls.rpartition(".")[2].rpartition("$")[2]
        return None if simple.isdigit() else simple  # `Foo$1`: an anonymous class has no name of its own
    if method.startswith("<"):
        return None  # <clinit>: a static initializer
    lambda_of = _JAVA_LAMBDA.match(method)
    return lambda_of["name"] if lambda_of else method


def _node_frames(text: str) -> list[TraceFrame]:
    if "at " not in text:
        return []
    frames = []
    for match in _NODE_FRAME.finditer(text):
        location = match["location"]
        if location.startswith("node:") or location.startswith(("http://", "https://")):
            continue  # Node's own modules, or a script served over the network
        path = location.removeprefix("file://")
        frames.append(TraceFrame(match.start(), match.end(), path, int(match["line"]),
                                 _node_function(match["function"]), _one_line(match[0]), "node"))
    return frames


def _node_function(written: str | None) -> str | None:
    """``async Cart.total [as sum]`` -> ``total``; ``Object.<anonymous>`` -> None."""
    if not written:
        return None
    name = _NODE_NOISE.sub("", written.strip()).rpartition(".")[2]
    return name if name and not name.startswith("<") and re.fullmatch(r"[\w$]+", name) else None

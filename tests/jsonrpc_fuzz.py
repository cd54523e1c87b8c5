"""A generated corpus of malformed and odd JSON-RPC frames, and a checker for what a stdio server answered.

The corpus is deterministic (seeded) so that a failure can be replayed. Request ids are unique strings
starting with "fz-", so every request that carries a readable id can be matched with its answer.
"""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import dataclass, field

NASTY_STRINGS = ["", " ", "\u0000", "\u2603 snowman", "\U0001f600", "é" * 50, "\ud7ff", "\\", "\"", "\n", "a" * 5000,
                 "../../etc/passwd", "/etc/passwd", "%s%n", "<script>", "NaN", "null", "0" * 400]
NASTY_VALUES: list = [None, True, False, 0, -1, 2**63, 1.5, -0.0, 1e308, "", "x", [], {}, [1, [2, [3]]],
                      {"a": {"b": None}}, "☃"]


@dataclass
class Corpus:
    lines: list[bytes] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)  # requests whose id the server can read
    unparseable: int = 0  # lines that are not JSON at all


def build_corpus(methods: list[str], count: int = 3000, seed: int = 20261129,
                 tool_calls: list[tuple[str, dict]] | None = None) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    counter = 0

    def new_id() -> str:
        nonlocal counter
        counter += 1
        return f"fz-{counter}"

    def value():
        return rng.choice(NASTY_VALUES + NASTY_STRINGS)

    def params():
        shape = rng.random()
        if shape < 0.3:
            return {rng.choice(["name", "arguments", "query", "sessionId", "cwd", "prompt", "x"]): value()
                    for _ in range(rng.randint(0, 3))}
        if shape < 0.5 and tool_calls:
            name, arguments = rng.choice(tool_calls)
            mutated = dict(arguments)
            if mutated and rng.random() < 0.7:
                mutated[rng.choice(list(mutated))] = value()
            return {"name": name, "arguments": mutated}
        return {}

    for _ in range(count):
        kind = rng.random()
        if kind < 0.35:  # a well-formed request to a known or unknown method, with odd params
            request_id = new_id()
            method = rng.choice(methods + ["no/such/method", "", "tools/call", "☃/method", "rpc.discover"])
            message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params()}
            if method == "":
                message["method"] = "x/" + str(rng.randint(0, 9))
            corpus.request_ids.append(request_id)
            corpus.lines.append(json.dumps(message, ensure_ascii=rng.random() < 0.5).encode() + b"\n")
        elif kind < 0.50:  # a request with a readable id and a broken envelope
            request_id = new_id()
            message = {"jsonrpc": rng.choice(["1.0", None, 2, "2.0 "]), "id": request_id,
                       "method": rng.choice(methods)}
            if rng.random() < 0.5:
                message = {"jsonrpc": "2.0", "id": request_id, "method": rng.choice([5, None, [], {}])}
            if rng.random() < 0.3:
                message = {"jsonrpc": "2.0", "id": request_id, "method": rng.choice(methods),
                           "params": rng.choice(["text", 5, True])}
            corpus.request_ids.append(request_id)
            corpus.lines.append(json.dumps(message).encode() + b"\n")
        elif kind < 0.70:  # not JSON: a cut, a flipped byte, invalid UTF-8, garbage
            base = json.dumps({"jsonrpc": "2.0", "id": new_id(), "method": rng.choice(methods),
                               "params": params()}).encode()
            choice = rng.random()
            if choice < 0.3:
                broken = base[: rng.randint(1, max(1, len(base) - 2))]
            elif choice < 0.5:
                broken = b"\xff\xfe" + base[1:]
            elif choice < 0.7:
                broken = bytes(rng.randint(33, 126) for _ in range(rng.randint(1, 80)))
            elif choice < 0.85:
                broken = b"{" * rng.randint(1, 20000)
            else:
                broken = base.replace(b'"', b"'", 2)
            try:
                json.loads(broken)
            except ValueError:
                corpus.unparseable += 1
                corpus.lines.append(broken.replace(b"\n", b" ") + b"\n")
        elif kind < 0.80:  # JSON that is not a message
            shape = rng.random()
            if shape < 0.1:  # valid JSON nested deeper than a recursive parser goes
                corpus.lines.append(b"[" * 5000 + b"]" * 5000 + b"\n")
                continue
            if shape < 0.2:  # a request nested as deep, its id before or after the nesting: still answerable
                request_id = new_id()
                depth = rng.choice([1000, 3000, 9000])  # under 64 KiB: the tests cap frames there
                nest = "[" * depth + "0" + "]" * depth
                if rng.random() < 0.5:
                    nest = '{"a":' * depth + "0" + "}" * depth
                head = f'"jsonrpc":"2.0","method":"{rng.choice(methods)}","params":{{"x":{nest}}}'
                line = f'{{"id":"{request_id}",{head}}}' if rng.random() < 0.5 else f'{{{head},"id":"{request_id}"}}'
                corpus.request_ids.append(request_id)
                corpus.lines.append(line.encode() + b"\n")
                continue
            corpus.lines.append(json.dumps(rng.choice([[], [1, 2], 5, "x", None, True, {}, {"id": None},
                                                       [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]])
                                           ).encode() + b"\n")
        elif kind < 0.90:  # notifications (no answer expected), some malformed
            corpus.lines.append(json.dumps({"jsonrpc": "2.0", "method": rng.choice(methods + ["notifications/x"]),
                                            "params": params()}).encode() + b"\n")
        elif kind < 0.95:  # responses to requests the server never sent
            corpus.lines.append(json.dumps({"jsonrpc": "2.0", "id": rng.randint(-5, 10**6),
                                            "result": value()}).encode() + b"\n")
        else:  # blank lines and whitespace
            corpus.lines.append(rng.choice([b"\n", b"   \n", b"\t\r\n"]))
    return corpus


@dataclass
class Transcript:
    frames: list[dict]
    returncode: int
    stderr: str

    def answered_ids(self) -> set:
        return {frame.get("id") for frame in self.frames}

    def null_id_errors(self) -> int:
        return sum(1 for frame in self.frames if frame.get("id") is None and "error" in frame)


def run_stdio_server(command: list[str], payload: bytes, cwd=None, env=None, timeout: float = 600) -> Transcript:
    """Feed ``payload`` to a stdio server, close its stdin, and parse everything it wrote to stdout. Every
    stdout line must be one JSON-RPC 2.0 frame (an AssertionError names the first line that is not)."""
    process = subprocess.run(command, input=payload, capture_output=True, cwd=cwd, env=env, timeout=timeout)
    frames = []
    for number, line in enumerate(process.stdout.split(b"\n"), 1):
        if not line:
            continue
        try:
            frame = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"stdout line {number} is not JSON ({exc}): {line[:200]!r}") from None
        assert isinstance(frame, dict) and frame.get("jsonrpc") == "2.0", f"stdout line {number}: {line[:200]!r}"
        frames.append(frame)
    return Transcript(frames, process.returncode, process.stderr.decode("utf-8", "replace"))


def assert_is_response(frame: dict) -> None:
    assert "id" in frame and ("result" in frame) != ("error" in frame), frame
    if "error" in frame:
        assert isinstance(frame["error"]["code"], int) and isinstance(frame["error"]["message"], str), frame

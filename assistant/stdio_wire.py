"""Newline-delimited JSON-RPC over this process's stdin/stdout, shared by `assist mcp` and `assist acp`.

Both SDKs read frames straight off stdin and drop what they cannot parse without an answer (or, for a
frame that is JSON but not an object, stop listening altogether). An editor waiting on a request id then
hangs. So both servers read stdin through ``FrameReader``: every line is checked here first, and a line
that is too long, not UTF-8, not JSON or not a JSON-RPC 2.0 message is answered with the JSON-RPC error
the specification names (with the request's id when it can be read, else ``null``); only well-formed
messages reach the SDK.

``claim_stdio`` keeps protocol frames alone on stdout: the protocol gets private duplicates of fds 0/1,
fd 1 then points at stderr and fd 0 at /dev/null, so a stray ``print``, a library's progress bar or a
child process's output lands on stderr and a child never eats protocol input.

``PendingRequests`` counts requests that came in and have not been answered, so that end of input can wait
for the answers before the server stops: EOF ends the process cleanly, without dropping a reply.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
from itertools import accumulate
from collections import Counter
from dataclasses import dataclass
from typing import Any, BinaryIO

MAX_FRAME_BYTES = 8 * 1024 * 1024
"""The longest line accepted; a longer one is skipped (without being held in memory) and refused."""
MAX_DEPTH = 128
"""The deepest nesting of arrays and objects accepted. Real MCP and ACP messages nest a dozen levels; Python's
parser (and the SDKs' validators after it) fail with a recursion error somewhere near 1,000, which loses the
request id. A deeper frame is refused before parsing, and answered with its id when a shallow scan finds it."""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


@dataclass
class Stdio:
    """The protocol's own ends of stdin and stdout."""

    input: BinaryIO
    output: BinaryIO


def claim_stdio() -> Stdio:
    """Take stdin/stdout for the protocol and point the process's own fds 0/1 elsewhere (see module doc)."""
    sys.stdout.flush()
    _dump_stacks_on_sigusr1()
    protocol_in = os.fdopen(os.dup(0), "rb", buffering=0)
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Python-level writers too: print() and libraries that captured sys.stdout write to stderr.
    sys.stdout = sys.stderr
    return Stdio(protocol_in, protocol_out)


def _dump_stacks_on_sigusr1() -> None:
    """`kill -USR1 PID` prints every thread's stack to stderr: how to see where a server an editor started is
    stuck, without stopping it."""
    import faulthandler
    import signal

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


# ------------------------------------------------------------------------------------------ frames


def error_frame(request_id: Any, code: int, message: str, data: Any = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def encode(message: dict) -> bytes:
    """One frame: compact JSON on one line. Non-ASCII stays UTF-8; a newline inside a string is escaped."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def check_frame(line: bytes) -> tuple[dict | None, dict | None]:
    """``(message, None)`` for a well-formed JSON-RPC 2.0 message, ``(None, error response)`` otherwise;
    ``(None, None)`` for a blank line (ignored, as both SDKs do)."""
    if not line.strip():
        return None, None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, error_frame(None, PARSE_ERROR, f"Parse error: the frame is not UTF-8 ({exc.reason} at byte "
                                                     f"{exc.start})")
    if nesting_depth(text) > MAX_DEPTH:
        method_present, raw_id = shallow_scan(text)
        if not method_present and _valid_id(raw_id):
            return None, None  # a response: answering it would start a loop of errors between the peers
        return None, error_frame(raw_id if _valid_id(raw_id) else None, PARSE_ERROR,
                                 f"Parse error: the frame nests arrays or objects more than {MAX_DEPTH} deep")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, error_frame(None, PARSE_ERROR, f"Parse error: {exc}")
    if isinstance(message, list):
        return None, error_frame(None, INVALID_REQUEST, "Invalid Request: batches are not supported; send one "
                                                        "message per line")
    if not isinstance(message, dict):
        return None, error_frame(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    raw_id = message.get("id")
    request_id = raw_id if _valid_id(raw_id) else None
    problem = _shape_problem(message)
    if problem is not None:
        if "method" not in message and "id" in message and _valid_id(raw_id):
            # A malformed *response*: answering it would start a loop of errors between the two peers.
            return None, None
        return None, error_frame(request_id, INVALID_REQUEST, f"Invalid Request: {problem}")
    return message, None


# A JSON string (escapes included), or one structural character.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRINGS = re.compile(_STRING, re.DOTALL)
_TOKENS = re.compile(rf'{_STRING}|[\[\]{{}}:,]', re.DOTALL)
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in ``text`` (brackets inside strings do not count); linear, no
    recursion, and nearly free for a frame with few brackets."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0 if "[" not in text and "{" not in text else 1  # cannot be deeper than the limit
    brackets = re.sub(r"[^\[\]{}]", "", _STRINGS.sub("", text)).encode("ascii")
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def shallow_scan(text: str) -> tuple[bool, object]:
    """``(has a "method" member, the "id" member's value or None)`` of a top-level JSON object, read without
    parsing the values nested inside it. Only a string or number id is read; the last one wins, as in
    ``json.loads``."""
    decoder = json.JSONDecoder()
    depth = 0
    expecting_key = False
    key: str | None = None
    method_present, request_id = False, None
    for token in _TOKENS.finditer(text):
        piece = token.group()
        if piece in "[{":
            if depth == 0 and piece == "[":
                return False, None  # a batch, not a message
            depth += 1
            expecting_key = depth == 1
        elif piece in "]}":
            depth -= 1
            if depth <= 0:
                break
        elif depth != 1:
            continue
        elif piece == ",":
            expecting_key = True
        elif piece == ":":
            if key == "method":
                method_present = True
            elif key == "id":
                request_id = _scalar_at(decoder, text, token.end())
            expecting_key, key = False, None
        elif expecting_key:  # a string in key position; decoded, since "\u0069d" is "id" too
            try:
                key = json.loads(piece)
            except ValueError:
                key = None
    return method_present, request_id


def _scalar_at(decoder: json.JSONDecoder, text: str, index: int) -> object:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    if index >= len(text) or text[index] not in '"-0123456789':
        return None  # an array, object or literal: not an id we can answer with
    try:
        return decoder.raw_decode(text, index)[0]
    except ValueError:
        return None


def _shape_problem(message: dict) -> str | None:
    if message.get("jsonrpc") != "2.0":
        return 'the "jsonrpc" member must be exactly "2.0"'
    if "id" in message and not _valid_id(message["id"]) and not ("method" not in message and message["id"] is None):
        return 'an "id" must be a string or an integer'
    if "method" in message:
        if not isinstance(message["method"], str) or not message["method"]:
            return 'the "method" member must be a non-empty string'
        if "params" in message and not isinstance(message["params"], (dict, list)) and message["params"] is not None:
            return 'the "params" member must be an object'
        if "result" in message or "error" in message:
            return "a message cannot be both a request and a response"
        return None
    if "id" not in message:
        return 'a message needs a "method" (request or notification) or an "id" (response)'
    if ("result" in message) == ("error" in message):
        return 'a response needs exactly one of "result" and "error"'
    if "error" in message:
        error = message["error"]
        if not isinstance(error, dict) or not isinstance(error.get("code"), int) or not isinstance(
                error.get("message"), str):
            return 'an "error" must be an object with an integer "code" and a string "message"'
    return None


# ------------------------------------------------------------------------------------------ reading


class FrameReader:
    """Reads lines of at most ``limit`` bytes (blocking; call it from a worker thread). A longer line is read
    to its end and thrown away, chunk by chunk, and reported as too long."""

    def __init__(self, stream: BinaryIO, limit: int = MAX_FRAME_BYTES):
        self._stream = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
        self.limit = limit

    def read(self) -> tuple[bytes | None, dict | None]:
        """``(line, None)``; ``(None, error response)`` for an oversized line; ``(None, None)`` at end of input."""
        line = self._stream.readline(self.limit + 1)
        if not line:
            return None, None
        if len(line) <= self.limit or line.endswith(b"\n") and len(line) == self.limit + 1:
            return line, None
        size = len(line)
        while not line.endswith(b"\n"):
            line = self._stream.readline(1024 * 1024)
            if not line:
                break
            size += len(line)
        return None, error_frame(None, INVALID_REQUEST, f"Invalid Request: the frame is {size} bytes, more than "
                                                        f"the {self.limit}-byte limit; it was skipped")

    def next_frame(self) -> tuple[dict | None, dict | None, bool]:
        """The next well-formed message, or an error response to send; ``eof`` True at end of input."""
        while True:
            line, error = self.read()
            if error is not None:
                return None, error, False
            if line is None:
                return None, None, True
            message, error = check_frame(line)
            if message is not None or error is not None:
                return message, error, False


# ----------------------------------------------------------------------------------------- pending


class PendingRequests:
    """Ids of requests received and not yet answered (a multiset: a peer may reuse an id)."""

    def __init__(self) -> None:
        self._open: Counter = Counter()
        self._changed = threading.Condition()

    def received(self, message: dict) -> None:
        if "method" in message and "id" in message:
            with self._changed:
                self._open[_key(message["id"])] += 1

    def sent(self, message: dict) -> None:
        if "method" not in message and "id" in message:
            key = _key(message["id"])
            with self._changed:
                if self._open[key] > 0:
                    self._open[key] -= 1
                    if not self._open[key]:
                        del self._open[key]
                self._changed.notify_all()

    def wait_all_answered(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._open, timeout)

    def __len__(self) -> int:
        with self._changed:
            return sum(self._open.values())


def _key(request_id: Any) -> str:
    return json.dumps(request_id)

"""``scripted:FILE``: a deterministic chat model that replays prepared replies in order.

An ordinary provider, selectable wherever ``--model`` is taken (ask, chat, the TUI, acp, fix), so that front
ends and the fix loop run end to end without a model server: in tests, and in demonstrations. FILE is a JSON
list of reply strings, or an object::

    {"replies": ["...", "..."],
     "context_window": 16384,   # used when no context_window is configured
     "chunk": 40,               # characters per streamed delta
     "pause_s": 0.0,            # between deltas: a reply that takes a while to stream
     "silence_s": 0.0}          # before the first delta: a model still reading the prompt

Every prompt it was sent is kept in ``prompts`` for tests to inspect. When the replies run out it fails like a
server would, with a ``ProviderError``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import ProviderError
from .limits import ReplyCap
from .streaming import ReceivedReply, ServerReport, StreamingProvider, StreamRequest, WireEvent
from .types import Completed, MessageLike, ModelInfo, ServerModels, TextDelta, as_messages

PREFIX = "scripted:"
DEFAULT_CONTEXT = 16384
# Options a replies file may set, with the type each must have.
FILE_OPTIONS: dict[str, tuple[type, ...]] = {
    "context_window": (int,),
    "chunk": (int,),
    "pause_s": (int, float),
    "silence_s": (int, float),
}


class ScriptedProvider(StreamingProvider):
    def __init__(self, replies: list[str], *, name: str = "scripted", context_window: int = DEFAULT_CONTEXT,
                 reply_reserve: int = 2048, chunk: int = 40, pause_s: float = 0.0, silence_s: float = 0.0,
                 model: str = ""):
        self.replies = list(replies)
        self.name = name
        self.model = model or name
        """What ``scripted:`` was followed by: the replies file."""
        self.context_window = context_window
        self.reply_reserve = min(reply_reserve, context_window // 4)
        self.notices: list[str] = []
        self.prompts: list[list[MessageLike]] = []
        self._chunk = max(1, chunk)
        self._pause_s = pause_s
        self._silence_s = silence_s
        self._lock = threading.Lock()
        self._closed = threading.Event()  # wakes a pause, so that closing never waits for a slow script

    @classmethod
    def from_file(cls, path: Path, context_window: int | None = None) -> ScriptedProvider:
        """The replies in ``path``; ``context_window``, when given, overrides the file's."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot read the scripted replies in {path}: {exc}") from exc
        options: dict[str, Any] = {}
        if isinstance(data, dict):
            options = _file_options(data, path)
            data = data.get("replies")
        if not isinstance(data, list) or not all(isinstance(reply, str) for reply in data):
            raise ProviderError(f"{path} must hold a JSON list of reply strings (or {{\"replies\": [...]}})")
        if context_window is not None:
            options["context_window"] = context_window
        return cls(data, name=f"{PREFIX}{Path(path).name}", model=str(path), **options)

    # -- the ChatProvider protocol (stream_chat comes from StreamingProvider) --------------------------------

    def chat(self, messages: list[MessageLike], *, max_tokens: int | None = None) -> Completed:
        final = None
        for event in self.stream_chat(messages, max_tokens=max_tokens):
            if isinstance(event, Completed):
                final = event
        assert final is not None
        return final

    def count_tokens(self, messages_or_text: list[MessageLike] | str) -> int:
        if isinstance(messages_or_text, str):
            return _estimate(messages_or_text)
        return sum(_estimate(m.content) + 4 for m in as_messages(messages_or_text))

    def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(self.model, self.context_window)]

    def close(self) -> None:
        self._closed.set()

    # -- the "wire": the next prepared reply, in pieces --------------------------------------------------------

    def _reply_cap(self, max_tokens: int | None) -> ReplyCap:
        # A prepared reply is replayed whole, as written, whatever max_tokens says.
        return ReplyCap(1 << 40)

    def _stream_request(self, messages: list[MessageLike], max_tokens: int | None) -> StreamRequest:
        parsed = as_messages(messages)
        with self._lock:
            self.prompts.append(parsed)
            if not self.replies:
                raise ProviderError(f"{self.name} has no more prepared replies (it was asked {len(self.prompts)} times)")
            reply = self.replies.pop(0)
        return StreamRequest(reply, self.count_tokens(parsed), self.name)

    def _wire_stream(self, request: StreamRequest, reply: ReceivedReply) -> Iterator[list[WireEvent]]:
        text: str = request.payload
        self._closed.wait(self._silence_s)
        for start in range(0, len(text), self._chunk):
            if start:
                self._closed.wait(self._pause_s)
            yield [TextDelta(text[start:start + self._chunk])]
        yield [ServerReport("stop", (request.estimate, _estimate(text)), last=True)]

    def _stream_failure(self, exc: Exception, request: StreamRequest, partial: str) -> ProviderError:
        return ProviderError(f"{self.name} failed: {exc!r}", partial_text=partial)


def open_provider(settings: Any) -> ScriptedProvider:
    """``scripted:FILE`` from model settings: FILE relative to the current directory, as a shell would take it."""
    replies = Path(settings.model).expanduser()
    return ScriptedProvider.from_file(replies if replies.is_absolute() else Path.cwd() / replies,
                                      context_window=settings.context_window)


def list_server_models(settings: Any) -> ServerModels:
    """The one "model" a replies file is."""
    provider = open_provider(settings)
    return ServerModels("scripted", "", provider.list_models(), provider.model)


def _file_options(data: Mapping[str, Any], path: Path) -> dict[str, Any]:
    options = {}
    for key, kinds in FILE_OPTIONS.items():
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, kinds) or value < (1 if key in ("context_window", "chunk")
                                                                                  else 0):
            raise ProviderError(f"{path}: {key} must be a positive number, not {value!r}")
        options[key] = value
    return options


def _estimate(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0

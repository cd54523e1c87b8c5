"""A deterministic chat model: replays prepared replies in order. It implements the ``ChatProvider``
protocol, so the fix loop (and anything else) can be run end to end without a model server — in tests,
and from the command line as ``--model scripted:FILE`` where FILE is a JSON list of reply strings (or an
object with ``replies`` and optionally ``context_window``).

Every prompt it was sent is kept in ``prompts`` for tests to inspect. When the replies run out it fails
like a server would, with a ``ProviderError``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

from ..providers.errors import ProviderError
from ..providers.types import Completed, MessageLike, ModelInfo, StreamEvent, TextDelta, Usage, as_messages


class ScriptedProvider:
    def __init__(self, replies: list[str], *, name: str = "scripted", context_window: int = 16384,
                 reply_reserve: int = 2048, chunk: int = 40):
        self.replies = list(replies)
        self.name = name
        self.context_window = context_window
        self.reply_reserve = reply_reserve
        self.notices: list[str] = []
        self.prompts: list[list[MessageLike]] = []
        self._chunk = chunk
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> ScriptedProvider:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot read the scripted replies in {path}: {exc}") from exc
        options = {}
        if isinstance(data, dict):
            options = {k: data[k] for k in ("context_window",) if k in data}
            data = data.get("replies")
        if not isinstance(data, list) or not all(isinstance(reply, str) for reply in data):
            raise ProviderError(f"{path} must hold a JSON list of reply strings (or {{\"replies\": [...]}})")
        return cls(data, name=f"scripted:{Path(path).name}", **options)

    def stream_chat(self, messages: list[MessageLike], *, max_tokens: int | None = None,
                    cancel: threading.Event | None = None) -> Iterator[StreamEvent]:
        messages = as_messages(messages)
        with self._lock:
            self.prompts.append(messages)
            if not self.replies:
                raise ProviderError(f"{self.name} has no more prepared replies (it was asked {len(self.prompts)} times)")
            reply = self.replies.pop(0)
        sent = []
        for start in range(0, len(reply), self._chunk):
            if cancel is not None and cancel.is_set():
                yield Completed("".join(sent), "cancelled", self._usage(messages, "".join(sent)))
                return
            piece = reply[start:start + self._chunk]
            sent.append(piece)
            yield TextDelta(piece)
        yield Completed(reply, "stop", self._usage(messages, reply))

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
        return [ModelInfo(self.name, self.context_window)]

    def close(self) -> None:
        pass

    def _usage(self, messages, reply: str) -> Usage:
        prompt = self.count_tokens(messages)
        return Usage(prompt, _estimate(reply), prompt)


def _estimate(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0

"""Model providers: one small interface (``ChatProvider``) over Ollama's native API, OpenAI-compatible servers and
prepared replies (``scripted:FILE``), chosen by prefix in ``registry.py``.

Providers turn messages into replies and know nothing of repositories or retrieval. Choose and open one with
``assistant.config.resolve_model_settings`` and ``assistant.config.open_provider``.
"""

from .errors import (
    ContextWindowTooSmall,
    ModelNotFound,
    ProviderError,
    ProviderRequestError,
    ProviderTimeout,
    ServerUnavailable,
    StreamInterrupted,
)
from .types import (
    ChatProvider,
    Completed,
    Message,
    ModelInfo,
    PromptProgress,
    StreamEvent,
    TextDelta,
    Usage,
    as_messages,
    collect,
)

__all__ = [
    "ChatProvider",
    "Completed",
    "ContextWindowTooSmall",
    "Message",
    "ModelInfo",
    "ModelNotFound",
    "PromptProgress",
    "ProviderError",
    "ProviderRequestError",
    "ProviderTimeout",
    "ServerUnavailable",
    "StreamEvent",
    "StreamInterrupted",
    "TextDelta",
    "Usage",
    "as_messages",
    "collect",
]

"""The model a fix run talks to: whatever ``--model`` names (``scripted:FILE`` included), as in every front end."""

from __future__ import annotations

from pathlib import Path

from ..config import open_provider, resolve_model_settings
from ..providers.types import ChatProvider


def open_model(root: Path, model: str | None = None, base_url: str | None = None) -> ChatProvider:
    """Raises ``ConfigError`` (bad settings) or ``ProviderError`` (server unreachable, no replies file)."""
    return open_provider(resolve_model_settings(root, model, base_url))

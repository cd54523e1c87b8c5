"""The model a fix run talks to: the configured provider, or ``scripted:FILE`` (prepared replies, for tests
and demonstrations) — the same choice for the CLI, the TUI and the editor agent."""

from __future__ import annotations

from pathlib import Path

from ..config import open_provider, resolve_model_settings
from ..providers.types import ChatProvider

SCRIPTED = "scripted:"


def open_model(root: Path, model: str | None = None, base_url: str | None = None) -> ChatProvider:
    """Raises ``ConfigError`` (bad settings) or ``ProviderError`` (server unreachable, no replies file)."""
    if model and model.startswith(SCRIPTED):
        from .scripted import ScriptedProvider

        replies = Path(model[len(SCRIPTED):]).expanduser()
        return ScriptedProvider.from_file(replies if replies.is_absolute() else Path.cwd() / replies)
    return open_provider(resolve_model_settings(root, model, base_url))


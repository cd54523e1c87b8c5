"""The terminal chat UI (`assist chat`): a Textual app over ``assistant.chat.ChatSession``."""

from .app import ChatApp, run_chat

__all__ = ["ChatApp", "run_chat"]

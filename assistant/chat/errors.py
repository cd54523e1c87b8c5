"""The error a chat session request ends in, for every front end to show as one line."""

from __future__ import annotations


class ChatError(Exception):
    """A session request that cannot be done (unknown name, no index, prompt cannot fit); the message says why."""

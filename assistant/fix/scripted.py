"""Moved to ``assistant.providers.scripted``; kept so that existing imports (tests, bench/) keep working."""

from ..providers.scripted import ScriptedProvider

__all__ = ["ScriptedProvider"]

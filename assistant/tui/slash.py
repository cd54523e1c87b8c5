"""The chat's slash commands as the terminal shows them: the TUI's part of the shared table
(``assistant/slash.py``) feeds the parser, the completion menu, /help and the command palette."""

from __future__ import annotations

from .. import slash as shared
from ..slash import ParsedCommand, SlashCommand

COMMANDS: tuple[SlashCommand, ...] = shared.commands_for(shared.TUI)
BY_NAME = {command.name: command for command in COMMANDS}

KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "send the question (or run the /command)"),
    ("Esc", "stop the answer being written; what arrived stays"),
    ("Up / Down", "recall earlier prompts"),
    ("Tab", "complete a /command; otherwise move focus (prompt ↔ context panel)"),
    ("F2", "show or hide the context panel"),
    ("p / d", "in the context panel: pin / drop the highlighted item"),
    ("Alt+← / Alt+→", "widen / narrow the context panel"),
    ("Ctrl+P", "command palette"),
    ("Ctrl+Q", "quit"),
)


def parse(text: str) -> ParsedCommand | None:
    """``"/add inventory/orders.py"`` -> ("add", "inventory/orders.py"); None for text that is a question."""
    return shared.parse(text, COMMANDS)


def completions(text: str) -> list[SlashCommand]:
    """Commands whose name starts with what is typed after the slash; empty once an argument is being typed."""
    if not text.startswith("/") or " " in text:
        return []
    prefix = text[1:].lower()
    return [command for command in COMMANDS if command.name.startswith(prefix)]


def help_markdown() -> str:
    lines = ["**Commands**", ""]
    lines += [f"- `{command.usage}` — {command.help}" for command in COMMANDS]
    lines += ["", "**Keys**", ""]
    lines += [f"- {key} — {what}" for key, what in KEYS]
    lines += ["", "Anything else you type is a question about this repository."]
    return "\n".join(lines)

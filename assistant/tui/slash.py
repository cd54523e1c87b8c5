"""The chat's slash commands: one table feeds the parser, the completion menu, /help and the command palette."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    name: str
    args: str
    """What follows the name, as shown to the user ("PATH|SYMBOL"); empty when it takes nothing."""
    help: str

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "show the commands and keys"),
    SlashCommand("context", "", "show the context panel: what the last answer was given"),
    SlashCommand("add", "PATH|SYMBOL", "pin a file or symbol into the context of the next questions"),
    SlashCommand("drop", "KEY", "leave an item out of the next questions (unpins it)"),
    SlashCommand("clear", "", "forget the conversation and the pins"),
    SlashCommand("model", "NAME", "switch model, e.g. ollama:qwen2.5-coder:7b or openai:NAME"),
    SlashCommand("reindex", "", "bring the index up to date with the working tree"),
    SlashCommand("fix", "", "fix failing tests: /fix [TEST PATH…] or /fix --cmd COMMAND"),
    SlashCommand("quit", "", "leave"),
)

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


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    argument: str
    command: SlashCommand | None
    """None when the name is not a known command."""


def parse(text: str) -> ParsedCommand | None:
    """``"/add inventory/orders.py"`` -> ("add", "inventory/orders.py"); None for text that is a question."""
    text = text.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    name, _, argument = text[1:].partition(" ")
    name = name.lower()
    return ParsedCommand(name, argument.strip(), BY_NAME.get(name))


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

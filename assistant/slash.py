"""The slash commands of the chat front ends, and the one ``/fix`` argument parser.

One table for the terminal chat (``tui/``) and the editor agent (``acp/``): each command says which of them
offers it, so a name, its help and its arguments are written once. The TUI's parser, completion menu, /help
and command palette and the ACP agent's ``available_commands`` and dispatch all read it. Below both front
ends, so neither imports the other.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

TUI = "tui"
ACP = "acp"
BOTH = frozenset({TUI, ACP})

FIX_USAGE = "/fix [TEST PATH…] or /fix --cmd COMMAND"
FIX_OPTIONS = ("--cmd",)


@dataclass(frozen=True)
class SlashCommand:
    name: str
    args: str
    """What must follow the name, as shown to the user ("PATH|SYMBOL"); empty when it needs nothing."""
    help: str
    hint: str | None = None
    """What may follow the name, for an editor's input box; None when nothing does."""
    front_ends: frozenset[str] = BOTH

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "", "show the commands and keys", front_ends=frozenset({TUI})),
    SlashCommand("context", "", "show the context panel: what the last answer was given", front_ends=frozenset({TUI})),
    SlashCommand("add", "PATH|SYMBOL", "pin a file or symbol into the context of the next questions",
                 front_ends=frozenset({TUI})),
    SlashCommand("drop", "KEY", "leave an item out of the next questions (unpins it)", front_ends=frozenset({TUI})),
    SlashCommand("clear", "", "forget the conversation and the pins"),
    SlashCommand("model", "NAME", "switch model, e.g. ollama:qwen2.5-coder:7b or openai:NAME",
                 front_ends=frozenset({TUI})),
    SlashCommand("reindex", "", "bring the index up to date with the working tree"),
    SlashCommand("fix", "", f"fix failing tests: {FIX_USAGE}",
                 hint='test paths or a command, e.g. tests/ or --cmd "npm test"'),
    SlashCommand("edit", "REQUEST", "change code as asked: propose a diff to apply, reject, or apply and test",
                 hint="what to change, e.g. add a timeout to fetch_url"),
    SlashCommand("undo", "", "restore the files the last /fix or /edit changed"),
    SlashCommand("quit", "", "leave", front_ends=frozenset({TUI})),
)


def commands_for(front_end: str) -> tuple[SlashCommand, ...]:
    return tuple(command for command in COMMANDS if front_end in command.front_ends)


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    argument: str
    command: SlashCommand | None
    """None when the name is not a command of the front end."""


def parse(text: str, commands: tuple[SlashCommand, ...]) -> ParsedCommand | None:
    """``"/add inventory/orders.py"`` -> ("add", "inventory/orders.py"); None for text that is a question
    (no leading slash, or ``//`` to ask something that starts with one)."""
    text = text.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    name, _, argument = text[1:].partition(" ")
    name = name.lower()
    return ParsedCommand(name, argument.strip(), next((c for c in commands if c.name == name), None))


def parse_fix_arguments(argument: str) -> tuple[list[str] | None, str | None]:
    """``"tests/a.py tests/b"`` -> (those paths, None) for pytest; ``"--cmd make test"`` -> (None, "make test");
    empty -> (None, None), the default test command. Raises ValueError, with a message for the user, for an
    option other than ``--cmd`` (options for the test runner go inside ``--cmd``) or unbalanced quotes."""
    text = argument.strip()
    first = text.split(None, 1)[0] if text else ""
    if first == "--cmd":
        command = text[len("--cmd"):].strip()
        if not command:
            raise ValueError(f"--cmd needs a command: {FIX_USAGE}")
        return None, command
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"cannot read the /fix arguments ({exc}): {FIX_USAGE}") from None
    options = [word for word in words if word.startswith("-")]
    if options:
        raise ValueError(f"unknown option {options[0]!r} for /fix: the only option is --cmd COMMAND (put options "
                         f"for the test runner in it, e.g. /fix --cmd pytest -x tests/): {FIX_USAGE}")
    return (words or None), None

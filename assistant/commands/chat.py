"""`assist chat` (also plain `assist`): the terminal chat UI.

Textual, the retriever and the model client load inside the command, so `assist --help` stays instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2

RepoOpt = Annotated[
    Path, typer.Option("--path", "-C", help="Repository to chat about.", show_default="current directory")
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="Chat model: ollama:NAME (default ollama:qwen2.5-coder:7b), openai:NAME for an "
                                 "OpenAI-compatible server, or scripted:FILE (a JSON list of prepared replies). "
                                 "Also ASSIST_MODEL or .assist/config.toml."),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="Where the model is served, e.g. http://127.0.0.1:11434 or http://127.0.0.1:8080/v1."),
]


def chat_command(path: RepoOpt = Path("."), model: ModelOpt = None, base_url: BaseUrlOpt = None) -> None:
    """Chat about a repository in the terminal: answers stream in, with the context each one was given.

    A repository with no index is indexed first. Type /help inside for commands and keys. Without a terminal
    (`echo "question" | assist chat`), each line of stdin is a question of one conversation, answered in plain
    text on stdout.
    """
    if not path.exists():
        typer.echo(f"assist: {path} does not exist", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not path.is_dir():
        typer.echo(f"assist: {path} is not a directory", err=True)
        raise typer.Exit(EXIT_USAGE)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        from .ask import plain_conversation

        raise typer.Exit(plain_conversation(path.resolve(), model, base_url))
    from ..tui.app import run_chat

    run_chat(path.resolve(), model=model, base_url=base_url)

"""The `assist` command line: a thin layer over the indexer (and, later, the retriever and models)."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from .commands.ask import ask_command, models_command
from .commands.chat import BaseUrlOpt as ChatBaseUrlOpt
from .commands.chat import ModelOpt as ChatModelOpt
from .commands.chat import RepoOpt as ChatRepoOpt
from .commands.chat import chat_command
from .commands.common import EXIT_USAGE, plain_flags
from .commands.edit import edit_command
from .commands.editor import acp_command, mcp_command
from .commands.fix import fix_command, undo_command
from .commands.index import index_command, status_command
from .commands.retrieval import context_command, graph_app, search_command

# Shown under `assist --help`: what a script needs to know and finds nowhere else. "\b" keeps the lines as
# written (typer would join them into one paragraph).
_EPILOG = """\b
Exit status: 0 done, 1 failed, 2 usage error, 3 busy (another assist process
holds the repository), 130 interrupted (Ctrl+C).
Model: --model/--base-url, else ASSIST_MODEL/ASSIST_BASE_URL, else \\[model] in
.assist/config.toml. API key for OpenAI-compatible servers: ASSIST_API_KEY,
else OPENAI_API_KEY.
Shell completion: eval "$(assist completion bash)" (also zsh, fish).
"""

app = typer.Typer(
    name="assist",
    help="A local-first coding assistant that knows your repository as a graph of code.",
    epilog=_EPILOG,
    invoke_without_command=True,
    add_completion=False,  # `assist completion SHELL` prints the script instead of two options on every --help
    pretty_exceptions_enable=False,
)
plain_flags()


# Each command's --help ends with an example (the README's); `ask` and `models` carry their own.
app.command("index", epilog="Example: assist index -C ~/src/myproject --json")(index_command)
app.command("status", epilog="Example: assist status -C ~/src/myproject --skipped")(status_command)
app.command("search", epilog='Example: assist search "shipping fee charged twice" -C examples/inventory'
            )(search_command)
app.command("context", epilog="Example: pytest 2>&1 | assist context - --budget 4000 -C examples/inventory"
            )(context_command)
app.add_typer(graph_app, name="graph")

app.command("chat", epilog='\b\nExamples: assist chat -C examples/inventory\n'
                           '          echo "where is stock reserved?" | assist chat')(chat_command)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"assist {version('assist')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("assist (version unknown: not installed; pip install -e .)")
        raise typer.Exit(0)


@app.callback()
def _no_command(
    ctx: typer.Context,
    path: ChatRepoOpt = Path("."),
    model: ChatModelOpt = None,
    base_url: ChatBaseUrlOpt = None,
    _version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                           help="Print assist's version and exit.")] = False,
) -> None:
    """Plain `assist` opens the chat on a terminal (these options are `assist chat`'s); piped, it prints the help."""
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            typer.echo(ctx.get_help())
            raise typer.Exit(0)
        chat_command(path, model, base_url)
    elif model is not None or base_url is not None or path != Path("."):
        # Options before a command would be silently ignored by it: say where they go instead.
        typer.echo(f"assist: --model, --base-url and --path before a command are the chat's own; put options "
                   f"after the command's name (see `assist {ctx.invoked_subcommand} --help`)", err=True)
        raise typer.Exit(EXIT_USAGE)


app.command("ask")(ask_command)
app.command("models")(models_command)

app.command("fix", epilog='\b\nExamples: assist fix -C examples/bookings --test tests/\n'
                          '          assist fix --cmd "npm test" --yes --json')(fix_command)
app.command("undo", epilog="Example: assist undo -C examples/bookings")(undo_command)
app.command("edit", epilog='Example: assist edit "sort what free_rooms returns" -C examples/bookings')(edit_command)

# Editor integration over stdio (issue 6): an MCP server and an ACP agent.
app.command("mcp", epilog='Example: claude mcp add assist -- assist mcp -C "$PWD"')(mcp_command)
app.command("acp", epilog='Example (Zed settings.json): "agent_servers": {"assist": {"type": "custom", '
                          '"command": "assist", "args": ["acp"]}}')(acp_command)


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completion", epilog='\b\nExamples: eval "$(assist completion bash)"        # in ~/.bashrc\n'
                                  "          assist completion fish > ~/.config/fish/completions/assist.fish")
def completion_command(shell: Annotated[Shell, typer.Argument(help="The shell to complete in.")]) -> None:
    """Print the shell completion script for SHELL (commands, options, choices, paths)."""
    # The script calls `assist` back with _ASSIST_COMPLETE set; typer answers that before running any command.
    from typer._completion_shared import get_completion_script

    typer.echo(get_completion_script(prog_name="assist", complete_var="_ASSIST_COMPLETE", shell=shell.value))


def main() -> None:
    if os.environ.get("_ASSIST_COMPLETE"):
        # A shell asking for completions (the script from `assist completion`): typer registers its shells only
        # when it adds its own completion options, which would load on every --help; here only when asked.
        from typer._completion_classes import completion_init

        completion_init()
    # prog_name: the usage line and the completion protocol say `assist` however it was started (python -m too).
    if _is_ask_json(sys.argv[1:]):
        _run_ask_json()
    app(prog_name="assist")


def _is_ask_json(args: list[str]) -> bool:
    command = next((arg for arg in args if not arg.startswith("-")), None)
    return command == "ask" and "--json" in args


def _run_ask_json() -> NoReturn:
    """`ask --json` promises one JSON object on stdout in every case, a command line that click refuses before
    `ask` runs included (an unknown option, a negative budget): click's own report still goes to stderr."""
    try:
        code = app(prog_name="assist", standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:
        # Typer's click exceptions (a usage error, a bad parameter) can show themselves and carry their exit
        # status; typer vendors click in some versions, so they are recognised by what they can do.
        if not (hasattr(exc, "format_message") and hasattr(exc, "show") and hasattr(exc, "exit_code")):
            raise
        from .commands.ask import usage_error_json

        typer.echo(usage_error_json(exc.format_message()))
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

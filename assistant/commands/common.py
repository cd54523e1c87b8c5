"""What every `assist` command shares: exit statuses, the one way to fail with a message, repository checks.

Only typer is imported here, so `--help` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ..terminal import inert_lines

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3  # another assist process holds the repository (an indexer, a fix run)
EXIT_INTERRUPTED = 130  # Ctrl+C, as a shell reports SIGINT

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, for scripts.")]


def plain_flags() -> None:
    """Show no type for on/off flags in `--help`: typer writes `--json <bool>`, which reads as if the flag took a
    value. Every other option keeps its type (`<int>`, `<path>`, the choices). Typer has no setting for this,
    so its one method that names the type is wrapped; where a typer release lacks it, help keeps the noise."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_assist_plain_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_bool_flag else shown(self, ctx)

    display_type_rich._assist_plain_flags = True
    TyperOption.display_type_rich = display_type_rich


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """``assist: message`` on stderr, then exit with ``code``: never a traceback. Messages echo paths, names
    and servers' replies, so their control characters are shown, never sent to the terminal."""
    typer.echo(f"assist: {inert_lines(message)}", err=True)
    raise typer.Exit(code)


def repo_dir(path: Path) -> Path:
    """The resolved directory to work on; a usage error when it is missing or a file."""
    if not path.exists():
        fail(f"{path} does not exist", EXIT_USAGE)
    if not path.is_dir():
        fail(f"{path} is not a directory", EXIT_USAGE)
    return path.resolve()

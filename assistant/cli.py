"""The `assist` command line: a thin layer over the indexer (and, later, the retriever and models)."""

from __future__ import annotations

import json
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from .commands.common import EXIT_BUSY, EXIT_USAGE, JsonOpt, fail, plain_flags, repo_dir
from .progress import StageProgress
from .terminal import console, markup

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


PathArg = Annotated[
    Path | None,
    typer.Argument(help="Repository (or any directory) to work on; the same as -C.", show_default=False),
]
PathOpt = Annotated[
    Path | None,
    typer.Option("--path", "-C", help="Repository (or any directory) to work on.", show_default="current directory"),
]


class VectorsMode(str, Enum):
    now = "now"
    later = "later"
    off = "off"


def _one_path(positional: Path | None, option: Path | None) -> Path:
    """`assist index DIR` and `assist index -C DIR` both work; naming two different directories is a usage error."""
    if positional is not None and option is not None and positional != option:
        fail(f"two repositories given ({positional} and -C {option}); give one", EXIT_USAGE)
    return positional or option or Path(".")


@app.command(epilog="Example: assist index -C ~/src/myproject --json")
def index(
    path: PathArg = None,
    path_opt: PathOpt = None,
    as_json: JsonOpt = False,
    model: Annotated[
        str | None,
        typer.Option(help='Embedding model: "default" (bundled all-MiniLM-L6-v2), a sentence-transformers '
                          'name or path, or "ollama:MODEL".'),
    ] = None,
    max_file_size: Annotated[
        int | None, typer.Option(help="Skip files larger than this many bytes (default 1 MiB).")
    ] = None,
    wait: Annotated[
        float | None,
        typer.Option(help="Seconds to wait for another indexer on the same repository before giving up (default 5)."),
    ] = None,
    vectors: Annotated[
        VectorsMode | None,
        typer.Option("--vectors", help="Embed now (after the structural index, which every command can use at "
                                       "once), later (the next run, or a running chat/MCP/ACP, embeds), or off "
                                       "(never load the model). Default: [index] vectors in .assist/config.toml, "
                                       "else now.", show_default=False),
    ] = None,
) -> None:
    """Index a repository: code graph, lexical index, then symbol embeddings, under PATH/.assist/.

    Re-runs are incremental: only changed files are parsed and only new chunk contents are embedded.
    """
    from indexer.errors import IndexingError
    from indexer.lock import IndexBusy
    from indexer.pipeline import index_repository

    from .config import ConfigError
    from .index_settings import resolve_index_config

    root = repo_dir(_one_path(path, path_opt))
    try:
        config = resolve_index_config(root, vectors=getattr(vectors, "value", vectors), model=model,
                                      max_file_size=max_file_size)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    if wait is not None:
        config.lock_wait_s = wait

    started = time.perf_counter()
    show_progress = not as_json and sys.stderr.isatty()
    with StageProgress(enabled=show_progress) as progress:
        try:
            report = index_repository(root, config, progress=progress.update, notice=progress.notice)
        except IndexBusy as exc:
            fail(str(exc), EXIT_BUSY)
        except IndexingError as exc:
            fail(str(exc))
        except OSError as exc:  # .assist unusable (a plain file, no permission, disk full): one line, no traceback
            fail(f"cannot index {root}: {exc}")
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    _print_index_summary(report)


def _print_index_summary(report) -> None:
    skipped = sum(report.files_skipped.values())
    edges = ", ".join(f"{n} {kind}" for kind, n in sorted(report.edges.items()))
    console().print(
        f"[bold]Indexed[/bold] {report.files_indexed} files ({report.lines} lines) in {markup(report.root)}\n"
        f"  changed {report.files_changed}, removed {report.files_removed}, skipped {skipped}"
        + (f" ({', '.join(f'{n} {markup(r)}' for r, n in sorted(report.files_skipped.items()))})" if skipped else "")
        + f"\n  {report.symbols} symbols; edges: {edges or 'none'}"
        f"\n  {report.chunks} chunks, {report.chunks_embedded} newly embedded with {markup(report.embedding_model)}"
        f"\n  {_vectors_line(report.vectors)}; usable after {report.usable_after_s:.2f}s"
        f"\n  {report.seconds.get('total', 0):.2f}s ("
        + ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items() if k != "total")
        + ")"
    )


def _vectors_line(vectors: dict) -> str:
    from indexer.status import coverage_text

    line = coverage_text(vectors.get("stored", 0), vectors.get("chunks", 0))
    if vectors.get("stored", 0) < vectors.get("chunks", 0):
        line += " (`assist index` embeds the rest)" if vectors.get("mode") != "off" else " (--vectors off)"
    return line


@app.command(epilog="Example: assist status -C ~/src/myproject --skipped")
def status(
    path: PathArg = None,
    path_opt: PathOpt = None,
    as_json: JsonOpt = False,
    skipped: Annotated[bool, typer.Option("--skipped", help="List every skipped file with its reason.")] = False,
) -> None:
    """Show what is indexed, when and with which model, which files changed since, and sizes on disk."""
    from indexer.status import NoIndex, index_status

    root = repo_dir(_one_path(path, path_opt))
    try:
        st = index_status(root)
    except NoIndex as exc:
        fail(str(exc))
    if as_json:
        data = st.to_json()
        if not skipped:
            data.pop("skipped_files")
        typer.echo(json.dumps(data, indent=2))
        return
    _print_status(st, skipped)


def _print_status(st, list_skipped: bool) -> None:
    # Paths and reasons go in through markup(); console() prints a name like ":skull:" as written.
    out = console()
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.indexed_at)) if st.indexed_at else "never"
    out.print(f"[bold]{markup(st.root)}[/bold]")
    encoder = f" ({markup(st.encoder)})" if st.encoder and st.encoder != st.embedding_model else ""
    out.print(f"  indexed {when} with embedding model {markup(st.embedding_model)}{encoder}")
    out.print(f"  {st.files_indexed} files, {st.lines} lines, {st.symbols} symbols, {st.chunks} chunks")
    out.print("  edges: " + (", ".join(f"{n} {k}" for k, n in sorted(st.edges.items())) or "none"))
    out.print(f"  {markup(_vectors_line(st.vectors))}")
    if st.interrupted:
        out.print("  [yellow]the last index run was interrupted; `assist index` will complete it[/yellow]")
    if st.is_stale:
        out.print("  [yellow]stale:[/yellow] " + ", ".join(f"{len(v)} {k}" for k, v in st.stale.items() if v)
                      + " since indexing; run `assist index` to refresh")
        for kind, paths in st.stale.items():
            for p in paths[:20]:
                out.print(f"    {kind:8} {markup(p)}")
            if len(paths) > 20:
                out.print(f"    … and {len(paths) - 20} more {kind}")
    else:
        out.print("  up to date with the working tree")
    skipped_total = sum(st.skipped.values())
    out.print(f"  skipped {skipped_total} files" + (
        " (" + ", ".join(f"{n} {r}" for r, n in sorted(st.skipped.items())) + ")" if skipped_total else ""))
    if list_skipped:
        for item in st.skipped_files:
            detail = f" — {markup(item['detail'])}" if item["detail"] else ""
            out.print(f"    {markup(item['reason']):16} {markup(item['path'])}{detail}")
    mib = {k: v / (1024 * 1024) for k, v in st.size_on_disk.items()}
    out.print("  on disk: " + ", ".join(f"{k} {v:.1f} MiB" for k, v in mib.items()))


# Retrieval commands (search, context, graph) register here. Each command's --help ends with an example
# (the README's); `ask` and `models` carry their own.
from .commands.retrieval import context_command, graph_app, search_command  # noqa: E402

app.command("search", epilog='Example: assist search "shipping fee charged twice" -C examples/inventory'
            )(search_command)
app.command("context", epilog="Example: pytest 2>&1 | assist context - --budget 4000 -C examples/inventory"
            )(context_command)
app.add_typer(graph_app, name="graph")

from .commands.chat import BaseUrlOpt as ChatBaseUrlOpt  # noqa: E402
from .commands.chat import ModelOpt as ChatModelOpt  # noqa: E402
from .commands.chat import RepoOpt as ChatRepoOpt  # noqa: E402
from .commands.chat import chat_command  # noqa: E402

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


from .commands.ask import ask_command, models_command  # noqa: E402

app.command("ask")(ask_command)
app.command("models")(models_command)

from .commands.fix import fix_command, undo_command  # noqa: E402

app.command("fix", epilog='\b\nExamples: assist fix -C examples/bookings --test tests/\n'
                          '          assist fix --cmd "npm test" --yes --json')(fix_command)
app.command("undo", epilog="Example: assist undo -C examples/bookings")(undo_command)

# Editor integration over stdio (issue 6): an MCP server and an ACP agent.
from .commands.editor import acp_command, mcp_command  # noqa: E402

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

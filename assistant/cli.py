"""The `assist` command line: a thin layer over the indexer (and, later, the retriever and models)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from .commands.common import EXIT_BUSY, EXIT_USAGE, JsonOpt, fail, repo_dir
from .progress import StageProgress
from .terminal import markup

app = typer.Typer(
    name="assist",
    help="A local-first coding assistant that knows your repository as a graph of code.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


PathArg = Annotated[
    Path, typer.Argument(help="Repository (or any directory) to work on.", show_default="current directory")
]


@app.command()
def index(
    path: PathArg = Path("."),
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
) -> None:
    """Index a repository: code graph, symbol embeddings and lexical index under PATH/.assist/.

    Re-runs are incremental: only changed files are parsed and only new chunk contents are embedded.
    """
    from indexer.config import IndexConfig
    from indexer.embeddings import EmbeddingError
    from indexer.lock import IndexBusy
    from indexer.pipeline import index_repository

    root = repo_dir(path)
    config = IndexConfig()
    if model:
        config.embedding_model = model
    if max_file_size is not None:
        config.max_file_bytes = max_file_size
    if wait is not None:
        config.lock_wait_s = wait

    started = time.perf_counter()
    show_progress = not as_json and sys.stderr.isatty()
    with StageProgress(enabled=show_progress) as progress:
        try:
            report = index_repository(root, config, progress=progress.update, notice=progress.notice)
        except IndexBusy as exc:
            fail(str(exc), EXIT_BUSY)
        except EmbeddingError as exc:
            fail(str(exc))
    report.seconds["total"] = round(time.perf_counter() - started, 3)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    _print_index_summary(report)


def _print_index_summary(report) -> None:
    from rich.console import Console

    console = Console(stderr=False, highlight=False, emoji=False)
    skipped = sum(report.files_skipped.values())
    edges = ", ".join(f"{n} {kind}" for kind, n in sorted(report.edges.items()))
    console.print(
        f"[bold]Indexed[/bold] {report.files_indexed} files ({report.lines} lines) in {markup(report.root)}\n"
        f"  changed {report.files_changed}, removed {report.files_removed}, skipped {skipped}"
        + (f" ({', '.join(f'{n} {markup(r)}' for r, n in sorted(report.files_skipped.items()))})" if skipped else "")
        + f"\n  {report.symbols} symbols; edges: {edges or 'none'}"
        f"\n  {report.chunks} chunks, {report.chunks_embedded} newly embedded with {markup(report.embedding_model)}"
        f"\n  {report.seconds.get('total', 0):.2f}s ("
        + ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items() if k != "total")
        + ")"
    )


@app.command()
def status(
    path: PathArg = Path("."),
    as_json: JsonOpt = False,
    skipped: Annotated[bool, typer.Option("--skipped", help="List every skipped file with its reason.")] = False,
) -> None:
    """Show what is indexed, when and with which model, which files changed since, and sizes on disk."""
    from indexer.status import NoIndex, index_status

    root = repo_dir(path)
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
    from rich.console import Console

    # Paths and reasons go in through markup(); emoji=False so that a name like ":skull:" prints as written.
    console = Console(highlight=False, emoji=False)
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.indexed_at)) if st.indexed_at else "never"
    console.print(f"[bold]{markup(st.root)}[/bold]")
    console.print(f"  indexed {when} with embedding model {markup(st.embedding_model)}")
    console.print(f"  {st.files_indexed} files, {st.lines} lines, {st.symbols} symbols, {st.chunks} chunks")
    console.print("  edges: " + (", ".join(f"{n} {k}" for k, n in sorted(st.edges.items())) or "none"))
    if st.interrupted:
        console.print("  [yellow]the last index run was interrupted; `assist index` will complete it[/yellow]")
    if st.is_stale:
        console.print("  [yellow]stale:[/yellow] " + ", ".join(f"{len(v)} {k}" for k, v in st.stale.items() if v)
                      + " since indexing; run `assist index` to refresh")
        for kind, paths in st.stale.items():
            for p in paths[:20]:
                console.print(f"    {kind:8} {markup(p)}")
            if len(paths) > 20:
                console.print(f"    … and {len(paths) - 20} more {kind}")
    else:
        console.print("  up to date with the working tree")
    skipped_total = sum(st.skipped.values())
    console.print(f"  skipped {skipped_total} files" + (
        " (" + ", ".join(f"{n} {r}" for r, n in sorted(st.skipped.items())) + ")" if skipped_total else ""))
    if list_skipped:
        for item in st.skipped_files:
            detail = f" — {markup(item['detail'])}" if item["detail"] else ""
            console.print(f"    {markup(item['reason']):16} {markup(item['path'])}{detail}")
    mib = {k: v / (1024 * 1024) for k, v in st.size_on_disk.items()}
    console.print("  on disk: " + ", ".join(f"{k} {v:.1f} MiB" for k, v in mib.items()))


# Retrieval commands (search, context, graph) register here.
from .commands.retrieval import context_command, graph_app, search_command  # noqa: E402

app.command("search")(search_command)
app.command("context")(context_command)
app.add_typer(graph_app, name="graph")

from .commands.chat import BaseUrlOpt as ChatBaseUrlOpt  # noqa: E402
from .commands.chat import ModelOpt as ChatModelOpt  # noqa: E402
from .commands.chat import RepoOpt as ChatRepoOpt  # noqa: E402
from .commands.chat import chat_command  # noqa: E402

app.command("chat")(chat_command)


@app.callback()
def _no_command(
    ctx: typer.Context,
    path: ChatRepoOpt = Path("."),
    model: ChatModelOpt = None,
    base_url: ChatBaseUrlOpt = None,
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

app.command("fix")(fix_command)
app.command("undo")(undo_command)

# Editor integration over stdio (issue 6): an MCP server and an ACP agent.
from .commands.editor import acp_command, mcp_command  # noqa: E402

app.command("mcp")(mcp_command)
app.command("acp")(acp_command)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

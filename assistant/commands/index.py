"""`assist index` and `assist status`: build or refresh a repository's index, and show what it holds."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ..progress import StageProgress
from ..terminal import console, markup
from .common import EXIT_BUSY, EXIT_USAGE, JsonOpt, fail, repo_dir


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


class StoreFallback(str, Enum):
    fail = "fail"
    local = "local"


def _one_path(positional: Path | None, option: Path | None) -> Path:
    """`assist index DIR` and `assist index -C DIR` both work; naming two different directories is a usage error."""
    if positional is not None and option is not None and positional != option:
        fail(f"two repositories given ({positional} and -C {option}); give one", EXIT_USAGE)
    return positional or option or Path(".")


def index_command(
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
    store: Annotated[
        str | None,
        typer.Option("--store", help="Keep the vectors on a Chroma server (`chroma run`), e.g. http://host:8000, "
                                     "shared by every clone and machine that indexes the same code. Default: "
                                     "ASSIST_STORE, else [index] store in ~/.config/assist/config.toml, else the "
                                     "embedded store under .assist/. Token: ASSIST_STORE_TOKEN.", show_default=False),
    ] = None,
    store_fallback: Annotated[
        StoreFallback | None,
        typer.Option("--store-fallback", help="When the store server cannot be reached: fail (exit 1, the "
                                              "default) or local (index on the embedded store, with a notice).",
                     show_default=False),
    ] = None,
    embed_url: Annotated[
        str | None,
        typer.Option("--embed-url", help="Where an ollama: or openai: embedding model is served. Default: "
                                         "ASSIST_EMBED_URL, else [index] embed_url in ~/.config/assist/config.toml "
                                         "(OLLAMA_HOST for ollama:). Key: ASSIST_EMBED_API_KEY.", show_default=False),
    ] = None,
) -> None:
    """Index a repository: code graph, lexical index, then symbol embeddings, under PATH/.assist/.

    Re-runs are incremental: only changed files are parsed and only new chunk contents are embedded.
    """
    from indexer.errors import IndexingError
    from indexer.lock import IndexBusy
    from indexer.pipeline import index_repository

    from ..config import ConfigError
    from ..index_settings import check_store, resolve_index_settings

    root = repo_dir(_one_path(path, path_opt))
    try:
        settings = resolve_index_settings(root, vectors=getattr(vectors, "value", vectors), model=model,
                                          max_file_size=max_file_size, store=store, embed_url=embed_url,
                                          store_fallback=getattr(store_fallback, "value", store_fallback))
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    if wait is not None:
        settings.config.lock_wait_s = wait

    started = time.perf_counter()
    show_progress = not as_json and sys.stderr.isatty()
    with StageProgress(enabled=show_progress) as progress:
        notices: list[str] = []
        try:
            config = check_store(settings, lambda text: (notices.append(text), progress.notice(text)))
            report = index_repository(root, config, progress=progress.update, notice=progress.notice)
        except IndexBusy as exc:
            fail(str(exc), EXIT_BUSY)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except IndexingError as exc:
            fail(str(exc))
        except OSError as exc:  # .assist unusable (a plain file, no permission, disk full): one line, no traceback
            fail(f"cannot index {root}: {exc}")
    report.notices[:0] = notices
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
        + (f", {report.vectors_from_store} taken from the store server" if report.vectors_from_store else "")
        + f"\n  {_vectors_line(report.vectors)}; usable after {report.usable_after_s:.2f}s"
        f"\n  {report.seconds.get('total', 0):.2f}s ("
        + ", ".join(f"{k} {v:.2f}s" for k, v in report.seconds.items() if k != "total")
        + ")"
    )


def _vectors_line(vectors: dict) -> str:
    from indexer.status import coverage_text

    line = coverage_text(vectors.get("stored", 0), vectors.get("chunks", 0))
    if vectors.get("stored", 0) < vectors.get("chunks", 0):
        line += " (`assist index` embeds the rest)" if vectors.get("mode") != "off" else " (--vectors off)"
    store = vectors.get("store")
    if isinstance(store, dict) and store.get("url"):
        line += f"; on the Chroma server at {store['url']}"
    return line


def status_command(
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

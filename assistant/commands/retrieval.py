"""`assist search`, `assist context` and `assist graph ...`: the retriever on the command line.

Only typer is imported here; the retriever (networkx, bm25s) and the embedding model (torch) load inside
the commands, so `assist --help` and `assist search --help` stay instant.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..terminal import console, inert, inert_lines, markup, rich_text
from .common import EXIT_USAGE, fail

if TYPE_CHECKING:
    from indexer.retrieval import Retriever



class SearchKind(str, Enum):
    symbol = "symbol"
    file = "file"


class ExportFormat(str, Enum):
    json = "json"
    graphml = "graphml"
    dot = "dot"


class EdgeKind(str, Enum):  # indexer.model.EDGE_KINDS, spelled out so --help needs no indexer import
    contains = "contains"
    calls = "calls"
    imports = "imports"
    inherits = "inherits"
    tests = "tests"


QueryArg = Annotated[str, typer.Argument(help="What to look for: a question, an issue, a stack trace or names. '-' reads stdin.")]
SymbolArg = Annotated[str, typer.Argument(help="A qualified name (pkg/mod.py::Class.method), Class.method, mod.func, a bare name or a file path.")]
RepoOpt = Annotated[Path, typer.Option("--path", "-C", help="Repository to search.", show_default="current directory")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout, for scripts.")]
NoVectorsOpt = Annotated[bool, typer.Option("--no-vectors", help="Skip the embedding model (faster start; lexical, names and graph only).")]


def _read_query(query: str) -> str:
    text = sys.stdin.read() if query == "-" else query
    if not text.strip():
        fail("the query is empty", EXIT_USAGE)
    return text


def _open(path: Path, use_vectors: bool = True) -> Retriever:
    from indexer.retrieval import RetrievalError, Retriever

    if not path.exists():
        fail(f"{path} does not exist", EXIT_USAGE)
    if not path.is_dir():
        fail(f"{path} is not a directory", EXIT_USAGE)
    try:
        return Retriever(path, use_vectors=use_vectors)
    except RetrievalError as exc:
        fail(str(exc))


def _console():
    # Wraps on a terminal only: piped, a long path stays on one line. Repository text goes in as Text or through
    # markup() (see assistant.terminal).
    return console()


# ------------------------------------------------------------------------------------- search


def search_command(
    query: QueryArg,
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many results.")] = 10,
    kind: Annotated[SearchKind, typer.Option("--kind", help="Rank symbols or whole files.")] = SearchKind.symbol,
    path: RepoOpt = Path("."),
    as_json: JsonOpt = False,
    no_vectors: NoVectorsOpt = False,
) -> None:
    """Rank the code that answers QUERY: symbols (or files) with scores and the signals that found them."""
    from indexer.retrieval import RetrievalError

    text = _read_query(query)
    retriever = _open(path, use_vectors=not no_vectors)
    try:
        hits = retriever.search(text, top=top, kind=kind.value)
        notice = retriever.vector_notice()
    except RetrievalError as exc:
        fail(str(exc))
    finally:
        retriever.close()
    if notice:
        # On stderr also with --json: the JSON stays the list of hits that scripts already read.
        typer.echo(f"assist: {notice}", err=True)
    if as_json:
        typer.echo(json.dumps([hit.to_json() for hit in hits], indent=2))
        return
    if not hits:
        typer.echo("no results", err=True)
        return
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("#", "score", "location", "symbol", "why"):
        table.add_column(column, overflow="fold")
    for rank, hit in enumerate(hits, 1):
        location = f"{hit.path}:{hit.start_line}-{hit.end_line}" if hit.start_line else hit.path
        why = rich_text(", ".join(hit.why.signals) + (" (changed since indexing)" if hit.why.stale else ""))
        if hit.why.path_text():
            why.append("\n").append_text(rich_text(hit.why.path_text(), style="dim"))
        symbol = hit.symbol.partition("::")[2] if hit.symbol else ""
        table.add_row(str(rank), f"{hit.score:.2f}", rich_text(location), rich_text(symbol), why)
    _console().print(table)


# ------------------------------------------------------------------------------------ context


def context_command(
    query: QueryArg,
    budget: Annotated[int, typer.Option("--budget", "-b", min=0, help="Token budget of the pack.")] = 8000,
    path: RepoOpt = Path("."),
    as_json: JsonOpt = False,
    no_vectors: NoVectorsOpt = False,
) -> None:
    """Pack the best code for QUERY into a token budget, exactly as a model would receive it."""
    from indexer.retrieval import RetrievalError

    text = _read_query(query)
    retriever = _open(path, use_vectors=not no_vectors)
    try:
        pack = retriever.context(text, budget_tokens=budget)
    except RetrievalError as exc:
        fail(str(exc))
    finally:
        retriever.close()
    if as_json:
        typer.echo(json.dumps(pack.to_json(), indent=2))
        return
    if pack.text:
        typer.echo(inert_lines(pack.text))  # the code as the model gets it, its control characters made visible
    typer.echo(f"assist: {len(pack.items)} items, {pack.total_tokens}/{pack.budget} tokens", err=True)
    for note in pack.notes:
        typer.echo(f"assist: {inert_lines(note)}", err=True)


# -------------------------------------------------------------------------------------- graph

graph_app = typer.Typer(
    help="Explore the code graph: callers, callees, tests, a node's neighbourhood, or export it all.",
    no_args_is_help=True,
)


def _resolve(retriever: Retriever, name: str) -> str:
    from indexer.retrieval import AmbiguousSymbol, UnknownSymbol

    try:
        return retriever.resolve(name)
    except (AmbiguousSymbol, UnknownSymbol) as exc:
        fail(str(exc))


def _neighbour_command(name: str, path: Path, as_json: bool, what: str) -> None:
    retriever = _open(path, use_vectors=False)
    try:
        node = _resolve(retriever, name)
        found = retriever.related(node, what)
    finally:
        retriever.close()
    if as_json:
        typer.echo(json.dumps({"node": node, what: [n.to_json() for n in found]}, indent=2))
        return
    if not found:
        typer.echo(f"no {what} of {inert(node)} in the graph", err=True)
        return
    from rich.table import Table

    table = Table(title=rich_text(f"{what} of {node}"), show_edge=False, pad_edge=False)
    for column in ("node", "location", "line" if what != "tests" else "via"):
        table.add_column(column, overflow="fold")
    for n in found:
        location = f"{n.path}:{n.start_line}-{n.end_line}" if n.start_line else (n.path or "")
        third = str(n.line or "") if what != "tests" else (n.detail or "")
        table.add_row(rich_text(n.node), rich_text(location), rich_text(third))
    _console().print(table)


@graph_app.command("callers", epilog="Example: assist graph callers Order.total -C examples/inventory")
def graph_callers(symbol: SymbolArg, path: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Who calls SYMBOL."""
    _neighbour_command(symbol, path, as_json, "callers")


@graph_app.command("callees", epilog="Example: assist graph callees pricing.price_line -C examples/inventory")
def graph_callees(symbol: SymbolArg, path: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """What SYMBOL calls."""
    _neighbour_command(symbol, path, as_json, "callees")


@graph_app.command("tests", epilog="Example: assist graph tests Order.place -C examples/inventory --json")
def graph_tests(symbol: SymbolArg, path: RepoOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Tests that exercise SYMBOL (calling it, or importing its file)."""
    _neighbour_command(symbol, path, as_json, "tests")


DepthOpt = Annotated[int, typer.Option(
    "--depth", "-d", min=1, help="How many edges away from the --around symbol to go.")]
KindOpt = Annotated[list[EdgeKind] | None, typer.Option(
    "--kind", "-k", metavar="<contains|calls|imports|inherits|tests>",
    help="Keep only edges of this kind (repeat for several); default: all kinds.")]
SvgOpt = Annotated[Path | None, typer.Option(
    "--svg", help="Draw SYMBOL and its neighbours (one edge away) as an SVG picture in this file; needs "
                  "Graphviz's `dot`.", dir_okay=False)]


@graph_app.command("show", epilog="\b\nExamples: assist graph show Order.place -C examples/inventory\n"
                                  "          assist graph show Order.place --svg order_place.svg")
def graph_show(symbol: SymbolArg, path: RepoOpt = Path("."), as_json: JsonOpt = False, svg: SvgOpt = None) -> None:
    """The neighbourhood of a SYMBOL or FILE: what it contains, calls, is called by, inherits, imports, tests."""
    if svg is not None:
        if as_json:
            fail("--svg draws the neighbourhood, --json prints it: give one", EXIT_USAGE)
        _draw_svg(symbol, path, svg)
        return
    retriever = _open(path, use_vectors=False)
    try:
        node = _resolve(retriever, symbol)
        hood = retriever.neighbourhood(node)
    finally:
        retriever.close()
    if as_json:
        typer.echo(json.dumps(hood.to_json(), indent=2))
        return
    from rich.tree import Tree

    escape = markup  # every name, path and docstring below is repository text
    info = hood.info
    span = f":{info.start_line}-{info.end_line}" if info.start_line else ""
    title = f"[bold]{escape(node)}[/bold] ({escape(info.kind)}, {escape(info.path)}{span})"
    tree = Tree(title)
    if info.signature:
        tree.add(f"[cyan]{markup(info.signature, lines=True)}[/cyan]")
    if info.docstring:
        tree.add(f"[dim]{escape(info.docstring.strip().splitlines()[0])}[/dim]")
    if info.parent:
        tree.add(f"in {escape(info.parent)}")
    labels = {
        "contains": "contains", "calls": "calls →", "called_by": "called by ←", "bases": "inherits from",
        "subclasses": "inherited by", "imports": "imports", "imported_by": "imported by", "tests": "tested by",
    }
    for section in hood.SECTIONS:
        found = getattr(hood, section)
        if not found:
            continue
        branch = tree.add(f"[bold]{labels[section]}[/bold] ({len(found)})")
        for n in found[:50]:
            where = f" line {n.line}" if n.line else ""
            branch.add(f"{escape(n.node)} [dim]{escape(n.kind)}{where}[/dim]")
        if len(found) > 50:
            branch.add(f"… {len(found) - 50} more")
    unresolved = info.unresolved_calls
    if unresolved:
        tree.add(f"[dim]unresolved calls: {escape(', '.join(unresolved[:20]))}[/dim]")
    _console().print(tree)


def _draw_svg(symbol: str, path: Path, target: Path) -> None:
    import shutil
    import subprocess

    dot = shutil.which("dot")
    if dot is None:
        fail("--svg needs Graphviz's `dot` program, which is not on PATH: install the `graphviz` package "
             "(apt install graphviz, brew install graphviz, conda install graphviz)")
    retriever = _open(path, use_vectors=False)
    try:
        node = _resolve(retriever, symbol)
        part = retriever.export_graph("dot", around=node, depth=1)
    finally:
        retriever.close()
    try:
        drawn = subprocess.run([dot, "-Tsvg"], input=part.text.encode("utf-8"),
                               capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"Graphviz's dot failed: {exc}")
    if drawn.returncode != 0:
        fail(f"Graphviz's dot failed: {drawn.stderr.decode('utf-8', 'replace').strip() or f'exit {drawn.returncode}'}")
    from indexer.safe_fs import atomic_write

    try:
        atomic_write(target, drawn.stdout)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    typer.echo(f"assist: drew {inert(node)} and {part.nodes - 1} neighbours "
               f"({part.edges} edges) in {inert(target)}", err=True)


@graph_app.command("export", epilog="\b\n"
                                    "Examples: assist graph export --around Order.place -d 2 -f dot > order.dot\n"
                                    "          assist graph export --format graphml -o code.graphml")
def graph_export(
    fmt: Annotated[ExportFormat | None, typer.Option(
        "--format", "-f", help="Output format.", show_default="json")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    around: Annotated[str | None, typer.Option(
        "--around", help="Export only this symbol's or file's neighbourhood (see --depth, --kind), not the whole "
                         "repository.")] = None,
    depth: DepthOpt = 1,
    kind: KindOpt = None,
    path: RepoOpt = Path("."),
    as_json: Annotated[bool, typer.Option(
        "--json", help="The same as --format json (kept for scripts; --format is the one to use).")] = False,
) -> None:
    """Export the code graph, whole or around one symbol, as node-link JSON, GraphML or Graphviz DOT."""
    if as_json and fmt not in (None, ExportFormat.json):
        fail(f"--json and --format {fmt.value} disagree; give one", EXIT_USAGE)
    if around is None and (depth != 1 or kind):
        fail("--depth and --kind choose a neighbourhood: give --around SYMBOL too", EXIT_USAGE)
    fmt = fmt or ExportFormat.json
    retriever = _open(path, use_vectors=False)
    try:
        centre = _resolve(retriever, around) if around is not None else None
        exported = retriever.export_graph(fmt.value, around=centre, depth=depth,
                                          kinds=tuple(k.value for k in kind) if kind else None)
    finally:
        retriever.close()
    text = exported.text
    if output is None:
        # A file format: exact when piped or redirected, control characters made visible on a terminal.
        sys.stdout.write(inert_lines(text) if sys.stdout.isatty() else text)
        return
    from indexer.safe_fs import atomic_write

    atomic_write(output, text.encode("utf-8"))
    typer.echo(f"assist: wrote {exported.nodes} nodes and {exported.edges} edges to "
               f"{inert(output)}", err=True)

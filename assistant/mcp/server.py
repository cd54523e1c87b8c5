"""`assist mcp`: the repository's code graph and retriever as Model Context Protocol tools, over stdio.

Each tool answers with text for the model and the same answer as structured content (its output schema is
published with the tool). A failure the tool anticipated (no index, unknown or ambiguous symbol, a path
outside the repository, bad arguments) is a tool error with a message that says what to do; the server
keeps serving.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .tools import RELATIONS, Answer, RepoTools, ToolFailure

log = logging.getLogger("assist.mcp")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SearchResult(_Open):
    query: str
    kind: str
    results: list[dict[str, Any]] = Field(description="Best first: path, symbol, kind, start_line, end_line, score, "
                                                      "why (signals and evidence), graph_path.")


class ContextPack(_Open):
    query: str
    budget: int
    total_tokens: int
    items: list[dict[str, Any]]
    notes: list[str]
    text: str = Field(description="The packed code, exactly as a model would receive it.")


class SymbolInfo(_Open):
    node: str = Field(description="Qualified name, e.g. inventory/orders.py::Order.total.")
    name: str
    kind: str
    path: str
    language: str | None
    start_line: int | None
    end_line: int | None
    signature: str | None
    docstring: str | None
    parent: str | None
    source: str | None
    source_truncated: bool


class Related(_Open):
    node: str
    relation: str
    results: list[dict[str, Any]]


class IndexStatusInfo(_Open):
    root: str
    files_indexed: int
    symbols: int
    chunks: int
    is_stale: bool
    stale: dict[str, list[str]]


class ReindexReport(_Open):
    files_indexed: int
    files_changed: int
    files_removed: int
    requested_paths: list[str]


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Query = Annotated[str, Field(min_length=1, max_length=100_000,
                             description="A question, an issue report, a stack trace, or symbol and file names.")]
Name = Annotated[str, Field(min_length=1, max_length=1000,
                            description="A symbol or file: a qualified name (pkg/mod.py::Class.method), "
                                        "Class.method, module.function, a bare name, or a path relative to the "
                                        "repository.")]


def _result(answer: Answer) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=answer.text)], structured_content=answer.data)


async def _run(function, *args) -> CallToolResult:
    """Run one blocking tool in a worker thread; anticipated failures become tool errors."""
    try:
        answer = await anyio.to_thread.run_sync(function, *args)
    except ToolFailure as exc:
        raise ToolError(str(exc)) from exc
    return _result(answer)


class _Server(MCPServer):
    """The SDK's server, with arguments that fail the tool's schema answered one sentence per field, in words a
    model can act on (the SDK passes on pydantic's report: error codes and documentation links)."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None):
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(argument_problems(name, exc.__cause__)) from exc.__cause__
            raise


def argument_problems(tool: str, error: ValidationError) -> str:
    """``search_code``'s arguments were not accepted: ``top_k`` must be at least 1 (got 0). …"""
    sentences = []
    for problem in error.errors(include_url=False):
        field = ".".join(str(part) for part in problem["loc"]) or "arguments"
        if problem["type"] == "missing":
            sentences.append(f"`{field}` is required.")
            continue
        got = repr(problem.get("input"))
        got = got if len(got) <= 60 else got[:57] + "..."
        message = re.sub(r"^(Input|Value|String|List|Dictionary) should", "should", problem["msg"])
        sentences.append(f"`{field}` {message} (got {got}).")
    return f"`{tool}`'s arguments were not accepted: " + " ".join(sentences)


def build_server(root: Path, use_vectors: bool = True) -> tuple[MCPServer, RepoTools]:
    tools = RepoTools(root, use_vectors=use_vectors)
    server = _Server(
        "assist",
        title="assist: repository code graph and retrieval",
        version=_version(),
        instructions=(f"Tools over the code index of {tools.root}: search_code ranks symbols or files for any "
                      f"query; get_context packs the best code into a token budget; get_symbol shows a "
                      f"definition; related walks the code graph (callers, callees, tests, ...); index_status "
                      f"and reindex keep the index fresh. Only files inside this repository are served."),
        log_level="WARNING",
    )

    @server.tool(name="search_code", title="Search the repository's code", annotations=READ_ONLY, description=(
        "Rank the repository's symbols (functions, classes, methods) or whole files for a query. Combines "
        "BM25, embeddings, exact name and path mentions, and stack-trace frames, spread over the code graph "
        "with personalized PageRank. Each result has its location, score and the reasons it was found "
        "(signals and the graph path from a seed)."))
    async def search_code(
        query: Query,
        top_k: Annotated[int, Field(ge=1, le=100, description="How many results (1-100).")] = 10,
        kind: Annotated[Literal["symbol", "file"], Field(description="Rank symbols or whole files.")] = "symbol",
    ) -> Annotated[CallToolResult, SearchResult]:
        return await _run(tools.search_code, query, top_k, kind)

    @server.tool(name="get_context", title="Pack relevant code into a token budget", annotations=READ_ONLY,
                 description=(
        "The best code for a query packed into a token budget, function by function, with an outline of "
        "the surrounding files where there is room: ready to paste into a prompt. Items say why they were "
        "chosen."))
    async def get_context(
        query: Query,
        budget_tokens: Annotated[int, Field(ge=64, le=200_000, description="Token budget of the pack.")] = 4000,
    ) -> Annotated[CallToolResult, ContextPack]:
        return await _run(tools.get_context, query, budget_tokens)

    @server.tool(name="get_symbol", title="Show a definition", annotations=READ_ONLY, description=(
        "A symbol's or file's definition: qualified name, kind, location (path and lines), signature, "
        "docstring, enclosing symbol and source (at most 400 lines). An ambiguous bare name lists the "
        "qualified names to choose from; an unknown one suggests close matches."))
    async def get_symbol(name: Name) -> Annotated[CallToolResult, SymbolInfo]:
        return await _run(tools.get_symbol, name)

    @server.tool(name="related", title="Walk the code graph", annotations=READ_ONLY, description=(
        "Symbols related to a symbol or file in the code graph: callers (who calls it), callees (what it "
        "calls), tests (tests that exercise it), subclasses, bases, imports, imported_by, contains. Each "
        "result has its location; call edges have the line of the call."))
    async def related(
        name: Name,
        relation: Annotated[Literal[RELATIONS], Field(description="Which edges to follow.")],  # type: ignore[valid-type]
    ) -> Annotated[CallToolResult, Related]:
        return await _run(tools.related, name, relation)

    @server.tool(name="index_status", title="Index status", annotations=READ_ONLY, description=(
        "When and with which embedding model the repository was indexed, its size (files, symbols, chunks, "
        "edges) and which files were modified, added or deleted since."))
    async def index_status() -> Annotated[CallToolResult, IndexStatusInfo]:
        return await _run(tools.index_status)

    @server.tool(name="reindex", title="Refresh the index",
                 annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                                             open_world_hint=False),
                 description=(
        "Bring the index up to date with the working tree (incremental: only changed files are parsed and "
        "embedded; the first run embeds everything and takes a while). paths, if given, must be files inside "
        "the repository that changed; the whole repository is refreshed either way."))
    async def reindex(
        ctx: Context,
        paths: Annotated[list[Annotated[str, Field(min_length=1, max_length=4096)]] | None,
                         Field(max_length=10_000, description="Changed files, relative to the repository.")] = None,
    ) -> Annotated[CallToolResult, ReindexReport]:
        def progress(stage: str, done: int, total: int) -> None:
            try:
                anyio.from_thread.run(ctx.report_progress, done, total or None, stage)
            except Exception:  # progress is best effort: a client that left does not stop the indexer
                log.debug("progress report failed", exc_info=True)

        return await _run(tools.reindex, paths, progress)

    return server, tools


def serve(root: Path, use_vectors: bool = True, max_frame_bytes: int | None = None) -> None:
    """Serve until stdin closes (requests already received are answered first)."""
    from ..stdio_wire import MAX_FRAME_BYTES, claim_stdio
    from .transport import guarded_stdio

    stdio = claim_stdio()
    # The index's modules load here, on one thread, so no first import runs concurrently in the tool worker
    # threads (a server once stopped answering under load with every thread waiting; cause not found).
    import indexer.retrieval  # noqa: F401
    import indexer.status  # noqa: F401

    server, tools = build_server(root, use_vectors=use_vectors)
    if use_vectors:
        try:
            tools.fill_vectors_in_background()
        except ToolFailure as exc:  # a bad [index] table: every tool call that needs it says so too
            log.warning("no background embedding: %s", exc)
    lowlevel = server._lowlevel_server  # the SDK's own loop over our guarded streams (public run() takes any)

    async def main() -> None:
        async with guarded_stdio(stdio, max_frame_bytes or MAX_FRAME_BYTES) as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        tools.close()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assist")
    except PackageNotFoundError:
        return "0"

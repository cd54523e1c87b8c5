"""`assist ask` (one question, answered from the repository's code) and `assist models` (what a server offers).

The answer streams to stdout as it arrives; everything else (notices, the context with --show-context,
sources, errors) goes to stderr, so `assist ask ... > answer.md` keeps only the answer. Only typer is
imported at load time: the retriever, the providers and the embedding model load inside the commands.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..terminal import inert_lines, rich_text
from .common import EXIT_FAILED, EXIT_USAGE, fail, repo_dir

if TYPE_CHECKING:
    from assistant.chat import ChatSession, ContextReady, TurnDone

EXIT_INTERRUPTED = 130

QuestionArg = Annotated[str, typer.Argument(help="The question; '-' reads it from stdin.")]
RepoOpt = Annotated[Path, typer.Option("--path", "-C", help="Repository to ask about.",
                                       show_default="current directory")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help='Chat model: "ollama:NAME" (default ollama:qwen2.5-coder:7b) or "openai:NAME" for any '
                    'OpenAI-compatible server (llama.cpp, LM Studio, vLLM). Also ASSIST_MODEL or .assist/config.toml.')]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", help="Where the model server listens (Ollama: http://127.0.0.1:11434; OpenAI-compatible: "
                       "its API root, e.g. http://127.0.0.1:8080/v1). Also ASSIST_BASE_URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, for scripts.")]


def _err(text: str) -> None:
    # Notices, context, sources and errors echo repository text and servers' replies: made inert.
    typer.echo(inert_lines(text), err=True)


def _settings(root: Path, model: str | None, base_url: str | None):
    from assistant.config import ConfigError, resolve_model_settings

    try:
        return resolve_model_settings(root, model, base_url)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


# ----------------------------------------------------------------------------------------- ask


def ask_command(
    question: QuestionArg,
    path: RepoOpt = Path("."),
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    budget: Annotated[int | None, typer.Option(
        "--budget", "-b", min=0,
        help="Most tokens of repository code to send (default: 60% of what the context window leaves).")] = None,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, help="Longest answer in tokens (default: the provider's reply reserve).")] = None,
    show_context: Annotated[bool, typer.Option(
        "--show-context", help="Print the code sent to the model (on stderr, before the answer).")] = False,
    as_json: JsonOpt = False,
    no_vectors: Annotated[bool, typer.Option(
        "--no-vectors", help="Retrieve without the embedding model (faster start; names, lexical and graph).")] = False,
) -> None:
    """Answer QUESTION from the repository's code, citing path:line; the answer streams to stdout."""
    text = (sys.stdin.read() if question == "-" else question).strip()
    if not text:
        fail("the question is empty", EXIT_USAGE)
    root = repo_dir(path)
    with _open_session(root, model, base_url, max_reply_tokens=max_tokens, context_budget=budget,
                       use_vectors=not no_vectors) as session:
        _prepare_index(session, quiet=as_json)
        code = _run_turn(session, text, as_json=as_json, show_context=show_context)
    if code:
        raise typer.Exit(code)


def plain_conversation(root: Path, model: str | None, base_url: str | None) -> int:
    """`assist chat` without a terminal: each line of stdin is a question, answered on stdout as `ask` would,
    in one conversation (later questions see the earlier turns). Returns the exit status."""
    status = 0
    with _open_session(root, model, base_url) as session:
        _prepare_index(session, quiet=False)
        for line in sys.stdin:
            question = line.strip()
            if not question:
                continue
            if question.startswith("/"):
                _err(f"assist: {question.split()[0]} needs the terminal chat; skipped")
                continue
            code = _run_turn(session, question, as_json=False, show_context=False)
            if code == EXIT_INTERRUPTED:
                return code
            status = status or code
            sys.stdout.write("\n")
            sys.stdout.flush()
    return status


@contextmanager
def _open_session(root: Path, model: str | None, base_url: str | None, **options: Any) -> Iterator[ChatSession]:
    """The chat session of a one-shot command; a bad model setting or a failed turn ends it with a message."""
    from assistant.chat import ChatError, ChatSession
    from assistant.config import open_provider
    from assistant.providers import ProviderError

    settings = _settings(root, model, base_url)
    try:
        provider = open_provider(settings)
    except ProviderError as exc:
        fail(str(exc))
    session = ChatSession(root, provider, **options)
    try:
        yield session
    except ChatError as exc:
        fail(str(exc))
    finally:
        session.close()
        provider.close()


def _prepare_index(session: ChatSession, quiet: bool) -> None:
    """Index first (with progress bars on a terminal), so that the turn itself starts at retrieval."""
    from assistant.progress import StageProgress

    with StageProgress(enabled=sys.stderr.isatty() and not quiet) as progress:
        notices = session.ensure_index(progress=progress.update)
    for notice in notices:
        _err(f"assist: {notice.text}")


def _run_turn(session: ChatSession, question: str, *, as_json: bool, show_context: bool) -> int:
    from assistant.chat import AnswerDelta, ContextReady, Notice, TurnDone, TurnFailed

    cancel = threading.Event()
    record: dict[str, Any] = {"notices": []}
    streamed = False
    try:
        for event in session.ask(question, cancel=cancel):
            if isinstance(event, Notice):
                record["notices"].append({"text": event.text, "level": event.level})
                if not as_json:
                    prefix = "assist: warning: " if event.level == "warning" else "assist: "
                    _err(prefix + event.text)
            elif isinstance(event, ContextReady):
                record["ready"] = event
                if show_context and not as_json:
                    _print_context(session, event)
            elif isinstance(event, AnswerDelta):
                if not as_json:
                    sys.stdout.write(inert_lines(event.text))  # a reply can carry escapes too
                    sys.stdout.flush()
                    streamed = True
            elif isinstance(event, TurnDone):
                record["done"] = event
            elif isinstance(event, TurnFailed):
                record["failed"] = event
    except KeyboardInterrupt:
        cancel.set()
        if streamed:
            sys.stdout.write("\n")
        _err("assist: cancelled")
        return EXIT_INTERRUPTED
    if streamed:
        sys.stdout.write("\n")
        sys.stdout.flush()

    failed: TurnFailed | None = record.get("failed")
    if as_json:
        typer.echo(json.dumps(_json_result(session, question, record, show_context), indent=2))
    elif "done" in record:
        _print_sources(record["done"])
    if failed is not None:
        _err(f"assist: {failed.message}")
        return EXIT_FAILED
    return 0


def _print_context(session: ChatSession, ready: ContextReady) -> None:
    rule = "─" * 20
    _err(f"{rule} context: {len(ready.items)} items, {ready.context_tokens} tokens "
         f"(prompt {ready.prompt_tokens} of a {ready.context_window}-token window) {rule}")
    for item in ready.items:
        pinned = " [pinned]" if item.pinned else ""
        name = f"  {item.symbol.partition('::')[2]}" if item.symbol else ""
        _err(f"  {item.path}:{item.start_line}-{item.end_line}{name}  {item.kind}  {item.tokens} tokens{pinned}"
             f"  — {item.why}")
    if session.last_context_text:
        _err("")
        _err(session.last_context_text)
    _err(f"{rule} end of context {rule}")


def _print_sources(done: TurnDone) -> None:
    if not done.citations:
        return
    _err("sources:")
    for citation in done.citations:
        where = f"{citation.path}:{citation.line}" if citation.line else citation.path
        symbol = f"  {citation.symbol.partition('::')[2]}" if citation.symbol else ""
        mark = "  (cited)" if citation.origin == "answer" else ""
        _err(f"  {where}{symbol}{mark}")


def _json_result(session: ChatSession, question: str, record: dict[str, Any], show_context: bool) -> dict[str, Any]:
    ready: ContextReady | None = record.get("ready")
    done: TurnDone | None = record.get("done")
    failed = record.get("failed")
    result: dict[str, Any] = {
        "question": question,
        "model": session.provider.name,
        "answer": done.answer if done else (failed.partial_answer if failed else ""),
        "done_reason": done.done_reason if done else "error",
        "truncated": done.truncated if done else False,
        "error": failed.message if failed else None,
        "citations": [
            {"path": c.path, "line": c.line, "symbol": c.symbol, "origin": c.origin}
            for c in (done.citations if done else [])
        ],
        "context": [
            {
                "key": item.key, "path": item.path, "symbol": item.symbol, "kind": item.kind,
                "start_line": item.start_line, "end_line": item.end_line, "tokens": item.tokens,
                "pinned": item.pinned, "why": item.why, "why_detail": session.why_details(item.key),
            }
            for item in (ready.items if ready else [])
        ],
        "tokens": {
            "context": ready.context_tokens if ready else 0,
            "prompt": ready.prompt_tokens if ready else 0,
            "prompt_server": done.prompt_tokens if done else None,
            "completion": done.completion_tokens if done else None,
            "context_window": session.provider.context_window,
        },
        "notices": record["notices"],
    }
    if show_context:
        result["context_text"] = session.last_context_text
    return result


# -------------------------------------------------------------------------------------- models


def models_command(
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    path: Annotated[Path, typer.Option("--path", "-C", help="Repository whose .assist/config.toml to read.",
                                       show_default="current directory")] = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List the models the configured server offers, with their context length."""
    root = repo_dir(path)
    settings = _settings(root, model, base_url)
    if settings.provider == "ollama":
        models, selected = _ollama_models(settings), settings.model
    else:
        models, selected = _openai_models(settings)
    if as_json:
        typer.echo(json.dumps({
            "provider": settings.provider,
            "base_url": settings.base_url,
            "models": [{"name": m.name, "context_length": m.context_length, "details": m.details,
                        "selected": m.name == selected} for m in models],
        }, indent=2))
        return
    _err(f"assist: {settings.provider} server at {settings.base_url}")
    if not models:
        _err("assist: the server lists no models")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("", "model", "context", "details"):
        table.add_column(column, overflow="fold")
    for info in models:
        details = ", ".join(f"{k} {v}" for k, v in info.details.items())
        table.add_row("*" if info.name == selected else "", rich_text(f"{settings.provider}:{info.name}"),
                      str(info.context_length) if info.context_length else "?", rich_text(details))
    Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(table)


def _openai_models(settings) -> tuple[list, str]:
    """The server's models, and the one requests would use (with no name given: the first listed)."""
    from assistant.config import open_provider
    from assistant.providers import ProviderError

    try:
        provider = open_provider(settings)
    except ProviderError as exc:
        fail(str(exc))
    try:
        return provider.list_models(), provider.model
    except ProviderError as exc:
        fail(str(exc))
    finally:
        provider.close()


def _ollama_models(settings) -> list:
    """Every model Ollama has, with its context length from /api/show (listing needs no particular model,
    so this works before the configured one is pulled)."""
    import httpx
    import ollama

    from assistant.providers import ModelInfo
    from assistant.providers.limits import RequestLimits
    from assistant.providers.ollama import _context_length

    limits = RequestLimits(silence_s=settings.timeout_s, reply_s=settings.reply_timeout_s)
    client = ollama.Client(host=settings.base_url, **limits.client_options())
    try:
        listing = client.list()
        models = []
        for entry in listing.models:
            name = entry.model or ""
            shown = client.show(name)
            details = {"capabilities": ", ".join(shown.capabilities or [])}
            if entry.details is not None:
                details.update(parameters=entry.details.parameter_size or "",
                               quantization=entry.details.quantization_level or "")
            models.append(ModelInfo(name, _context_length(shown.modelinfo or {}),
                                    {k: v for k, v in details.items() if v}))
        return models
    except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout):
        fail(f"cannot reach Ollama at {settings.base_url}: start it with `ollama serve`, or point --base-url / "
              f"ASSIST_BASE_URL at the server that runs it")
    except httpx.TimeoutException:
        fail(f"Ollama at {settings.base_url} did not answer within {limits.read_s:g} s")
    except ollama.ResponseError as exc:
        fail(f"Ollama at {settings.base_url} refused the request (HTTP {exc.status_code}): {exc.error}")
    except httpx.HTTPError as exc:  # a reply past its deadline or size cap, a broken connection
        fail(f"Ollama at {settings.base_url} did not answer properly: {exc}")
    finally:
        client.close()

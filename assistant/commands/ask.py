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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..terminal import console, inert_lines, rich_text
from .common import EXIT_BUSY, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, fail, repo_dir

if TYPE_CHECKING:
    from assistant.chat import ChatSession, ContextReady, TurnDone


# Optional for typer, so that a missing question is answered like an empty one: as a JSON object with --json.
QuestionArg = Annotated[str | None, typer.Argument(help="The question; '-' reads it from stdin.",
                                                   metavar="QUESTION", show_default=False)]
RepoOpt = Annotated[Path, typer.Option("--path", "-C", help="Repository to ask about.",
                                       show_default="current directory")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help='Chat model: "ollama:NAME" (default ollama:qwen2.5-coder:7b), "openai:NAME" for any '
                    'OpenAI-compatible server (llama.cpp, LM Studio, vLLM), or "scripted:FILE" (a JSON list of '
                    'prepared replies). A NAME without a prefix goes to the server --base-url implies (a URL ending '
                    'in /v1: openai), else Ollama. Also ASSIST_MODEL or .assist/config.toml.')]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", help="Where the model server listens (Ollama: http://127.0.0.1:11434; OpenAI-compatible: "
                       "its API root, e.g. http://127.0.0.1:8080/v1). Also ASSIST_BASE_URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, for scripts.")]


def _err(text: str) -> None:
    # Notices, context, sources and errors echo repository text and servers' replies: made inert.
    typer.echo(inert_lines(text), err=True)


class _Failed(Exception):
    """A failure that ends `ask` or `models` before any answer: reported once at the top, on stderr and (with
    --json) as the JSON object's ``error``, with the exit status a script can rely on."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class _Record:
    """What one question has gathered so far: the JSON object is built from it whether the question was
    answered, failed, or never reached the model (bad settings, dead server, Ctrl-C while indexing)."""

    question: str | None
    model: str | None
    session: ChatSession | None = None
    notices: list[dict[str, str]] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)  # the answer as it streamed: kept when the turn stops
    ready: ContextReady | None = None
    done: TurnDone | None = None
    error: str | None = None

    def notice(self, text: str, level: str = "info") -> None:
        self.notices.append({"text": text, "level": level})


def _settings(root: Path, model: str | None, base_url: str | None):
    from assistant.config import ConfigError, resolve_model_settings

    try:
        return resolve_model_settings(root, model, base_url)
    except ConfigError as exc:
        raise _Failed(str(exc), EXIT_USAGE) from exc


def _repo(path: Path) -> Path:
    # repo_dir() exits with its message on stderr only; --json needs the message for the object too.
    if not path.exists():
        raise _Failed(f"{path} does not exist", EXIT_USAGE)
    if not path.is_dir():
        raise _Failed(f"{path} is not a directory", EXIT_USAGE)
    return repo_dir(path)


# ----------------------------------------------------------------------------------------- ask


def ask_command(
    question: QuestionArg = None,
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
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object on stdout, for scripts, also when it fails (then \"error\" says "
                       "why; the exit status is the same as without --json).")] = False,
    no_vectors: Annotated[bool, typer.Option(
        "--no-vectors", help="Retrieve without the embedding model (faster start; names, lexical and graph).")] = False,
) -> None:
    """Answer QUESTION from the repository's code, citing path:line; the answer streams to stdout.

    Example: assist ask "where is stock reserved?" -C examples/inventory --json
    """
    record = _Record(None if question == "-" else question, model)
    try:
        code = _ask(record, question, path, model, base_url, show_context=show_context, as_json=as_json,
                    max_reply_tokens=max_tokens, context_budget=budget, use_vectors=not no_vectors)
    except _Failed as exc:
        record.error, code = exc.message, exc.code
        _err(f"assist: {exc.message}")
    except KeyboardInterrupt:  # while connecting or indexing; a turn handles its own
        record.error, code = "cancelled (Ctrl+C)", EXIT_INTERRUPTED
        _err("assist: cancelled")
    if as_json:
        typer.echo(json.dumps(_json_result(record, show_context), indent=2))
    if code:
        raise typer.Exit(code)


def _ask(record: _Record, question: str | None, path: Path, model: str | None, base_url: str | None, *,
         show_context: bool, as_json: bool, **options: Any) -> int:
    if question is None:
        raise _Failed("no question given: pass it as an argument, or - to read it from stdin", EXIT_USAGE)
    text = (sys.stdin.read() if question == "-" else question).strip()
    record.question = text
    if not text:
        raise _Failed("the question is empty", EXIT_USAGE)
    root = _repo(path)
    with _open_session(root, model, base_url, record, **options) as session:
        _prepare_index(session, record, quiet=as_json)
        return _run_turn(session, text, record, as_json=as_json, show_context=show_context)


def plain_conversation(root: Path, model: str | None, base_url: str | None) -> int:
    """`assist chat` without a terminal: each line of stdin is a question, answered on stdout as `ask` would,
    in one conversation (later questions see the earlier turns). Returns the exit status."""
    status = 0
    try:
        with _open_session(root, model, base_url, _Record(None, model)) as session:
            _prepare_index(session, _Record(None, model), quiet=False)
            for line in sys.stdin:
                question = line.strip()
                if not question:
                    continue
                if question.startswith("/"):
                    _err(f"assist: {question.split()[0]} needs the terminal chat; skipped")
                    continue
                code = _run_turn(session, question, _Record(question, model), as_json=False, show_context=False)
                if code == EXIT_INTERRUPTED:
                    return code
                status = status or code
                sys.stdout.write("\n")
                sys.stdout.flush()
    except _Failed as exc:
        fail(exc.message, exc.code)
    return status


@contextmanager
def _open_session(root: Path, model: str | None, base_url: str | None, record: _Record,
                  **options: Any) -> Iterator[ChatSession]:
    """The chat session of a one-shot command; a bad model setting, a server that cannot be used or an index
    that cannot be built raise ``_Failed``."""
    from assistant.chat import ChatError, ChatSession
    from assistant.config import open_provider
    from assistant.providers import ProviderError

    settings = _settings(root, model, base_url)
    record.model = settings.spec
    for text in settings.notices:  # which provider a name without a prefix was taken for: said once
        record.notice(text)
        _err(f"assist: {text}")
    try:
        provider = open_provider(settings)
    except ProviderError as exc:
        raise _Failed(str(exc)) from exc
    session = ChatSession(root, provider, **options)
    record.session, record.model = session, provider.name
    try:
        yield session
    except ChatError as exc:
        raise _Failed(str(exc), EXIT_BUSY if _busy(exc) else EXIT_FAILED) from exc
    finally:
        session.close()
        provider.close()


def _busy(exc: BaseException) -> bool:
    from indexer.lock import IndexBusy

    return isinstance(exc.__cause__, IndexBusy)


def _prepare_index(session: ChatSession, record: _Record, quiet: bool) -> None:
    """Index first (with progress bars on a terminal), so that the turn itself starts at retrieval."""
    from assistant.progress import StageProgress

    with StageProgress(enabled=sys.stderr.isatty() and not quiet) as progress:
        notices = session.ensure_index(progress=progress.update)
    for notice in notices:
        record.notice(notice.text, notice.level)
        _err(f"assist: {notice.text}")


def _run_turn(session: ChatSession, question: str, record: _Record, *, as_json: bool, show_context: bool) -> int:
    """Ask, streaming the answer to stdout (without --json); returns the exit status of the turn."""
    from assistant.chat import AnswerDelta, ContextReady, Notice, TurnDone, TurnFailed

    cancel = threading.Event()
    streamed = False
    try:
        for event in session.ask(question, cancel=cancel):
            if isinstance(event, Notice):
                record.notice(event.text, event.level)
                if not as_json:
                    prefix = "assist: warning: " if event.level == "warning" else "assist: "
                    _err(prefix + event.text)
            elif isinstance(event, ContextReady):
                record.ready = event
                if show_context and not as_json:
                    _print_context(session, event)
            elif isinstance(event, AnswerDelta):
                record.parts.append(event.text)
                if not as_json:
                    sys.stdout.write(inert_lines(event.text))  # a reply can carry escapes too
                    sys.stdout.flush()
                    streamed = True
            elif isinstance(event, TurnDone):
                record.done = event
            elif isinstance(event, TurnFailed):
                record.error = event.message
                if event.partial_answer:
                    record.parts = [event.partial_answer]
    except KeyboardInterrupt:
        cancel.set()
        if streamed:
            sys.stdout.write("\n")
        record.error = "cancelled (Ctrl+C)"
        _err("assist: cancelled")
        return EXIT_INTERRUPTED
    if streamed:
        sys.stdout.write("\n")
        sys.stdout.flush()
    if record.done is not None and not as_json:
        _print_sources(record.done)
    if record.error is not None:
        _err(f"assist: {record.error}")
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


def usage_error_json(message: str) -> str:
    """The `ask --json` object for arguments the command line refused before `ask` ran (an unknown option, a
    budget below 0): the same keys, with ``error`` saying why."""
    return json.dumps(_json_result(_Record(None, None, error=message), show_context=False), indent=2)


def _json_result(record: _Record, show_context: bool) -> dict[str, Any]:
    """The one JSON object of `ask --json`: the same keys whether the question was answered or not."""
    session, ready, done = record.session, record.ready, record.done
    result: dict[str, Any] = {
        "question": record.question,
        "model": record.model,
        "answer": done.answer if done else "".join(record.parts),
        "done_reason": done.done_reason if done and record.error is None else "error",
        "truncated": done.truncated if done else False,
        "error": record.error,
        "citations": [
            {"path": c.path, "line": c.line, "symbol": c.symbol, "origin": c.origin}
            for c in (done.citations if done else [])
        ],
        "context": [
            {
                "key": item.key, "path": item.path, "symbol": item.symbol, "kind": item.kind,
                "start_line": item.start_line, "end_line": item.end_line, "tokens": item.tokens,
                "pinned": item.pinned, "why": item.why,
                "why_detail": session.why_details(item.key) if session else None,
            }
            for item in (ready.items if ready else [])
        ],
        "tokens": {
            "context": ready.context_tokens if ready else 0,
            "prompt": ready.prompt_tokens if ready else 0,
            "prompt_server": done.prompt_tokens if done else None,
            "completion": done.completion_tokens if done else None,
            "context_window": session.provider.context_window if session else None,
        },
        "notices": record.notices,
    }
    if show_context:
        result["context_text"] = session.last_context_text if session else ""
    return result


# -------------------------------------------------------------------------------------- models


def models_command(
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    path: Annotated[Path, typer.Option("--path", "-C", help="Repository whose .assist/config.toml to read.",
                                       show_default="current directory")] = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """List the models the configured server offers, with their context length.

    Example: assist models --base-url http://127.0.0.1:8080/v1
    """
    facts: dict[str, Any] = {"provider": None, "base_url": None}
    try:
        settings = _settings(_repo(path), model, base_url)
        facts.update(provider=settings.provider, base_url=settings.base_url)
        for text in settings.notices:
            _err(f"assist: {text}")
        provider, url, models, selected = _list_models(settings)
    except _Failed as exc:
        if as_json:
            typer.echo(json.dumps({**facts, "models": [], "error": exc.message}, indent=2))
        fail(exc.message, exc.code)
    if as_json:
        typer.echo(json.dumps({
            "provider": provider,
            "base_url": url,
            "models": [{"name": m.name, "context_length": m.context_length, "details": m.details,
                        "selected": m.name == selected} for m in models],
            "error": None,
        }, indent=2))
        return
    _err(f"assist: {provider} server at {url}" if url else f"assist: {provider} (no server)")
    if not models:
        _err("assist: the server lists no models")
        return
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("", "model", "context", "details"):
        table.add_column(column, overflow="fold")
    for info in models:
        details = ", ".join(f"{k} {v}" for k, v in info.details.items())
        table.add_row("*" if info.name == selected else "", rich_text(f"{provider}:{info.name}"),
                      str(info.context_length) if info.context_length else "?", rich_text(details))
    console().print(table)


def _list_models(settings):
    """What the server the settings point at offers (``assistant.providers.registry`` asks it)."""
    from assistant.providers import ProviderError
    from assistant.providers.registry import list_server_models

    try:
        listing = list_server_models(settings)
    except ProviderError as exc:
        raise _Failed(str(exc)) from exc
    for text in listing.notices:  # e.g. the address is another kind of server than assumed
        _err(f"assist: {text}")
    return listing.provider, listing.base_url, listing.models, listing.selected

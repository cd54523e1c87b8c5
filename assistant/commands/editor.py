"""`assist mcp` and `assist acp`: editor integration over stdio.

stdout carries protocol frames only; everything else (logs, warnings, progress bars of libraries) goes to
stderr. The SDKs, the retriever and the model client load inside the commands, so `--help` stays instant.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import repo_dir


# -C/--path as in every other command; --repo is the older spelling, kept so existing editor configurations
# (`assist mcp --repo "$PWD"`) keep working.
RepoOpt = Annotated[Path, typer.Option("--path", "-C", "--repo", help="Repository to serve (--repo: the same, older "
                                       "spelling).", show_default="current directory")]
WorkDirOpt = Annotated[Path | None, typer.Option(
    "--path", "-C", help="The agent's working directory. Each session's repository is still the directory the "
                         "editor opens it in.", show_default="current directory")]
NoVectorsOpt = Annotated[bool, typer.Option(
    "--no-vectors", help="Retrieve without the embedding model (faster start; names, lexical and graph only).")]
MaxFrameOpt = Annotated[int, typer.Option(
    "--max-frame-bytes", min=1024, help="Longest JSON-RPC frame accepted; a longer one is refused with an error.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log requests and errors to stderr.")]
ModelOpt = Annotated[str | None, typer.Option(
    "--model", help='Chat model: "ollama:NAME" (default ollama:qwen2.5-coder:7b), "openai:NAME", or '
                    '"scripted:FILE" (a JSON list of prepared replies). Also ASSIST_MODEL or the repository\'s '
                    ".assist/config.toml.")]
BaseUrlOpt = Annotated[str | None, typer.Option(
    "--base-url", help="Where the model server listens (Ollama root, or an OpenAI-compatible API root ending in "
                       "/v1). Also ASSIST_BASE_URL.")]


def _quiet_libraries(verbose: bool) -> None:
    """Everything but protocol frames to stderr, and no progress bars at all (an editor shows none of them)."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="assist %(name)s %(levelname)s: %(message)s")
    logging.captureWarnings(True)


def mcp_command(
    repo: RepoOpt = Path("."),
    no_vectors: NoVectorsOpt = False,
    max_frame_bytes: MaxFrameOpt = 8 * 1024 * 1024,
    verbose: VerboseOpt = False,
) -> None:
    """Serve the repository's code graph and retriever as MCP tools over stdio.

    For Claude Code, VS Code, Zed, Cursor, Neovim, ...: search_code, get_context,
    get_symbol, related, index_status, reindex. Only files inside the repository
    are served. Stops at the end of stdin.
    """
    _quiet_libraries(verbose)
    root = repo_dir(repo)
    from assistant.mcp.server import serve

    serve(root, use_vectors=not no_vectors, max_frame_bytes=max_frame_bytes)


def acp_command(
    path: WorkDirOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    no_vectors: NoVectorsOpt = False,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, help="Longest answer in tokens (default: the provider's reply reserve).")] = None,
    budget: Annotated[int | None, typer.Option(
        "--budget", "-b", min=0, help="Most tokens of repository code per prompt (default: 60% of what the "
                                      "context window leaves).")] = None,
    max_frame_bytes: MaxFrameOpt = 8 * 1024 * 1024,
    verbose: VerboseOpt = False,
) -> None:
    """Run as an Agent Client Protocol agent over stdio, for an editor's agent panel.

    For Zed, JetBrains, Neovim's CodeCompanion or avante, Emacs agent-shell, Toad.
    The directory the editor opens a session in is that session's repository; the
    model is chosen as for `assist ask`. `/fix TESTS` in a prompt runs the
    test-driven fix loop, asking before each command and each write.
    """
    _quiet_libraries(verbose)
    if path is not None:
        # The protocol names each session's directory; -C moves the agent itself there (where relative paths in
        # its own settings resolve), as `cd DIR && assist acp` would.
        os.chdir(repo_dir(path))
    from assistant.acp.agent import AgentOptions, serve

    serve(AgentOptions(model=model, base_url=base_url, use_vectors=not no_vectors, max_reply_tokens=max_tokens,
                       context_budget=budget, max_frame_bytes=max_frame_bytes))

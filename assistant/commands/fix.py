"""`assist fix` (run the tests, let the model repair the failure, re-run until green) and `assist undo`.

Progress goes to stderr (a live view on a terminal); the report — the diff and the tests before and after —
to stdout, or one JSON object with --json. Exit status 0 only when the selected tests pass at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import EXIT_BUSY, EXIT_FAILED, EXIT_USAGE, JsonOpt, fail, repo_dir


# How the command line restores what `assist fix` or `assist edit` wrote: the runs name it in their messages.
UNDO = "`assist undo`"
RepoOpt = Annotated[Path, typer.Option("--path", "-C", help="Repository to work in.", show_default="current directory")]


def fix_command(
    test: Annotated[list[str] | None, typer.Option(
        "--test", "-t", help="Test file or folder to run with pytest (repeatable). Default: the project's tests.")] = None,
    cmd: Annotated[str | None, typer.Option(
        "--cmd", help='Any shell command that runs the tests instead of pytest, e.g. "npm test" or "make check".')] = None,
    max_iterations: Annotated[int, typer.Option(
        "--max-iterations", "-n", min=1, help="Model replies to try at most.")] = 4,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds one test run may take; then every process it started is killed.")] = 300.0,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Propose a fix and show its diff; write nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Write the model's edits without asking (for CI); otherwise each diff is shown first.")] = False,
    as_json: JsonOpt = False,
    model: Annotated[str | None, typer.Option(
        "--model", help='Chat model: "ollama:NAME" (default ollama:qwen2.5-coder:7b), "openai:NAME" for an '
                        'OpenAI-compatible server, or "scripted:FILE" (a JSON list of prepared replies).')] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Where the model server listens. Also ASSIST_BASE_URL.")] = None,
    path: RepoOpt = Path("."),
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, help="Longest model reply in tokens (default: a quarter of the window, up to 4096).")] = None,
    budget: Annotated[int | None, typer.Option(
        "--budget", "-b", min=0, help="Most tokens of repository code per round (default: what the window leaves).")] = None,
    edit_format: Annotated[str | None, typer.Option(
        "--format", help="Force the edit format: search_replace or whole_file (default: chosen per model from "
                         "how well it has done).")] = None,
    no_vectors: Annotated[bool, typer.Option(
        "--no-vectors", help="Localize without the embedding model (faster start).")] = False,
    sandbox: Annotated[str, typer.Option(
        "--sandbox", help="Confine the test runs: writes only in the repository and a private temp dir, no TCP "
                          "(Linux Landlock, macOS sandbox-exec). auto: where the OS allows; on: stop if it cannot; "
                          "off: never.")] = "auto",
    allow_test_config: Annotated[bool, typer.Option(
        "--allow-test-config", help="Let the model create or change test infrastructure (conftest.py, pytest.ini, "
                                    "pyproject.toml, Makefile, ...) without asking, even with --yes.")] = False,
) -> None:
    """Run the tests; while they fail, localize the failure, let the model edit the code, and re-run.

    Every edit is checked before anything is written (paths inside the repository, exact matches, syntax),
    written all or nothing, and saved first so that `assist undo` restores the files as they were.
    """
    from assistant.config import ConfigError
    from assistant.fix.loop import FixLoop, FixOptions
    from assistant.fix.models import open_model
    from assistant.providers import ProviderError

    from .fix_view import FixView, check_run_options, drive

    root = repo_dir(path)
    interactive = check_run_options("fix", test, cmd, edit_format, sandbox, yes, dry_run, "show the edits")
    try:
        provider = open_model(root, model, base_url)
    except (ConfigError, ProviderError) as exc:
        fail(str(exc), EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED)
    options = FixOptions(test_paths=list(test) if test else None, command=cmd, max_iterations=max_iterations,
                         timeout_s=timeout, dry_run=dry_run, use_vectors=not no_vectors, context_budget=budget,
                         max_reply_tokens=max_tokens, edit_format=edit_format, allow_test_config=allow_test_config,
                         sandbox=sandbox, undo=UNDO)

    view = FixView(live=sys.stderr.isatty() and not as_json, quiet=as_json)
    # Under --yes a change to test infrastructure is still asked about when someone can answer; in CI
    # (no terminal) the loop refuses such a reply and tells the model to fix the code instead.
    confirm = view.approve if yes and not dry_run and sys.stdin.isatty() else None
    loop = FixLoop(root, provider, options, approve=view.approve if interactive else None,
                   confirm_test_config=confirm)
    drive(loop, view, provider, as_json)


def undo_command(
    path: RepoOpt = Path("."),
    force: Annotated[bool, typer.Option(
        "--force", help="Restore even files changed again since the fix run (those later changes are lost).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Put back the files the last `assist fix` run changed, byte for byte, and delete the files it created.

    Only those files are touched: untracked and ignored files, git's history and its index stay as they are.
    assist's own index, if there is one, is then brought up to date with the files put back.
    A path that now leads through a symbolic link is refused and left as it is (nothing outside the
    repository is written or deleted); the refusals are listed and the exit status is then 1.
    """
    from assistant.fix.checkpoint import NothingToUndo, UndoConflict, undo_latest
    from assistant.fix.index_refresh import refresh_after_undo
    from assistant.terminal import inert
    from indexer.lock import IndexBusy

    root = repo_dir(path)
    try:
        report = undo_latest(root, force=force)
    except NothingToUndo as exc:
        fail(str(exc))
    except UndoConflict as exc:
        fail(str(exc))
    except IndexBusy as exc:
        fail(str(exc), EXIT_BUSY)
    except OSError as exc:
        fail(f"undo failed: {exc}; the saved originals are kept under .assist/checkpoints/, run it again")
    # The index follows the files put back, so the next `assist ask` or editor question reads them as they are.
    index_warning = refresh_after_undo(root, report, "`assist index`")
    if index_warning:
        typer.echo(f"assist: {index_warning}", err=True)
    if as_json:
        typer.echo(json.dumps(report.to_json() | {"index_warning": index_warning}, indent=2))
    else:
        # Paths and reasons come from the repository (a file name can hold ESC or CR): shown inert.
        for rel in report.restored:
            typer.echo(f"restored {inert(rel)}")
        for rel in report.deleted:
            typer.echo(f"deleted  {inert(rel)} (created by the fix run)")
        for rel in report.unchanged:
            typer.echo(f"kept     {inert(rel)} (already as before the run)")
        for refusal in report.refused:
            typer.echo(f"refused  {inert(refusal['path'])}: {inert(refusal['reason'])}")
    if report.refused:
        fail(report.refusal_note(UNDO))



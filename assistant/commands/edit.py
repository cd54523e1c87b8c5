"""`assist edit "REQUEST" [PATHS|SYMBOLS…]`: change code on request, through `assist fix`'s safe pipeline.

Progress goes to stderr (a live line on a terminal), the report — what was asked, what changed, the tests
before and after — to stdout, or one JSON object with --json. Exit status 0 when the edit was written and its
tests (if run) pass, when the model answered instead of editing, and for a dry run that found an edit; 1
otherwise; 2 usage; 3 another edit or fix holds the repository; 130 interrupted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from ..terminal import inert, inert_lines, markup
from .common import EXIT_FAILED, EXIT_USAGE, JsonOpt, fail, repo_dir
from .fix import UNDO, RepoOpt
from .fix_view import SHOWN_FAILURES, FixView, ModelClock, check_run_options, diff_syntax, drive, names_text


def edit_command(
    request: Annotated[str, typer.Argument(help='What to change, in words ("-" reads it from stdin).')],
    targets: Annotated[list[str] | None, typer.Argument(
        help="Files or symbols to change (pinned in the model's context; a new file's path may be named).")] = None,
    test: Annotated[list[str] | None, typer.Option(
        "--test", "-t", help='Tests to run after the edit (repeatable); "all" for the whole suite. Default: the '
                             "tests the code graph says reach the changed functions.")] = None,
    cmd: Annotated[str | None, typer.Option(
        "--cmd", help='A shell command that runs the tests instead of pytest, e.g. "make check".')] = None,
    no_test: Annotated[bool, typer.Option("--no-test", help="Write the edit and run no tests.")] = False,
    max_iterations: Annotated[int, typer.Option(
        "--max-iterations", "-n", min=1, help="Fix rounds when the tests fail after the edit.")] = 4,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, help="Seconds one test run may take; then every process it started is killed.")] = 300.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the proposed diff; write nothing.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="Write without asking (for scripts); otherwise the diff is shown and you are asked.")] = False,
    commit: Annotated[bool | None, typer.Option(
        "--commit/--no-commit", help="Commit exactly the changed files with a message the model writes (default: "
                                     "[edit] commit in .assist/config.toml, else off).", show_default=False)] = None,
    as_json: JsonOpt = False,
    model: Annotated[str | None, typer.Option(
        "--model", help='Chat model: "ollama:NAME", "openai:NAME" or "scripted:FILE" (prepared replies).')] = None,
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Where the model server listens. Also ASSIST_BASE_URL.")] = None,
    path: RepoOpt = Path("."),
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, help="Longest model reply in tokens (default: a quarter of the window, up to 4096).")] = None,
    budget: Annotated[int | None, typer.Option(
        "--budget", "-b", min=0, help="Most tokens of repository code in the prompt (default: what the window leaves).")] = None,
    edit_format: Annotated[str | None, typer.Option(
        "--format", help="Force the edit format: search_replace or whole_file (default: chosen per model).")] = None,
    no_vectors: Annotated[bool, typer.Option("--no-vectors", help="Retrieve without the embedding model.")] = False,
    sandbox: Annotated[str, typer.Option(
        "--sandbox", help="Confine the test runs (as in assist fix): auto, on or off.")] = "auto",
    allow_test_config: Annotated[bool, typer.Option(
        "--allow-test-config", help="Let the edit change test infrastructure (conftest.py, pyproject.toml, "
                                    "Makefile, ...) without asking.")] = False,
) -> None:
    """Change the code as REQUEST asks: find the code it is about, let the model edit it, show the diff, write it
    when you agree, then run the tests that reach it (and fix what they find, as `assist fix` does).

    Every edit is checked before anything is written (paths inside the repository, exact matches, syntax),
    written all or nothing, and saved first so that `assist undo` restores the files as they were.
    """
    from assistant.config import ConfigError
    from assistant.edit.run import EditOptions
    from assistant.fix.models import open_model
    from assistant.providers import ProviderError

    root = repo_dir(path)
    if request == "-":
        request = sys.stdin.read()
    if not request.strip():
        fail("the request is empty: say what to change", EXIT_USAGE)
    if no_test and (test or cmd):
        fail("--no-test runs no tests: leave out --test/--cmd, or --no-test", EXIT_USAGE)
    interactive = check_run_options("edit", test, cmd, edit_format, sandbox, yes, dry_run, "show the diff")
    try:
        use_commit = _commit_setting(root) if commit is None else commit
        provider = open_model(root, model, base_url)
    except (ConfigError, ProviderError) as exc:
        fail(str(exc), EXIT_USAGE if isinstance(exc, ConfigError) else EXIT_FAILED)
    options = EditOptions(test_paths=list(test) if test else None, command=cmd, run_tests=not no_test,
                          max_iterations=max_iterations, timeout_s=timeout, dry_run=dry_run,
                          use_vectors=not no_vectors, context_budget=budget, max_reply_tokens=max_tokens,
                          edit_format=edit_format, sandbox=sandbox, allow_test_config=allow_test_config,
                          commit=use_commit, undo=UNDO)
    _run(root, provider, request, list(targets or []), options, interactive, yes, as_json)


def _run(root: Path, provider, request: str, targets: list[str], options, interactive: bool, yes: bool,
         as_json: bool) -> None:
    from assistant.edit.run import EditRun

    view = EditView(live=sys.stderr.isatty() and not as_json, quiet=as_json)
    confirm = view.approve if yes and not options.dry_run and sys.stdin.isatty() else None
    try:
        run = EditRun(root, provider, request, targets, options, approve=view.approve if interactive else None,
                      confirm_test_config=confirm)
    except ValueError as exc:
        provider.close()
        fail(str(exc), EXIT_USAGE)
    drive(run, view, provider, as_json)


def _commit_setting(root: Path) -> bool:
    """``[edit] commit`` in the repository's .assist/config.toml (off when absent)."""
    from assistant.config import REPO_CONFIG, ConfigError, read_toml

    table = read_toml(root / REPO_CONFIG).get("edit", {})
    value = table.get("commit", False) if isinstance(table, dict) else False
    if not isinstance(value, bool):
        raise ConfigError(f"{root / REPO_CONFIG} [edit] commit must be true or false, not {value!r}")
    return value


class EditView(FixView):
    """`assist fix`'s view, with the steps of the edit itself (round 0) and its report; once the edit is
    written, the fix loop's events (its tests, its rounds) are shown exactly as `assist fix` shows them."""

    def __init__(self, live: bool, quiet: bool):
        super().__init__(live, quiet)
        self._editing = True

    def show(self, event) -> None:
        from assistant.edit import events as ev
        from assistant.fix import events as fx

        if isinstance(event, ev.EditStarted):
            self.line(f"Editing with [bold]{markup(event.model)}[/bold] ({event.edit_format.replace('_', '/')} "
                      f"edits): {markup(' '.join(event.request.split())[:200])}")
        elif isinstance(event, ev.TargetsPinned):
            if event.pinned:
                self.line(Text(f"edit: pinned {names_text(event.pinned)}"
                               + (f"; {len(event.nearby)} callers, callees and tests nearby" if event.nearby else "")))
        elif isinstance(event, ev.TestsBeforeEdit):
            self._tests_line("tests before the edit", event.summary)
        elif isinstance(event, ev.Answered):
            self._stop_status()
        elif isinstance(event, ev.Committed):
            self.line(Text(f"edit: committed {event.sha[:12]} {inert(event.subject)}"))
        elif isinstance(event, ev.EditFinished):
            self._stop_status()
        elif isinstance(event, fx.RunStarted):  # the fix loop, checking the written edit
            self.line(f"Checking the edit: {markup(event.test_command)} (then up to {event.max_iterations} fix "
                      "rounds while it fails)")
        elif getattr(event, "round", None) == 0 and isinstance(event, (fx.TestsStarted, fx.TestsFinished, fx.Working,
                                                                       fx.Reindexed)):
            self._edit_step(event)
        elif self._editing and getattr(event, "round", None) == 0 and not isinstance(event, fx.ReadingPrompt):
            self._edit_step(event)
        else:
            super().show(event)

    def _edit_step(self, event) -> None:
        from assistant.fix import events as fx

        if isinstance(event, fx.Working):
            self._doing(f"edit: {event.doing}…")
        elif isinstance(event, fx.ContextBuilt):
            self.line(Text(f"edit: {event.describe(inert)}"))
            self._reply_chars = 0
            self._doing(ModelClock("edit", event.tokens))
        elif isinstance(event, fx.ReplyDelta):
            self._reply_chars += len(event.text)
            self._doing(f"edit: the model is replying… {self._reply_chars:,} characters")
        elif isinstance(event, fx.ReplyReceived):
            self._doing("edit: checking the edits…")
        elif isinstance(event, fx.EditRejected):
            first = event.reason.splitlines()[0] if event.reason else ""
            self.line(f"edit: [yellow]reply not applied[/yellow] (nothing written): {markup(first)}")
        elif isinstance(event, fx.EditsProposed):
            self.line(Text(f"edit: proposed changes to {names_text(event.files)}:"))
            self._diff(event.diff, self.err)
        elif isinstance(event, fx.EditsApplied):
            self.line(Text(f"edit: wrote {names_text(event.files)}"))
            self._editing = False
        elif isinstance(event, fx.TestsStarted):
            self._doing(f"after the edit: running {event.command}…")
        elif isinstance(event, fx.TestsFinished):
            self._tests_line("tests after the edit", event.summary)
        elif isinstance(event, fx.Reindexed):
            self.line(Text(f"edit: {inert(event.text)}"), "dim")

    def _tests_line(self, label: str, summary) -> None:
        style = "green" if summary.green else "red"
        self.line(f"{label}: [{style}]{markup(summary.headline())}[/{style}]")
        for failure in summary.failures[:SHOWN_FAILURES]:
            self.line(Text(f"    ✗ {inert(failure.text())}"))

    def report(self, result) -> None:  # an EditResult
        out = self.out
        colour = "green" if result.ok else "red"
        out.print(f"[bold {colour}]{result.status.replace('_', ' ')}[/bold {colour}]: "
                  f"{markup(result.message, lines=True)}")
        out.print(Text(f"request: {inert(' '.join(result.request.split()))}"))
        if result.answer:
            out.print("the model answered:")
            out.print(Text(inert_lines(result.answer)))
        if result.context:
            out.print(Text(f"context: {names_text(result.context[:8])}"
                           + (f" and {len(result.context) - 8} more" if len(result.context) > 8 else "")))
        if result.outside_context:
            out.print(Text(f"edited outside that context: {names_text(result.outside_context)}"), style="yellow")
        if result.files_created:
            out.print(Text(f"created: {names_text(result.files_created)}"))
        for label, summary in (("tests before the edit", result.tests_before),
                               ("tests after the edit", result.tests_after_edit)):
            if summary is not None:
                out.print(Text(f"{label}: {inert(summary.headline())}"))
        if result.fix is not None and result.fix.rounds:
            out.print(Text(f"tests after {result.fix.rounds} fix round{'s' if result.fix.rounds > 1 else ''}: "
                           f"{inert(result.tests_after.headline()) if result.tests_after else 'not run'}"))
            if result.tests_after is not None:
                for failure in result.tests_after.failures[:SHOWN_FAILURES]:
                    out.print(Text(f"    ✗ {inert(failure.text())}"))
        if result.written and not result.tests:
            out.print("tests: none run")
        if result.diff:
            out.print("changes:" if result.written else "proposed (not written):")
            out.print(diff_syntax(result.diff) if out.is_terminal else Text(inert_lines(result.diff.rstrip("\n"))))
        if result.commit:
            out.print(Text(f"commit: {result.commit[:12]} (undo: git revert {result.commit[:12]})"))
        elif result.written:
            out.print("undo: `assist undo` restores the changed files as they were before this edit")

"""How `assist fix` shows a run on the terminal: one line per step on stderr, a live status line while
something is running (on a terminal), each proposed diff, and the final report on stdout.

File names, failure messages, the model's text and diffs come from the repository, its tests or the model:
they go through ``assistant.terminal`` (``markup`` inside our markup strings, ``rich_text`` or ``inert_lines``
otherwise), so a control character shows as a visible escape and ``[red]`` in a name is never markup.
"""

from __future__ import annotations

import json
import threading
import time
from typing import NoReturn

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from assistant.fix.events import (
    BUSY, ContextBuilt, EditRejected, EditsApplied, EditsProposed, FixEvent, FixFinished, FixNotice, FixResult, Proposal,
    ReadingPrompt, Reindexed, ReplyDelta, ReplyReceived, RunStarted, TestsFinished, TestsStarted, TestSummary, Working,
)
from assistant.terminal import inert, inert_lines, markup, rich_text

from .common import EXIT_BUSY, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, fail

SHOWN_FAILURES = 5


class ModelClock:
    """The live line while the model reads the prompt: its size (or how much of it the server has read, when it
    says) and the seconds so far. A server on a CPU can take a minute before the first token, and a line that
    does not move looks like a hang. rich redraws the status several times a second and renders this anew
    each time, so the clock moves while the request blocks, without a thread of ours."""

    def __init__(self, label: str, tokens: int):
        self.label = label
        self.tokens = tokens
        self.started = time.monotonic()
        self.read: tuple[int, int] | None = None  # (processed, total), as the server last reported

    def text(self) -> str:
        seconds = f"{time.monotonic() - self.started:.0f} s"
        if self.read is not None:
            return f"{self.label}: reading the prompt: {self.read[0]:,} of {self.read[1]:,} tokens… {seconds}"
        return f"{self.label}: waiting for the model to read the prompt ({self.tokens:,} tokens)… {seconds}"

    def __rich__(self) -> Text:
        return rich_text(self.text())


class FixView:
    def __init__(self, live: bool, quiet: bool):
        self.err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
        self.out = Console(highlight=False, soft_wrap=True, emoji=False)
        self.live = live
        self.quiet = quiet
        self._status = None
        self._reply_chars = 0
        self._clock: ModelClock | None = None  # while the model reads a prompt

    def __enter__(self) -> FixView:
        if self.live:
            self._status = self.err.status("starting…")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_status()

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _doing(self, text: str | ModelClock) -> None:
        self._clock = text if isinstance(text, ModelClock) else None
        if self._status is not None:
            self._status.update(rich_text(text) if isinstance(text, str) else text)

    def line(self, text: str | Text, style: str | None = None) -> None:
        if not self.quiet:
            self.err.print(text, style=style)

    def notice(self, text: str, level: str = "info") -> None:
        if level == "warning":
            self.err.print(f"[yellow]assist: warning:[/yellow] {markup(text, lines=True)}", highlight=False)
        else:
            self.line(Text(f"assist: {inert_lines(text)}"), "dim")

    # --------------------------------------------------------------------------------------- events

    def show(self, event: FixEvent) -> None:
        if isinstance(event, RunStarted):
            self.line(f"Fixing with [bold]{markup(event.model)}[/bold] ({event.edit_format.replace('_', '/')} edits, "
                      f"up to {event.max_iterations} rounds); tests: {markup(event.test_command)}")
            if event.sandbox:
                self.line(Text(f"sandbox: {inert(event.sandbox)}"), "dim")
        elif isinstance(event, TestsStarted):
            self._doing(f"{_round(event.round)}: running {event.command}…")
        elif isinstance(event, TestsFinished):
            self._tests(event.round, event.summary)
        elif isinstance(event, Working):
            self._doing(f"{_round(event.round)}: {event.doing}…")
        elif isinstance(event, ContextBuilt):
            self.line(Text(f"{_round(event.round)}: {event.describe(inert)}"))
            self._reply_chars = 0
            self._doing(ModelClock(_round(event.round), event.tokens))
        elif isinstance(event, ReadingPrompt):
            if self._clock is not None:  # rich picks it up at its next redraw: no more updates than it draws
                self._clock.read = (event.processed, event.total)
        elif isinstance(event, ReplyDelta):
            self._reply_chars += len(event.text)
            self._doing(f"{_round(event.round)}: the model is replying… {self._reply_chars:,} characters")
        elif isinstance(event, ReplyReceived):
            self._doing(f"{_round(event.round)}: checking the edits…")
        elif isinstance(event, EditRejected):
            first = event.reason.splitlines()[0] if event.reason else ""
            self.line(f"{_round(event.round)}: [yellow]reply not applied[/yellow] (nothing written): {markup(first)}")
        elif isinstance(event, EditsProposed):
            where = event.describe_symbols(inert)
            self.line(Text(f"{_round(event.round)}: proposed changes to {names_text(event.files)}"
                           + (f" — {where}" if where else "") + ":"))
            self._diff(event.diff, self.err)
        elif isinstance(event, EditsApplied):
            self.line(Text(f"{_round(event.round)}: wrote {names_text(event.files)}"))
        elif isinstance(event, Reindexed):
            self.line(Text(f"{_round(event.round)}: {inert(event.text)}"), "dim")
        elif isinstance(event, FixNotice):
            self.notice(event.text, event.level)
        elif isinstance(event, FixFinished):
            self._stop_status()

    def _tests(self, number: int, summary: TestSummary) -> None:
        style = "green" if summary.green else "red"
        self.line(f"{_round(number)}: tests [{style}]{markup(summary.headline())}[/{style}]")
        for failure in summary.failures[:SHOWN_FAILURES]:
            self.line(Text(f"    ✗ {inert(failure.text())}"))
        if len(summary.failures) > SHOWN_FAILURES:
            self.line(f"    … and {len(summary.failures) - SHOWN_FAILURES} more")

    def _diff(self, diff: str, console: Console) -> None:
        if self.quiet or not diff:
            return
        console.print(diff_syntax(diff))

    # ---------------------------------------------------------------------------------- approval

    def approve(self, proposal: Proposal) -> bool:
        """Asked with the diff already shown above; the live line pauses while the user answers."""
        status, self._status = self._status, None
        if status is not None:
            status.stop()
        if self.quiet:  # --json: the diff was not shown as the run went; show it before asking
            self.err.print(diff_syntax(proposal.diff))
        if proposal.test_config:
            self.err.print(f"[yellow]assist: warning:[/yellow] this changes test infrastructure "
                           f"({markup(', '.join(proposal.test_config))}): its code runs with your rights on the "
                           f"next test run")
        try:
            return self._yes(f"Write these changes to {names_text(proposal.files)}?")
        except EOFError:
            return False
        finally:
            if status is not None:
                status.start()
                self._status = status

    def _yes(self, question: str) -> bool:
        """``question [Y/n]``, Enter meaning yes: the usual form (rich's Confirm prints ``[y/n] (y)``)."""
        prompt = Text(f"{question} [Y/n] ")
        while True:
            answer = self.err.input(prompt).strip().lower()
            if answer in ("", "y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.err.print("Please answer y or n.", style="yellow")

    # ------------------------------------------------------------------------------------ report

    def report(self, result: FixResult) -> None:
        out = self.out
        colour = "green" if result.ok else "red"
        out.print(f"[bold {colour}]{result.status.replace('_', ' ')}[/bold {colour}]: "
                  f"{markup(result.message, lines=True)}")
        out.print(Text(f"rounds: {result.rounds} with {inert(result.model)}"))
        if result.tests_before is not None:
            out.print(Text(f"tests before: {inert(result.tests_before.headline())}"))
        if result.tests_after is not None:
            out.print(Text(f"tests after:  {inert(result.tests_after.headline())}"))
            for failure in result.tests_after.failures[:SHOWN_FAILURES]:
                out.print(Text(f"    ✗ {inert(failure.text())}"))
        if result.diff:
            label = "proposed (not written)" if not result.files_changed else "changes"
            out.print(f"{label}:")
            out.print(diff_syntax(result.diff) if out.is_terminal else Text(inert_lines(result.diff.rstrip("\n"))))
        if result.files_changed:
            out.print("undo: `assist undo` restores the changed files as they were before this run")
        out.print(Text(f"logs: {inert(result.log_dir)}"), style="dim")


def check_run_options(command: str, test: list[str] | None, cmd: str | None, edit_format: str | None, sandbox: str,
                      yes: bool, dry_run: bool, what: str) -> bool:
    """The checks `assist fix` and `assist edit` share, each a usage error before any work: one way to run the
    tests, a known edit format, a sandbox that exists here, and someone to ask unless --yes/--dry-run.
    Returns whether the run asks before writing."""
    import sys

    from assistant.fix.edits import FORMATS
    from assistant.fix.sandbox import MODES, SandboxUnavailable, choose_sandbox

    if test and cmd:
        fail("give either --test paths (run with pytest) or --cmd, not both", EXIT_USAGE)
    if edit_format is not None and edit_format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}", EXIT_USAGE)
    if sandbox not in MODES:
        fail(f"--sandbox must be one of {', '.join(MODES)}", EXIT_USAGE)
    try:
        choose_sandbox(sandbox)
    except SandboxUnavailable as exc:
        fail(str(exc))
    interactive = not (yes or dry_run)
    if interactive and not sys.stdin.isatty():
        fail(f"not a terminal, so assist {command} cannot {what} and ask before writing: pass --yes to write "
             f"without asking, or --dry-run to only see it; nothing was written", EXIT_USAGE)
    return interactive


def drive(run, view: FixView, provider, as_json: bool) -> NoReturn:
    """Show a fix or edit run (``FixLoop``, ``EditRun``) to its end, print its report and exit with its status.
    Ctrl-C cancels the run and says what ``assist undo`` would restore."""
    cancel = threading.Event()
    try:
        with view:
            for event in run.run(cancel):
                view.show(event)
    except KeyboardInterrupt:
        cancel.set()
        # Ctrl-C may land in the view rather than in the run: ask the checkpoint what was written.
        written = run.checkpoint.files
        where = (f"; it wrote to {', '.join(written)}: `assist undo` restores them as they were" if written
                 else "; no file was changed")
        typer.echo(f"assist: interrupted{inert_lines(where)}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        provider.close()
    result = run.result
    assert result is not None
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        view.report(result)
    raise typer.Exit(0 if result.ok else EXIT_BUSY if result.status == BUSY else EXIT_FAILED)


def names_text(names: list[str]) -> str:
    return ", ".join(inert(name) for name in names)


def diff_syntax(diff: str) -> Syntax:
    return Syntax(inert_lines(diff.rstrip("\n")), "diff", theme="ansi_dark", background_color="default")


def _round(number: int) -> str:
    return "before" if number == 0 else f"round {number}"

"""How `assist fix` shows a run on the terminal: one line per step on stderr, a live status line while
something is running (on a terminal), each proposed diff, and the final report on stdout."""

from __future__ import annotations

from rich.console import Console
from rich.prompt import Confirm
from rich.syntax import Syntax
from rich.text import Text

from assistant.fix.events import (
    ContextBuilt, EditRejected, EditsApplied, EditsProposed, FixEvent, FixFinished, FixNotice, FixResult, Proposal,
    Reindexed, ReplyDelta, ReplyReceived, RunStarted, TestsFinished, TestsStarted, TestSummary,
)

SHOWN_FAILURES = 5
SHOWN_ITEMS = 6


class FixView:
    def __init__(self, live: bool, quiet: bool):
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.out = Console(highlight=False, soft_wrap=True)
        self.live = live
        self.quiet = quiet
        self._status = None
        self._reply_chars = 0

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

    def _doing(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def line(self, text: str | Text, style: str | None = None) -> None:
        if not self.quiet:
            self.err.print(text, style=style)

    def notice(self, text: str, level: str = "info") -> None:
        if level == "warning":
            self.err.print(f"[yellow]assist: warning:[/yellow] {text}", highlight=False)
        else:
            self.line(f"assist: {text}", "dim")

    # --------------------------------------------------------------------------------------- events

    def show(self, event: FixEvent) -> None:
        if isinstance(event, RunStarted):
            self.line(f"Fixing with [bold]{event.model}[/bold] ({event.edit_format.replace('_', '/')} edits, "
                      f"up to {event.max_iterations} rounds); tests: {event.test_command}")
            if event.sandbox:
                self.line(f"sandbox: {event.sandbox}", "dim")
        elif isinstance(event, TestsStarted):
            self._doing(f"{_round(event.round)}: running {event.command}…")
        elif isinstance(event, TestsFinished):
            self._tests(event.round, event.summary)
        elif isinstance(event, ContextBuilt):
            shown = ", ".join(f"{item.path}:{item.start_line}-{item.end_line}" for item in event.items[:SHOWN_ITEMS])
            more = f" and {len(event.items) - SHOWN_ITEMS} more" if len(event.items) > SHOWN_ITEMS else ""
            self.line(f"{_round(event.round)}: context {len(event.items)} items, prompt {event.tokens:,} tokens"
                      + (f" — {shown}{more}" if shown else ""))
            self._reply_chars = 0
            self._doing(f"{_round(event.round)}: waiting for the model…")
        elif isinstance(event, ReplyDelta):
            self._reply_chars += len(event.text)
            self._doing(f"{_round(event.round)}: the model is replying… {self._reply_chars:,} characters")
        elif isinstance(event, ReplyReceived):
            self._doing(f"{_round(event.round)}: checking the edits…")
        elif isinstance(event, EditRejected):
            first = event.reason.splitlines()[0] if event.reason else ""
            self.line(f"{_round(event.round)}: [yellow]reply not applied[/yellow] (nothing written): {first}")
        elif isinstance(event, EditsProposed):
            self.line(f"{_round(event.round)}: proposed changes to {', '.join(event.files)}:")
            self._diff(event.diff, self.err)
        elif isinstance(event, EditsApplied):
            self.line(f"{_round(event.round)}: wrote {', '.join(event.files)}")
        elif isinstance(event, Reindexed):
            self.line(f"{_round(event.round)}: {event.text}", "dim")
        elif isinstance(event, FixNotice):
            self.notice(event.text, event.level)
        elif isinstance(event, FixFinished):
            self._stop_status()

    def _tests(self, number: int, summary: TestSummary) -> None:
        style = "green" if summary.green else "red"
        self.line(f"{_round(number)}: tests [{style}]{summary.headline()}[/{style}]")
        for failure in summary.failures[:SHOWN_FAILURES]:
            self.line(f"    ✗ {failure.text()}")
        if len(summary.failures) > SHOWN_FAILURES:
            self.line(f"    … and {len(summary.failures) - SHOWN_FAILURES} more")

    def _diff(self, diff: str, console: Console) -> None:
        if self.quiet or not diff:
            return
        console.print(Syntax(diff.rstrip("\n"), "diff", theme="ansi_dark", background_color="default"))

    # ---------------------------------------------------------------------------------- approval

    def approve(self, proposal: Proposal) -> bool:
        """Asked with the diff already shown above; the live line pauses while the user answers."""
        status, self._status = self._status, None
        if status is not None:
            status.stop()
        if self.quiet:  # --json: the diff was not shown as the run went; show it before asking
            self.err.print(Syntax(proposal.diff.rstrip("\n"), "diff", theme="ansi_dark", background_color="default"))
        if proposal.test_config:
            self.err.print(f"[yellow]assist: warning:[/yellow] this changes test infrastructure "
                           f"({', '.join(proposal.test_config)}): its code runs with your rights on the next test run")
        try:
            return Confirm.ask(f"Write these changes to {', '.join(proposal.files)}?", console=self.err, default=True)
        except EOFError:
            return False
        finally:
            if status is not None:
                status.start()
                self._status = status

    # ------------------------------------------------------------------------------------ report

    def report(self, result: FixResult) -> None:
        out = self.out
        colour = "green" if result.ok else "red"
        out.print(f"[bold {colour}]{result.status.replace('_', ' ')}[/bold {colour}]: {result.message}")
        out.print(f"rounds: {result.rounds} with {result.model}")
        if result.tests_before is not None:
            out.print(f"tests before: {result.tests_before.headline()}")
        if result.tests_after is not None:
            out.print(f"tests after:  {result.tests_after.headline()}")
            for failure in result.tests_after.failures[:SHOWN_FAILURES]:
                out.print(f"    ✗ {failure.text()}")
        if result.diff:
            label = "proposed (not written)" if not result.files_changed else "changes"
            out.print(f"{label}:")
            out.print(Text(result.diff.rstrip("\n")) if not out.is_terminal else
                      Syntax(result.diff.rstrip("\n"), "diff", theme="ansi_dark", background_color="default"))
        if result.files_changed:
            out.print("undo: `assist undo` restores the changed files as they were before this run")
        out.print(f"logs: {result.log_dir}", style="dim")


def _round(number: int) -> str:
    return "before" if number == 0 else f"round {number}"

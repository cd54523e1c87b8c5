"""The fix loop: run the tests, localize the failure, ask the model for edits, apply them, run again.

    loop = FixLoop(root, provider, FixOptions(test_paths=["tests/"]))
    for event in loop.run():          # typed events (events.py) for the CLI, the TUI and the editor agent
        ...
    loop.result                       # FixResult: why it ended, the diff, tests before and after

One round: failures → context from the retriever (seeded by the failure) → one model reply → parse → plan
(nothing written yet) → ``approve(proposal)`` → checkpoint + write → re-index the changed files → re-run.
A reply that cannot be applied writes nothing and its precise error goes back to the model in the next
round; so does one whose write is refused because a link was swapped into its path after planning (the
files it had written by then are put back). The run ends, each time with a ``Stopped`` carrying the reason
(mini-swe-agent's style): tests green; the round limit; a reply identical to an earlier one; the same
failures surviving two applied attempts unchanged; the user declining; ``dry_run`` after the first
proposal; cancellation; an error.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from indexer.lock import IndexBusy
from indexer.retrieval import RetrievalError, Retriever

from ..chat.prompting import PromptError
from ..providers.errors import ProviderError
from ..providers.types import ChatProvider, Completed, PromptProgress, TextDelta
from . import apply as applying
from .checkpoint import Checkpoint, fix_lock
from .edits import FORMATS, FormatError, parse_reply
from .events import (
    ALREADY_GREEN, BUSY, CANCELLED, DECLINED, DRY_RUN, ERROR, FIXED, MAX_ITERATIONS, REPEATED, STUCK,
    ContextBuilt, ContextEntry, EditRejected, EditsApplied, EditsProposed, FailureLine, FixEvent, FixFinished,
    FixNotice, FixResult, Proposal, ReadingPrompt, Reindexed, ReplyDelta, ReplyReceived, RunStarted, Stopped,
    TestsFinished, TestsStarted, TestSummary, Working,
)
from .formats import FormatRecord
from .index_refresh import refresh_index
from indexer.safe_fs import PathRefused
from .sandbox import Sandbox, SandboxUnavailable, choose_sandbox
from .testrun import TestRunError
from .prompt import ATTEMPTS_SHARE, EXCERPT_SHARE, Attempt, fit_excerpt, messages, round_message, shorten, system_message

Approve = Callable[[Proposal], bool]
DIFF_CHARS_IN_HISTORY = 2000
SMALL_WINDOW = 16384  # tokens: below this the failure, the code and the history of attempts crowd each other out


@dataclass
class FixOptions:
    """How one `assist fix` run behaves."""

    test_paths: list[str] | None = None
    """Test files or folders to run with pytest (None: the project's default test run)."""
    command: str | None = None
    """A shell command to run instead of pytest; a non-zero exit is a failure."""
    max_iterations: int = 4
    """Model replies to try at most."""
    timeout_s: float = 300.0
    """Limit on each whole test run; every process it started is killed after it."""
    dry_run: bool = False
    """Propose the first applicable edit and show its diff; write nothing."""
    use_vectors: bool = True
    """Whether retrieval uses the embedding model (off: names, lexical and graph signals only)."""
    context_budget: int | None = None
    """Cap on the tokens of code sent per round (default: what the window leaves)."""
    max_reply_tokens: int | None = None
    """Longest reply (default: the provider's reserve, at least a quarter of the window up to 4096)."""
    edit_format: str | None = None
    """Force "search_replace" or "whole_file" (default: chosen from the model's record)."""
    reindex: bool = True
    """Re-index the changed files between rounds, so the next context shows the code as it now is."""
    sandbox: str = "auto"
    """Confine the test runs: "auto" (where the OS allows, else unsandboxed and said so), "on" (stop when no
    sandbox works), "off". Sandboxed: writes only in the repository and a private temp dir, no TCP."""
    allow_test_config: bool = False
    """Let replies create or change test infrastructure (conftest.py, pytest.ini, Makefile, ...) without asking.
    Such files run code on the next test run, so by default a change to one is asked about even where edits
    are otherwise written without asking; with nobody to ask, the reply is refused and the model told why."""
    undo: str = "`assist undo`"
    """How the front end running this restores the files, in its own words (`assist undo` on the command line,
    /undo in the chat app and in an editor): the run's message names it when it changed files, so no front
    end rewrites a message worded for another."""


@dataclass
class Continuation:
    """A fix run that carries on from a change already written (`assist edit` whose tests then fail): it
    shares that change's checkpoint, so one `assist undo` puts back the change and the fixes together; its
    report counts the change's files as its own; and the model learns what the change was, as an earlier
    attempt, so that it fixes what broke instead of undoing what was asked. The caller holds the fix lock
    for the whole of it (two runs at once on one repository stay impossible)."""

    checkpoint: Checkpoint
    originals: dict[str, bytes | None]  # path -> bytes before the change (None: created by it)
    latest: dict[str, bytes]  # path -> bytes the change wrote
    change: Attempt  # what the change was, for the model
    green_message: str = "the tests pass after the change"


@dataclass
class _Run:
    """What one run has done so far."""

    attempts: list[Attempt] = field(default_factory=list)
    seen_replies: set[str] = field(default_factory=set)
    originals: dict[str, bytes | None] = field(default_factory=dict)
    latest: dict[str, bytes] = field(default_factory=dict)
    proposed: str = ""
    rounds: int = 0
    unchanged: int = 0


class FixLoop:
    def __init__(self, root: Path, provider: ChatProvider, options: FixOptions | None = None, *,
                 approve: Approve | None = None, writer: applying.FileWriter | None = None,
                 retriever: Retriever | None = None, confirm_test_config: Approve | None = None,
                 continuing: Continuation | None = None):
        self.root = Path(root).resolve()
        self.provider = provider
        self.options = options or FixOptions()
        if self.options.max_iterations < 1:
            raise ValueError("max_iterations must be at least 1")
        if self.options.edit_format not in (None, *FORMATS):
            raise ValueError(f"edit_format must be one of {', '.join(FORMATS)}")
        self.approve = approve
        # Asked about a reply that touches test infrastructure when ``approve`` is None (`fix --yes` on a terminal).
        self.confirm_test_config = confirm_test_config
        self.writer = writer
        self._retriever = retriever
        self._owns_retriever = retriever is None
        self.continuing = continuing
        self.checkpoint = continuing.checkpoint if continuing else Checkpoint(self.root)
        self.log_dir = self.root / ".assist" / "fix" / "runs" / self.checkpoint.id
        self.formats = FormatRecord(self.root)
        self.result: FixResult | None = None
        self._cancel = threading.Event()
        self._state = _Run()
        if continuing is not None:
            self._state.originals.update(continuing.originals)
            self._state.latest.update(continuing.latest)
            self._state.attempts.append(continuing.change)
        self._before: TestSummary | None = None
        self._after: TestSummary | None = None
        self._format = ""
        self._sandbox: Sandbox | None = None
        self._context: ContextBuilt | None = None  # this round's, to name the suspects an edit touches

    # ------------------------------------------------------------------------------------------ run

    def run(self, cancel: threading.Event | None = None) -> Iterator[FixEvent]:
        """Yield events; the last is ``FixFinished``. Ctrl-C (KeyboardInterrupt) propagates after the files
        being written are put back and ``result`` records the cancellation."""
        self._cancel = cancel or threading.Event()
        try:
            try:
                # A continued run's caller already holds the lock (a second hold would refuse this process).
                with contextlib.nullcontext() if self.continuing else fix_lock(self.root):
                    yield from self._rounds()
                stop = Stopped(ERROR, "the loop ended without a reason")  # pragma: no cover - _rounds always raises
            except Stopped as exc:
                stop = exc
            except IndexBusy as exc:
                stop = Stopped(BUSY, str(exc))
            except ProviderError as exc:
                stop = Stopped(ERROR, f"the model failed: {exc}")
            except (RetrievalError, PromptError, TestRunError, SandboxUnavailable, OSError) as exc:
                stop = Stopped(ERROR, str(exc))
            except KeyboardInterrupt:
                self.result = self._result(Stopped(CANCELLED, "interrupted"))
                raise
            self.result = self._result(stop)
            yield FixFinished(self.result)
        finally:
            if self._owns_retriever and self._retriever is not None:
                self._retriever.close()

    def _rounds(self) -> Iterator[FixEvent]:
        model = self.provider.name
        self._format = self.options.edit_format or self.formats.choose(model)
        self._sandbox = choose_sandbox(self.options.sandbox)
        yield RunStarted(model, self._format, self.options.max_iterations, self._command_text(),
                         self._sandbox.description)
        advice = window_advice(self.provider)
        if advice:
            yield FixNotice(advice, "warning")
        run = yield from self._test(0)
        self._before = summarize_run(run)
        if run.no_tests:
            raise Stopped(ERROR, f"{run.command} collected no tests: point --test at the tests to fix")
        if run.green:
            raise Stopped(ALREADY_GREEN, self.continuing.green_message if self.continuing
                        else "the tests already pass: nothing to fix")
        yield from self._ensure_index()
        for round_number in range(1, self.options.max_iterations + 1):
            self._check_cancel()
            self._state.rounds = round_number
            self._format = self.options.edit_format or self.formats.choose(model)
            run = yield from self._round(round_number, run)
        raise Stopped(MAX_ITERATIONS, f"the tests still fail after {self.options.max_iterations} rounds")

    def _round(self, number: int, run):
        prompt_messages, reply_tokens = yield from self._prompt(number, run)
        reply = yield from self._ask(number, prompt_messages, reply_tokens)
        key = _normalized(reply.text)
        if key in self._state.seen_replies:
            raise Stopped(REPEATED, f"round {number}: the model repeated an earlier reply; stopping rather than "
                                  f"looping")
        self._state.seen_replies.add(key)
        try:
            parsed = parse_reply(reply.text, cut_off=reply.done_reason == "length")
            changes = applying.plan(self.root, parsed.edits)
        except (FormatError, applying.EditRefused) as exc:
            self.formats.record(self.provider.name, self._format, False)
            reason = str(exc)
            self._state.attempts.append(Attempt(number, "your reply could not be applied and nothing was "
                                                        f"written:\n{reason}", "your reply could not be applied: "
                                                        + shorten(reason.splitlines()[0], 200)))
            yield EditRejected(number, reason)
            return run
        self.formats.record(self.provider.name, parsed.edit_format, True)
        diff = "".join(change.diff() for change in changes)
        files = [change.path for change in changes]
        guarded = [] if self.options.allow_test_config else touched_test_config(files)
        ask = self.approve or (self.confirm_test_config if guarded else None)
        if guarded and ask is None and not self.options.dry_run:
            reason = (f"your reply changes test infrastructure ({', '.join(guarded)}), which runs code when the "
                      "tests run; this run may not change it without the user's confirmation. Nothing was "
                      "written: fix the code under test instead, without touching test configuration")
            self._state.attempts.append(Attempt(number, reason, "your reply changed test infrastructure: refused"))
            yield EditRejected(number, reason)
            return run
        symbols = touched_symbols(changes, self._context.items if self._context else [])
        suspects = self._context.suspects if self._context else []
        yield EditsProposed(number, diff, changes, symbols,
                            {name: suspects.index(name) + 1 for name in symbols if name in suspects}, len(suspects))
        if self.options.dry_run:
            self._state.proposed = diff
            raise Stopped(DRY_RUN, f"dry run: proposed changes to {', '.join(files)}; nothing was written")
        if ask is not None and not ask(Proposal(number, diff, changes, tuple(guarded))):
            self._state.proposed = diff
            raise Stopped(DECLINED, f"round {number}: you declined the proposed changes; nothing more was written")
        self._check_cancel()
        try:
            self._write(changes)
        except PathRefused as exc:
            # A link swapped in between planning and writing (a test run can do that): the files already
            # written were put back, so this is a reply that could not be applied, not the end of the run.
            reason = (f"{exc}: a directory on this path became a symbolic link after your edit was checked; "
                      "nothing was written")
            self._state.attempts.append(Attempt(number, f"your reply could not be written:\n{reason}",
                                                "your reply could not be written: " + shorten(reason, 200)))
            yield EditRejected(number, reason)
            return run
        yield EditsApplied(number, files, self.checkpoint.id)
        yield from self._reindex(number)
        after = yield from self._test(number)
        self._after = summarize_run(after)
        if after.green:
            raise Stopped(FIXED, f"the tests pass after {number} round{'s' if number > 1 else ''}")
        self._remember(number, diff, run, after)
        return after

    def _remember(self, number: int, diff: str, before, after) -> None:
        failures = ("\n".join(f"- {line.text()}" for line in summarize_run(after).failures[:10])
                    or "(no failures parsed)")
        self._state.attempts.append(Attempt(
            number,
            f"you changed the code like this:\n```diff\n{shorten(diff, DIFF_CHARS_IN_HISTORY)}```\nThe tests still "
            f"fail; the failure output above is from after this change. Failing now:\n{failures}",
            f"changed {', '.join(sorted({*_paths(diff)}))}; the tests still failed",
        ))
        same = _signature(before) == _signature(after)
        self._state.unchanged = self._state.unchanged + 1 if same else 0
        if self._state.unchanged >= 2:
            raise Stopped(STUCK, f"round {number}: the same failures survived two attempts unchanged; stopping")

    # -------------------------------------------------------------------------------------- steps

    def _test(self, number: int):
        from .testrun import run_tests

        self._check_cancel()
        yield TestsStarted(number, self._command_text())
        log_dir = self.log_dir / f"round-{number}"
        log_dir.mkdir(parents=True, exist_ok=True)
        run = run_tests(self.root, test_paths=self.options.test_paths, command=self.options.command,
                        timeout_s=self.options.timeout_s, log_dir=log_dir, cancel=self._cancel, sandbox=self._sandbox)
        yield TestsFinished(number, summarize_run(run))
        self._check_cancel()
        return run

    def _ensure_index(self) -> Iterator[FixEvent]:
        yield Working(0, "checking the index")
        yield from self._index("indexing")
        if self._retriever is None:
            self._retriever = Retriever(self.root, use_vectors=self.options.use_vectors)

    def _index(self, doing: str) -> Iterator[FixEvent]:
        """Bring the index up to date (structural tier: localisation never waits for embedding)."""
        return (yield from refresh_index(self.root, doing))

    def _reindex(self, number: int) -> Iterator[FixEvent]:
        if not self.options.reindex:
            return
        yield Working(number, "re-indexing the changed files")
        report = yield from self._index("re-indexing the changed files")
        if report is not None:
            yield Reindexed(number, f"re-indexed: {report.files_changed} changed files, "
                                    f"{report.chunks_embedded} chunks embedded")

    def _prompt(self, number: int, run):
        count = self.provider.count_tokens
        window = self.provider.context_window
        reply_tokens = self.options.max_reply_tokens or max(self.provider.reply_reserve, min(4096, window // 4))
        reply_tokens = max(1, min(reply_tokens, window // 2))
        room = window - reply_tokens
        system = system_message(self.root.name, self._format)
        excerpt = fit_excerpt(run.excerpt or run.output[-4000:], int(room * EXCERPT_SHARE), count)
        attempts_room = int(room * ATTEMPTS_SHARE)

        def user(context: str) -> str:
            return round_message(self._command_text(run), excerpt, context, self._state.attempts, attempts_room, count)

        yield Working(number, "finding the code behind the failure")
        fixed = count(messages(system, user("")))
        budget = room - fixed - 16
        if self.options.context_budget is not None:
            budget = min(budget, self.options.context_budget)
        context_text, items, roles, suspects = "", [], {}, []
        for _ in range(4):
            if budget < 64:
                context_text, items, roles, suspects = "", [], {}, []
                break
            context_text, items, roles, suspects = self._localize(run, budget, count)
            total = count(messages(system, user(context_text)))
            if total <= room:
                break
            budget -= (total - room) + 32
        prompt_messages = messages(system, user(context_text))
        total = count(prompt_messages)
        self._context = ContextBuilt(number, items, total, roles, suspects)
        yield self._context
        return prompt_messages, reply_tokens

    def _localize(self, run, budget: int, count) -> tuple[str, list[ContextEntry], dict[str, list[str]], list[str]]:
        from .localize import localize

        assert self._retriever is not None
        if run.failures:
            # The run's selection tells localize which tests passed, so it can discount what they exercise.
            ran = self.options.test_paths if not self.options.command else None
            found = localize(self._retriever, run.failures, budget, count_tokens=count, ran=ran)
            pack, text, roles, suspects = found.pack, found.text, dict(found.nodes), list(found.suspects)
        else:  # nothing parsed (a crash, a timeout, another runner): the output itself is the query
            pack = self._retriever.context(run.excerpt or run.output[-4000:], budget_tokens=budget, count_tokens=count)
            text, roles, suspects = pack.text, {}, []
        items = [ContextEntry(item.path, item.symbol, item.start_line, item.end_line, item.tokens,
                              item.why.line(item.kind)) for item in pack.items]
        return text, items, roles, suspects

    def _ask(self, number: int, prompt_messages, reply_tokens: int):
        self._check_cancel()
        final: Completed | None = None
        for event in self.provider.stream_chat(prompt_messages, max_tokens=reply_tokens, cancel=self._cancel):
            if isinstance(event, TextDelta):
                yield ReplyDelta(number, event.text)
            elif isinstance(event, PromptProgress):
                yield ReadingPrompt(number, event.processed, event.total)
            elif isinstance(event, Completed):
                final = event
        self._check_cancel()
        if final is None:
            raise ProviderError("the model's reply ended without a final event")
        if final.truncated:
            yield FixNotice(f"the server read only {final.usage.prompt_tokens} of the prompt's tokens: it cut the "
                            f"prompt; give the model a larger context window (at least 16k for fixing)", "warning")
        yield ReplyReceived(number, final.text, self._format)
        return final

    def _write(self, changes: list[applying.FileChange]) -> None:
        for change in changes:
            self._state.originals.setdefault(change.path, change.old)
        earlier = dict(self._state.latest)
        try:
            applying.write(changes, self.writer, before_write=self.checkpoint.save, after_write=self._written)
        except PathRefused:
            # applying.write put back what it had written: the run's record and the checkpoint's must say so
            # too, or the report would list changes that are not on disk and undo would see a later edit.
            self._state.latest = earlier
            for change in changes:
                if change.path in earlier and change.path in self.checkpoint.entries:
                    self.checkpoint.written(replace(change, new=earlier[change.path]))
            raise

    def _written(self, change: applying.FileChange) -> None:
        self.checkpoint.written(change)
        self._state.latest[change.path] = change.new

    # ------------------------------------------------------------------------------------ helpers

    @property
    def files_written(self) -> dict[str, bytes]:
        """Each file this run (and the change it continued) wrote, with its bytes now."""
        return dict(self._state.latest)

    @property
    def originals(self) -> dict[str, bytes | None]:
        """Each written file as it was before (None: created)."""
        return dict(self._state.originals)

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Stopped(CANCELLED, "stopped by the user")

    def _command_text(self, run=None) -> str:
        if run is not None and getattr(run, "command", None):
            return str(run.command)
        if self.options.command:
            return self.options.command
        return "pytest " + " ".join(self.options.test_paths or []) if self.options.test_paths else "pytest"

    def _result(self, stop: Stopped) -> FixResult:
        state = self._state
        diff = "".join(applying.unified_diff(path, state.originals[path], new) for path, new in state.latest.items()
                       if state.originals[path] != new)
        changed = [path for path, new in state.latest.items() if state.originals[path] != new]
        message = stop.message
        if changed:
            message += f"; changed {', '.join(changed)} ({self.options.undo} restores them)"
        return FixResult(
            status=stop.status, message=message, rounds=state.rounds, diff=diff or state.proposed,
            files_changed=changed, tests_before=self._before, tests_after=self._after,
            checkpoint=self.checkpoint.id if self.checkpoint.entries else None, model=self.provider.name,
            edit_format=self._format, log_dir=str(self.log_dir),
            sandbox=self._sandbox.description if self._sandbox is not None else "",
        )


def touched_symbols(changes: list[applying.FileChange], items: list[ContextEntry]) -> list[str]:
    """The symbols of the context whose lines the edits change (the narrowest one around each change), in the
    order of the files: what a person reads to see which suspect the model acted on."""
    found: list[str] = []
    for change in changes:
        if change.old is None:
            continue
        spans = [item for item in items if item.path == change.path and item.symbol]
        for start, end in changed_lines(change.old, change.new):
            around = [item for item in spans if item.start_line <= end and start <= item.end_line]
            if around:
                narrowest = min(around, key=lambda item: item.end_line - item.start_line)
                if narrowest.symbol not in found:
                    found.append(narrowest.symbol)
    return found


def changed_lines(old: bytes, new: bytes) -> list[tuple[int, int]]:
    """1-based inclusive line ranges of ``old`` that the change replaces or inserts at."""
    from difflib import SequenceMatcher

    before = old.decode("utf-8", "replace").splitlines()
    after = new.decode("utf-8", "replace").splitlines()
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    return [(i1 + 1 if i2 > i1 else max(1, i1), max(i1 + 1, i2)) for tag, i1, i2, _, _ in matcher.get_opcodes()
            if tag != "equal"]


def window_advice(provider: ChatProvider) -> str | None:
    """A warning when the model's window is small for fixing, with the remedy for where that window comes
    from: Ollama takes it from assist (``num_ctx``), an OpenAI-compatible server from how it was started."""
    window = provider.context_window
    if window >= SMALL_WINDOW:
        return None
    name = provider.name
    model_max = getattr(provider, "model_max_context", None)  # Ollama reports the model's own limit
    if name.startswith("ollama:") and model_max is not None and model_max <= window:
        remedy = f"this model supports at most {model_max:,}; choose a model with a longer context"
    elif name.startswith("ollama:"):
        target = min(SMALL_WINDOW, model_max or SMALL_WINDOW)
        remedy = (f"set context_window = {target} under [model] in .assist/config.toml (Ollama's num_ctx; uses "
                  "more memory)")
    elif name.startswith("openai:"):
        remedy = (f"the server decides it: start it with a larger context (llama.cpp: `llama-server -c "
                  f"{SMALL_WINDOW}`, vLLM: `--max-model-len {SMALL_WINDOW}`); if context_window is set under "
                  "[model] in .assist/config.toml, raise it to match")
    elif name.startswith("scripted:"):
        remedy = "set \"context_window\" in the replies file, or under [model] in .assist/config.toml"
    else:
        remedy = "give the model a larger context window"
    return (f"{name} has a {window:,}-token context window; fixing works best with at least {SMALL_WINDOW:,}: "
            f"{remedy}")


# Files a test run executes or reads its instructions from: a reply changing one changes what runs, not
# just the code under test. Compared case-insensitively (macOS and Windows file systems fold case).
TEST_CONFIG_NAMES = frozenset({
    "conftest.py", "pytest.ini", ".pytest.ini", "setup.cfg", "tox.ini", "pyproject.toml", "noxfile.py",
    "package.json", "makefile", "gnumakefile", "sitecustomize.py", "usercustomize.py",
})


def touched_test_config(paths: list[str]) -> list[str]:
    """The paths among ``paths`` that are test infrastructure (see TEST_CONFIG_NAMES; ``*.pth`` files too,
    which Python runs at start-up)."""
    found = []
    for path in paths:
        name = path.replace("\\", "/").rpartition("/")[2].lower()
        if name in TEST_CONFIG_NAMES or name.endswith(".pth"):
            found.append(path)
    return found


def summarize_run(run) -> TestSummary:
    failures = [FailureLine(f.test_id, f.exc_type, shorten(" ".join((f.message or "").split()), 300))
                for f in run.failures]
    return TestSummary(str(run.command), run.exit_code, run.timed_out, round(run.duration_s, 3), run.passed,
                       run.failed, failures, str(run.log_path), run.green, run.describe())


def _signature(run) -> frozenset:
    if run.failures:
        return frozenset(f.signature for f in run.failures)
    return frozenset({("exit", run.exit_code, run.timed_out)})


def _normalized(reply: str) -> str:
    return "\n".join(line.strip() for line in reply.strip().splitlines() if line.strip())


def _paths(diff: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\+\+\+ b/(.+)$", diff, re.MULTILINE)] or ["files"]

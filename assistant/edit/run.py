"""The edit run: a request in words → the code it names → one model reply → a checked plan → approval →
checkpoint and write → the tests, and the fix loop when they fail → an optional commit.

    run = EditRun(root, provider, "add a docstring to night_rate", ["bookings/rooms.py"], EditOptions())
    for event in run.run():      # typed events (events.py and fix/events.py): front ends only render them
        ...
    run.result                    # EditResult: what was asked, what changed, the tests before and after

Everything that writes is `assist fix`'s: ``fix.apply.plan`` (paths inside the repository only, exact or
whitespace-tolerant unambiguous matches, syntax checked) and ``fix.apply.write`` (all or nothing, atomic,
put back on Ctrl-C), after ``fix.checkpoint`` saved the originals (so `assist undo` restores them byte for
byte); the fix lock keeps a second edit or fix off the repository meanwhile. A reply that does not apply —
malformed, cut off at the reply limit, not matching — writes nothing and is sent back once with the reason;
a reply that is no edit at all is the model's answer.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from indexer.lock import IndexBusy
from indexer.retrieval import RetrievalError, Retriever
from indexer.safe_fs import PathRefused, SafeRoot

from ..chat.prompting import PromptError
from ..fix import apply as applying
from ..fix.checkpoint import Checkpoint, fix_lock
from ..fix.edits import FORMATS, FormatError, looks_like_edits, parse_reply
from ..fix.events import (
    ContextBuilt, ContextEntry, EditRejected, EditsApplied, EditsProposed, FixFinished, FixNotice, FixResult,
    Proposal, ReadingPrompt, Reindexed, ReplyDelta, ReplyReceived, Stopped, TestSummary, Working,
)
from ..fix.formats import FormatRecord
from ..fix.index_refresh import refresh_index
from ..fix.loop import Continuation, FixLoop, FixOptions, summarize_run, touched_symbols, touched_test_config
from ..fix.prompt import Attempt, shorten
from ..fix.sandbox import SandboxUnavailable
from ..fix.testrun import TestRunError
from ..providers.errors import ProviderError
from ..providers.types import ChatProvider, Completed, Message, PromptProgress, TextDelta, Usage
from . import events as ev
from . import git
from .context import EditContext, TargetRefused, Targets, build_context, resolve_targets
from .prompt import commit_message_from_reply, commit_messages, request_messages
from .tests import changed_symbols, tests_reaching

Approve = Callable[[Proposal], bool | str]
"""Answers a proposal: False rejects it, True applies it (tests as the options say), or ``events.APPLY_ONLY`` /
``events.APPLY_AND_TEST`` choose the tests at that moment (a chat's "Apply" and "Apply and test")."""
ALL_TESTS = "all"
COMMIT_REPLY_TOKENS = 200


@dataclass
class EditOptions(FixOptions):
    """`assist fix`'s options, for the tests after the edit and the fix rounds that may follow, except that
    ``test_paths`` None means the tests the graph says reach the changed code and ["all"] the whole suite;
    ``dry_run`` proposes the edit and stops. Then the edit's own:"""

    run_tests: bool = True
    """Off: write the edit and stop (--no-test)."""
    attempts: int = 2
    """Model replies for the edit itself: a reply that does not apply is sent back once with the reason."""
    commit: bool = False
    """Commit exactly the changed files once the edit is written and its tests (if run) pass."""


@dataclass
class _State:
    targets: Targets = field(default_factory=Targets)
    context: EditContext | None = None
    changes: list[applying.FileChange] = field(default_factory=list)
    proposed: str = ""
    answer: str = ""
    originals: dict[str, bytes | None] = field(default_factory=dict)
    latest: dict[str, bytes] = field(default_factory=dict)
    tests: str = ""
    before: TestSummary | None = None
    fix: FixResult | None = None
    commit: str | None = None
    commit_note: str = ""


class EditRun:
    """``conversation``: the earlier turns of a chat, sent before the request (the oldest are left out when
    they would crowd out the code). ``reply``: a reply already in hand — a chat answer that holds edit
    blocks — planned from instead of asking the model the first time; the model is asked only when it does
    not apply. No ``ReplyDelta``/``ReplyReceived`` is yielded for it: the front end has shown it already."""

    def __init__(self, root: Path, provider: ChatProvider, request: str, targets: list[str] | None = None,
                 options: EditOptions | None = None, *, approve: Approve | None = None,
                 writer: applying.FileWriter | None = None, retriever: Retriever | None = None,
                 confirm_test_config: Approve | None = None, conversation: list[Message] | None = None,
                 reply: str | None = None):
        self.root = Path(root).resolve()
        self.provider = provider
        self.request = request.strip()
        if not self.request:
            raise ValueError("the request is empty: say what to change")
        self.arguments = list(targets or [])
        self.options = options or EditOptions()
        if self.options.edit_format not in (None, *FORMATS):
            raise ValueError(f"edit_format must be one of {', '.join(FORMATS)}")
        if self.options.attempts < 1 or self.options.max_iterations < 1:
            raise ValueError("attempts and max_iterations must be at least 1")
        self.approve = approve
        self.conversation = list(conversation or [])
        self.given_reply = reply
        self.confirm_test_config = confirm_test_config
        self.writer = writer
        self._retriever = retriever
        self._owns_retriever = retriever is None
        self.checkpoint = Checkpoint(self.root)
        self.formats = FormatRecord(self.root)
        self.result: ev.EditResult | None = None
        self._format = ""
        self._cancel = threading.Event()
        self._state = _State()
        self._notices_later: list[str] = []  # said just before the next step (warnings about the write)
        self._selection_made: tuple[list[str] | None, str | None] | None = None  # the tests to run, once chosen

    # ------------------------------------------------------------------------------------------ run

    def run(self, cancel: threading.Event | None = None) -> Iterator:
        """Yield events; the last is ``EditFinished``. Ctrl-C (KeyboardInterrupt) propagates after whatever was
        being written is put back; ``result`` then records the cancellation."""
        self._cancel = cancel or threading.Event()
        try:
            try:
                with fix_lock(self.root):
                    yield from self._steps()
                stop = Stopped(ev.ERROR, "the edit ended without a reason")  # pragma: no cover
            except Stopped as exc:
                stop = exc
            except IndexBusy as exc:
                stop = Stopped(ev.BUSY, str(exc))
            except ProviderError as exc:
                stop = Stopped(ev.ERROR, f"the model failed: {exc}")
            except (TargetRefused, git.CommitRefused) as exc:
                stop = Stopped(ev.REFUSED, str(exc))
            except (RetrievalError, PromptError, TestRunError, SandboxUnavailable, OSError) as exc:
                stop = Stopped(ev.ERROR, str(exc))
            except KeyboardInterrupt:
                self.result = self._result(Stopped(ev.CANCELLED, "interrupted"))
                raise
            self.result = self._result(stop)
            yield ev.EditFinished(self.result)
        finally:
            if self._owns_retriever and self._retriever is not None:
                self._retriever.close()

    def _steps(self) -> Iterator:
        self._format = self.options.edit_format or self.formats.choose(self.provider.name)
        yield ev.EditStarted(self.request, self.provider.name, self._format, self.arguments)
        if self.options.commit and not self.options.dry_run:
            git.check_can_commit(self.root)
        yield from self._open_index()
        targets = resolve_targets(self.root, self._retriever, self.arguments, self.request)
        self._state.targets = targets
        _refuse_read_only(self.root, [*targets.pinned, *targets.unindexed])
        yield ev.TargetsPinned(list(targets.pinned) + list(targets.unindexed), list(targets.nearby))
        for rel in targets.new_files:
            yield FixNotice(f"{rel} does not exist yet: the model may create it")
        parsed, changes = yield from self._ask_for_edits()
        yield from self._propose(changes)
        changes = self._still_current(parsed, changes)
        yield from self._test_before(changes)
        yield from self._write(changes)
        yield from self._reindex_written()
        yield from self._test_after()
        yield from self._commit()
        raise Stopped(ev.APPLIED, f"changed {', '.join(self._changed())}")

    def _open_index(self) -> Iterator:
        yield Working(0, "checking the index")
        yield from refresh_index(self.root, "indexing")
        if self._retriever is None:
            self._retriever = Retriever(self.root, use_vectors=self.options.use_vectors)

    def _reindex_written(self) -> Iterator:
        """The next question (a chat stays open after its /edit) must read the code as the edit left it."""
        yield Working(0, "re-indexing the changed files")
        report = yield from refresh_index(self.root, "re-indexing the changed files")
        if report is not None:
            changed = report.files_changed
            yield Reindexed(0, f"re-indexed: {changed} changed {'file' if changed == 1 else 'files'}")

    # ------------------------------------------------------------------------------- the model

    def _ask_for_edits(self):
        retry: str | None = None
        for attempt in range(1, self.options.attempts + 1):
            self._check_cancel()
            prompt, reply_tokens = yield from self._prompt(retry, first=attempt == 1)
            if attempt == 1 and self.given_reply is not None:
                reply = Completed(self.given_reply, "stop", Usage(None, None, 0))
            else:
                reply = yield from self._ask(prompt, reply_tokens)
            if reply.done_reason == "length":
                retry = (f"your reply was cut off at the reply limit ({reply_tokens} tokens) before it ended, so none "
                         "of it was applied: give only the blocks that change, and keep them short")
            elif not looks_like_edits(reply.text):
                self._state.answer = reply.text.strip()
                yield ev.Answered(self._state.answer)
                raise Stopped(ev.ANSWERED, "the model answered instead of editing; nothing was written")
            else:
                try:
                    parsed = parse_reply(reply.text)
                    changes = applying.plan(self.root, parsed.edits)
                except (FormatError, applying.EditRefused) as exc:
                    self.formats.record(self.provider.name, self._format, False)
                    retry = str(exc)
                else:
                    self.formats.record(self.provider.name, parsed.edit_format, True)
                    return parsed, changes
            yield EditRejected(0, retry)
        advice = "; allow longer replies with --max-tokens" if "cut off at the reply limit" in (retry or "") else ""
        raise Stopped(ev.NOT_APPLIED, f"no reply of the model could be applied ({shorten(retry or '', 300)}); nothing "
                                    f"was written{advice}")

    def _prompt(self, retry: str | None, first: bool):
        count = self.provider.count_tokens
        window = self.provider.context_window
        reply_tokens = self.options.max_reply_tokens or max(self.provider.reply_reserve, min(4096, window // 4))
        reply_tokens = max(1, min(reply_tokens, window // 2))
        room = window - reply_tokens
        named = self._state.targets.named

        conversation = self.conversation

        def build(context: str):
            return request_messages(self.root.name, self._format, self.request, named, context, retry, conversation)

        # The code the request is about matters more than old turns: these may take half the room at most.
        while conversation and count(build("")) > room // 2:
            conversation = conversation[2:]
        if first and len(conversation) < len(self.conversation):
            yield FixNotice(f"the {(len(self.conversation) - len(conversation)) // 2} oldest turns of the conversation "
                            "were left out of the request: they did not fit beside the code")
        yield Working(0, "finding the code the request is about")
        budget = room - count(build("")) - 16
        if self.options.context_budget is not None:
            budget = min(budget, self.options.context_budget)
        found = EditContext("", None, [], None)
        for _ in range(4):
            if budget < 64:
                found = EditContext("", None, [], found.found_little)
                break
            found = build_context(self.root, self._retriever, self._retrieval_query(), self._state.targets, budget,
                                  count)
            total = count(build(found.text))
            if total <= room:
                break
            budget -= (total - room) + 32
        self._state.context = found
        prompt = build(found.text)
        items = [ContextEntry(item.path, item.symbol, _first_line(item), _last_line(item), item.tokens,
                              item.why.line(item.kind)) for item in (found.pack.items if found.pack else [])]
        yield ContextBuilt(0, items, count(prompt), {}, list(self._state.targets.pinned))
        if first and found.found_little:
            yield FixNotice(found.found_little, "warning")
        return prompt, reply_tokens

    def _ask(self, prompt, reply_tokens: int):
        final: Completed | None = None
        for event in self.provider.stream_chat(prompt, max_tokens=reply_tokens, cancel=self._cancel):
            if isinstance(event, TextDelta):
                yield ReplyDelta(0, event.text)
            elif isinstance(event, PromptProgress):
                yield ReadingPrompt(0, event.processed, event.total)
            elif isinstance(event, Completed):
                final = event
        self._check_cancel()
        if final is None:
            raise ProviderError("the model's reply ended without a final event")
        yield ReplyReceived(0, final.text, self._format)
        return final

    # --------------------------------------------------------------------------- propose, write

    def _propose(self, changes: list[applying.FileChange]) -> Iterator:
        shown = set(self._state.context.files if self._state.context else [])
        outside = [c.path for c in changes if c.path not in shown and c.old is not None]
        for path in outside:
            yield FixNotice(f"the reply edits {path}, which was not in the code the model was shown", "warning")
        _refuse_read_only(self.root, [c.path for c in changes if c.old is not None])
        diff = flagged_diff(changes, shown)
        files = [c.path for c in changes]
        self._state.changes = changes
        self._state.proposed = diff
        items = self._state.context.pack.items if self._state.context and self._state.context.pack else []
        entries = [ContextEntry(i.path, i.symbol, _first_line(i), _last_line(i), i.tokens, "") for i in items]
        yield EditsProposed(0, diff, changes, touched_symbols(changes, entries))
        emptied = [c.path for c in changes if c.old and not c.new.strip()]
        guarded = [] if self.options.allow_test_config else touched_test_config(files)
        ask = self.approve or (self.confirm_test_config if guarded else None)
        if self.options.dry_run:
            raise Stopped(ev.DRY_RUN, f"dry run: proposed changes to {', '.join(files)}; nothing was written")
        if emptied and self.approve is None:
            raise Stopped(ev.REFUSED, f"the reply empties {', '.join(emptied)}, which deletes its content; deleting "
                                    "is done only when confirmed: run without --yes on a terminal. Nothing was written")
        if guarded and ask is None:
            raise Stopped(ev.REFUSED, f"the reply changes test infrastructure ({', '.join(guarded)}), which runs code "
                                    "when the tests run; confirm it on a terminal or pass --allow-test-config. "
                                    "Nothing was written")
        decision = ask(Proposal(0, diff, changes, tuple(guarded))) if ask is not None else True
        if not decision:
            self._check_cancel()  # stopped while the diff was shown is a stop, not a "no"
            raise Stopped(ev.DECLINED, "you declined the proposed changes; nothing was written")
        if decision in (ev.APPLY_ONLY, ev.APPLY_AND_TEST):
            self.options = replace(self.options, run_tests=decision == ev.APPLY_AND_TEST)
        self._check_cancel()

    def _still_current(self, parsed, changes: list[applying.FileChange]) -> list[applying.FileChange]:
        """The files as the plan read them, or — when one changed while the user looked at the diff — the same
        edits matched again against the files as they are now; refused (with what changed) when they no
        longer apply."""
        tree = SafeRoot(self.root)
        moved = {}
        for change in changes:
            now = tree.read_bytes(change.path) if tree.lstat(change.path) is not None else None
            if now != change.old:
                moved[change.path] = now
        if not moved:
            if self.options.commit:
                git.check_files_clean(self.root, [c.path for c in changes])
            return changes
        what = "".join(applying.unified_diff(path, next(c.old for c in changes if c.path == path), now)
                       for path, now in moved.items())
        try:
            again = applying.plan(self.root, parsed.edits)
        except applying.EditRefused as exc:
            raise Stopped(ev.REFUSED, f"{', '.join(moved)} changed after the edit was proposed and the edit no longer "
                                    f"applies ({shorten(str(exc), 300)}); nothing was written. What changed:\n"
                                    f"{what}") from None
        self._state.changes = again
        self._state.proposed = flagged_diff(again, set(self._state.context.files if self._state.context else []))
        self._notices_later.append(f"{', '.join(moved)} changed after the edit was proposed; the edit was matched "
                                   "again against the file as it is now")
        if self.options.commit:
            git.check_files_clean(self.root, [c.path for c in again])
        return again

    def _test_before(self, changes: list[applying.FileChange]) -> Iterator:
        for text in self._take_notices():
            yield FixNotice(text, "warning")
        selection = self._selection(changes)
        if selection is None:
            return
        from ..fix.sandbox import choose_sandbox
        from ..fix.testrun import run_tests

        yield Working(0, "running the tests before the edit")
        log_dir = self.root / ".assist" / "fix" / "runs" / self.checkpoint.id / "before-edit"
        log_dir.mkdir(parents=True, exist_ok=True)
        run = run_tests(self.root, test_paths=selection[0], command=selection[1], timeout_s=self.options.timeout_s,
                        log_dir=log_dir, cancel=self._cancel, sandbox=choose_sandbox(self.options.sandbox))
        self._state.before = summarize_run(run)
        yield ev.TestsBeforeEdit(self._state.before)
        self._check_cancel()

    def _selection(self, changes: list[applying.FileChange]) -> tuple[list[str] | None, str | None] | None:
        """(pytest paths, command) to run, or None when no tests run; remembered for the fix loop."""
        if not self.options.run_tests:
            return None
        if self.options.command:
            selection = (None, self.options.command)
        elif self.options.test_paths == [ALL_TESTS]:
            selection = (None, None)
        elif self.options.test_paths:
            selection = (list(self.options.test_paths), None)
        else:
            tests = tests_reaching(self._retriever, changed_symbols(self._retriever, changes))
            if not tests:
                self._notices_later.append("no test in the graph reaches the changed code, so no tests were run: "
                                           "pass --test PATHS, --test all or --cmd to check the edit")
                return None
            selection = (tests, None)
        self._selection_made = selection
        self._state.tests = selection[1] or "pytest " + " ".join(selection[0] or [])
        return selection

    def _write(self, changes: list[applying.FileChange]) -> Iterator:
        for text in self._take_notices():
            yield FixNotice(text, "warning")
        self.checkpoint.describe(command="assist edit", request=shorten(self.request, 500))
        for change in changes:
            self._state.originals.setdefault(change.path, change.old)

        def written(change: applying.FileChange) -> None:
            self.checkpoint.written(change)
            self._state.latest[change.path] = change.new

        self._check_cancel()
        try:
            applying.write(changes, self.writer, before_write=self.checkpoint.save, after_write=written)
        except PathRefused as exc:
            self._state.latest.clear()
            raise Stopped(ev.REFUSED, f"{exc}: a directory on this path became a symbolic link after the edit was "
                                    "checked; nothing was written") from None
        yield EditsApplied(0, [c.path for c in changes], self.checkpoint.id)

    def _test_after(self) -> Iterator:
        if self._selection_made is None:
            return
        paths, command = self._selection_made
        shared = {option.name: getattr(self.options, option.name) for option in fields(FixOptions)}
        options = FixOptions(**{**shared, "test_paths": paths, "command": command, "dry_run": False})
        change = Attempt(0, f"you were asked: {shorten(self.request, 1000)}\nYou made that change like this:\n"
                            f"```diff\n{shorten(self._state.proposed, 2000)}```\nAfter it the tests fail (the output "
                            "above). Keep the requested change and fix what it broke.",
                         f"the requested change ({shorten(self.request, 120)}) made the tests fail")
        loop = FixLoop(self.root, self.provider, options, approve=self.approve, writer=self.writer,
                       retriever=self._retriever, confirm_test_config=self.confirm_test_config,
                       continuing=Continuation(self.checkpoint, dict(self._state.originals),
                                               dict(self._state.latest), change))
        try:
            for event in loop.run(self._cancel):
                if not isinstance(event, FixFinished):
                    yield event
        finally:
            self._state.fix = loop.result
            self._state.latest.update(loop.files_written)
            for path, original in loop.originals.items():
                self._state.originals.setdefault(path, original)
        result = self._state.fix
        if result is None or result.status not in ("fixed", "already_green"):
            reason = _own_words(result) if result is not None else "the tests could not be run"
            status = ev.TESTS_FAIL if result is not None and result.tests_before is not None else ev.ERROR
            raise Stopped(ev.CANCELLED if result is not None and result.status == "cancelled" else status,
                        f"the edit was written, but {reason}")

    def _commit(self) -> Iterator:
        if not self.options.commit:
            return
        files = self._changed()
        diff = self._diff()
        yield Working(0, "writing the commit message")
        try:
            reply = self.provider.chat(commit_messages(self.request, diff), max_tokens=COMMIT_REPLY_TOKENS).text
        except ProviderError as exc:
            reply = None
            yield FixNotice(f"the model could not write the commit message ({exc}); using a plain one", "warning")
        message = commit_message_from_reply(reply, self.request, files)
        try:
            sha = git.commit(self.root, files, message)
        except git.CommitRefused as exc:
            self._state.commit_note = f"; not committed: {exc}"
            yield FixNotice(f"not committed: {exc}", "warning")
            return
        self._state.commit = sha
        self.checkpoint.describe(commit=sha)
        yield ev.Committed(sha, message.splitlines()[0], files)

    # ------------------------------------------------------------------------------------ helpers

    def _retrieval_query(self) -> str:
        """The request, and in a chat the question before it: a follow-up ("now make it sorted") names little
        itself, the turn it follows names the code."""
        earlier = [message.content for message in self.conversation if message.role == "user"]
        return f"{self.request}\n{earlier[-1]}" if earlier else self.request

    def _take_notices(self) -> list[str]:
        taken, self._notices_later = self._notices_later, []
        return taken

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Stopped(ev.CANCELLED, "stopped by the user")

    def _changed(self) -> list[str]:
        state = self._state
        return [path for path, new in state.latest.items() if state.originals.get(path) != new]

    def _diff(self) -> str:
        state = self._state
        shown = set(state.context.files if state.context else [])
        changes = [applying.FileChange(path, self.root / path, state.originals.get(path), new, None)
                   for path, new in state.latest.items() if state.originals.get(path) != new]
        return flagged_diff(changes, shown)

    def _result(self, stop: Stopped) -> ev.EditResult:
        state = self._state
        changed = self._changed()
        status, message = stop.status, stop.message
        fix = state.fix
        if status == ev.APPLIED and fix is not None and fix.status == "fixed":
            status = ev.FIXED
            message = f"changed {', '.join(changed)}; the tests failed after the edit and {_own_words(fix)}"
        elif status == ev.APPLIED and fix is not None:
            message = f"changed {', '.join(changed)}; the tests pass"
        if changed and status not in (ev.APPLIED, ev.FIXED):
            message += f"; changed {', '.join(changed)}"
        if changed and state.commit is None:
            message += f" ({self.options.undo} restores them)"
        if state.commit:
            message += f"; committed as {state.commit[:12]} (undo it with `git revert {state.commit[:12]}`)"
        message += state.commit_note
        if self.options.commit and changed and state.commit is None and not state.commit_note:
            message += "; not committed: only an edit whose tests pass is committed"
        shown = set(state.context.files if state.context else [])
        return ev.EditResult(
            status=status, message=message, request=self.request, model=self.provider.name,
            edit_format=self._format, files_changed=changed,
            files_created=[p for p in changed if state.originals.get(p) is None],
            outside_context=[p for p in changed if p not in shown and state.originals.get(p) is not None],
            diff=self._diff() if changed else state.proposed, answer=state.answer,
            context=list(state.context.files) if state.context else [], pinned=list(state.targets.pinned),
            tests=state.tests, tests_before=state.before,
            tests_after_edit=fix.tests_before if fix else None,
            tests_after=(fix.tests_after or fix.tests_before) if fix else None, fix=fix,
            checkpoint=self.checkpoint.id if self.checkpoint.entries else None, commit=state.commit,
        )


def flagged_diff(changes: list[applying.FileChange], shown: set[str]) -> str:
    """The unified diff of ``changes``, each new file and each file the model was not shown marked by a
    ``# assist:`` line before its part (``git apply`` and ``patch`` read such lines as commentary)."""
    parts = []
    for change in changes:
        if change.old is None:
            parts.append(f"# assist: new file {change.path}\n")
        elif change.path not in shown:
            parts.append(f"# assist: {change.path} was not in the code the model was shown\n")
        parts.append(change.diff())
    return "".join(parts)


def _own_words(fix: FixResult) -> str:
    """The fix loop's message without its list of changed files: the edit's result lists them all."""
    return fix.message.split("; changed ")[0]


def _refuse_read_only(root: Path, paths: list[str]) -> None:
    for rel in paths:
        absolute = root / rel.partition("::")[0]
        # The owner's write bit as well as access(): root may write anything, but a file its owner marked
        # read-only is one the user does not expect to change.
        if absolute.is_file() and (not os.access(absolute, os.W_OK) or not absolute.stat().st_mode & stat.S_IWUSR):
            raise TargetRefused(f"{rel.partition('::')[0]} is read-only: assist edit does not change read-only "
                                "files; make it writable (chmod u+w) to let it. Nothing was written")


def _first_line(item) -> int:
    return item.segments[0][0] if item.segments else 0


def _last_line(item) -> int:
    return item.segments[-1][1] if item.segments else 0


def reply_has_edits(text: str) -> bool:
    """Whether a chat answer holds edit blocks, to be offered as a proposed edit (``EditRun(reply=text)``)."""
    return looks_like_edits(text)

"""What an edit run reports while it runs, and how it ended.

``EditRun.run`` yields these together with the fix loop's own events (``assistant.fix.events``), which it
reuses where the step is the same: ``Working``, ``ContextBuilt``, ``ReadingPrompt``, ``ReplyDelta``,
``ReplyReceived``, ``EditRejected``, ``EditsProposed``, ``EditsApplied``, ``FixNotice``. Every event of the edit
itself has ``round == 0``; once the edit is written and its tests fail, the fix loop's rounds 1, 2, … follow,
exactly as `assist fix` reports them. The last event is always ``EditFinished``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..fix.events import FixResult, TestSummary

# Why an edit run ended.
APPLIED = "applied"  # written; the tests, when run, pass
FIXED = "fixed"  # written; the tests failed after it and the fix loop made them pass
TESTS_FAIL = "tests_fail"  # written; the tests still fail (the fix loop gave up: see ``fix_status``)
DRY_RUN = "dry_run"
DECLINED = "declined"
ANSWERED = "answered"  # the model answered instead of editing (a question back, a refusal): nothing written
NOT_APPLIED = "not_applied"  # no reply could be applied (malformed, cut off, unmatched): nothing written
REFUSED = "refused"  # the request itself cannot be carried out (a binary or unknown target, a file changed)
CANCELLED = "cancelled"
ERROR = "error"
BUSY = "busy"  # another edit or fix run holds this repository

# What a front end's ``approve`` may answer besides True (apply; the tests as the options say) and False (reject).
APPLY_ONLY = "apply"  # write the edit and run no tests
APPLY_AND_TEST = "apply_and_test"  # write it, then run the tests the graph selects (and the fix loop if they fail)


@dataclass(frozen=True)
class EditStarted:
    request: str
    model: str
    edit_format: str
    targets: list[str]  # the files and symbols the request named (the command's arguments and what it quotes)


@dataclass(frozen=True)
class TargetsPinned:
    """The files and symbols the request named, resolved to graph nodes, and what was added around them."""

    pinned: list[str]  # graph node ids (``path`` or ``path::Symbol``), sent whole
    nearby: list[str]  # their callers, callees and tests, ranked next


@dataclass(frozen=True)
class Answered:
    """The reply was not an edit: shown as the model's answer; nothing was written."""

    text: str


@dataclass(frozen=True)
class TestsBeforeEdit:
    """The selected tests on the code as it was, run once the edit was approved and before it was written."""

    __test__ = False
    summary: TestSummary


@dataclass(frozen=True)
class Committed:
    sha: str
    subject: str
    files: list[str]


@dataclass
class EditResult:
    status: str
    message: str
    request: str
    model: str = ""
    edit_format: str = ""
    files_changed: list[str] = field(default_factory=list)
    files_created: list[str] = field(default_factory=list)
    outside_context: list[str] = field(default_factory=list)  # files the reply edited that it was not shown
    diff: str = ""  # everything written (or, for dry_run/declined, what was proposed)
    answer: str = ""  # the model's reply when it answered instead of editing
    context: list[str] = field(default_factory=list)  # the files the model was shown
    pinned: list[str] = field(default_factory=list)
    tests: str = ""  # the command the tests ran with ("" when none ran)
    tests_before: TestSummary | None = None  # before the edit was written
    tests_after_edit: TestSummary | None = None
    tests_after: TestSummary | None = None  # at the end (after the fix rounds, if any)
    fix: FixResult | None = None  # the fix loop's run, when the tests failed after the edit
    checkpoint: str | None = None
    commit: str | None = None

    @property
    def written(self) -> bool:
        return bool(self.files_changed)

    @property
    def ok(self) -> bool:
        """What was asked for is done: an answer given, or the edit written with its tests (if run) passing;
        a dry run that found an applicable edit."""
        return self.status in (APPLIED, FIXED, ANSWERED, DRY_RUN)

    def to_json(self) -> dict:
        def summary(value: TestSummary | None) -> dict | None:
            return value.to_json() if value is not None else None

        return {
            "status": self.status, "ok": self.ok, "message": self.message, "request": self.request,
            "model": self.model, "edit_format": self.edit_format, "files_changed": self.files_changed,
            "files_created": self.files_created, "outside_context": self.outside_context, "diff": self.diff,
            "answer": self.answer, "context_files": self.context, "pinned": self.pinned, "tests": self.tests,
            "tests_before": summary(self.tests_before), "tests_after_edit": summary(self.tests_after_edit),
            "tests_after": summary(self.tests_after), "fix_rounds": self.fix.rounds if self.fix else 0,
            "fix_status": self.fix.status if self.fix else None, "checkpoint": self.checkpoint,
            "commit": self.commit,
        }


@dataclass(frozen=True)
class EditFinished:
    result: EditResult

"""What a fix run reports while it runs. The CLI, the TUI and the editor agent all consume these same events
from ``FixLoop.run``; none of them drives the tests, the model or the files directly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # apply.py loads the syntax checkers: the events stay cheap to import
    from .apply import FileChange


@dataclass(frozen=True)
class FailureLine:
    test_id: str
    exc_type: str | None
    message: str

    def text(self) -> str:
        what = f"{self.exc_type}: {self.message}" if self.exc_type else self.message
        return f"{self.test_id} — {what}".rstrip(" —") if what else self.test_id


@dataclass(frozen=True)
class TestSummary:
    __test__ = False  # a name pytest would otherwise collect
    command: str
    exit_code: int | None
    timed_out: bool
    duration_s: float
    passed: int | None
    failed: int | None
    failures: list[FailureLine]
    log_path: str
    green: bool  # the run's own verdict: exit 0, not timed out, not interrupted
    description: str  # one line for people, as the test run phrased it

    def headline(self) -> str:
        return self.description

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ContextEntry:
    """One item of code sent to the model, and why (the retriever's signals, or the failure role)."""

    path: str
    symbol: str | None
    start_line: int
    end_line: int
    tokens: int
    why: str


@dataclass(frozen=True)
class Proposal:
    """What ``approve`` is asked about: one reply's edits as planned, before anything is written."""

    round: int
    diff: str  # the unified diff of ``changes``, for front ends that show text
    changes: list[FileChange]  # each file's old and new content, exactly as they would be written
    test_config: tuple[str, ...] = ()  # files among ``files`` that change what the test run executes

    @property
    def files(self) -> list[str]:
        return [change.path for change in self.changes]


@dataclass(frozen=True)
class RunStarted:
    model: str
    edit_format: str
    max_iterations: int
    test_command: str
    sandbox: str = ""  # how the test runs are confined, one line (see fix/sandbox.py)


@dataclass(frozen=True)
class TestsStarted:
    __test__ = False  # a name pytest would otherwise collect
    round: int  # 0: the run before any edit
    command: str


@dataclass(frozen=True)
class TestsFinished:
    __test__ = False  # a name pytest would otherwise collect
    round: int
    summary: TestSummary


@dataclass(frozen=True)
class Working:
    """A step starts that can take a while (indexing, localizing, re-indexing): what a live line should say
    instead of the last test command."""

    round: int
    doing: str  # "indexing the repository", ...


@dataclass(frozen=True)
class ContextBuilt:
    round: int
    items: list[ContextEntry]
    tokens: int  # the whole prompt as counted with the model's tokenizer
    roles: dict[str, list[str]]  # test / raised / under_test -> graph nodes
    # Non-test symbols the failure points at, likeliest fault first (graph node ids, ``path::name``): what a
    # person wants to see per round, rather than the packed fragments, which include surrounding context.
    suspects: list[str] = field(default_factory=list)

    def describe(self, name: Callable[[str], str] = str, suspects: int = 3, files: int = 4) -> str:
        """One line a person can check: the suspects (the code the fix is likely to touch), else the files
        the context came from — never the packed fragments, which include each suspect's neighbourhood.
        ``name`` shows one name (a view makes it inert, or code in Markdown)."""
        paths = list(dict.fromkeys(item.path for item in self.items))
        size = (f"prompt {self.tokens:,} tokens, {len(self.items)} code items from {len(paths)} "
                f"file{'' if len(paths) == 1 else 's'}")
        if self.suspects:
            return f"suspects {_first(self.suspects, suspects, name)} — {size}"
        return size + (f": {_first(paths, files, name)}" if paths else "")


@dataclass(frozen=True)
class ReadingPrompt:
    """The server is partway through reading the round's prompt (only servers that report it: llama.cpp's);
    between ``ContextBuilt`` and the first ``ReplyDelta``, a few times a second at most."""

    round: int
    processed: int  # prompt tokens read so far
    total: int  # the whole prompt, as the server counted it


@dataclass(frozen=True)
class ReplyDelta:
    round: int
    text: str


@dataclass(frozen=True)
class ReplyReceived:
    round: int
    text: str
    edit_format: str  # the format asked for


@dataclass(frozen=True)
class EditRejected:
    """The reply could not be applied; nothing was written, and the reason goes back to the model."""

    round: int
    reason: str


@dataclass(frozen=True)
class EditsProposed:
    """One reply's edits as planned, before approval: ``changes`` hold each file's old and new content exactly
    as the run would write them (an editor shows them as per-file diffs without reading or planning again),
    ``diff`` the same as one unified diff, for front ends that show text."""

    round: int
    diff: str
    changes: list[FileChange]
    symbols: list[str] = field(default_factory=list)  # symbols of the context whose lines the edit changes
    suspect_ranks: dict[str, int] = field(default_factory=dict)  # symbol -> its rank among the round's suspects
    suspects: int = 0  # how many suspects the round had

    @property
    def files(self) -> list[str]:
        return [change.path for change in self.changes]

    def describe_symbols(self, name: Callable[[str], str] = str) -> str:
        """``overlaps (suspect 7 of 10), Stay``: which code the edit changes and where the failure ranked it."""
        shown = []
        for symbol in self.symbols:
            rank = self.suspect_ranks.get(symbol)
            short = name(symbol.partition("::")[2] or symbol)
            shown.append(f"{short} (suspect {rank} of {self.suspects})" if rank else short)
        return ", ".join(shown)


@dataclass(frozen=True)
class EditsApplied:
    round: int
    files: list[str]
    checkpoint: str


@dataclass(frozen=True)
class Reindexed:
    round: int
    text: str


@dataclass(frozen=True)
class FixNotice:
    text: str
    level: str = "info"  # info | warning


def _first(names: list[str], limit: int, name: Callable[[str], str]) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(name(each) for each in names[:limit]) + more


class Stopped(Exception):
    """Raised inside a run (a fix loop, an edit) to end it: ``status`` says why (one of the constants below, or
    an edit run's), ``message`` says it to a person."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# Why a run ended.
FIXED = "fixed"
ALREADY_GREEN = "already_green"
DRY_RUN = "dry_run"
DECLINED = "declined"
MAX_ITERATIONS = "max_iterations"
REPEATED = "repeated_reply"
STUCK = "stuck"
CANCELLED = "cancelled"
ERROR = "error"
BUSY = "busy"  # another fix run holds this repository


@dataclass
class FixResult:
    status: str
    message: str
    rounds: int = 0
    diff: str = ""  # everything the run changed, against the files as they were before it
    files_changed: list[str] = field(default_factory=list)
    tests_before: TestSummary | None = None
    tests_after: TestSummary | None = None
    checkpoint: str | None = None  # `assist undo` restores the files as they were before this run
    model: str = ""
    edit_format: str = ""
    log_dir: str = ""
    sandbox: str = ""  # how the test runs were confined

    @property
    def ok(self) -> bool:
        """The selected tests pass at the end of the run."""
        last = self.tests_after or self.tests_before
        return last is not None and last.green and self.status in (FIXED, ALREADY_GREEN)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "ok": self.ok,
            "message": self.message,
            "rounds": self.rounds,
            "model": self.model,
            "edit_format": self.edit_format,
            "files_changed": self.files_changed,
            "diff": self.diff,
            "tests_before": self.tests_before.to_json() if self.tests_before else None,
            "tests_after": self.tests_after.to_json() if self.tests_after else None,
            "checkpoint": self.checkpoint,
            "log_dir": self.log_dir,
            "sandbox": self.sandbox,
        }


@dataclass(frozen=True)
class FixFinished:
    result: FixResult


FixEvent = (RunStarted | TestsStarted | TestsFinished | Working | ContextBuilt | ReadingPrompt | ReplyDelta
            | ReplyReceived | EditRejected | EditsProposed | EditsApplied | Reindexed | FixNotice | FixFinished)

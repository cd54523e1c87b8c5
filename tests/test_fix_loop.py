"""The fix loop end to end with a scripted model: the real sample repository (indexed with the real
pipeline), a real bug, its real tests run by pytest, the real retriever — and prepared replies, so that each
path of the loop is exercised deterministically. After every run, `undo` must give back the dirty working
tree byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from fix_support import FIX, PRICING, alive, buggy, git_state, indexed_buggy, snapshot, sr  # noqa: F401

from assistant.fix import apply
from assistant.fix.checkpoint import NothingToUndo, undo_latest
from assistant.fix.edits import SEARCH_REPLACE, WHOLE_FILE
from assistant.fix.events import (
    ContextBuilt, EditRejected, EditsApplied, EditsProposed, FixFinished, ReplyDelta, TestsFinished,
)
from assistant.fix.formats import FormatRecord
from assistant.fix.loop import FixLoop, FixOptions
from assistant.providers.scripted import ScriptedProvider

TESTS = ["tests/test_pricing.py"]


def run_loop(repo: Path, replies: list[str], **options) -> tuple[FixLoop, ScriptedProvider, list]:
    provider = ScriptedProvider(replies)
    settings = {"test_paths": TESTS, "use_vectors": False, "reindex": False, **options}
    loop = FixLoop(repo, provider, FixOptions(**settings))
    events = list(loop.run())
    assert isinstance(events[-1], FixFinished) and events[-1].result is loop.result
    return loop, provider, events


def user_prompt(provider: ScriptedProvider, index: int) -> str:
    return provider.prompts[index][-1].content


def undo_restores(repo: Path, before: dict, before_git: tuple) -> None:
    try:
        undo_latest(repo)
    except NothingToUndo:
        pass
    assert snapshot(repo) == before
    assert git_state(repo) == before_git


def test_a_fix_in_one_round(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    loop, provider, events = run_loop(buggy, [FIX], reindex=True)
    result = loop.result
    assert result.status == "fixed" and result.ok and result.rounds == 1
    assert not result.tests_before.green and result.tests_before.failed >= 2
    assert result.tests_after.green and result.tests_after.failed in (0, None)
    assert result.files_changed == [PRICING]
    assert "-        if quantity > minimum:" in result.diff and "+        if quantity >= minimum:" in result.diff
    # The model saw the failure and the code that raised it, localized through the index.
    prompt = user_prompt(provider, 0)
    assert "test_bulk_discount_tiers" in prompt and "def bulk_discount_percent" in prompt
    context = next(e for e in events if isinstance(e, ContextBuilt))
    assert any(item.path == PRICING for item in context.items)
    assert any(isinstance(e, ReplyDelta) for e in events)
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("EditsProposed") < kinds.index("EditsApplied") < kinds.index("Reindexed")
    undo_restores(buggy, before, before_git)


def test_after_an_undo_the_index_follows_and_a_busy_index_is_a_warning_naming_reindex(buggy):
    """What /undo in the chat app and in an editor does once the files are back (index_refresh.py)."""
    from assistant.fix.checkpoint import UndoReport
    from assistant.fix.index_refresh import refresh_after_undo
    from indexer.lock import IndexLock
    from indexer.state_dir import StateDir
    from indexer.status import index_status

    source = buggy / PRICING
    source.write_text(source.read_text() + "\n# put back by an undo\n")
    assert refresh_after_undo(buggy, UndoReport("run-0")) is None and index_status(buggy).is_stale  # nothing put back
    undone = UndoReport("run-1", restored=[PRICING])
    with IndexLock(StateDir(buggy).path):  # another window indexing this repository
        warning = refresh_after_undo(buggy, undone)
    assert warning is not None and "another assist process" in warning, warning
    assert warning.endswith("run /reindex to retry") and index_status(buggy).is_stale
    assert refresh_after_undo(buggy, undone) is None
    assert not index_status(buggy).is_stale


def test_a_wrong_first_fix_is_corrected_in_round_two_from_the_new_failure(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    wrong = sr(PRICING, "        if quantity > minimum:", "        if quantity >= minimum - 1:")
    right = sr(PRICING, "        if quantity >= minimum - 1:", "        if quantity >= minimum:")
    loop, provider, events = run_loop(buggy, [wrong, right], reindex=True)
    assert loop.result.status == "fixed" and loop.result.rounds == 2
    second = user_prompt(provider, 1)
    assert "Attempt 1" in second and "minimum - 1" in second  # the history: what was tried
    assert "49-5" in second  # the new failure, which only the wrong fix caused
    first_run = next(e for e in events if isinstance(e, TestsFinished) and e.round == 1)
    assert any("49-5" in f.test_id for f in first_run.summary.failures)
    # The whole change of the run, against the file as it was before the run: only the real fix remains.
    assert "minimum - 1" not in loop.result.diff and "+        if quantity >= minimum:" in loop.result.diff
    undo_restores(buggy, before, before_git)


def test_a_malformed_reply_writes_nothing_and_the_error_goes_back_to_the_model(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    truncated = f"{PRICING}\n<<<<<<< SEARCH\n        if quantity > minimum:\n=======\n        if quantity >="
    loop, provider, events = run_loop(buggy, [truncated, FIX])
    rejected = [e for e in events if isinstance(e, EditRejected)]
    assert len(rejected) == 1 and "cut off" in rejected[0].reason
    assert not any(isinstance(e, EditsApplied) and e.round == 1 for e in events)
    assert "cut off" in user_prompt(provider, 1) and "nothing was" in user_prompt(provider, 1)
    assert loop.result.status == "fixed" and loop.result.rounds == 2
    # The model's record: one search/replace reply failed, one applied (what picks its next format).
    assert FormatRecord(buggy).outcomes("scripted", SEARCH_REPLACE) == [0, 1]
    undo_restores(buggy, before, before_git)


def test_a_model_asked_for_whole_files_fixes_with_a_whole_file(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    fixed = (buggy / PRICING).read_text().replace("if quantity > minimum:", "if quantity >= minimum:")
    reply = f"The tier boundary is exclusive.\n\n{PRICING}\n```python\n{fixed}```\n"
    loop, provider, events = run_loop(buggy, [reply], edit_format=WHOLE_FILE)
    assert "complete new content" in provider.prompts[0][0].content  # the system prompt asked for whole files
    assert loop.result.status == "fixed" and loop.result.edit_format == WHOLE_FILE
    changed = [line for line in loop.result.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-        if quantity > minimum:", "+        if quantity >= minimum:"]  # nothing else moved
    undo_restores(buggy, before, before_git)


def test_an_ambiguous_block_is_refused_with_the_places_it_matches(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    ambiguous = sr(PRICING, "    try:", "    try:  # fixed?")
    loop, provider, events = run_loop(buggy, [ambiguous, FIX])
    rejected = next(e for e in events if isinstance(e, EditRejected))
    assert "ambiguous" in rejected.reason and "2 places" in rejected.reason
    assert "ambiguous" in user_prompt(provider, 1)
    assert loop.result.status == "fixed"
    undo_restores(buggy, before, before_git)


def test_path_escapes_in_a_reply_refuse_the_whole_reply_and_the_canary_stays(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    canary = buggy.parent / "canary.py"
    canary.write_text("SAFE = True\n")
    (buggy / "outside").symlink_to(buggy.parent)
    git_before = (buggy / ".git" / "HEAD").read_bytes()
    hostile = (FIX + sr("../canary.py", "SAFE = True", "SAFE = False") + sr(str(canary), "SAFE = True", "SAFE = 0")
               + sr("outside/canary.py", "SAFE = True", "SAFE = None") + sr(".git/HEAD", "", "ref: refs/heads/x"))
    loop, provider, events = run_loop(buggy, [hostile], max_iterations=1)
    rejected = next(e for e in events if isinstance(e, EditRejected))
    for reason in ("'..' is refused", "absolute paths are refused", "symbolic link", "inside .git/"):
        assert reason in rejected.reason
    assert loop.result.status == "max_iterations" and not loop.result.ok and loop.result.files_changed == []
    assert canary.read_text() == "SAFE = True\n" and (buggy / ".git" / "HEAD").read_bytes() == git_before
    assert (buggy / PRICING).read_bytes() == before[PRICING][0]  # the good block was not applied either
    (buggy / "outside").unlink()
    undo_restores(buggy, before, before_git)


def test_the_same_failure_surviving_two_attempts_stops_the_loop(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    cosmetic_one = sr(PRICING, '    return Decimal("0")', '    return Decimal("0")  # no tier applies')
    cosmetic_two = sr(PRICING, "def tax_rate(tax_class: str) -> Decimal:",
                      "def tax_rate(tax_class: str) -> Decimal:  # VAT")
    loop, _, events = run_loop(buggy, [cosmetic_one, cosmetic_two, FIX])
    assert loop.result.status == "stuck" and loop.result.rounds == 2 and not loop.result.ok
    assert sum(isinstance(e, EditsApplied) for e in events) == 2
    assert loop.result.checkpoint is not None
    undo_restores(buggy, before, before_git)


def test_a_repeated_reply_stops_the_loop(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    nonsense = "I think the bug is in the discount code."
    loop, provider, _ = run_loop(buggy, [nonsense, nonsense + "\n", FIX])
    assert loop.result.status == "repeated_reply" and loop.result.rounds == 2
    assert len(provider.prompts) == 2
    undo_restores(buggy, before, before_git)


def test_dry_run_and_a_declined_proposal_write_nothing(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    loop, _, events = run_loop(buggy, [FIX], dry_run=True)
    assert loop.result.status == "dry_run" and not loop.result.ok
    assert "+        if quantity >= minimum:" in loop.result.diff and loop.result.files_changed == []
    assert snapshot(buggy) == before

    asked = []
    loop = FixLoop(buggy, ScriptedProvider([FIX]), FixOptions(test_paths=TESTS, use_vectors=False),
                   approve=lambda proposal: asked.append(proposal) or False)
    list(loop.run())
    assert loop.result.status == "declined" and asked and asked[0].files == [PRICING]
    assert "if quantity >= minimum" in asked[0].diff
    assert snapshot(buggy) == before and loop.result.checkpoint is None
    with pytest.raises(NothingToUndo):
        undo_latest(buggy)
    assert git_state(buggy) == before_git


def test_interruption_mid_apply_leaves_every_file_old_and_undo_still_works(buggy):
    before, before_git = snapshot(buggy), git_state(buggy)
    first_line = (buggy / "inventory" / "errors.py").read_text().splitlines()[0]
    two_files = FIX + sr("inventory/errors.py", first_line, first_line + "  # touched")

    class CtrlC(apply.AtomicWriter):
        def write(self, path, data, mode):
            if path.name == "errors.py":
                raise KeyboardInterrupt
            super().write(path, data, mode)

    loop = FixLoop(buggy, ScriptedProvider([two_files]), FixOptions(test_paths=TESTS, use_vectors=False),
                   writer=CtrlC())
    with pytest.raises(KeyboardInterrupt):
        list(loop.run())
    assert loop.result.status == "cancelled"
    assert snapshot(buggy) == before  # pricing.py was written, then put back
    undo_restores(buggy, before, before_git)


HANG = """
import os, subprocess, sys, time
from pathlib import Path

def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path("pids.txt").write_text(f"{os.getpid()} {child.pid}")
    time.sleep(600)
"""


def test_a_hanging_test_run_is_killed_by_the_timeout_with_no_processes_left(buggy):
    (buggy / "tests" / "test_hang.py").write_text(HANG)
    loop, provider, events = run_loop(buggy, [FIX], test_paths=["tests/test_hang.py"], timeout_s=8,
                                      max_iterations=1)
    first = next(e for e in events if isinstance(e, TestsFinished))
    assert first.summary.timed_out and not first.summary.green
    assert "timed out" in loop.result.tests_before.headline()
    assert loop.result.status == "max_iterations" and not loop.result.ok  # still hangs after the edit
    pids = list(map(int, (buggy / "pids.txt").read_text().split()))
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)  # pytest and the child it started
    assert "timeout" in user_prompt(provider, 0)


def test_a_huge_test_output_is_capped_for_the_model_and_kept_whole_in_the_log(buggy):
    noisy = buggy / "tests" / "test_noisy.py"
    noisy.write_text("from inventory.pricing import bulk_discount_percent\n\n\ndef test_noisy():\n"
                     "    for i in range(60000):\n        print(f'noise line {i:06d} ' + 'x' * 60)\n"
                     "    assert bulk_discount_percent(10) == 5\n")
    loop, provider, events = run_loop(buggy, [FIX], test_paths=["tests/test_noisy.py"])
    assert loop.result.status == "fixed"
    prompt = user_prompt(provider, 0)
    start = prompt.index("````\n") + 5
    excerpt = prompt[start:prompt.index("\n````\n", start)]
    assert len(excerpt.encode()) <= 11 * 1024
    assert "test_noisy" in excerpt
    log = Path(next(e for e in events if isinstance(e, TestsFinished)).summary.log_path)
    assert "noise line 059999" in log.read_text() and log.stat().st_size > 4_000_000


def test_a_link_swapped_in_between_planning_and_writing_is_a_rejected_reply_and_the_run_goes_on(buggy):
    """The approval comes after the plan and before the write: the moment a test run (or anything else) could
    swap a directory for a link. The write refuses the path, nothing is written through the link, the model
    is told why, and the next reply fixes the bug."""
    before, before_git = snapshot(buggy), git_state(buggy)
    package, elsewhere = buggy / "inventory", buggy.parent / "inventory-elsewhere"
    outside_before = (package / "pricing.py").read_bytes()
    second = sr(PRICING, "        if quantity > minimum:", "        if quantity >= minimum:  # tiers start at minimum")

    def approve(proposal) -> bool:
        if proposal.round == 1:
            package.rename(elsewhere)
            package.symlink_to(elsewhere, target_is_directory=True)
        return True

    provider = ScriptedProvider([FIX, second])
    loop = FixLoop(buggy, provider, FixOptions(test_paths=TESTS, use_vectors=False, reindex=False), approve=approve)
    events = []
    for event in loop.run():  # the loop waits while the test handles an event: put the directory back then
        events.append(event)
        if isinstance(event, EditRejected):
            assert (elsewhere / "pricing.py").read_bytes() == outside_before  # nothing written through the link
            package.unlink()
            elsewhere.rename(package)
    rejected = [e for e in events if isinstance(e, EditRejected)]
    assert len(rejected) == 1 and rejected[0].round == 1 and PRICING in rejected[0].reason
    assert "symbolic link" in rejected[0].reason
    assert not any(isinstance(e, EditsApplied) and e.round == 1 for e in events)
    assert "could not be written" in user_prompt(provider, 1)  # the reason went back to the model
    assert loop.result.status == "fixed" and loop.result.rounds == 2, loop.result.message
    assert loop.result.files_changed == [PRICING]
    assert not elsewhere.exists() and outside_before == before[PRICING][0]
    undo_restores(buggy, before, before_git)


def test_the_round_lines_name_the_suspects_and_what_the_edit_changes(buggy):
    """The CLI's lines for one round, from the real loop: the suspects the failure points at and which of them
    the edit changes; the written files."""
    import io

    from rich.console import Console

    from assistant.commands.fix_view import FixView

    loop, _, events = run_loop(buggy, [FIX])
    view = FixView(live=False, quiet=False)
    view.err = Console(file=io.StringIO(), width=200, highlight=False, soft_wrap=True)
    for event in events:
        view.show(event)
    shown = view.err.file.getvalue()
    context = next(e for e in events if isinstance(e, ContextBuilt))
    assert context.suspects and context.suspects[0] == "inventory/pricing.py::bulk_discount_percent"
    assert "round 1: suspects inventory/pricing.py::bulk_discount_percent" in shown
    assert "round 1: proposed changes to inventory/pricing.py — bulk_discount_percent (suspect 1 of " in shown
    assert "round 1: wrote inventory/pricing.py" in shown
    # Between the test run and the prompt the live line says what runs now, not the finished test command.
    kinds = [(type(e).__name__, getattr(e, "doing", "")) for e in events]
    assert kinds.index(("Working", "finding the code behind the failure")) < kinds.index(("ContextBuilt", ""))

"""`assist edit` on the command line: the real entry point in a subprocess, the bookings example (its bug
fixed first, so its tests pass) indexed by the run itself, a scripted model whose replies each test writes,
and the real SmolLM2-135M for one end-to-end run that must end cleanly and report truthfully."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fix_support import snapshot
from support import PROJECT_ROOT, git, run_assist, run_on_terminal, scripted_model
from test_fix_cli import BOOKINGS, clean_env

from indexer.status import index_status

ROOMS = "bookings/rooms.py"
STATUSES = {"applied", "fixed", "tests_fail", "dry_run", "declined", "answered", "not_applied", "refused",
            "cancelled", "error", "busy"}
REQUEST = "make `free_rooms` return the room numbers sorted"
OLD_FREE = "    return [room.number for room in rooms if room.is_free(stay)]"
NEW_FREE = "    return sorted(room.number for room in rooms if room.is_free(stay))"


def sr(path: str, search: str, replace: str, why: str = "Done.") -> str:
    return f"{why}\n\n{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


SORTED = sr(ROOMS, OLD_FREE, NEW_FREE, "free_rooms now sorts the numbers it returns.")


@pytest.fixture
def bookings(tmp_path: Path) -> Path:
    """The bookings example with its planted overlap bug fixed: every test passes before an edit."""
    repo = tmp_path / "bookings"
    shutil.copytree(BOOKINGS, repo, ignore=shutil.ignore_patterns(".assist", "__pycache__", ".pytest_cache"))
    stay = repo / "bookings" / "stay.py"
    stay.write_text(stay.read_text().replace("first.arrival <= second.departure and second.arrival <= first.departure",
                                             "first.arrival < second.departure and second.arrival < first.departure"))
    return repo


def edit(repo: Path, *args: str, replies: list[str] | None = None, stdin: str | None = None,
         model: str | None = None) -> tuple[int, dict | None, str, str]:
    """(exit status, the --json report or None, stderr, stdout) of `assist edit -C repo ARGS`."""
    if replies is not None:
        model = scripted_model(repo.parent / f"replies-{time.monotonic_ns()}.json", replies)
    extra = ["--model", model] if model else []
    result = run_assist("edit", "-C", str(repo), *args, *extra, "--no-vectors", env=clean_env(), timeout=900,
                        input=stdin)
    report = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else None
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, report, result.stderr, result.stdout


def undo(repo: Path) -> subprocess.CompletedProcess:
    return run_assist("undo", "-C", str(repo), "--json", env=clean_env(), timeout=120)


def rooms(repo: Path) -> str:
    return (repo / ROOMS).read_text()


# ------------------------------------------------------------------------------------------- the flow


def test_an_edit_with_yes_is_written_checked_by_the_tests_that_reach_it_and_undone_byte_exact(bookings):
    before = snapshot(bookings)
    code, report, stderr, _ = edit(bookings, REQUEST, "--yes", "--json", replies=[SORTED])
    assert code == 0, stderr
    assert report["status"] == "applied" and report["ok"]
    assert report["request"] == REQUEST
    assert report["files_changed"] == [ROOMS] and report["files_created"] == []
    assert f"+{NEW_FREE}" in report["diff"] and f"-{OLD_FREE}" in report["diff"]
    assert "bookings/rooms.py::free_rooms" in report["pinned"]
    # The graph chose the tests: the one that calls free_rooms, not the whole suite.
    assert "tests/test_rooms.py::test_free_rooms_lists_rooms_free_for_every_night" in report["tests"]
    assert "test_a_stay_counts_its_nights" not in report["tests"]
    assert report["tests_before"]["green"] and report["tests_after"]["green"]
    assert NEW_FREE in rooms(bookings)
    undone = undo(bookings)
    assert undone.returncode == 0 and json.loads(undone.stdout)["restored"] == [ROOMS]
    assert snapshot(bookings) == before


def test_the_request_can_come_from_stdin_and_the_human_report_says_what_changed(bookings):
    code, _, stderr, stdout = edit(bookings, "-", ROOMS, "--yes", "--no-test", replies=[SORTED], stdin=REQUEST)
    assert code == 0, stderr
    assert stdout.startswith("applied") and f"request: {REQUEST}" in stdout
    assert f"+{NEW_FREE}" in stdout and "tests: none run" in stdout and "assist undo" in stdout
    assert "edit: proposed changes to bookings/rooms.py" in stderr
    # No test run re-indexed the change: the edit did, so the next question reads the code as it now is.
    assert "edit: re-indexed: 1 changed file\n" in stderr
    assert not index_status(bookings).is_stale


def test_a_dry_run_shows_the_diff_and_writes_nothing(bookings):
    before = snapshot(bookings)
    code, _, stderr, stdout = edit(bookings, REQUEST, "--dry-run", replies=[SORTED])
    assert code == 0, stderr
    assert "dry run" in stdout and "proposed (not written)" in stdout and f"+{NEW_FREE}" in stdout
    assert snapshot(bookings) == before
    assert undo(bookings).returncode == 1  # nothing to undo: no checkpoint was made


def test_off_a_terminal_without_yes_it_refuses_before_asking_the_model(bookings):
    before = snapshot(bookings)
    code, _, stderr, _ = edit(bookings, REQUEST, replies=[SORTED])
    assert code == 2 and "not a terminal" in stderr and "--yes" in stderr and "nothing was written" in stderr
    assert snapshot(bookings) == before and not (bookings / ".assist").exists()
    code, _, stderr, _ = edit(bookings, "   ", "--yes", replies=[SORTED])
    assert code == 2 and "request is empty" in stderr
    code, _, stderr, _ = edit(bookings, REQUEST, "--yes", "--test", "tests/", "--cmd", "make test")
    assert code == 2 and "not both" in stderr


def test_on_a_terminal_the_diff_comes_first_and_no_writes_nothing(bookings):
    before = snapshot(bookings)

    def at_the_question(seen: bytes) -> None:
        text = seen.decode(errors="replace")
        assert text.index("sorted(room.number") < text.index("Write these changes")
        assert snapshot(bookings) == before

    code, text = on_a_terminal(bookings, [REQUEST], [SORTED], b"n\n", at_the_question)
    assert code == 1 and "declined" in text and "Traceback" not in text
    assert snapshot(bookings) == before


def test_explicit_tests_run_after_the_edit_and_the_report_gives_both_results(bookings):
    code, report, stderr, _ = edit(bookings, REQUEST, "--yes", "--json", "--test", "tests/test_rooms.py",
                                   replies=[SORTED])
    assert code == 0, stderr
    assert report["tests"] == "pytest tests/test_rooms.py"
    assert report["tests_before"]["passed"] == 6 and report["tests_after"]["passed"] == 6


RENAME = "rename the parameter `rate` of `night_rate` to `nightly`"
HALF_RENAMED = sr(ROOMS, "def night_rate(rate: Decimal, night: date) -> Decimal:",
                  "def night_rate(nightly: Decimal, night: date) -> Decimal:")
FINISH_RENAME = sr(ROOMS, "        return (rate * WEEKEND_SURCHARGE).quantize(Decimal(\"0.01\"))\n    return rate",
                   "        return (nightly * WEEKEND_SURCHARGE).quantize(Decimal(\"0.01\"))\n    return nightly",
                   "The body still used the old name.")


def test_when_the_tests_fail_after_the_edit_the_fix_loop_continues_and_one_undo_restores_all(bookings):
    before = snapshot(bookings)
    code, report, stderr, _ = edit(bookings, RENAME, "--yes", "--json", replies=[HALF_RENAMED, FINISH_RENAME])
    assert code == 0, stderr
    assert report["status"] == "fixed" and report["fix_rounds"] == 1 and report["fix_status"] == "fixed"
    assert report["message"].count(ROOMS) == 1 and report["message"].count("assist undo") == 1
    assert report["tests_before"]["green"]
    assert not report["tests_after_edit"]["green"]
    assert "NameError" in json.dumps(report["tests_after_edit"]["failures"])
    assert report["tests_after"]["green"]
    assert "def night_rate(nightly" in rooms(bookings) and "return nightly" in rooms(bookings)
    assert report["files_changed"] == [ROOMS]
    undone = undo(bookings)
    assert undone.returncode == 0
    assert snapshot(bookings) == before


def test_when_the_fix_loop_gives_up_the_exit_status_says_so_and_the_edit_stays_undoable(bookings):
    before = snapshot(bookings)
    code, report, stderr, _ = edit(bookings, RENAME, "--yes", "--json", "--max-iterations", "1",
                                   replies=[HALF_RENAMED, "I cannot see what is wrong."])
    assert code == 1
    assert report["status"] == "tests_fail" and not report["ok"] and report["files_changed"] == [ROOMS]
    assert "the edit was written" in report["message"]
    assert undo(bookings).returncode == 0 and snapshot(bookings) == before


# ------------------------------------------------------------------------------------------------ git


def commit_repo(repo: Path) -> Path:
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    return repo


def test_commit_records_exactly_the_changed_files_with_the_models_message_and_undo_says_revert(bookings):
    repo = commit_repo(bookings)
    (repo / "notes.txt").write_text("my own untracked notes\n")
    message = "Sort the room numbers free_rooms returns\n\nCallers get the free rooms in a stable order."
    env = {**clean_env(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    model = scripted_model(repo.parent / "replies.json", [SORTED, message])
    result = run_assist("edit", "-C", str(repo), REQUEST, "--yes", "--json", "--commit", "--no-vectors",
                        "--model", model, env=env, timeout=900)
    report = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert report["commit"] and report["status"] == "applied"
    assert git(repo, "log", "-1", "--format=%s").strip() == "Sort the room numbers free_rooms returns"
    body = git(repo, "log", "-1", "--format=%b")
    assert "stable order" in body and REQUEST in body
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [ROOMS]
    assert git(repo, "status", "--porcelain").splitlines() == ["?? notes.txt"]  # nothing else touched
    undone = run_assist("undo", "-C", str(repo), env=clean_env(), timeout=120)
    assert undone.returncode == 1 and f"git revert {report['commit'][:12]}" in undone.stderr
    assert NEW_FREE in rooms(repo)  # history is not rewritten behind the user's back


def test_commit_falls_back_to_a_plain_message_when_the_reply_is_unusable(bookings):
    repo = commit_repo(bookings)
    (repo / ".assist").mkdir()
    (repo / ".assist" / "config.toml").write_text("[edit]\ncommit = true\n")  # on by configuration
    env = {**clean_env(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    model = scripted_model(repo.parent / "replies.json", [SORTED, SORTED])  # a diff, not a message
    result = run_assist("edit", "-C", str(repo), REQUEST, "--yes", "--no-test", "--no-vectors", "--model", model,
                        env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    assert git(repo, "log", "-1", "--format=%s").strip() == REQUEST
    assert REQUEST in git(repo, "log", "-1", "--format=%b")


def test_commit_refuses_when_unrelated_changes_are_staged_and_writes_nothing(bookings):
    repo = commit_repo(bookings)
    (repo / "README.md").write_text("staged by the user\n")
    git(repo, "add", "README.md")
    before, staged = snapshot(repo), git(repo, "diff", "--cached")
    code, report, _, _ = edit(repo, REQUEST, "--yes", "--json", "--commit", replies=[SORTED])
    assert code == 1 and report["status"] == "refused" and "staged" in report["message"]
    assert snapshot(repo) == before and git(repo, "diff", "--cached") == staged
    assert undo(repo).returncode == 1  # nothing was written, so nothing to undo


# ------------------------------------------------------------------------------------------ bad input


def test_a_reply_that_is_not_an_edit_is_shown_as_the_answer(bookings):
    before = snapshot(bookings)
    answer = "Which order do you want: by room number, or by nightly rate?"
    code, report, _, _ = edit(bookings, REQUEST, "--yes", "--json", replies=[answer])
    assert code == 0 and report["status"] == "answered" and report["answer"] == answer
    assert report["files_changed"] == [] and snapshot(bookings) == before


def test_a_request_that_names_nothing_says_so_and_shows_what_was_found(bookings):
    code, report, stderr, _ = edit(bookings, "make the frobnicator quantum safe", "--yes", "--json",
                                   replies=["There is no frobnicator in this repository."])
    assert code == 0 and report["status"] == "answered"
    assert "names no file or symbol" in stderr
    assert report["pinned"] == []


def test_an_argument_that_names_nothing_is_refused_before_the_model_is_asked(bookings):
    code, report, _, _ = edit(bookings, "tidy it", "no_such_function", "--yes", "--json", replies=[])
    assert code == 1 and report["status"] == "refused" and "no_such_function" in report["message"]


def test_a_reply_editing_a_file_outside_its_context_is_flagged_in_the_diff(bookings):
    reply = SORTED + "\n" + sr("pyproject.toml", 'version = "0.1.0"', 'version = "0.1.1"')
    code, report, stderr, _ = edit(bookings, REQUEST, ROOMS, "--yes", "--json", "--no-test", "--budget", "150",
                                   "--allow-test-config", replies=[reply])
    assert code == 0, stderr
    assert report["outside_context"] == ["pyproject.toml"]
    assert "# assist: pyproject.toml was not in the code the model was shown" in report["diff"]
    assert "pyproject.toml, which was not in the code the model was shown" in stderr


def test_a_new_file_may_be_created_inside_the_repository_but_nothing_outside(bookings):
    create = "bookings/money.py\n<<<<<<< SEARCH\n=======\nCENTS = 100\n>>>>>>> REPLACE\n"
    code, report, _, _ = edit(bookings, "add a CENTS constant in bookings/money.py", "--yes", "--json", "--no-test",
                              replies=[create])
    assert code == 0 and report["files_created"] == ["bookings/money.py"]
    assert "# assist: new file bookings/money.py" in report["diff"]
    assert undo(bookings).returncode == 0 and not (bookings / "bookings" / "money.py").exists()
    outside = "../escape.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n"
    code, report, _, _ = edit(bookings, "add X", "--yes", "--json", "--no-test", replies=[outside, outside])
    assert code == 1 and report["status"] == "not_applied" and not (bookings.parent / "escape.py").exists()


def test_a_reply_that_empties_a_file_is_not_written_without_a_person_confirming_it(bookings):
    before = snapshot(bookings)
    emptied = "bookings/__init__.py\n```python\n```\n"
    code, report, _, _ = edit(bookings, "remove the package docstring", "bookings/__init__.py", "--yes", "--json",
                              "--no-test", replies=[emptied])
    assert code == 1 and report["status"] == "refused" and "deleting" in report["message"]
    assert snapshot(bookings) == before


def test_a_reply_cut_off_at_the_reply_limit_writes_nothing(bookings):
    from hostile_model_server import HostileModelServer

    before = snapshot(bookings)
    with HostileModelServer("endless") as server:
        code, report, _, _ = edit(bookings, REQUEST, "--yes", "--json", "--max-tokens", "24", "--base-url",
                                  f"{server.url}/v1", model="openai:endless")
        asked = len(server.chat_requests)
    assert code == 1 and report["status"] == "not_applied"
    assert "cut off at the reply limit" in report["message"] and "--max-tokens" in report["message"]
    assert asked == 2  # told once why, then given up
    assert snapshot(bookings) == before


def test_a_file_edited_elsewhere_between_proposal_and_apply_is_matched_again(bookings):
    def meanwhile(_: bytes) -> None:  # the user edits another part of the file while the question waits
        (bookings / ROOMS).write_text(rooms(bookings).replace('"""Rooms, their', '"""All rooms, their'))

    code, text = on_a_terminal(bookings, [REQUEST, "--no-test"], [SORTED], b"y\n", meanwhile)
    assert code == 0, text
    assert "changed after the edit was proposed" in text and "matched" in text
    assert NEW_FREE in rooms(bookings) and '"""All rooms, their' in rooms(bookings)


def test_a_file_whose_edited_lines_changed_meanwhile_is_refused_with_what_changed(bookings):
    def meanwhile(_: bytes) -> None:  # the user rewrites the very line the edit replaces
        (bookings / ROOMS).write_text(rooms(bookings).replace(OLD_FREE, "    return [r.number for r in rooms]"))

    code, text = on_a_terminal(bookings, [REQUEST, "--no-test"], [SORTED], b"y\n", meanwhile)
    assert code == 1 and "refused" in text and "no longer" in text
    assert "+    return [r.number for r in rooms]" in text  # the diff of what changed
    assert "return [r.number for r in rooms]" in rooms(bookings) and NEW_FREE not in rooms(bookings)


def test_a_read_only_file_is_refused_and_left_alone(bookings):
    target = bookings / ROOMS
    target.chmod(0o444)
    before = snapshot(bookings)
    code, report, _, _ = edit(bookings, REQUEST, ROOMS, "--yes", "--json", replies=[SORTED])
    assert code == 1 and report["status"] == "refused" and "read-only" in report["message"]
    assert snapshot(bookings) == before
    code, report, _, _ = edit(bookings, REQUEST, "--yes", "--json", replies=[SORTED])  # found by retrieval
    assert code == 1 and report["status"] == "refused" and "read-only" in report["message"]
    assert snapshot(bookings) == before


def test_a_binary_file_named_in_the_request_is_refused(bookings):
    (bookings / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    before = snapshot(bookings)
    code, report, _, _ = edit(bookings, "make logo.png darker", "--yes", "--json", replies=[SORTED])
    assert code == 1 and report["status"] == "refused" and "logo.png is a binary file" in report["message"]
    assert snapshot(bookings) == before


def test_ctrl_c_while_the_model_replies_leaves_nothing_written(bookings):
    before = snapshot(bookings)
    model = scripted_model(bookings.parent / "slow.json", [SORTED], chunk=4, pause_s=0.5)
    process = subprocess.Popen([sys.executable, "-m", "assistant.cli", "edit", "-C", str(bookings), REQUEST,
                                "--yes", "--no-vectors", "--model", model], cwd=PROJECT_ROOT, env=clean_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((bookings / ".assist").glob("index*")):
        time.sleep(0.2)
    time.sleep(8)  # indexed; the reply streams for ~20 s
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "no file was changed" in stderr and "Traceback" not in stderr
    assert snapshot(bookings) == before


def test_two_edits_at_once_on_one_repository_the_second_is_busy(bookings):
    from assistant.fix.checkpoint import fix_lock

    with fix_lock(bookings):
        code, report, _, _ = edit(bookings, REQUEST, "--yes", "--json", replies=[SORTED])
    assert code == 3 and report["status"] == "busy"
    assert NEW_FREE not in rooms(bookings)


# ------------------------------------------------------------------------------------ the real model


def test_end_to_end_with_the_real_small_model_terminates_and_reports_truthfully(bookings, llama_server):
    canary = bookings.parent / "canary.txt"
    canary.write_text("outside the repository\n")
    before = snapshot(bookings)
    code, report, stderr, _ = edit(bookings, REQUEST, ROOMS, "--yes", "--json", "--max-iterations", "1",
                                   "--max-tokens", "96", "--budget", "400", "--timeout", "120",
                                   "--base-url", f"{llama_server}/v1", model="openai:smollm2-135m")
    assert report is not None, stderr
    assert report["status"] in STATUSES and code == (0 if report["ok"] else 1)
    after = snapshot(bookings)
    changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    assert changed == sorted(report["files_changed"])  # what it says it changed is what changed
    for path in changed:  # nothing malformed: whatever was written still parses
        if path.endswith(".py"):
            compile(after[path][0], path, "exec")
    assert canary.read_text() == "outside the repository\n"
    assert undo(bookings).returncode == (0 if changed else 1)
    assert snapshot(bookings) == before


def on_a_terminal(repo: Path, args: list[str], replies: list[str], answer: bytes, at_question) -> tuple[int, str]:
    model = scripted_model(repo.parent / f"replies-{time.monotonic_ns()}.json", replies)
    output, code = run_on_terminal(
        [sys.executable, "-m", "assistant.cli", "edit", "-C", str(repo), *args, "--no-vectors", "--model", model],
        columns=200, env={**clean_env(), "COLUMNS": "200", "TERM": "dumb"}, wait_for=b"Write these changes",
        keys=answer, at_wait_for=at_question, timeout=900)
    return code, output.decode(errors="replace")

"""`assist fix` and `assist undo` on the command line: the real entry point in a subprocess, the bookings
example (a real bug, outside git) indexed by the run itself, a scripted model for the deterministic path and
the real SmolLM2-135M for an end-to-end run that may fix nothing but must end cleanly and report truthfully."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fix_support import alive, snapshot
from support import PROJECT_ROOT, run_assist, run_on_terminal

from indexer.status import index_status

BOOKINGS = PROJECT_ROOT / "examples" / "bookings"
STATUSES = {"fixed", "already_green", "dry_run", "declined", "max_iterations", "repeated_reply", "stuck",
            "cancelled", "error", "busy"}


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}


@pytest.fixture
def bookings(tmp_path: Path) -> Path:
    repo = tmp_path / "bookings"
    shutil.copytree(BOOKINGS, repo, ignore=shutil.ignore_patterns(".assist", "__pycache__", ".pytest_cache"))
    return repo


def fix(repo: Path, *args: str) -> tuple[int, dict | None, str]:
    result = run_assist("fix", "-C", str(repo), *args, env=clean_env(), timeout=900)
    data = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else None
    return result.returncode, data, result.stderr


def test_fix_with_the_scripted_model_repairs_the_example_and_undo_puts_the_bug_back(bookings):
    before = snapshot(bookings)
    code, report, stderr = fix(bookings, "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}", "--yes", "--json",
                               "--no-vectors")
    assert code == 0, stderr
    assert report["status"] == "fixed" and report["ok"] and report["rounds"] == 1
    assert report["tests_before"]["failed"] == 2 and not report["tests_before"]["green"]
    assert report["tests_after"]["green"] and report["tests_after"]["passed"] == 6
    assert report["files_changed"] == ["bookings/stay.py"]
    assert report["message"].endswith("changed bookings/stay.py (`assist undo` restores them)")  # the CLI's command
    assert "+    return first.arrival < second.departure" in report["diff"]
    assert "Traceback" not in stderr
    assert not index_status(bookings).is_stale  # the run re-indexed what it wrote
    undone = run_assist("undo", "-C", str(bookings), "--json", env=clean_env(), timeout=120)
    assert undone.returncode == 0 and json.loads(undone.stdout)["restored"] == ["bookings/stay.py"]
    assert json.loads(undone.stdout)["index_warning"] is None
    assert snapshot(bookings) == before
    # The index follows the file put back: the next `assist ask` reads the bug again, not the fix.
    assert not index_status(bookings).is_stale


def test_fix_refuses_to_run_unattended_without_yes_and_bad_options_are_usage_errors(bookings):
    code, _, stderr = fix(bookings, "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}")
    assert code == 2 and "--yes" in stderr and "Traceback" not in stderr
    code, _, stderr = fix(bookings, "--test", "tests/", "--cmd", "make test", "--yes")
    assert code == 2 and "not both" in stderr
    code, _, stderr = fix(bookings, "--format", "diff", "--yes")
    assert code == 2 and "search_replace" in stderr
    code, _, stderr = fix(bookings, "--model", "scripted:/no/such/replies.json", "--yes")
    assert code == 1 and "cannot read the scripted replies" in stderr and "Traceback" not in stderr


def test_dry_run_shows_the_diff_and_writes_nothing(bookings):
    before = snapshot(bookings)
    result = run_assist("fix", "-C", str(bookings), "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}",
                        "--dry-run", "--no-vectors", env=clean_env(), timeout=900)
    assert result.returncode == 1  # the tests still fail: nothing was written
    assert "proposed" in result.stdout and "+    return first.arrival < second.departure" in result.stdout
    assert "dry run" in result.stdout
    assert snapshot(bookings) == before


def test_end_to_end_with_the_real_small_model_terminates_safely_and_reports_truthfully(bookings, llama_server):
    canary = bookings.parent / "canary.txt"
    canary.write_text("outside the repository\n")
    before = snapshot(bookings)
    code, report, stderr = fix(bookings, "--model", "openai:smollm2-135m", "--base-url", f"{llama_server}/v1",
                               "--yes", "--json", "--no-vectors", "--max-iterations", "2", "--max-tokens", "96",
                               "--budget", "400", "--timeout", "120")
    assert "Traceback" not in stderr
    assert report is not None, stderr
    assert report["status"] in STATUSES and code == (0 if report["ok"] else 1)
    assert report["rounds"] <= 2
    assert report["tests_before"] is not None and not report["tests_before"]["green"]
    after = snapshot(bookings)
    changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
    # Truthful: what the report says changed is exactly what changed on disk, and the diff says how.
    assert changed == sorted(report["files_changed"])
    assert bool(report["diff"]) == bool(changed) or report["status"] in ("dry_run", "declined")
    if report["ok"]:
        assert report["tests_after"]["green"]
    assert canary.read_text() == "outside the repository\n"
    undone = run_assist("undo", "-C", str(bookings), env=clean_env(), timeout=120)
    assert undone.returncode == (0 if changed else 1)
    assert snapshot(bookings) == before


def test_an_interactive_run_shows_the_diff_and_asks_before_writing(bookings):
    """On a terminal (a real pseudo-terminal here) the diff comes first, then the question; "n" writes nothing."""
    before = snapshot(bookings)

    def at_the_question(text: str) -> None:
        assert text.index("first.arrival < second.departure") < text.index("Write these changes")
        assert snapshot(bookings) == before  # asked first

    code, text = run_on_a_terminal(bookings, ["--no-vectors", "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}"],
                                   until=b"Write these changes", answer=b"n\n", at_until=at_the_question)
    assert code == 1
    assert "declined" in text and "Traceback" not in text
    assert snapshot(bookings) == before

HANG = """
import os, subprocess, sys, time
from pathlib import Path

def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path("pids.txt").write_text(f"{os.getpid()} {child.pid}")
    time.sleep(600)
"""


def start_fix_hanging_in_its_tests(bookings: Path, replies: str):
    """`assist fix --test tests/test_hang.py` (write HANG there first) in a subprocess, returned once its test
    run is hanging."""
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "fix", "-C", str(bookings), "--test", "tests/test_hang.py", "--yes",
         "--model", replies],
        cwd=PROJECT_ROOT, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not (bookings / "pids.txt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    if not (bookings / "pids.txt").exists():
        if process.poll() is None:
            process.kill()
        raise AssertionError(f"the test run never started: {process.communicate()[1]}")
    return process


def test_ctrl_c_during_the_test_run_stops_everything_and_says_nothing_was_changed(bookings):
    import signal
    import time

    (bookings / "tests" / "test_hang.py").write_text(HANG)
    before = snapshot(bookings)
    process = start_fix_hanging_in_its_tests(bookings, f"scripted:{BOOKINGS / 'demo-fix.json'}")
    try:
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)  # what the terminal sends assist; the tests run in their own session
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert "interrupted" in stderr and "no file was changed" in stderr and "Traceback" not in stderr
    pids = list(map(int, (bookings / "pids.txt").read_text().split()))
    assert not any(alive(pid) for pid in pids)
    (bookings / "pids.txt").unlink()
    assert snapshot(bookings) == before


def test_a_second_fix_run_or_an_undo_during_a_run_stops_at_once_naming_the_first(bookings):
    import signal

    replies = f"scripted:{BOOKINGS / 'demo-fix.json'}"
    code, report, _ = fix(bookings, "--model", replies, "--yes", "--json", "--no-vectors")
    assert code == 0 and report["status"] == "fixed"  # leaves a checkpoint for undo
    (bookings / "tests" / "test_hang.py").write_text(HANG)
    first = start_fix_hanging_in_its_tests(bookings, replies)
    try:
        before = snapshot(bookings)
        code, report, _ = fix(bookings, "--model", replies, "--yes", "--json", "--no-vectors")
        assert code == 3 and report["status"] == "busy" and not report["ok"]
        assert f"pid {first.pid}" in report["message"] and "fixing this repository" in report["message"]
        assert report["files_changed"] == [] and report["tests_before"] is None  # it ran nothing
        undo = run_assist("undo", "-C", str(bookings), env=clean_env(), timeout=120)
        assert undo.returncode == 3 and f"pid {first.pid}" in undo.stderr and "Traceback" not in undo.stderr
        assert snapshot(bookings) == before
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    # The lock died with its holder: undo is free to restore the first run's files.
    undo = run_assist("undo", "-C", str(bookings), "--json", env=clean_env(), timeout=120)
    assert undo.returncode == 0 and json.loads(undo.stdout)["restored"] == ["bookings/stay.py"]


# ------------------------------------------------------------------------------- what the run shows (issue 12)


def test_the_round_lines_name_the_suspects_and_the_code_the_edit_changes(bookings):
    """Not the packed fragments (`bookings/rooms.py:1-12, …`): the failure's suspects, then which of them the
    proposed edit changes and where it ranked."""
    result = run_assist("fix", "-C", str(bookings), "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}",
                        "--dry-run", "--no-vectors", env=clean_env(), timeout=900)
    assert result.returncode == 1, result.stderr
    context = next(line for line in result.stderr.splitlines() if line.startswith("round 1: "))
    assert context.startswith("round 1: suspects bookings/"), context
    assert "::" in context and "prompt " in context and "rooms.py:1-" not in context
    assert "round 1: proposed changes to bookings/stay.py — overlaps (suspect " in result.stderr


def run_on_a_terminal(bookings: Path, args: list[str], until: bytes, answer: bytes,
                      at_until: Callable[[str], None] | None = None) -> tuple[int, str]:
    """`assist fix ARGS` on a pseudo-terminal: read until ``until`` shows (then ``at_until(text so far)``), type
    ``answer``, read to the end."""
    import sys

    output, code = run_on_terminal(
        [sys.executable, "-m", "assistant.cli", "fix", "-C", str(bookings), *args], columns=200,
        env={**clean_env(), "COLUMNS": "200", "TERM": "dumb"}, wait_for=until, keys=answer, timeout=900,
        at_wait_for=None if at_until is None else lambda seen: at_until(seen.decode(errors="replace")))
    return code, output.decode(errors="replace")


def test_the_confirmation_reads_Y_n_and_enter_writes(bookings):
    code, seen = run_on_a_terminal(bookings, ["--no-vectors", "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}"],
                                   b"Write these changes", b"\n")
    question = seen[seen.index("Write these changes"):].splitlines()[0]
    assert question.rstrip().endswith("? [Y/n]"), question  # as the README says; not rich's "[y/n] (y)"
    assert code == 0 and "fixed" in seen and "Traceback" not in seen
    assert "first.arrival < second.departure" in (bookings / "bookings" / "stay.py").read_text()


def test_a_small_window_warning_is_whole_and_names_the_remedy_for_the_provider(bookings, llama_server,
                                                                              ollama_server):
    """Both servers serve 4096 tokens. An OpenAI-compatible server sets its window when it starts (`-c`);
    for Ollama assist sends num_ctx, so the remedy is the `[model]` setting (up to the model's maximum)."""
    openai = run_assist("fix", "-C", str(bookings), "--cmd", "true", "--yes", "--model", "openai:smollm2-135m",
                        "--base-url", f"{llama_server}/v1", env=clean_env(), timeout=300)
    warning = next(line for line in openai.stderr.splitlines() if "context window" in line)
    assert "4,096-token context window" in warning and "llama-server -c 16384" in warning, warning
    assert "context_window is set under [model] in .assist/config.toml, raise it" in warning

    (bookings / ".assist").mkdir(exist_ok=True)
    (bookings / ".assist" / "config.toml").write_text("[model]\ncontext_window = 2048\n")
    ollama = run_assist("fix", "-C", str(bookings), "--cmd", "true", "--yes", "--model",
                        f"ollama:{ollama_server.model}", "--base-url", ollama_server.url, env=clean_env(), timeout=300)
    warning = next(line for line in ollama.stderr.splitlines() if "context window" in line)
    assert "2,048-token context window" in warning, warning
    assert "set context_window = 4096 under [model] in .assist/config.toml" in warning and " -c " not in warning
    assert openai.returncode == ollama.returncode == 0  # `true` passes: nothing to fix


WEIRD_TEST = '''
import pytest


@pytest.mark.parametrize("case", [1], ids=["[red]boom[/red]"])
def test_weird_output(case):
    assert False, "\\x1b]0;owned\\x07 [bold]loud[/bold]"
'''
PLANTED = "notes/\x1b]0;owned\x07.txt"


def test_escapes_in_test_output_and_file_names_are_printed_inert_by_fix_and_undo(bookings):
    """A failing test's id and message reach the terminal through `assist fix`; a path in a checkpoint's
    manifest (a file on disk the tests can write) through `assist undo`: neither may send a control character
    or be read as rich markup."""
    (bookings / "tests" / "test_weird.py").write_text(WEIRD_TEST)
    result = run_assist("fix", "-C", str(bookings), "--model", f"scripted:{BOOKINGS / 'demo-fix.json'}", "--yes",
                        "--no-vectors", "--max-iterations", "1", env=clean_env(), timeout=900)
    assert result.returncode == 1 and "max iterations" in result.stdout, result.stderr  # test_weird still fails
    assert "\x1b" not in result.stdout + result.stderr and "\x07" not in result.stdout + result.stderr
    failure = ("tests/test_weird.py::test_weird_output[[red]boom[/red]] — AssertionError: "
               "\\x1b]0;owned\\x07 [bold]loud[/bold]")
    assert failure in result.stderr and failure in result.stdout  # visible and whole, before and after

    manifest_path = next((bookings / ".assist" / "checkpoints").glob("*/manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["files"].append({"path": PLANTED, "existed": False})
    manifest_path.write_text(json.dumps(manifest))
    undone = run_assist("undo", "-C", str(bookings), env=clean_env(), timeout=120)
    assert undone.returncode == 0, undone.stderr
    assert "restored bookings/stay.py" in undone.stdout
    assert "\x1b" not in undone.stdout + undone.stderr and "\x07" not in undone.stdout + undone.stderr
    assert "kept     notes/\\x1b]0;owned\\x07.txt (already as before the run)" in undone.stdout

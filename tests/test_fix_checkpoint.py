"""Checkpoints and `assist undo`: the user's files come back byte for byte — uncommitted and staged work
included — while git's history and index, untracked and ignored files are left alone; a SIGKILL in the
middle of writing leaves each file old or new, and undo still works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fix_support import git_state, snapshot
from support import PROJECT_ROOT, git, run_assist

from assistant.fix import apply
from assistant.fix.checkpoint import Checkpoint, NothingToUndo, UndoConflict, undo_latest
from assistant.fix.edits import parse_reply


@pytest.fixture
def dirty_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "util.py").write_text("def half(x):\n    return x / 2\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    (root / "calc.py").write_text("def add(a, b):\n    # uncommitted note\n    return a - b\n")  # dirty
    (root / "util.py").write_text("def half(x):\n    return x / 2.0\n")
    git(root, "add", "util.py")  # staged
    (root / "util.py").write_text("def half(x):\n    return x / 2.0  # and unstaged on top\n")
    (root / "scratch.py").write_text("print('untracked')\n")
    (root / "debug.log").write_text("ignored\n")
    return root


def edit(root: Path, reply: str, checkpoint: Checkpoint) -> None:
    changes = apply.plan(root, parse_reply(reply).edits)
    apply.write(changes, before_write=checkpoint.save, after_write=checkpoint.written)


REPLY = ("calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n"
         "util.py\n<<<<<<< SEARCH\n    return x / 2.0  # and unstaged on top\n=======\n    return x * 0.5\n"
         ">>>>>>> REPLACE\n"
         "helpers/new.py\n<<<<<<< SEARCH\n=======\nNEW = 1\n>>>>>>> REPLACE\n")


def test_undo_restores_a_dirty_tree_with_staged_changes_byte_for_byte(dirty_repo):
    before, before_git = snapshot(dirty_repo), git_state(dirty_repo)
    checkpoint = Checkpoint(dirty_repo)
    edit(dirty_repo, REPLY, checkpoint)
    edit(dirty_repo, "calc.py\n<<<<<<< SEARCH\n    return a + b\n=======\n    return b + a\n>>>>>>> REPLACE\n",
         checkpoint)  # a second round of the same run: undo goes back to before the first
    assert snapshot(dirty_repo) != before
    report = undo_latest(dirty_repo)
    assert sorted(report.restored) == ["calc.py", "util.py"] and report.deleted == ["helpers/new.py"]
    assert snapshot(dirty_repo) == before
    assert not (dirty_repo / "helpers").exists()
    assert git_state(dirty_repo) == before_git  # same HEAD, same status, same staged diff
    with pytest.raises(NothingToUndo):
        undo_latest(dirty_repo)


def test_undo_works_outside_git_and_keeps_modes(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    os.chmod(root / "calc.py", 0o750)
    (root / "util.py").write_text("def half(x):\n    return x / 2.0  # and unstaged on top\n")
    before = snapshot(root)
    edit(root, REPLY, Checkpoint(root))
    undo_latest(root)
    assert snapshot(root) == before


def test_undo_refuses_to_overwrite_a_file_edited_after_the_run_unless_forced(dirty_repo):
    edit(dirty_repo, REPLY, Checkpoint(dirty_repo))
    (dirty_repo / "calc.py").write_text("my own later work\n")
    with pytest.raises(UndoConflict, match="calc.py"):
        undo_latest(dirty_repo)
    assert (dirty_repo / "calc.py").read_text() == "my own later work\n"
    undo_latest(dirty_repo, force=True)
    assert "# uncommitted note" in (dirty_repo / "calc.py").read_text()


KILLED_WRITER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from assistant.fix import apply
    from assistant.fix.checkpoint import Checkpoint
    from assistant.fix.edits import parse_reply

    root = Path(sys.argv[1])
    reply = Path(sys.argv[2]).read_text()

    class SlowWriter(apply.AtomicWriter):
        def write(self, path, data, mode):
            if path.name == "util.py":
                print("WRITING", flush=True)
                time.sleep(600)  # killed here: calc.py is new, util.py old
            super().write(path, data, mode)

    checkpoint = Checkpoint(root)
    apply.write(apply.plan(root, parse_reply(reply).edits), SlowWriter(), before_write=checkpoint.save,
                after_write=checkpoint.written)
''')


def test_sigkill_mid_write_leaves_files_old_or_new_and_undo_restores_them(dirty_repo, tmp_path):
    before = snapshot(dirty_repo)
    reply_file = tmp_path / "reply.txt"
    reply_file.write_text(REPLY)
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(dirty_repo), str(reply_file)],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "WRITING"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert (dirty_repo / "calc.py").read_text().endswith("return a + b\n")  # new
    assert (dirty_repo / "util.py").read_bytes() == before["util.py"][0]  # old
    result = run_assist("undo", "--json", cwd=dirty_repo, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["restored"] == ["calc.py"]
    assert snapshot(dirty_repo) == before


def test_undo_with_nothing_to_undo_is_a_clear_error(tmp_path):
    result = run_assist("undo", cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    assert "nothing to undo" in result.stderr and "Traceback" not in result.stderr


def test_two_runs_are_undone_newest_first(dirty_repo):
    original = snapshot(dirty_repo)
    edit(dirty_repo, "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n",
         Checkpoint(dirty_repo))
    after_first = snapshot(dirty_repo)
    edit(dirty_repo, "calc.py\n<<<<<<< SEARCH\n    return a + b\n=======\n    return b + a\n>>>>>>> REPLACE\n",
         Checkpoint(dirty_repo))
    undo_latest(dirty_repo)
    assert snapshot(dirty_repo) == after_first
    undo_latest(dirty_repo)
    assert snapshot(dirty_repo) == original

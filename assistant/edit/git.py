"""`assist edit --commit`: commit exactly the files an edit changed, and nothing of the user's.

Refused — before anything is written — outside a git work tree, when anything is staged (the user's staged
work must not ride along in the edit's commit, nor be committed for them), and when a file the edit is
about to change already has uncommitted changes (they would end up in the edit's commit). The commit names
its files explicitly, so nothing else in the index or the work tree is touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 60


class CommitRefused(Exception):
    """Committing the edit would take in the user's own changes, or cannot be done here; nothing written."""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommitRefused(f"git could not be run: {exc}") from None


def check_can_commit(root: Path) -> None:
    """Before the model is asked: a work tree, and nothing staged."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise CommitRefused(f"--commit needs a git repository, and {root} is not in one; run without --commit")
    staged = _lines(_git(root, "diff", "--cached", "--name-only", "--relative", "-z").stdout)
    if staged:
        raise CommitRefused(f"--commit refused: changes are staged already ({', '.join(staged[:5])}"
                            f"{' …' if len(staged) > 5 else ''}); they would be mixed into the edit's commit. "
                            "Commit or unstage them (git restore --staged PATH) first; nothing was written")


def check_files_clean(root: Path, files: list[str]) -> None:
    """Before writing: the files the edit changes hold nothing uncommitted (and nothing is staged now)."""
    check_can_commit(root)
    status = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--", *files)
    dirty = [entry[3:] for entry in _lines(status.stdout) if len(entry) > 3]
    if dirty:
        raise CommitRefused(f"--commit refused: {', '.join(dirty)} already had uncommitted changes, which would go "
                            "into the edit's commit; commit or stash them first, or run without --commit. "
                            "Nothing was written")


def commit(root: Path, files: list[str], message: str) -> str:
    """Commit ``files`` (as they are now) with ``message``; the new commit's sha. CommitRefused on failure."""
    added = _git(root, "add", "--", *files)
    if added.returncode != 0:
        raise CommitRefused(f"git add failed: {added.stderr.strip()}")
    done = _git(root, "commit", "--quiet", "-m", message, "--", *files)
    if done.returncode != 0:
        _git(root, "reset", "--quiet", "--", *files)  # leave the index as it was
        raise CommitRefused(f"git commit failed: {(done.stderr or done.stdout).strip()}")
    return _git(root, "rev-parse", "HEAD").stdout.strip()


def _lines(output: str) -> list[str]:
    return [entry for entry in output.split("\0") if entry]

"""Helpers for the `assist fix` tests: a repository with a real bug and a dirty working tree, replies in
the edit formats, and byte-for-byte snapshots of the working tree and git's state."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from support import git

PRICING = "inventory/pricing.py"
BUG = ("        if quantity >= minimum:\n", "        if quantity > minimum:\n")


def sr(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


FIX = sr(PRICING, "        if quantity > minimum:", "        if quantity >= minimum:")


def plant_bug(repo: Path) -> None:
    """Break the bulk-discount tiers (an off-by-one), and leave the tree dirty the way a user's is: an
    uncommitted change, a staged change, an untracked file and an ignored file."""
    pricing = repo / PRICING
    text = pricing.read_text()
    assert BUG[0] in text
    pricing.write_text(text.replace(BUG[0], BUG[1]))
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "\nA staged note.\n")
    git(repo, "add", "README.md")
    readme.write_text(readme.read_text() + "And an unstaged one on top.\n")
    (repo / "scratch.txt").write_text("untracked notes\n")
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "debug.log").write_text("ignored\n")


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mode of every file, except our own state, caches and .git/ (whose state is ``git_state``)."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        skip = (rel.startswith(".assist") or "__pycache__" in rel or ".pytest_cache" in rel
                or rel.startswith(".git/"))
        if skip or not path.is_file():
            continue
        files[rel] = (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    return files


def git_state(root: Path) -> tuple[str, ...]:
    """HEAD, the index's content (not its stat cache, which any `git status` refreshes), the status, the staged
    diff."""
    return (git(root, "rev-parse", "HEAD"), git(root, "ls-files", "--stage"), git(root, "status", "--porcelain"),
            git(root, "diff", "--cached"))


@pytest.fixture(scope="session")
def indexed_buggy(indexed_sample, tmp_path_factory) -> Path:
    """The sample repository with the bug planted and the dirty tree, indexed as it is: copy it before use."""
    from indexer.pipeline import index_repository

    repo = tmp_path_factory.mktemp("buggy") / "repo"
    shutil.copytree(indexed_sample, repo, symlinks=True)
    plant_bug(repo)
    index_repository(repo)
    return repo


@pytest.fixture
def buggy(indexed_buggy, tmp_path) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(indexed_buggy, dest, symlinks=True)
    return dest


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie (a killed orphan waits for a reaper that may never come)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"

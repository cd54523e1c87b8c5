"""SIGKILL the real indexer at several moments; the next run must open the index and complete it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import PROJECT_ROOT, git
from indexer.graph import load_graph
from indexer.pipeline import index_repository
from indexer.state_dir import StateDir
from indexer.store import IndexState
from indexer.vectors import VectorStore

WORDS = ["stock", "price", "order", "ledger", "refund", "invoice", "shipment", "coupon", "audit", "tax"]


def make_generated_repo(root: Path, modules: int = 12, functions: int = 25) -> Path:
    """Enough distinct functions that embedding takes several seconds on two cores."""
    root.mkdir()
    for m in range(modules):
        lines = [f'"""Module {m}: helpers for {WORDS[m % len(WORDS)]} handling."""', ""]
        for f in range(functions):
            word = WORDS[(m + f) % len(WORDS)]
            lines += [
                f"def {word}_step_{m}_{f}(value: int, factor: int = {f + 1}) -> int:",
                f'    """Apply {word} rule number {f} of module {m} to value."""',
                f"    result = value * factor + {m * 100 + f}",
                f"    if result % {f + 2} == 0:",
                f"        result = {WORDS[f % len(WORDS)]}_step_{m}_{(f + 1) % functions}(result, {f + 3}) if result < 0 else result",
                "    return result",
                "",
                "",
            ]
        (root / f"mod_{m}.py").write_text("\n".join(lines))
    git(root, "init", "-q")
    return root


def start_indexer(repo: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "index", str(repo), "--json"],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def cached_vectors(repo: Path) -> int:
    path = StateDir(repo).embedding_cache
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def wait_for(condition, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"indexer finished (rc={proc.returncode}) before the kill point was reached")
        time.sleep(0.02)
    pytest.fail("kill point not reached in time")


def assert_complete(repo: Path, expected_nodes: set[str]) -> None:
    dirs = StateDir(repo)
    state = IndexState(dirs.index_db)
    try:
        manifest_ids = {chunk_id for chunk_id, _ in state.chunk_tokens()}
        files = set(state.file_records())
    finally:
        state.close()
    assert files == {p.name for p in repo.glob("*.py")}
    store = VectorStore(dirs.vectors, dim=384)
    try:
        assert store.all_ids() == manifest_ids
    finally:
        store.close()
    assert set(load_graph(dirs.graph).nodes) == expected_nodes


@pytest.fixture(scope="module")
def reference_nodes(tmp_path_factory) -> set[str]:
    repo = make_generated_repo(tmp_path_factory.mktemp("ref") / "repo")
    index_repository(repo)
    return set(load_graph(StateDir(repo).graph).nodes)


KILL_POINTS = {
    "while embedding": lambda repo: cached_vectors(repo) > 0,
    "while storing vectors": lambda repo: StateDir(repo).vectors.exists(),
    "right after start": lambda repo: (StateDir(repo).path / "lock").exists(),
}


@pytest.mark.parametrize("moment", list(KILL_POINTS))
def test_sigkill_then_rerun_completes(tmp_path, reference_nodes, moment):
    repo = make_generated_repo(tmp_path / "repo")
    proc = start_indexer(repo)
    try:
        wait_for(lambda: KILL_POINTS[moment](repo), proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "index", str(repo), "--json"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert_complete(repo, reference_nodes)
    # and a further run has nothing left to do
    report = index_repository(repo)
    assert report.files_changed == 0 and report.chunks_embedded == 0

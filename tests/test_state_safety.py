"""A repository's `.assist/` is data, never code, and `assist index` repairs whatever damage it is shown.

Two faults a user or an attacker can cause: a cloned repository that commits a crafted `.assist/` (its
pickles would run code when loaded), and a damaged index file (a kill, a full disk, a stray edit). Each
damage case is followed by the real `assist index` in a subprocess, then the real `assist search`.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from support import git, run_assist

QUERY = "reserve stock"


class _RunsCode:
    """Unpickling this creates a directory: proof that loading the state ran code of the attacker's."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps(_RunsCode(marker))


def _search(repo: Path) -> subprocess.CompletedProcess:
    return run_assist("search", QUERY, "-C", str(repo), "--no-vectors", "--json", timeout=300)


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]


def _search_works(repo: Path) -> None:
    result = _search(repo)
    _no_traceback(result)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert any("reserve" in (hit.get("symbol") or "") for hit in hits), hits


def _graph_file(repo: Path) -> Path:
    # Whichever name the index in use writes (so the same table can be run against older code).
    state = repo / ".assist"
    return next((state / n for n in ("graph.json.gz", "graph.pickle") if (state / n).exists()), state / "graph.json.gz")


def _lexical_generation(repo: Path) -> Path:
    lexical = repo / ".assist" / "lexical"
    return lexical / (lexical / "CURRENT").read_text().strip()


def _segment(repo: Path) -> Path:
    [segment] = [p.parent for p in (repo / ".assist" / "vectors").glob("*/header.bin")]
    return segment


# -------------------------------------------------------------------------------- the cloned index


@pytest.fixture
def hostile_clone(indexed_sample, tmp_path) -> tuple[Path, Path]:
    """(the victim's clone, the marker path): the attacker commits a `.assist/` whose every pickle-able
    file runs code when loaded, and the victim clones the repository."""
    attacker = tmp_path / "attacker"
    subprocess.run(["cp", "-a", str(indexed_sample), str(attacker)], check=True)
    marker = tmp_path / "code-ran"
    state = attacker / ".assist"
    payload = _hostile_pickle(marker)
    (state / "graph.pickle").write_bytes(payload)  # what older assist versions loaded
    (state / "graph.json.gz").write_bytes(gzip.compress(payload))
    conn = sqlite3.connect(state / "index.sqlite")
    with conn:
        conn.execute("UPDATE files SET extract=? WHERE extract IS NOT NULL", (payload,))
    conn.close()
    for segment in (state / "vectors").glob("*/header.bin"):
        (segment.parent / "index_metadata.pickle").write_bytes(payload)  # chromadb's legacy segment file
    git(attacker, "add", "-f", ".assist")
    git(attacker, "commit", "-qm", "ship an index")
    victim = tmp_path / "victim"
    subprocess.run(["git", "clone", "-q", str(attacker), str(victim)], check=True, capture_output=True)
    assert (victim / ".assist" / "graph.pickle").read_bytes() == payload
    return victim, marker


def test_a_cloned_repository_with_a_crafted_index_runs_no_code_and_is_rebuilt(hostile_clone):
    from assistant.mcp.tools import RepoTools, ToolFailure

    victim, marker = hostile_clone
    search = _search(victim)
    _no_traceback(search)
    assert not marker.exists(), "`assist search` ran code from the cloned .assist/"
    assert search.returncode != 0 and "not built here" in search.stderr
    assert "run `assist index" in search.stderr

    # What an editor's MCP client triggers on its own: get_symbol on the clone.
    tools = RepoTools(victim, use_vectors=False)
    with pytest.raises(ToolFailure, match="not built here"):
        tools.get_symbol("StockItem.reserve")
    tools.close()
    assert not marker.exists(), "an MCP get_symbol ran code from the cloned .assist/"

    index = run_assist("index", str(victim), timeout=600)
    _no_traceback(index)
    assert index.returncode == 0, index.stderr
    assert "not built here" in index.stderr  # the rebuild is announced
    assert not marker.exists(), "`assist index` ran code from the cloned .assist/"
    assert not (victim / ".assist" / "graph.pickle").exists()
    _search_works(victim)
    tools = RepoTools(victim, use_vectors=False)
    assert "reserve" in tools.get_symbol("StockItem.reserve").text
    tools.close()
    assert not marker.exists()


def test_an_index_copied_to_another_directory_is_not_trusted_but_a_moved_one_is(indexed_sample, tmp_path):
    from indexer.retrieval import IndexUnreadable, Retriever

    copied = tmp_path / "copied"
    subprocess.run(["cp", "-a", str(indexed_sample), str(copied)], check=True)
    with pytest.raises(IndexUnreadable, match=r"not built here: it was made for .*run `assist index"):
        Retriever(copied, use_vectors=False)
    status = run_assist("status", str(copied))
    assert status.returncode != 0 and "not built here" in status.stderr and "Traceback" not in status.stderr

    moved = tmp_path / "moved"
    shutil.copytree(indexed_sample, tmp_path / "mine", symlinks=True)  # tests adopt their own copies
    (tmp_path / "mine").rename(moved)  # same file system: same inode, so the same repository
    Retriever(moved, use_vectors=False).close()


# -------------------------------------------------------------------------------- damage, then repair


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(max(path.stat().st_size, 64)))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _delete(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def _point_current(repo: Path, outside: Path, target: str) -> None:
    (repo / ".assist" / "lexical" / "CURRENT").write_text(target)


def _current_to_outside_folder(repo: Path, outside: Path) -> None:
    """A generation folder outside .assist/ that holds a real lexical index, named by a relative path."""
    shutil.copytree(_lexical_generation(repo), outside / "gen")
    depth = len((repo / ".assist" / "lexical").relative_to(outside.parent).parts)
    _point_current(repo, outside, "../" * depth + f"{outside.name}/gen")


def _current_as_symlink(repo: Path, outside: Path) -> None:
    current = repo / ".assist" / "lexical" / "CURRENT"
    (outside / "CURRENT").write_text(current.read_text())
    current.unlink()
    current.symlink_to(outside / "CURRENT")


def _graph_as_symlink(repo: Path, outside: Path) -> None:
    graph = _graph_file(repo)
    shutil.copy(graph, outside / graph.name)
    graph.unlink()
    graph.symlink_to(outside / graph.name)


def _lock_as_symlink(repo: Path, outside: Path) -> None:
    """A clone can commit `.assist/lock` as a link to, say, ~/.bashrc: the indexer truncates its lock file."""
    (outside / "dotfile").write_text("export IMPORTANT=1\n")
    lock = repo / ".assist" / "lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(outside / "dotfile")


def _state_dir_as_symlink(repo: Path, outside: Path) -> None:
    """`.assist` itself a link: repairs would delete and write files wherever it points."""
    (repo / ".assist").rename(outside / "state")
    (repo / ".assist").symlink_to(outside / "state")


DAMAGE = {
    "lock-symlink-to-outside-file": _lock_as_symlink,
    "state-dir-symlink-to-outside": _state_dir_as_symlink,
    "graph-garbage": lambda repo, outside: _garbage(_graph_file(repo)),
    "graph-truncated": lambda repo, outside: _truncate(_graph_file(repo)),
    "graph-empty": lambda repo, outside: _empty(_graph_file(repo)),
    "graph-deleted": lambda repo, outside: _delete(_graph_file(repo)),
    "graph-symlink": _graph_as_symlink,
    "lexical-current-garbage": lambda repo, outside: _garbage(repo / ".assist" / "lexical" / "CURRENT"),
    "lexical-current-relative-escape": _current_to_outside_folder,
    "lexical-current-dotdot-etc": lambda repo, outside: _point_current(repo, outside, "../../../../../../../../etc"),
    "lexical-current-absolute": lambda repo, outside: _point_current(repo, outside, "/etc"),
    "lexical-current-symlink": _current_as_symlink,
    "lexical-ids-garbage": lambda repo, outside: _garbage(_lexical_generation(repo) / "ids.json"),
    "lexical-ids-truncated": lambda repo, outside: _truncate(_lexical_generation(repo) / "ids.json"),
    "lexical-params-garbage": lambda repo, outside: _garbage(_lexical_generation(repo) / "params.index.json"),
    "lexical-generation-deleted": lambda repo, outside: _delete(_lexical_generation(repo)),
    "manifest-garbage": lambda repo, outside: _garbage(repo / ".assist" / "index.sqlite"),
    "manifest-truncated": lambda repo, outside: _truncate(repo / ".assist" / "index.sqlite"),
    "manifest-deleted": lambda repo, outside: _delete(repo / ".assist" / "index.sqlite"),
    "embeddings-garbage": lambda repo, outside: _garbage(repo / ".assist" / "embeddings.sqlite"),
    "embeddings-truncated": lambda repo, outside: _truncate(repo / ".assist" / "embeddings.sqlite"),
    "chroma-sqlite-garbage": lambda repo, outside: _garbage(repo / ".assist" / "vectors" / "chroma.sqlite3"),
    "hnsw-data_level0-garbage": lambda repo, outside: _garbage(_segment(repo) / "data_level0.bin"),
    "hnsw-header-truncated": lambda repo, outside: _truncate(_segment(repo) / "header.bin"),
    "hnsw-length-garbage": lambda repo, outside: _garbage(_segment(repo) / "length.bin"),
    "hnsw-link_lists-garbage": lambda repo, outside: _garbage(_segment(repo) / "link_lists.bin"),
    "hnsw-segment-file-deleted": lambda repo, outside: _delete(_segment(repo) / "header.bin"),
    "derived-generation-garbage": lambda repo, outside: _garbage(repo / ".assist" / "derived-generation"),
    "identity-garbage": lambda repo, outside: _garbage(repo / ".assist" / "identity.json"),
    "identity-deleted": lambda repo, outside: _delete(repo / ".assist" / "identity.json"),
}

# The sample store (247 vectors) is below chromadb's HNSW sync threshold: its segment header counts 0
# elements and chromadb rebuilds the index from its log, so these two files are never read and garbage
# in them changes nothing (tests/test_vectors.py damages a 1,500-vector store, where they are read).
UNREAD_AT_THIS_SIZE = {"hnsw-data_level0-garbage", "hnsw-length-garbage"}


def _snapshot(state: Path) -> dict[str, bytes | str]:
    """Every file under .assist/ (a link by where it points): what the damage left there."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(state):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                found[str(path.relative_to(state))] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[str(path.relative_to(state))] = path.read_bytes()
    return found


def _check_repaired(repo: Path, damaged: dict[str, bytes | str], before: dict[str, bytes | str]) -> None:
    state = repo / ".assist"
    links = [p for p in state.rglob("*") if p.is_symlink()]
    assert not links, f"symbolic links left inside .assist/: {links}"
    current = (state / "lexical" / "CURRENT").read_bytes().decode("utf-8", errors="replace").strip()
    assert "/" not in current and ".." not in current, f"lexical/CURRENT still points at {current!r}"
    now = _snapshot(state)
    # Every file the damage touched is rebuilt or gone: none still holds what the damage wrote. HNSW
    # segment files are judged by the store probe instead: below chromadb's sync threshold (the sample's
    # 247 vectors) it rebuilds the index from its log and never reads them, so damage there is harmless.
    unrepaired = [name for name, content in damaged.items()
                  if before.get(name) != content and now.get(name) == content and not name.endswith(".bin")]
    assert not unrepaired, f"damaged files left as they were: {unrepaired}"
    from indexer.store import EmbeddingCache
    from indexer.vectors import probe_store

    ok, message = probe_store(state / "vectors")
    assert ok, message
    EmbeddingCache(state / "embeddings.sqlite").close()  # readable again


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_assist_index_repairs_every_damage_or_fails_with_one_line(indexed_sample, tmp_path, case):
    repo = tmp_path / "repo"
    shutil.copytree(indexed_sample, repo, symlinks=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    before = _snapshot(repo / ".assist")
    DAMAGE[case](repo, outside)
    damaged = _snapshot(repo / ".assist")
    outside_before = _snapshot(outside)

    index = run_assist("index", str(repo), timeout=600)
    _no_traceback(index)
    assert _snapshot(outside) == outside_before, "assist index wrote outside .assist/"
    if index.returncode != 0:
        lines = index.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("assist:"), index.stderr
        return
    if case not in UNREAD_AT_THIS_SIZE:
        assert index.stderr.strip(), "the repair was silent: every repair says what it did"
    _check_repaired(repo, damaged, before)
    _search_works(repo)


def test_a_state_folder_that_is_a_plain_file_is_a_one_line_error_and_is_left_alone(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("def main():\n    return 1\n")
    (repo / ".assist").write_text("not a folder\n")
    result = run_assist("index", str(repo))
    assert result.returncode == 1
    _no_traceback(result)
    assert "is not a directory" in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (repo / ".assist").read_text() == "not a folder\n"

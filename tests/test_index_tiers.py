"""Two tiers, one index: the structural tier is usable on its own, the vector tier fills in after it and
survives Ctrl-C and SIGKILL without embedding anything twice. Real grammars, real chromadb, the real model."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import PROJECT_ROOT, make_sample_repo, run_assist
from test_index_kill import make_generated_repo
from indexer.config import IndexConfig
from indexer.graph import is_test_path, load_graph
from indexer.pipeline import index_repository
from indexer.state_dir import StateDir
from indexer.store import IndexState
from indexer.vectors import VectorStore


def _json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def _manifest(repo: Path) -> tuple[set[str], set[str], set[str]]:
    """(ids of the chunks that earn a vector, those still pending, paths of plain-text files)."""
    state = IndexState(StateDir(repo).index_db)
    try:
        excluded = {r[0] for r in state.conn.execute("SELECT id FROM novector")}  # kinds that earn no vector
        ids = {chunk_id for chunk_id, _ in state.chunk_tokens()} - excluded
        pending = {row[0] for row in state.pending_plan()}
        text_files = set(state.plain_text_paths())
    finally:
        state.close()
    return ids, pending, text_files


def _stored_ids(repo: Path) -> set[str]:
    store = VectorStore(StateDir(repo).vectors, dim=384)
    try:
        return store.all_ids()
    finally:
        store.close()


def _cached_count(repo: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{StateDir(repo).embedding_cache}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    finally:
        conn.close()


def test_vectors_later_gives_a_usable_index_at_once_and_the_next_run_fills_it(tmp_path):
    repo = make_sample_repo(tmp_path / "repo")
    report = _json(run_assist("index", str(repo), "--vectors", "later", "--json"))
    assert report["chunks"] > 0 and report["chunks_embedded"] == 0
    earning = report["vectors"]["chunks"]  # chunks of the kinds that earn a vector (IndexConfig.embed)
    assert 0 < earning < report["chunks"]
    assert report["vectors"] == {"mode": "later", "stored": 0, "chunks": earning, "coverage_percent": 0}
    assert "model_load" not in report["seconds"] and 0 < report["usable_after_s"] <= report["seconds"]["total"]
    assert not StateDir(repo).vectors.exists()  # the structural tier never opens the vector store

    # Every command answers from the structural tier, and says that vectors are missing.
    search = run_assist("search", "reserve stock", "-C", str(repo), "--json")
    hits = _json(search)
    assert any("reserve" in (hit["symbol"] or "") for hit in hits)
    assert "vector coverage 0 %" in search.stderr
    pack = _json(run_assist("context", "reserve stock for an order", "-C", str(repo), "--json", "--budget", "800"))
    assert pack["items"] and any("vector coverage 0 %" in note for note in pack["notes"])
    callers = _json(run_assist("graph", "callers", "Order.place", "-C", str(repo), "--json"))
    assert callers["node"].endswith("Order.place")
    status = _json(run_assist("status", "-C", str(repo), "--json"))
    assert status["vectors"]["coverage_percent"] == 0 and status["vectors"]["stored"] == 0
    assert status["vectors"]["chunks"] == earning
    assert "0 %" in run_assist("status", "-C", str(repo)).stdout

    from assistant.mcp.tools import RepoTools

    tools = RepoTools(repo)
    try:
        answer = tools.index_status()
    finally:
        tools.close()
    assert answer.data["vectors"]["coverage_percent"] == 0
    assert f"vectors: 0 / {earning:,} chunks, 0 %" in answer.text

    # The next run embeds them all, and the notices go away.
    filled = _json(run_assist("index", str(repo), "--json"))
    assert filled["files_changed"] == 0 and filled["chunks_embedded"] > 0
    assert filled["vectors"]["coverage_percent"] == 100 and filled["vectors"]["stored"] == earning
    ids, pending, _ = _manifest(repo)
    assert not pending and _stored_ids(repo) == ids
    assert _json(run_assist("status", "-C", str(repo), "--json"))["vectors"]["coverage_percent"] == 100
    search = run_assist("search", "reserve stock", "-C", str(repo), "--json")
    assert _json(search) and "vector coverage" not in search.stderr
    assert any(e["signal"] == "vector" for hit in _json(search) for e in hit["why"]["evidence"])


def test_search_with_no_vectors_never_loads_the_model_and_vectors_off_never_embeds(tmp_path):
    repo = make_sample_repo(tmp_path / "repo")
    script = f"""
import json, sys
from pathlib import Path
from indexer.config import IndexConfig
from indexer.pipeline import index_repository
from indexer.retrieval import Retriever
report = index_repository(Path({str(repo)!r}), IndexConfig(vectors="off"))
retriever = Retriever({str(repo)!r})
hits = retriever.search("reserve stock")
heavy = [m for m in ("torch", "onnxruntime", "sentence_transformers", "chromadb") if m in sys.modules]
print(json.dumps({{"report": report.to_json(), "hits": len(hits), "heavy": heavy,
                  "embedder": retriever.reader._embedder is not None}}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=300)
    out = _json(result)
    assert out["heavy"] == [] and out["embedder"] is False  # neither the model nor chromadb was loaded
    assert out["hits"] > 0
    assert out["report"]["chunks_embedded"] == 0 and out["report"]["vectors"]["stored"] == 0
    assert "model_load" not in out["report"]["seconds"]
    # off stays off on the next run; a plain run then embeds
    again = _json(run_assist("index", str(repo), "--vectors", "off", "--json"))
    assert again["chunks_embedded"] == 0 and again["vectors"]["coverage_percent"] == 0
    assert _json(run_assist("index", str(repo), "--json"))["vectors"]["coverage_percent"] == 100


def test_ctrl_c_in_the_vector_tier_keeps_what_is_stored_source_first(tmp_path):
    repo = make_sample_repo(tmp_path / "repo")
    every_kind = ["source", "tests", "docs", "data"]  # so that tests and plain text wait behind source
    index_repository(repo, IndexConfig(vectors="later", embed=every_kind))

    def interrupt_after_first_group(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_repository(repo, IndexConfig(embed=every_kind), progress=interrupt_after_first_group)
    ids, pending, text_files = _manifest(repo)
    stored = ids - pending
    assert stored and pending
    state = IndexState(StateDir(repo).index_db)
    try:
        path_of = {chunk_id: meta["path"] for chunk_id, _, meta in state.chunk_vector_rows()}
    finally:
        state.close()
    # Source first: nothing from tests or plain text was embedded while source chunks were waiting.
    assert all(not is_test_path(path_of[i]) and path_of[i] not in text_files for i in stored)
    assert any(is_test_path(path_of[i]) for i in pending) and any(path_of[i] in text_files for i in pending)
    assert _stored_ids(repo) >= stored
    status = _json(run_assist("status", "-C", str(repo), "--json"))
    assert 0 < status["vectors"]["coverage_percent"] < 100

    cached = _cached_count(repo)
    report = index_repository(repo, IndexConfig(embed=every_kind))
    assert report.vectors["coverage_percent"] == 100
    assert report.chunks_embedded == len(set(_content_hashes(repo))) - cached  # nothing embedded twice
    assert _stored_ids(repo) == ids


def _content_hashes(repo: Path) -> list[str]:
    state = IndexState(StateDir(repo).index_db)
    try:
        return [h for _, h, _ in state.chunk_vector_rows()]
    finally:
        state.close()


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> dict:
    repo = make_generated_repo(tmp_path_factory.mktemp("clean") / "repo")
    report = index_repository(repo).to_json()
    report["nodes"] = set(load_graph(StateDir(repo).graph).nodes)
    return report


def test_sigkill_at_random_moments_of_the_vector_tier_loses_nothing(tmp_path, clean_run):
    repo = make_generated_repo(tmp_path / "repo")
    rng = random.Random(int(os.environ.get("ASSIST_KILL_SEED", "11")))
    graph = StateDir(repo).graph
    kills = 0
    for _ in range(4):  # bounded: each round kills one run at a random moment of its vector tier
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index", str(repo), "--json"],
                                cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 240
            while not graph.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)  # the structural tier is committed once the graph is written
            time.sleep(rng.uniform(0.2, 4.0))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
        finally:
            proc.wait()
        ids, pending, _ = _manifest(repo)
        if not pending:
            break
        # Killed mid-vectors, the index answers (structural tier committed) and says how far vectors got.
        status = _json(run_assist("status", "-C", str(repo), "--json"))
        assert status["vectors"]["stored"] == len(ids) - len(pending)
    assert kills >= 1, "no run was killed inside its vector tier"

    cached = _cached_count(repo)
    report = _json(run_assist("index", str(repo), "--json"))
    # Only what no killed run had embedded is embedded now; the totals equal a clean run's.
    assert report["chunks_embedded"] == clean_run["chunks_embedded"] - cached
    assert report["vectors"]["coverage_percent"] == 100
    for key in ("files_indexed", "chunks", "symbols", "edges"):
        assert report[key] == clean_run[key], key
    ids, pending, _ = _manifest(repo)
    assert not pending and _stored_ids(repo) == ids
    assert set(load_graph(graph).nodes) == clean_run["nodes"]
    assert index_repository(repo).chunks_embedded == 0

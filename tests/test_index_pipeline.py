"""`assist index` end to end: real grammars, real chromadb on disk, the real bundled embedding model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from support import PLANTED_AWS_KEY, PLANTED_SECRET, PROJECT_ROOT, git, run_assist
from indexer.graph import load_graph
from indexer.pipeline import index_repository
from indexer.state_dir import StateDir
from indexer.store import IndexState
from indexer.vectors import VectorStore


def manifest_chunk_ids(repo) -> set[str]:
    state = IndexState(StateDir(repo).index_db)
    try:
        return {chunk_id for chunk_id, _ in state.chunk_tokens()}
    finally:
        state.close()


def earning_chunk_ids(repo) -> set[str]:
    """The chunks that earn a vector under the default IndexConfig.embed (not data such as pyproject.toml)."""
    state = IndexState(StateDir(repo).index_db)
    try:
        excluded = {r[0] for r in state.conn.execute("SELECT id FROM novector")}
        return {chunk_id for chunk_id, _ in state.chunk_tokens()} - excluded
    finally:
        state.close()


def stored_vector_ids(repo) -> set[str]:
    store = VectorStore(StateDir(repo).vectors, dim=384)
    try:
        return store.all_ids()
    finally:
        store.close()


def test_first_index_reports_and_stores_everything(indexed_copy):
    report = index_repository(indexed_copy)  # a no-op re-run reports the same totals
    assert report.files_indexed >= 10
    assert report.symbols >= 40
    assert report.edges["contains"] > 0 and report.edges["calls"] > 0 and report.edges["imports"] > 0
    assert report.edges["inherits"] > 0 and report.edges["tests"] > 0
    assert report.files_skipped.get("secret") == 1  # .env (but not .env.example)
    assert report.files_skipped.get("binary") == 1  # logo.png
    ids = manifest_chunk_ids(indexed_copy)
    assert len(ids) == report.chunks > 0
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy) and 0 < len(earning_chunk_ids(indexed_copy)) < len(ids)

    graph = load_graph(StateDir(indexed_copy).graph)
    assert ".env.example" in graph and ".env" not in graph
    assert "NOTES.md" in graph  # plain text files are indexed too
    assert any(n.startswith("web/cart.ts::") for n in graph)
    assert any(n.startswith("tools/stockcheck/") and "::" in n for n in graph)


def test_no_secret_reaches_the_index(indexed_sample):
    state_dir = StateDir(indexed_sample).path
    needles = [PLANTED_SECRET.encode(), PLANTED_AWS_KEY.encode()]
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"secret found in {path}"


def test_no_op_rerun_changes_nothing(indexed_copy):
    before = manifest_chunk_ids(indexed_copy)
    report = index_repository(indexed_copy)
    assert report.files_changed == 0
    assert report.chunks_embedded == 0
    assert "graph" not in report.seconds  # nothing rebuilt
    assert manifest_chunk_ids(indexed_copy) == before


def test_editing_one_file_reembeds_only_its_changed_chunks(indexed_copy):
    target = indexed_copy / "inventory" / "pricing.py"
    target.write_text(target.read_text() + "\n\ndef loyalty_bonus(points: int) -> int:\n    return points // 10\n")
    report = index_repository(indexed_copy)
    assert report.files_changed == 1
    # the new function and the module's top-level chunk at most; every other chunk came from the cache
    assert 1 <= report.chunks_embedded <= 2
    graph = load_graph(StateDir(indexed_copy).graph)
    assert "inventory/pricing.py::loyalty_bonus" in graph
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_deleted_file_leaves_graph_and_store(indexed_copy):
    victim = "inventory/reports.py"
    before = manifest_chunk_ids(indexed_copy)
    (indexed_copy / victim).unlink()
    report = index_repository(indexed_copy)
    assert report.files_removed == 1
    graph = load_graph(StateDir(indexed_copy).graph)
    assert not [n for n in graph if n == victim or n.startswith(victim + "::")]
    after = manifest_chunk_ids(indexed_copy)
    assert after < before
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_renaming_a_file_embeds_nothing_new(indexed_copy):
    git(indexed_copy, "mv", "inventory/reports.py", "inventory/summaries.py")
    report = index_repository(indexed_copy)
    assert report.files_changed == 1 and report.files_removed == 1
    assert report.chunks_embedded == 0
    graph = load_graph(StateDir(indexed_copy).graph)
    assert any(n.startswith("inventory/summaries.py::") for n in graph)
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_changed_grammar_stamp_rebuilds_with_a_notice(indexed_copy):
    state = IndexState(StateDir(indexed_copy).index_db)
    state.set_meta(grammars='{"tree-sitter": "0.0.1"}')
    state.close()
    notices = []
    report = index_repository(indexed_copy, notice=notices.append)
    assert any("grammars" in n for n in notices)
    assert report.files_changed == report.files_indexed  # everything re-parsed
    assert report.chunks_embedded == 0  # ...but vectors came from the cache
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_damaged_vector_store_is_rebuilt_with_a_message(indexed_copy):
    vectors = StateDir(indexed_copy).vectors
    damaged = 0
    for path in vectors.rglob("*"):
        if path.is_file() and path.stat().st_size > 0:
            path.write_bytes(b"\x00garbage" * 8)
            damaged += 1
    assert damaged
    result = run_assist("index", str(indexed_copy), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert any("vector store is damaged" in n for n in report["notices"])
    assert report["chunks_embedded"] == 0
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_damaged_manifest_is_rebuilt_with_a_message(indexed_copy):
    db = StateDir(indexed_copy).index_db
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    notices = []
    report = index_repository(indexed_copy, notice=notices.append)
    assert any("damaged" in n for n in notices)
    assert report.files_indexed > 0 and report.chunks_embedded == 0
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_a_damaged_stored_extract_is_parsed_again_not_unpickled(indexed_copy):
    """Extracts are JSON in the manifest; one that does not validate costs a re-parse of that file."""
    import sqlite3

    db = StateDir(indexed_copy).index_db
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE files SET extract=? WHERE path='inventory/orders.py'", (b"\x80\x04garbage.",))
    conn.close()
    (indexed_copy / "NOTES.md").write_text("# Notes\n\nChanged, so the graph is rebuilt from the extracts.\n")
    notices = []
    report = index_repository(indexed_copy, notice=notices.append)
    assert any("extracts are damaged" in n for n in notices), notices
    # orders.py re-parsed, its chunks unchanged (cached); the edited note is docs, which earn no vector by default
    assert report.files_changed >= 2 and report.chunks_embedded == 0
    assert "inventory/orders.py::Order.place" in load_graph(StateDir(indexed_copy).graph)
    state = IndexState(db)
    try:
        extracts, damaged = state.extracts()
    finally:
        state.close()
    assert not damaged and "inventory/orders.py" in extracts


def test_a_garbage_embedding_cache_is_started_afresh_with_a_message(indexed_copy):
    cache = StateDir(indexed_copy).embedding_cache
    for suffix in ("-wal", "-shm"):
        cache.with_name(cache.name + suffix).unlink(missing_ok=True)
    cache.write_bytes(b"not a database at all" * 200)
    result = run_assist("index", str(indexed_copy), "--json")
    assert "Traceback" not in result.stderr and result.returncode == 0, result.stderr
    assert any("embedding cache is damaged" in n for n in json.loads(result.stdout)["notices"])


def test_a_touched_graph_or_lexical_index_is_rebuilt_on_the_next_run(indexed_copy):
    """`search` says "run assist index" for a damaged graph; that run must then repair it (it used to
    see nothing changed in the working tree and exit 0 with nothing done)."""
    from indexer.lexical import LexicalIndex

    dirs = StateDir(indexed_copy)
    dirs.graph.write_bytes(b"scribbled over")
    generation = dirs.lexical / (dirs.lexical / "CURRENT").read_text()
    (generation / "ids.json").write_text("[]")
    notices = []
    index_repository(indexed_copy, notice=notices.append)
    assert any("changed or damaged" in n for n in notices), notices
    assert "inventory/orders.py::Order.place" in load_graph(dirs.graph)
    assert len(LexicalIndex.load(dirs.lexical)) == len(manifest_chunk_ids(indexed_copy))


def test_a_second_indexer_gives_up_naming_the_holder(indexed_copy):
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from indexer.lock import IndexLock\n"
         "with IndexLock(Path(sys.argv[1]) / '.assist', wait_s=1):\n"
         "    print('held', flush=True); time.sleep(60)\n", str(indexed_copy)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = run_assist("index", str(indexed_copy), "--wait", "1", timeout=60)
        elapsed = time.monotonic() - started
        assert result.returncode == 3
        assert f"pid {holder.pid}" in result.stderr
        assert elapsed < 30
    finally:
        holder.kill()
        holder.wait()
    # the index is whole and usable after the holder is gone
    report = index_repository(indexed_copy)
    assert report.files_changed == 0
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_status_reports_stale_files_and_skips(indexed_copy):
    (indexed_copy / "inventory" / "pricing.py").write_text("def changed():\n    return 1\n")
    (indexed_copy / "inventory" / "fresh.py").write_text("def fresh():\n    return 2\n")
    (indexed_copy / "inventory" / "reports.py").unlink()
    result = run_assist("status", str(indexed_copy), "--json", "--skipped")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["stale"] == {
        "modified": ["inventory/pricing.py"], "added": ["inventory/fresh.py"], "deleted": ["inventory/reports.py"],
    }
    assert status["is_stale"] is True
    assert {"path": ".env", "reason": "secret"} in [{k: s[k] for k in ("path", "reason")} for s in status["skipped_files"]]
    assert status["size_on_disk"]["vectors"] > 0
    assert status["embedding_model"] == "default"


def test_status_without_an_index_says_how_to_build_one(tmp_path):
    result = run_assist("status", str(tmp_path))
    assert result.returncode == 1
    assert "assist index" in result.stderr
    assert "Traceback" not in result.stderr


def test_index_json_has_the_documented_fields(tmp_path):
    repo = tmp_path / "tiny"
    repo.mkdir()
    (repo / "a.py").write_text("def f():\n    return g()\n\n\ndef g():\n    return 1\n")
    result = run_assist("index", str(repo), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("files_indexed", "files_skipped", "symbols", "edges", "chunks", "chunks_embedded", "seconds"):
        assert key in report
    assert report["files_indexed"] == 1 and report["symbols"] == 2
    assert report["edges"]["calls"] == 1
    assert report["chunks_embedded"] == report["chunks"] >= 2
    assert set(report["seconds"]) >= {"files", "parse", "embed", "graph", "lexical"}


@pytest.mark.parametrize("bad_path", ["does-not-exist", "a-file.txt"])
def test_index_rejects_a_bad_path_clearly(tmp_path, bad_path):
    (tmp_path / "a-file.txt").write_text("x")
    result = run_assist("index", str(tmp_path / bad_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "assist:" in result.stderr


def test_content_problems_are_skipped_with_reasons_and_nothing_else_is_lost(tmp_path):
    from indexer.config import IndexConfig

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "good.py").write_text("def kept():\n    return 1\n")
    (repo / "broken.py").write_text("def fine():\n    return 2\n\ndef broken(:\n    pass\n\ndef also_fine():\n    return 3\n")
    (repo / "nested.py").write_text("x = " + "(\n" * 150_000 + ")\n" * 150_000)
    (repo / "blob.dat").write_bytes(b"header\x00\x01\x02")
    (repo / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (repo / "bundle.js").write_text("var a=1;" * 400 + "\n")
    (repo / "big.py").write_text("# filler\n" * 90_000)
    config = IndexConfig(max_file_bytes=700_000, parse_timeout_s=0.05)
    report = index_repository(repo, config)
    assert report.files_skipped == {
        "parse_timeout": 1, "binary": 1, "undecodable": 1, "minified": 1, "too_large": 1,
    }
    graph = load_graph(StateDir(repo).graph)
    assert {"good.py::kept", "broken.py::fine", "broken.py::also_fine"} <= set(graph)
    state = IndexState(StateDir(repo).index_db)
    try:
        reasons = {s.path: s.reason for s in state.skipped()}
    finally:
        state.close()
    assert reasons == {"nested.py": "parse_timeout", "blob.dat": "binary", "latin1.txt": "undecodable",
                       "bundle.js": "minified", "big.py": "too_large"}


def test_an_extractor_failure_skips_that_file_only(tmp_path, monkeypatch):
    import indexer.extract.python as python_extractor

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def a():\n    return 1\n")
    (repo / "b.js").write_text("function b() { return 2; }\n")
    real = python_extractor.extract_python

    def failing(path, source, tree):
        if path == "a.py":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, source, tree)

    monkeypatch.setattr(python_extractor, "extract_python", failing)
    report = index_repository(repo)
    assert report.files_skipped == {"parse_error": 1}
    assert "b.js::b" in load_graph(StateDir(repo).graph)


def test_a_file_that_turns_binary_leaves_the_index(indexed_copy):
    target = indexed_copy / "inventory" / "reports.py"
    target.write_bytes(b"\x00\x01binary now")
    report = index_repository(indexed_copy)
    assert report.files_removed == 1 and report.files_skipped.get("binary") == 2
    graph = load_graph(StateDir(indexed_copy).graph)
    assert not [n for n in graph if n.startswith("inventory/reports.py")]
    assert stored_vector_ids(indexed_copy) == earning_chunk_ids(indexed_copy)


def test_parallel_parsing_gives_the_same_index_as_serial(indexed_sample, tmp_path, monkeypatch):
    import indexer.prepare as prepare

    serial = tmp_path / "serial"
    parallel = tmp_path / "parallel"
    for dest in (serial, parallel):
        shutil.copytree(indexed_sample, dest, ignore=shutil.ignore_patterns(".assist"))
        shutil.copytree(indexed_sample / ".assist", dest / ".assist")
        StateDir(dest).remove_index()  # keep only the embedding cache: re-parse everything, embed nothing
    index_repository(serial)
    monkeypatch.setattr(prepare, "PARALLEL_PARSE_MIN_BYTES", 0)
    report = index_repository(parallel)
    assert report.chunks_embedded == 0
    assert manifest_chunk_ids(parallel) == manifest_chunk_ids(serial)
    g_serial, g_parallel = load_graph(StateDir(serial).graph), load_graph(StateDir(parallel).graph)
    assert set(g_parallel.nodes) == set(g_serial.nodes)
    assert set(g_parallel.edges(keys=True)) == set(g_serial.edges(keys=True))


def test_a_no_op_run_does_not_load_chromadb_for_files_it_skipped_before(indexed_copy):
    """A skipped file (logo.png: binary) is read again on every run; that alone must not pay chromadb's import,
    which took a no-op `assist index` on pytest (nine images) from 0.5 s to 1 s."""
    assert (indexed_copy / "logo.png").exists()
    script = ("import sys; from pathlib import Path; from indexer.pipeline import index_repository; "
              f"report = index_repository(Path({str(indexed_copy)!r})); "
              "print(report.files_changed, report.chunks_embedded, 'chromadb' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0", "False"]

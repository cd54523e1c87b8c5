"""Two machines, one Chroma server (issue 14): what the second clone of a repository pays once the first indexed it.

Usage:  nice python bench/store_bench.py [--repo DIR] [--work DIR] [--queries N] [--json]

A `chroma run` server starts on a free loopback port (its data under WORK). "Machine A" is a copy of REPO indexed
into it (`assist index --store URL`: every vector embedded here). "Machine B" is a second copy: its structural tier
alone (`--vectors off`, on a copy of its own), then its full index against the server — wall time, chunks embedded
(target 0), and the ratio of the two (target at most 2x). Then query latency, top 20 for N query vectors, three
ways: through the server (HttpClient, what a reader of an index over 150,000 chunks uses), the embedded chromadb
store, and the exact in-memory search that a reader of a smaller index uses (vectors from the local embedding
cache, which B filled from the server). Every `assist` runs as a child process, as a user runs it. REPO defaults
to pytest under ASSIST_BENCH_CORPUS (bench/locations.py); WORK to a temporary directory, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH), str(BENCH.parent / "tests")]

from chroma_support import ChromaServer  # noqa: E402
from locations import corpus  # noqa: E402
from query_latency import percentile  # noqa: E402

K = 20


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def copy_of(repo: Path, dest: Path) -> Path:
    """Another machine's clone: the same files (git history included), no index."""
    shutil.copytree(repo, dest, symlinks=True, ignore=shutil.ignore_patterns(".assist"))
    return dest


def index(repo: Path, *args: str) -> tuple[float, dict]:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "assistant.cli", "index", str(repo), "--json", *args],
                         cwd=BENCH.parent, capture_output=True, text=True, env=environment)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"assist index {repo} {' '.join(args)} failed: {run.stderr.strip()}")
    return round(wall, 2), json.loads(run.stdout)


def query_vectors(repo: Path, count: int):
    """``count`` query vectors: the embedding of symbol names and docstring-like phrases from the index itself."""
    from indexer.retrieval.reader import IndexReader

    reader = IndexReader(repo)
    names = sorted({row.symbol.split("::")[-1].replace("_", " ").replace(".", " ")
                    for row in reader.chunks.values() if row.symbol})
    step = max(1, len(names) // count)
    texts = [f"where is {name} handled" for name in names[::step][:count]]
    vectors = reader.embedder.embed(texts)
    return reader, vectors


def latency_ms(search, vectors) -> dict:
    for vector in vectors[:3]:
        search(vector)  # warm: connections, HNSW pages, the exact matrix
    times = []
    for vector in vectors:
        started = time.perf_counter()
        search(vector)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": round(percentile(times, 0.5), 2), "p95": round(percentile(times, 0.95), 2), "n": len(times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=corpus() / "pytest", help="the repository both machines index")
    parser.add_argument("--work", type=Path, help="where the copies and the server's data go (default: a temp dir)")
    parser.add_argument("--queries", type=int, default=100, help="query vectors for the latency figures")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if not args.repo.is_dir():
        raise SystemExit(f"no repository at {args.repo}: pass --repo or set ASSIST_BENCH_CORPUS")
    work = args.work or Path(tempfile.mkdtemp(prefix="store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    figures: dict = {"repo": str(args.repo), "load_before": load()}
    server = ChromaServer(work / "chroma").start()
    try:
        a = copy_of(args.repo, work / "machine-a")
        figures["a_wall_s"], report = index(a, "--store", server.url)
        figures["a_chunks_embedded"] = report["chunks_embedded"]
        figures["vectors"] = report["vectors"]["stored"]

        figures["b_structural_wall_s"], _ = index(copy_of(args.repo, work / "machine-b-structural"),
                                                  "--vectors", "off")
        b = copy_of(args.repo, work / "machine-b")
        figures["b_wall_s"], report = index(b, "--store", server.url)
        figures["b_chunks_embedded"] = report["chunks_embedded"]
        figures["b_vectors_from_store"] = report["vectors_from_store"]
        figures["b_over_structural"] = round(figures["b_wall_s"] / figures["b_structural_wall_s"], 2)

        # The embedded store with the same vectors: A's copy switched back to it (copied from its embedding cache).
        local = copy_of(a, work / "machine-a-local")
        shutil.copytree(a / ".assist", local / ".assist", symlinks=True)
        from indexer.state_dir import adopt_copied_index
        from indexer.vectors import VectorStore, open_vector_store_for_reading

        adopt_copied_index(local)
        index(local)
        reader, vectors = query_vectors(b, args.queries)
        hits, why = reader.vector_search(vectors[0], K)
        if why or len(hits) < K:
            raise SystemExit(f"machine B's reader has no vectors to search: {why}")
        served = open_vector_store_for_reading(reader.dirs, reader.embedder.dim)
        embedded = VectorStore(local / ".assist" / "vectors", dim=reader.embedder.dim)
        figures["query_ms"] = {
            "server": latency_ms(lambda v: served.query(v, K), vectors),
            "embedded_chromadb": latency_ms(lambda v: embedded.query(v, K), vectors),
            "exact_in_memory": latency_ms(lambda v: reader.vector_search(v, K), vectors),
        }
        served.close()
        embedded.close()
        reader.close()
    finally:
        server.kill()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    figures["load_after"] = load()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        q = figures["query_ms"]
        print(f"{figures['repo']}: {figures['vectors']} vectors\n"
              f"  A (embeds, into the server): {figures['a_wall_s']} s, {figures['a_chunks_embedded']} embedded\n"
              f"  B structural only: {figures['b_structural_wall_s']} s; B full: {figures['b_wall_s']} s "
              f"({figures['b_over_structural']}x), {figures['b_chunks_embedded']} embedded, "
              f"{figures['b_vectors_from_store']} from the server\n"
              + "".join(f"  query top {K} {name}: p50 {v['p50']} ms, p95 {v['p95']} ms\n" for name, v in q.items())
              + f"  load: {figures['load_before']} / {figures['load_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

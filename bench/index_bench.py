"""Indexing benchmark: throughput per stage, embedding overhead, incremental re-runs, memory and size.

Usage:  python bench/index_bench.py REPO [--runs 5] [--sample 512] [--keep]

REPO is a checkout of a real project no one here wrote, outside this tree (its .assist/ is created
there). The cold run goes through the real CLI in a subprocess (so peak memory is the whole process);
rebuilds reuse the embedding cache so parse/graph/lexical throughput can be measured several times
cheaply; no-op and one-file-change re-runs are timed in process, model load excluded, and through the
CLI as a user would see them. Prints a table and one JSON line; figures are medians of --runs runs.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from indexer.pipeline import index_repository  # noqa: E402
from indexer.state_dir import StateDir  # noqa: E402


def cli_index(repo: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "index", str(repo), "--json"],
        cwd=PROJECT, capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout), time.perf_counter() - started


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def rebuild_keeping_cache(repo: Path, runs: int) -> list[dict]:
    """Drop everything but the embedding cache and re-index: every file is parsed, nothing embedded."""
    dirs = StateDir(repo)
    reports = []
    for _ in range(runs):
        dirs.remove_index()
        reports.append(index_repository(repo).to_json())
    return reports


def one_file_changes(repo: Path, runs: int) -> list[dict]:
    python_files = sorted(p for p in repo.rglob("*.py") if ".assist" not in p.parts and p.stat().st_size > 2000)
    random.Random(7).shuffle(python_files)
    reports = []
    for run, target in enumerate(python_files[:runs]):
        original = target.read_bytes()
        added = f"\n\ndef _bench_added_function_{run}(x):\n    return x + {run}\n".encode()
        try:
            target.write_bytes(original + added)
            reports.append(index_repository(repo).to_json())
        finally:
            target.write_bytes(original)
        index_repository(repo)  # back to the original state, untimed
    return reports


def embedding_overhead(repo: Path, sample: int, runs: int) -> dict:
    """Our embed path (length-sorted groups, cache writes) vs the raw model.encode on the same texts."""
    import tempfile

    from indexer.chunks import chunk_file
    from indexer.config import IndexConfig
    from indexer.embeddings import load_embedder
    from indexer.extract import extract_file
    from indexer.languages import language_for_path
    from indexer.pipeline import _Indexer
    from indexer.store import EmbeddingCache

    embedder = load_embedder("default")
    texts: list[str] = []
    for path in sorted(repo.rglob("*.py")):
        if ".assist" in path.parts:
            continue
        rel = path.relative_to(repo).as_posix()
        source = path.read_bytes()
        extract = extract_file(rel, source, language_for_path(rel))
        texts += [c.text for c in chunk_file(rel, source.decode("utf-8", "replace"), extract, 256, embedder.count_tokens)]
    random.Random(3).shuffle(texts)
    texts = list(dict.fromkeys(texts))[:sample]
    embedder.load()
    embedder.embed(texts[:32])  # warm-up
    raw, ours = [], []
    for _ in range(runs):
        started = time.perf_counter()
        embedder.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        raw.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as tmp:
            indexer = _Indexer.__new__(_Indexer)
            indexer.config = IndexConfig()
            indexer.progress = lambda *a: None
            indexer._embedder = embedder
            indexer.cache = EmbeddingCache(Path(tmp) / "cache.sqlite")
            missing = {str(i): t for i, t in enumerate(texts)}
            started = time.perf_counter()
            indexer._embed_missing(missing, {})
            ours.append(time.perf_counter() - started)
            indexer.cache.close()
    raw_rate = len(texts) / statistics.median(raw)
    our_rate = len(texts) / statistics.median(ours)
    tokens = [embedder.count_tokens(t) for t in texts]
    return {
        "sample_chunks": len(texts),
        "mean_tokens": round(statistics.mean(tokens), 1),
        "raw_chunks_per_s": round(raw_rate, 1),
        "pipeline_chunks_per_s": round(our_rate, 1),
        "pipeline_vs_raw": round(our_rate / raw_rate, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", type=int, default=512, help="chunks for the embedding-overhead comparison")
    parser.add_argument("--keep", action="store_true", help="reuse an existing index instead of a cold start")
    args = parser.parse_args()
    repo = args.repo.resolve()
    dirs = StateDir(repo)
    if not args.keep:
        shutil.rmtree(dirs.path, ignore_errors=True)

    cold, cold_wall = cli_index(repo)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines, files = cold["lines"], cold["files_indexed"]
    s = cold["seconds"]
    out: dict = {
        "repo": str(repo),
        "files": files,
        "lines": lines,
        "symbols": cold["symbols"],
        "edges": cold["edges"],
        "chunks": cold["chunks"],
        "cold": {
            "wall_s": round(cold_wall, 1),
            "seconds": s,
            "chunks_embedded": cold["chunks_embedded"],
            "embed_chunks_per_s": round(cold["chunks_embedded"] / s["embed"], 1) if s.get("embed") else None,
            "peak_rss_mib": round(peak_rss_mib),
        },
        "size_on_disk_mib": {k: round(v / 2**20, 2) for k, v in dirs.size_on_disk().items()},
    }

    rebuilds = rebuild_keeping_cache(repo, args.runs)
    stage = {k: median([r["seconds"].get(k, 0) for r in rebuilds]) for k in ("files", "parse", "graph", "lexical", "store")}
    structure_s = stage["parse"] + stage["graph"] + stage["lexical"]
    out["rebuild_from_cache"] = {
        "median_seconds": stage,
        "files_per_s": {k: round(files / v) for k, v in stage.items() if v},
        "lines_per_s": {k: round(lines / v) for k, v in stage.items() if v},
        "parse_graph_lexical_lines_per_s": round(lines / structure_s),
    }

    noop = [index_repository(repo).to_json()["seconds"] for _ in range(args.runs)]
    noop_cli = [cli_index(repo)[1] for _ in range(args.runs)]
    out["noop_rerun_s"] = {"in_process": median([sum(x.values()) for x in noop]), "cli_wall": median(noop_cli)}

    changes = one_file_changes(repo, args.runs)
    out["one_file_change_s"] = {
        "in_process_excl_model_load": median([sum(v for k, v in r["seconds"].items() if k != "model_load") for r in changes]),
        "chunks_embedded": [r["chunks_embedded"] for r in changes],
        "stages": {k: median([r["seconds"].get(k, 0) for r in changes]) for k in ("files", "parse", "embed", "store", "graph", "lexical")},
    }
    out["embedding_overhead"] = embedding_overhead(repo, args.sample, max(3, args.runs // 2))
    out["model_load_s"] = cold["seconds"].get("model_load")

    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""How fast a one-shot command starts, and whether the ONNX query encoder gives torch's vectors.

Usage:
  python bench/query_start.py oneshot REPO [--runs 5] [--query TEXT]
  python bench/query_start.py encoders [--texts 500] [--batch-texts 512]

``oneshot``: wall time of ``assist context --budget 1024 QUERY -C REPO``, a fresh process per run, in
three modes run round-robin (so load drifts hit them alike): vectors through ONNX Runtime, vectors through
torch (ASSIST_EMBED_BACKEND=torch) and ``--no-vectors``; plus ``assist --help``. REPO must be indexed.
Medians, with the machine's load.

``encoders``: on real code chunks cut from this repository's own source by the indexer's chunker —
cosine between the ONNX and torch vectors of the bundled model; load time and one-query latency of
each; batch throughput on the same texts; top-10 agreement of ``search`` on the sample project
(tests/support.py) with the two encoders. Needs the ONNX graph in the cache (any index run writes it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1",
               "ANONYMIZED_TELEMETRY": "False"}
DEFAULT_QUERY = "how are fixtures torn down when a test fails during setup"
SAMPLE_QUERIES = [
    "reserve stock when an order is placed", "release stock on cancel", "shipping fee", "order total",
    "where are settings read", "how is an order cancelled", "inventory count goes negative",
    "apply a discount code", "payment failed", "load products from a file",
]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------------------------------- oneshot

def oneshot(repo: Path, runs: int, query: str) -> int:
    env = {**os.environ, **OFFLINE_ENV}
    base = [sys.executable, "-m", "assistant.cli"]
    context = ["context", "--budget", "1024", query, "-C", str(repo)]
    modes = {
        "vectors/onnx": ({**env, "ASSIST_EMBED_BACKEND": "auto"}, context),
        "vectors/torch": ({**env, "ASSIST_EMBED_BACKEND": "torch"}, context),
        "no-vectors": (env, [*context, "--no-vectors"]),
        "--help": (env, ["--help"]),
    }
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    print(f"repo {repo}  query {query!r}  runs {runs}  load before: {load()}")
    for run in range(runs):
        for mode, (mode_env, args) in modes.items():
            start = time.perf_counter()
            done = subprocess.run(base + args, env=mode_env, cwd=ROOT, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{mode}: exit {done.returncode}: {done.stderr.strip()[-400:]}")
                return 1
            if run == 0 and mode.startswith("vectors") and "torch" in done.stderr.lower():
                print(f"{mode} notice: {done.stderr.strip()}")
            times[mode].append(elapsed)
    for mode, values in times.items():
        print(f"{mode:14} median {statistics.median(values):6.2f} s  min {min(values):6.2f}  max {max(values):6.2f}  "
              f"runs {[round(v, 2) for v in values]}")
    print(f"load after: {load()}")
    return 0


# --------------------------------------------------------------------------------------------- encoders

def code_chunks(limit: int) -> list[str]:
    """Chunks of this repository's Python source as the indexer cuts them, spread evenly over the files."""
    from indexer.chunks import chunk_file
    from indexer.embeddings import load_embedder
    from indexer.extract import extract_file
    from indexer.languages import language_for_path

    count = load_embedder("default").count_tokens
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    chunks: list[str] = []
    for path in sorted(files):
        source = (ROOT / path).read_bytes()
        language = language_for_path(path)
        if language is None:
            continue
        extract = extract_file(path, source, language)
        chunks += [c.text for c in chunk_file(path, source.decode("utf-8", "replace"), extract, 256, count)]
    step = max(1, len(chunks) // limit)
    return chunks[::step][:limit]


def encoders(n_texts: int, n_batch: int) -> int:
    os.environ.update(OFFLINE_ENV)
    import numpy

    from indexer.embeddings import DEFAULT_NAME, SentenceTransformerEmbedder, bundled_model_dir
    from indexer.onnx_encoder import META_FILE, OnnxEmbedder, graph_dir

    model_dir = bundled_model_dir()
    graph = graph_dir(model_dir)
    if not (graph / META_FILE).is_file():
        print(f"no ONNX graph at {graph}: run `assist index` once (it exports it)")
        return 1
    texts = code_chunks(max(n_texts, n_batch))
    print(f"{len(texts)} code chunks from {ROOT}; load {load()}")

    onnx = OnnxEmbedder(model_dir, DEFAULT_NAME, graph, threads=os.cpu_count() or 1)
    start = time.perf_counter()
    import onnxruntime  # noqa: F401  (timed with the session: both are what a query pays)
    onnx.load()
    onnx_load = time.perf_counter() - start
    torch_e = SentenceTransformerEmbedder(model_dir, DEFAULT_NAME)
    start = time.perf_counter()
    torch_e.load()
    torch_load = time.perf_counter() - start
    print(f"load: onnx {onnx_load:.2f} s (import onnxruntime + session + probe check), "
          f"torch {torch_load:.2f} s (import torch + sentence-transformers + model)")

    sample = texts[:n_texts]
    a, b = onnx.embed(sample), torch_e.embed(sample)
    cos = numpy.sort((a * b).sum(axis=1))
    print(f"cosine onnx/torch on {len(sample)} chunks: min {cos[0]:.7f}  p1 {cos[len(cos) // 100]:.7f}  "
          f"median {numpy.median(cos):.7f}")

    queries = SAMPLE_QUERIES * 3
    for label, embedder in (("onnx", onnx), ("torch", torch_e)):
        lat = []
        for q in queries:
            start = time.perf_counter()
            embedder.embed([q])
            lat.append(time.perf_counter() - start)
        print(f"one query, {label}: median {statistics.median(lat) * 1000:.1f} ms (load {load()})")

    batch = texts[:n_batch]
    for _ in range(2):  # twice, interleaved: the second pair is the one to read on a drifting machine
        for label, embedder in (("onnx", onnx), ("torch", torch_e)):
            start = time.perf_counter()
            embedder.embed(batch)
            elapsed = time.perf_counter() - start
            print(f"batch {len(batch)} texts, {label}: {elapsed:.1f} s = {len(batch) / elapsed:.1f} chunks/s "
                  f"(load {load()})")

    agree = top10_agreement(onnx, torch_e)
    print(f"top-10 search on the sample project, {len(SAMPLE_QUERIES)} queries: {agree}")
    return 0


def top10_agreement(onnx, torch_e) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from support import make_sample_repo, run_assist

    from indexer.retrieval import Retriever

    with tempfile.TemporaryDirectory() as tmp:
        repo = make_sample_repo(Path(tmp) / "sample")
        done = run_assist("index", str(repo), env={**os.environ, **OFFLINE_ENV})
        if done.returncode != 0:
            return f"index failed: {done.stderr.strip()[-300:]}"
        results = {}
        for label, embedder in (("onnx", onnx), ("torch", torch_e)):
            with Retriever(repo) as retriever:
                retriever.reader.set_embedder(embedder)
                results[label] = [[((h.path, h.symbol), round(h.score, 4)) for h in retriever.search(q, top=10)]
                                  for q in SAMPLE_QUERIES]
    same_order = sum(
        [n for n, _ in x] == [n for n, _ in y] for x, y in zip(results["onnx"], results["torch"]))
    overlap = statistics.mean(
        len({n for n, _ in x} & {n for n, _ in y}) / max(1, len(x)) for x, y in zip(results["onnx"], results["torch"]))
    return f"identical ranked lists {same_order}/{len(SAMPLE_QUERIES)}, mean top-10 overlap {overlap:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("oneshot", help="wall time of one-shot `assist context` on an indexed repository")
    one.add_argument("repo", type=Path)
    one.add_argument("--runs", type=int, default=5)
    one.add_argument("--query", default=DEFAULT_QUERY)
    enc = sub.add_parser("encoders", help="ONNX against torch: cosine, load, latency, throughput, top-10")
    enc.add_argument("--texts", type=int, default=500)
    enc.add_argument("--batch-texts", type=int, default=512)
    args = parser.parse_args(argv)
    if args.command == "oneshot":
        return oneshot(args.repo.resolve(), args.runs, args.query)
    return encoders(args.texts, args.batch_texts)


if __name__ == "__main__":
    sys.exit(main())

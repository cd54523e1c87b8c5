"""Embedding throughput through an OpenAI-compatible server (issue 14): assist's ``openai:`` embedder with 1, 2
and 4 requests in flight against the raw server, measured in the same run on the same batches.

Usage:
  python bench/embed_server_bench.py [--repo CHECKOUT] [--chunks 192] [--batch 32] [--inflight 1 2 4]
                                     [--runs 3] [--modes assist pipeline-sized] [--parallel 4] [--threads 1]
                                     [--url URL] [--json FILE]

Texts: ``--chunks`` source chunks of ``--repo`` (default ``$ASSIST_BENCH_CORPUS/pytest``, see locations.py), cut
by the real chunker and sampled with a fixed seed: what an index run of that checkout sends to the server.

Server: llama.cpp's server (xllamacpp) serving the SmolLM2-135M test model with embeddings on
(tests/embedding_server.py; ``--parallel`` slots, ``--threads`` CPU threads), started here on loopback and
stopped at the end — or, with ``--url``, a server already running (e.g. on a GPU box; its base URL, and
``$ASSIST_EMBED_API_KEY`` if it wants a key).

Measured, per level of requests in flight (``--inflight``), alternating, ``--runs`` times each:
  - raw: the same batches of ``--batch`` texts posted with httpx from that many threads, nothing else;
  - assist: ``embed()`` of the whole sample (assist's batches are the same ones);
  - pipeline-sized: ``embed()`` called with ``2 × --batch`` texts at a time, as the index pipeline calls it
    (the embedder splits each call so every request slot is used: 4 in flight means 4 requests of 16).
Figures are chunks/s, medians of the runs; the 1-minute load average is recorded around each measurement. Prints
a markdown table and one JSON line. Run it niced on a shared machine (``nice -n 10``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "tests"), str(BENCH)]
for name, value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1"}.items():
    os.environ.setdefault(name, value)

import httpx  # noqa: E402
import locations  # noqa: E402

from indexer.chunks import estimate_tokens  # noqa: E402
from indexer.config import IndexConfig  # noqa: E402
from indexer.embed_servers import openai_base_url  # noqa: E402
from indexer.embeddings import open_embedder  # noqa: E402

MODES = ("raw", "assist", "pipeline-sized")


def sample_chunks(repo: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` source chunks of ``repo``, cut by the indexer's own chunker (estimated tokens, as for a server)."""
    from indexer import files as discovery
    from indexer.graph import is_test_path
    from indexer.model import SkippedFile
    from indexer.prepare import prepare_file

    config = IndexConfig()
    texts: list[str] = []
    for cand in discovery.discover(repo, config).candidates:
        if is_test_path(cand.path) or not cand.path.endswith(".py"):
            continue
        parsed = prepare_file(cand, (repo / cand.path).read_bytes(), config, estimate_tokens)
        if not isinstance(parsed, SkippedFile):
            texts.extend(chunk.text for chunk in parsed.chunks)
    if len(texts) < count:
        raise SystemExit(f"{repo} has only {len(texts)} source chunks; ask for fewer with --chunks")
    return random.Random(seed).sample(texts, count)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def raw_rate(base_url: str, api_key: str, batches: list[list[str]], inflight: int) -> float:
    """chunks/s of plain httpx posts of ``batches``, ``inflight`` at a time: the server's own pace."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
        def post(batch: list[str]) -> int:
            reply = client.post("/embeddings", json={"model": "bench", "input": batch})
            reply.raise_for_status()
            return len(reply.json()["data"])

        started = time.perf_counter()
        with ThreadPoolExecutor(inflight) as pool:
            done = sum(pool.map(post, batches))
        return done / (time.perf_counter() - started)


def assist_rate(base_url: str, api_key: str, texts: list[str], batch: int, inflight: int, call_size: int) -> float:
    """chunks/s of assist's embedder, called with ``call_size`` texts at a time (one process-wide embedder, loaded)."""
    embedder = open_embedder(IndexConfig(embedding_model="openai:bench", embed_url=base_url, embed_api_key=api_key,
                                         embed_batch_size=batch, embed_concurrency=inflight, embed_timeout_s=600))
    try:
        embedder.load()
        started = time.perf_counter()
        for start in range(0, len(texts), call_size):
            embedder.embed(texts[start : start + call_size])
        return len(texts) / (time.perf_counter() - started)
    finally:
        embedder.close()


def measure(base_url: str, api_key: str, texts: list[str], batch: int, levels: list[int], runs: int,
            modes: tuple[str, ...] = MODES) -> dict:
    batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    rates: dict[str, dict[int, list[float]]] = {mode: {k: [] for k in levels} for mode in modes}
    loads = [load_average()]
    raw_rate(base_url, api_key, batches[:1], 1)  # warm the server (first requests allocate its buffers)
    for run in range(runs):
        for k in levels:
            # Alternate which goes first, so a load swing does not always favour the same one.
            order = modes if run % 2 == 0 else tuple(reversed(modes))
            for mode in order:
                if mode == "raw":
                    rate = raw_rate(base_url, api_key, batches, k)
                else:
                    call_size = len(texts) if mode == "assist" else 2 * batch
                    rate = assist_rate(base_url, api_key, texts, batch, k, call_size)
                rates[mode][k].append(rate)
                loads.append(load_average())
                print(f"  run {run + 1} in flight {k} {mode:>14}: {rate:6.1f} chunks/s (load {loads[-1]})",
                      file=sys.stderr, flush=True)
    return {
        "median_chunks_per_s": {mode: {k: round(statistics.median(v), 2) for k, v in by_k.items()}
                                for mode, by_k in rates.items()},
        "all_chunks_per_s": {mode: {k: [round(x, 2) for x in v] for k, v in by_k.items()}
                             for mode, by_k in rates.items()},
        "load_min": min(loads), "load_max": max(loads),
    }


def table(result: dict, levels: list[int]) -> str:
    medians = result["median_chunks_per_s"]
    others = [mode for mode in medians if mode != "raw"]
    lines = ["| requests in flight | raw server | " + " | ".join(f"{mode} | ratio" for mode in others) + " |",
             "|---" * (2 + 2 * len(others)) + "|"]
    for k in levels:
        raw = medians["raw"][k]
        cells = [f"{medians[mode][k]:.2f} | {medians[mode][k] / raw:.2f}" for mode in others]
        lines.append(f"| {k} | {raw:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=locations.corpus() / "pytest", help="checkout to take chunks from")
    parser.add_argument("--chunks", type=int, default=192)
    parser.add_argument("--batch", type=int, default=32, help="texts per request (embed_batch_size)")
    parser.add_argument("--inflight", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=MODES[1:], default=list(MODES[1:]),
                        help="what to compare with the raw server (always measured)")
    parser.add_argument("--parallel", type=int, default=4, help="server slots (started server only)")
    # One thread: on a busy 2-core machine two ran several times slower (llama.cpp's threads wait on each other).
    parser.add_argument("--threads", type=int, default=1, help="server CPU threads (started server only)")
    parser.add_argument("--url", default="", help="a running server's base URL instead of starting one")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    texts = sample_chunks(args.repo.resolve(), args.chunks)
    api_key = os.environ.get("ASSIST_EMBED_API_KEY", "")
    server = None
    if args.url:
        base_url = openai_base_url(args.url)
    else:
        from embedding_server import start_embedding_server
        from model_server import ensure_test_model

        log = Path(tempfile.mkdtemp(prefix="embed-bench-")) / "server.log"
        server = start_embedding_server(ensure_test_model(), log, parallel=args.parallel, threads=args.threads)
        base_url = openai_base_url(server.url)
    try:
        result = measure(base_url, api_key, texts, args.batch, args.inflight, args.runs, ("raw", *args.modes))
    finally:
        if server is not None:
            server.stop()
    result.update({
        "repo": args.repo.name, "chunks": len(texts), "mean_estimated_tokens": round(
            statistics.mean(estimate_tokens(t) for t in texts), 1),
        "batch": args.batch, "runs": args.runs, "server": args.url and "external" or
        f"llama.cpp (xllamacpp), SmolLM2-135M Q4_1, {args.parallel} slots, {args.threads} threads",
        "cpus": os.cpu_count(),
    })
    print(table(result, args.inflight))
    print(f"\n{result['chunks']} chunks of {result['repo']} (mean {result['mean_estimated_tokens']} estimated tokens), "
          f"batches of {args.batch}, {args.runs} runs, medians; {result['server']}; "
          f"load average {result['load_min']}–{result['load_max']}")
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

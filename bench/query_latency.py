"""Warm query latency of the retriever on an indexed repository: what a user waits for per question.

Usage:  python bench/query_latency.py REPO [--rounds 3] [--queries FILE]

REPO is an indexed checkout of a real project outside this tree (``assist index REPO`` first). The model
is loaded and the walk built before timing starts (``Retriever.warm``); every timed call is
``search(query, top=10)`` — the ten best symbols, each explained — with the query embedded afresh
(nothing caches query vectors). Queries: one per line of FILE, or by default a mix of long issue reports
and their one-line titles from the SWE-bench dev tasks. Prints p50/p95/max with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from swebench_tasks import DEFAULT_TASKS, load_tasks  # noqa: E402


def default_queries(tasks_file: Path) -> list[str]:
    """Every task's issue text, and its title alone: long reports and short questions."""
    queries = []
    for task in load_tasks(tasks_file):
        queries.append(task.problem_statement)
        title = task.problem_statement.strip().splitlines()[0].strip()
        if title:
            queries.append(title)
    return queries


def percentile(sorted_values: list[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="an indexed checkout")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the queries")
    parser.add_argument("--queries", type=Path, help="one query per line (default: SWE-bench dev issues and titles)")
    parser.add_argument("--tasks", type=Path, default=DEFAULT_TASKS, help="tasks file for the default queries")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    from indexer.retrieval import Retriever
    from indexer.status import index_status

    if args.queries:
        queries = [q for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    else:
        queries = default_queries(args.tasks)
    status = index_status(args.repo, check_stale=False)
    retriever = Retriever(args.repo)
    started = time.perf_counter()
    retriever.warm()
    warm_s = time.perf_counter() - started
    load_before = os.getloadavg()
    times: list[float] = []
    for _ in range(args.rounds):
        for query in queries:
            mark = time.perf_counter()
            retriever.search(query, top=10)
            times.append(time.perf_counter() - mark)
    load_after = os.getloadavg()
    retriever.close()
    times.sort()
    result = {
        "repo": str(args.repo), "files": status.files_indexed, "lines": status.lines, "chunks": status.chunks,
        "queries": len(queries), "timed": len(times), "warm_up_s": round(warm_s, 2),
        "p50_ms": round(statistics.median(times) * 1000, 1), "p95_ms": round(percentile(times, 0.95) * 1000, 1),
        "max_ms": round(times[-1] * 1000, 1), "node": platform.node(), "cpus": os.cpu_count(),
        "load_1min": [round(load_before[0], 2), round(load_after[0], 2)],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.repo}: {status.files_indexed} files, {status.lines} lines, {status.chunks} chunks; "
              f"{len(times)} queries timed ({len(queries)} x {args.rounds}), warm-up {warm_s:.1f}s")
        print(f"search(top=10), query embedded each time: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
              f"max {result['max_ms']} ms")
        print(f"{platform.node()}, {os.cpu_count()} cores, load average (1 min) {load_before[0]:.1f} before, "
              f"{load_after[0]:.1f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The tuning set of issue 17: fix commits mined from fourteen Python repositories nobody tuned on, split by
whole repository into a tuning part (two thirds) and a held-aside part (one third) that no tuning may look at.

Usage:  python bench/generalization_set.py [--per-repo 16] [--since 2019-01-01] [--until 2025-07-01]

Needs each repository's bare mirror under ``$ASSIST_BENCH_MIRRORS`` (``owner+name/repo``, what `fetch` makes);
makes one working clone per repository under ``$ASSIST_BENCH_CORPUS/gen/`` and writes ``tune.jsonl`` and
``held.jsonl`` there (the SWE-bench JSONL ``localize_bench.py --tasks`` reads). The split is fixed before
anything is measured: repositories ordered by the SHA-256 of their name, every third one held aside.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import locations
from mine_tasks import mine
from swebench_tasks import ensure_clone

REPOSITORIES = (
    "pallets/click", "pallets/jinja", "pallets/werkzeug", "encode/httpx", "psf/black", "python-attrs/attrs",
    "Textualize/rich", "aio-libs/aiohttp", "tornadoweb/tornado", "networkx/networkx", "PyCQA/isort",
    "httpie/cli", "scrapy/scrapy", "marshmallow-code/webargs",
)


def split(repositories: tuple[str, ...] = REPOSITORIES) -> tuple[list[str], list[str]]:
    """(tuning, held aside): a fixed, content-blind order, so nobody chooses which repositories are easy."""
    ordered = sorted(repositories, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
    held = ordered[2::3]
    return [name for name in ordered if name not in held], held


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-repo", type=int, default=16, help="tasks per repository (default 16)")
    parser.add_argument("--since", default="2019-01-01")
    parser.add_argument("--until", default="2025-07-01")
    parser.add_argument("--out", type=Path, default=locations.corpus() / "gen",
                        help="clones and the two JSONL files (default: $ASSIST_BENCH_CORPUS/gen)")
    parser.add_argument("--mirrors", type=Path, default=locations.mirrors())
    args = parser.parse_args(argv)

    tuning, held = split()
    args.out.mkdir(parents=True, exist_ok=True)
    for part, names in (("tune", tuning), ("held", held)):
        lines = []
        for repo in names:
            clone = ensure_clone(repo, args.out, args.mirrors)
            if clone is None:
                print(f"{repo}: no mirror under {args.mirrors}; fetch it first", file=sys.stderr)
                continue
            tasks = mine(clone, repo, args.since, args.until, args.per_repo, ref="origin/HEAD")
            issues = sum(task["closes_issue"] for task in tasks)
            bare = sum(task["bare_title"] for task in tasks)
            print(f"{part:4} {repo:28} {len(tasks):3} tasks, {issues} close an issue, {bare} bare titles",
                  file=sys.stderr)
            lines.extend(json.dumps(task) for task in tasks)
        (args.out / f"{part}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"{part}: {len(lines)} tasks -> {args.out / f'{part}.jsonl'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

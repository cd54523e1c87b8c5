"""Localization benchmark: does the retriever find the code a real bug fix changed, from the issue text alone?

For every SWE-bench task: check its base commit out (one working clone per repository, so the index and
its embedding cache carry from task to task), index it, derive the gold files and functions from the
fixing patch, and ask the retriever with the problem statement only. Reports file Hit@k / Acc@k / MRR,
function Acc@k / Hit@k, whether the gold functions fit wholly in packed context at 4k/8k/16k tokens,
and query latency with the model warm; then the same for single signals (ablations).

    python bench/localize_bench.py --json results.json   # data and clones: bench/locations.py
    python bench/localize_bench.py --only pydicom__pydicom-1256 --signals all,bm25
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import swebench_tasks as tasks_mod  # noqa: E402
from swebench_tasks import GoldLabels, Task  # noqa: E402

from indexer.model import as_written  # noqa: E402

FILE_KS = (1, 5, 10)
FUNCTION_KS = (5, 10)
CONTEXT_BUDGETS = (4000, 8000, 16000)
FILE_DEPTH = 50  # files asked for, so a miss still says how far down the gold file was
SHOWN_SYMBOLS = 10

# Each ablation is (constructor switch use_vectors, RetrievalConfig changes). Single signals switch the
# others off entirely: names mentioned in the query and stack-trace frames are signals too.
_STRUCTURE_OFF = {"weight_graph": 0.0, "weight_mention": 0.0, "weight_trace": 0.0, "weight_code_mention": 0.0,
                  "weight_literal": 0.0, "weight_in_file": 0.0, "weight_scope": 0.0}
SIGNAL_SETS: dict[str, tuple[bool, dict[str, float]]] = {
    "all": (True, {}),
    "bm25": (False, _STRUCTURE_OFF),
    "vector": (True, {"weight_bm25": 0.0, **_STRUCTURE_OFF}),
    "nograph": (True, {"weight_graph": 0.0}),
    "novector": (False, {}),
    "nomention": (True, {"weight_mention": 0.0}),
}


# ------------------------------------------------------------------------------------- evaluation


@dataclass
class SignalResult:
    file_ranks: dict[str, int | None]  # gold file -> 1-based rank, None when not in the top FILE_DEPTH
    function_ranks: dict[str, int | None]  # gold symbol -> 1-based rank among ranked symbols
    top_files: list[str]
    top_symbols: list[str]
    context: dict[int, bool | None]  # budget -> gold functions wholly packed (None: no gold function)
    context_tokens: dict[int, int]
    latency_s: float
    timings: dict[str, float] = field(default_factory=dict)


def _first_rank(ranks: dict[str, int | None]) -> int | None:
    found = [r for r in ranks.values() if r is not None]
    return min(found) if found else None


def _all_rank(ranks: dict[str, int | None]) -> int | None:
    """The rank by which every gold item has appeared; None when one never does."""
    if not ranks or any(r is None for r in ranks.values()):
        return None
    return max(ranks.values())


def covered(pack_items, path: str, start: int, end: int) -> bool:
    """Whether the pack shows every line ``start..end`` of ``path``."""
    shown = set()
    for item in pack_items:
        if item.path == path and item.part != "outline":
            for first, last in item.segments:
                shown.update(range(first, last + 1))
    return all(line in shown for line in range(start, end + 1))


def evaluate(retriever, query: str, labels: GoldLabels, forget=lambda: None,
             budgets: tuple[int, ...] = CONTEXT_BUDGETS, timed: bool = True) -> SignalResult:
    """Ask the open ``retriever`` as the benchmark does and score the answers against ``labels``. ``timed``
    first times what a user waits for (latency 0 without it: a tuning sweep needs only the ranks)."""
    latency = 0.0
    if timed:
        forget()
        started = time.perf_counter()
        retriever.search(query, top=10)  # what a user waits for: the ten best symbols, explained
        latency = time.perf_counter() - started

    ranking = retriever.rank(query)
    symbols = [node.node for node in ranking.nodes if node.symbol is not None]
    symbol_rank = {as_written(name): i + 1 for i, name in reversed(list(enumerate(symbols)))}  # as labels name them
    files = [hit.path for hit in retriever.search(query, top=FILE_DEPTH, kind="file")]
    file_rank = {path: i + 1 for i, path in reversed(list(enumerate(files)))}

    context: dict[int, bool | None] = {}
    context_tokens: dict[int, int] = {}
    for budget in CONTEXT_BUDGETS:
        if budget not in budgets:
            context[budget] = None
            continue
        pack = retriever.pack(ranking, budget_tokens=budget)  # what context(query) packs, without ranking again
        context_tokens[budget] = pack.total_tokens
        if not labels.functions:
            context[budget] = None
            continue
        context[budget] = all(
            covered(pack.items, name.split("::", 1)[0], start, end)
            for name in labels.functions for start, end in labels.spans[name])
    return SignalResult(
        file_ranks={f: file_rank.get(f) for f in labels.files},
        function_ranks={f: symbol_rank.get(f) for f in labels.functions},
        top_files=files[:5], top_symbols=symbols[:SHOWN_SYMBOLS], context=context,
        context_tokens=context_tokens, latency_s=latency,
        timings={k: round(v, 4) for k, v in ranking.timings.items()},
    )


def evaluate_setting(retriever, query: str, labels: GoldLabels, use_vectors: bool, changes: dict,
                     forget=lambda: None, budgets: tuple[int, ...] = CONTEXT_BUDGETS,
                     timed: bool = True) -> SignalResult:
    """One task under one setting, in process: the open ``retriever`` switched to ``use_vectors`` and to the
    default RetrievalConfig with ``changes``, then ``evaluate``. The index stays loaded, so a sweep over
    settings (``--variant``, bench/fit_fusion.py) pays only for re-ranking."""
    from indexer.retrieval import RetrievalConfig

    retriever.use_vectors = use_vectors
    retriever.set_config(RetrievalConfig().with_changes(**changes))
    return evaluate(retriever, query, labels, forget, budgets, timed)


def summarize(results: list[SignalResult]) -> dict[str, float | int | None]:
    """Shares over tasks (0..1); function and context figures over tasks that have gold functions."""
    n = len(results)
    if n == 0:
        return {"n": 0}
    out: dict[str, float | int | None] = {"n": n}
    firsts = [_first_rank(r.file_ranks) for r in results]
    alls = [_all_rank(r.file_ranks) for r in results]
    for k in FILE_KS:
        out[f"file_hit@{k}"] = sum(1 for r in firsts if r is not None and r <= k) / n
        out[f"file_acc@{k}"] = sum(1 for r in alls if r is not None and r <= k) / n
    out["file_mrr"] = sum(1 / r for r in firsts if r is not None) / n
    with_functions = [r for r in results if r.function_ranks]
    out["n_functions"] = len(with_functions)
    for k in FUNCTION_KS:
        if with_functions:
            out[f"func_acc@{k}"] = sum(
                1 for r in with_functions if (a := _all_rank(r.function_ranks)) is not None and a <= k
            ) / len(with_functions)
            out[f"func_hit@{k}"] = sum(
                1 for r in with_functions if (a := _first_rank(r.function_ranks)) is not None and a <= k
            ) / len(with_functions)
        else:
            out[f"func_acc@{k}"] = out[f"func_hit@{k}"] = None
    for budget in CONTEXT_BUDGETS:
        flags = [r.context[budget] for r in with_functions if r.context[budget] is not None]
        out[f"ctx@{budget // 1000}k"] = sum(1 for f in flags if f) / len(flags) if flags else None
    latencies = sorted(r.latency_s for r in results)
    out["latency_p50_ms"] = statistics.median(latencies) * 1000
    out["latency_p95_ms"] = _percentile(latencies, 0.95) * 1000
    return out


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


# ------------------------------------------------------------------------------------------ running


@dataclass
class TaskRun:
    task: Task
    skipped: str | None = None
    labels: GoldLabels | None = None
    index: dict = field(default_factory=dict)
    signals: dict[str, SignalResult] = field(default_factory=dict)

    def to_json(self) -> dict:
        data: dict = {"instance_id": self.task.instance_id, "repo": self.task.repo,
                      "base_commit": self.task.base_commit}
        if self.skipped:
            data["skipped"] = self.skipped
            return data
        data["gold"] = {"files": self.labels.files, "functions": self.labels.functions,
                        "spans": self.labels.spans,
                        "module_level_hunks": self.labels.module_level_hunks,
                        "test_files": self.labels.test_files, "created_files": self.labels.created_files,
                        "test_symbols": self.labels.test_symbols}
        data["index"] = self.index
        data["signals"] = {name: {
            "file_ranks": r.file_ranks, "function_ranks": r.function_ranks, "top_files": r.top_files,
            "top_symbols": r.top_symbols, "context": {str(b): v for b, v in r.context.items()},
            "context_tokens": {str(b): v for b, v in r.context_tokens.items()},
            "latency_ms": round(r.latency_s * 1000, 1), "timings": r.timings,
        } for name, r in self.signals.items()}
        return data


def _commit_time(checkout: Path, commit: str) -> int:
    out = subprocess.run(["git", "-C", str(checkout), "show", "-s", "--format=%ct", commit],
                         capture_output=True, text=True, check=False).stdout.strip()
    return int(out) if out.isdigit() else 0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def index_checkout(checkout: Path, config=None) -> dict:
    """Index ``checkout`` (incrementally: unchanged files are kept) and say what it took."""
    from indexer.pipeline import index_repository

    started = time.perf_counter()
    report = index_repository(checkout, config)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "stage_seconds": {k: round(v, 2) for k, v in report.seconds.items()},
        "files_indexed": report.files_indexed, "files_changed": report.files_changed,
        "files_skipped": report.files_skipped, "chunks": report.chunks,
        "chunks_embedded": report.chunks_embedded, "lines": report.lines, "vectors": report.vectors,
    }


class _QueryMemo:
    """The real embedder, remembering the vectors of single queries: every figure of a task asks the
    ranker the same question several times, and on 2 busy cores one embedding takes up to a second.
    ``forget`` before a timed query keeps the latency honest."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self._vectors: dict[str, object] = {}

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)

    def embed(self, texts):
        if len(texts) != 1:
            return self._embedder.embed(texts)
        if texts[0] not in self._vectors:
            self._vectors[texts[0]] = self._embedder.embed(texts)
        return self._vectors[texts[0]]

    def forget(self) -> None:
        self._vectors.clear()


class Embedders:
    """One loaded embedding model shared by every Retriever this run opens: loading it is seconds."""

    def __init__(self) -> None:
        self.memo: _QueryMemo | None = None

    def attach(self, retriever) -> None:
        if self.memo is None:
            embedder = retriever.reader.embedder
            if embedder is None:
                return
            self.memo = _QueryMemo(embedder)
        retriever.reader.set_embedder(self.memo)

    def forget(self) -> None:
        if self.memo is not None:
            self.memo.forget()


def run_repository(repo: str, repo_tasks: list[Task], args, signal_names: list[str],
                   embedders: Embedders) -> list[TaskRun]:
    from indexer.graph import load_graph
    from indexer.retrieval import Retriever
    from indexer.state_dir import StateDir

    checkout = tasks_mod.ensure_clone(repo, args.repos_dir, args.mirrors)
    if checkout is None:
        _log(f"{repo}: no mirror under {args.mirrors}, {len(repo_tasks)} task(s) skipped")
        return [TaskRun(t, skipped="repository not available (no mirror)") for t in repo_tasks]
    repo_tasks = sorted(repo_tasks, key=lambda t: _commit_time(checkout, t.base_commit))
    runs = []
    for task in repo_tasks:
        run = TaskRun(task)
        missing = tasks_mod.checkout_base(checkout, task.base_commit)
        tasks_mod.write_assistignore(checkout)
        run.index = index_checkout(checkout, args.index_config)
        run.index["missing_blobs"] = missing
        _log(f"{task.instance_id}: indexed in {run.index['seconds']:.1f}s "
             f"({run.index['files_changed']} files changed, {run.index['chunks_embedded']} chunks embedded)")
        graph = load_graph(StateDir(checkout).graph)
        run.labels = tasks_mod.gold_labels(task.patch, graph, checkout)
        if not args.index_only:
            retriever = Retriever(checkout)
            try:
                embedders.attach(retriever)
                retriever.warm()
                for name in signal_names:
                    use_vectors, changes = SIGNAL_SETS[name]
                    run.signals[name] = evaluate_setting(
                        retriever, task.problem_statement, run.labels, use_vectors,
                        {**args.config_changes, **changes}, embedders.forget,
                        () if args.no_context else CONTEXT_BUDGETS)
            finally:
                retriever.close()
            _log("  " + _task_line(run, signal_names[0]))
        runs.append(run)
    return runs


# ------------------------------------------------------------------------------------------ report


def _fmt(value, percent: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value * 100:.0f}" if percent else f"{value:.2f}"


def _rank_text(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _task_line(run: TaskRun, signal: str) -> str:
    result = run.signals[signal]
    files = ", ".join(f"{p}@{_rank_text(r)}" for p, r in result.file_ranks.items())
    functions = ", ".join(f"{f.split('::', 1)[1]}@{_rank_text(r)}" for f, r in result.function_ranks.items())
    ctx = "".join("y" if result.context[b] else ("." if result.context[b] is False else "-")
                  for b in CONTEXT_BUDGETS)
    return f"{run.task.instance_id}: file {files}; functions {functions or '(module level)'}; ctx {ctx}"


COLUMNS = [("n", "n"), ("file_hit@1", "fH@1"), ("file_hit@5", "fH@5"), ("file_hit@10", "fH@10"),
           ("file_acc@1", "fA@1"), ("file_acc@5", "fA@5"), ("file_acc@10", "fA@10"), ("file_mrr", "MRR"),
           ("func_acc@5", "fnA@5"), ("func_acc@10", "fnA@10"), ("func_hit@5", "fnH@5"),
           ("func_hit@10", "fnH@10"), ("ctx@4k", "ctx4k"), ("ctx@8k", "ctx8k"), ("ctx@16k", "ctx16k"),
           ("latency_p50_ms", "p50ms"), ("latency_p95_ms", "p95ms")]


def summary_table(runs: list[TaskRun], signal_names: list[str]) -> tuple[str, dict]:
    done = [r for r in runs if not r.skipped]
    repos = sorted({r.task.repo for r in done})
    summaries: dict = {}
    header = f"{'signals':<10} {'scope':<28}" + "".join(f"{label:>7}" for _, label in COLUMNS)
    lines = [header, "-" * len(header)]
    for name in signal_names:
        scopes = [("overall", done)] + [(repo, [r for r in done if r.task.repo == repo]) for repo in repos]
        summaries[name] = {}
        for scope, scoped in scopes:
            summary = summarize([r.signals[name] for r in scoped if name in r.signals])
            summaries[name][scope] = summary
            if name != signal_names[0] and scope != "overall":
                continue  # ablations: overall only in the table; per repository in the JSON
            cells = []
            for key, _ in COLUMNS:
                value = summary.get(key)
                if key == "n" or key.startswith("latency"):
                    cells.append(f"{value:>7.0f}" if value is not None else f"{'-':>7}")
                elif key == "file_mrr":
                    cells.append(f"{_fmt(value, percent=False):>7}")
                else:
                    cells.append(f"{_fmt(value):>7}")
            lines.append(f"{name:<10} {scope.split('/')[-1]:<28}" + "".join(cells))
    return "\n".join(lines), summaries


def failures_text(runs: list[TaskRun], signal: str) -> str:
    lines = []
    for run in runs:
        if run.skipped or signal not in run.signals:
            continue
        result = run.signals[signal]
        file_ok = (_all_rank(result.file_ranks) or 99) <= 1
        functions_ok = not result.function_ranks or (_all_rank(result.function_ranks) or 99) <= 5
        if file_ok and functions_ok:
            continue
        lines.append(_task_line(run, signal))
        lines.append(f"    top files: {', '.join(result.top_files)}")
        lines.append(f"    top symbols: {', '.join(s.split('::', 1)[-1] for s in result.top_symbols[:6])}")
    return "\n".join(lines)


def index_table(runs: list[TaskRun]) -> str:
    lines = [f"{'repository':<30}{'tasks':>6}{'first s':>9}{'chunks':>8}{'later s (sum)':>15}{'embedded later':>16}"
             f"{'embed s (all)':>15}"]
    for repo in sorted({r.task.repo for r in runs if not r.skipped}):
        mine = [r for r in runs if r.task.repo == repo and not r.skipped]
        first, rest = mine[0].index, [r.index for r in mine[1:]]
        lines.append(f"{repo:<30}{len(mine):>6}{first['seconds']:>9.1f}{first['chunks_embedded']:>8}"
                     f"{sum(i['seconds'] for i in rest):>15.1f}{sum(i['chunks_embedded'] for i in rest):>16}"
                     f"{sum(r.index['stage_seconds'].get('embed', 0.0) for r in mine):>15.1f}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- main


def _parse_changes(items: list[str]) -> dict[str, float | int]:
    changes: dict[str, float | int] = {}
    for item in items:
        key, _, value = item.partition("=")
        value = value.strip()
        changes[key.strip()] = int(value) if value.lstrip("-").isdigit() else float(value)
    return changes


def index_config(items: list[str]):
    """An IndexConfig with ``NAME=VALUE`` changes: a list field takes comma-separated values (``embed=source,docs``),
    a number field a number. Indexing with other chunking or embedding settings than the clones were built with
    rebuilds or re-embeds: give such runs their own ``--repos-dir``."""
    import dataclasses

    from indexer.config import IndexConfig

    config = IndexConfig()
    fields = {f.name: f for f in dataclasses.fields(IndexConfig)}
    changes: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if key not in fields:
            raise SystemExit(f"--index-set: IndexConfig has no field {key!r}")
        current = getattr(config, key)
        if isinstance(current, list):
            changes[key] = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(current, bool):
            changes[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(current, (int, float)):
            changes[key] = type(current)(value)
        else:
            changes[key] = value
    return dataclasses.replace(config, **changes), changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=tasks_mod.DEFAULT_TASKS,
                        help="SWE-bench JSONL (default: $ASSIST_BENCH_DATA/swebench_lite_dev.jsonl)")
    parser.add_argument("--repos-dir", type=Path, default=tasks_mod.DEFAULT_REPOS_DIR,
                        help="where the working clones live, one per repository (default: $ASSIST_BENCH_CORPUS/swe)")
    parser.add_argument("--mirrors", type=Path, default=tasks_mod.DEFAULT_MIRRORS,
                        help="bare git mirrors, <mirrors>/<owner>+<name>/repo (default: $ASSIST_BENCH_MIRRORS)")
    parser.add_argument("--only", default="", help="comma-separated instance ids or repositories")
    parser.add_argument("--signals", default="all,bm25,vector,nograph",
                        help=f"comma-separated, of: {', '.join(SIGNAL_SETS)}")
    parser.add_argument("--set", dest="config_changes", action="append", default=[], metavar="NAME=VALUE",
                        help="RetrievalConfig change applied to every signal set (tuning)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:K=V,K=V",
                        help="an extra signal set with these RetrievalConfig changes (vectors on); "
                             "evaluated on the same checkout as the others, for tuning sweeps")
    parser.add_argument("--novector-variants", action="store_true",
                        help="run the --variant sets without vectors (as the novector set does)")
    parser.add_argument("--index-set", dest="index_changes", action="append", default=[], metavar="NAME=VALUE",
                        help="IndexConfig change for every index this run builds (embed=source,docs; "
                             "embed_max_tokens=128; chunk_max_tokens=128): what earns a vector, and how")
    parser.add_argument("--no-context", action="store_true", help="skip context packing (faster sweeps)")
    parser.add_argument("--index-only", action="store_true", help="check out and index every task, no queries")
    parser.add_argument("--json", type=Path, help="write every figure and per-task rank here")
    args = parser.parse_args(argv)
    args.config_changes = _parse_changes(args.config_changes)
    args.index_config, index_changes = index_config(args.index_changes)
    signal_names = [s.strip() for s in args.signals.split(",") if s.strip()]
    for spec in args.variant:
        name, _, changes = spec.partition(":")
        SIGNAL_SETS[name] = (not args.novector_variants, _parse_changes([c for c in changes.split(",") if c.strip()]))
        signal_names.append(name)
    unknown = [s for s in signal_names if s not in SIGNAL_SETS]
    if unknown:
        parser.error(f"unknown signal set(s): {', '.join(unknown)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    all_tasks = tasks_mod.load_tasks(args.tasks)
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    if wanted:
        all_tasks = [t for t in all_tasks if t.instance_id in wanted or t.repo in wanted]
    by_repo: dict[str, list[Task]] = {}
    for task in all_tasks:
        by_repo.setdefault(task.repo, []).append(task)

    embedders = Embedders()
    runs: list[TaskRun] = []
    started = time.perf_counter()
    load_at_start = os.getloadavg()[1]
    for repo, repo_tasks in by_repo.items():
        runs += run_repository(repo, repo_tasks, args, signal_names, embedders)

    load = os.getloadavg()[1]
    if index_changes:
        print(f"# index settings changed: {index_changes}")
    print(f"# localization benchmark: {len(runs)} tasks, {sum(1 for r in runs if not r.skipped)} run, "
          f"{time.perf_counter() - started:.0f}s, {platform.node()} ({os.cpu_count()} cores, "
          f"load average {load_at_start:.1f} at start, {load:.1f} at end: latency is wall time on a shared machine)")
    print("\n## indexing (seconds per repository: the first task's checkout is a cold index)")
    print(index_table(runs))
    for run in runs:
        if run.skipped:
            print(f"skipped {run.task.instance_id}: {run.skipped}")
    summaries: dict = {}
    if not args.index_only:
        table, summaries = summary_table(runs, signal_names)
        print("\n## localization (percent of tasks; function and ctx columns over tasks with gold functions)")
        print(table)
        print(f"\n## misses with signals={signal_names[0]} (file not first, or a gold function not in the top 5)")
        print(failures_text(runs, signal_names[0]) or "(none)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": {"node": platform.node(), "cpus": os.cpu_count(),
                               "load_average_5min": [round(load_at_start, 2), round(load, 2)]},
                   "signals": signal_names, "config_changes": args.config_changes,
                   "index_changes": index_changes,
                   "summary": summaries, "tasks": [r.to_json() for r in runs]}
        args.json.write_text(json.dumps(payload, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Calibrated fusion (issue 17, item 2): fit a handful of ``RetrievalConfig`` weights on the mined tuning set.

    python bench/fit_fusion.py                      # tune.jsonl and clones under $ASSIST_BENCH_CORPUS/gen
    python bench/fit_fusion.py --passes 1 --json fit.json

Each task gets a checkout of its own under ``--cache`` (a clone sharing the working clone's objects, at the task's
base commit), indexed once with vectors off; a second run only confirms the indexes are current. All of them stay
open while the fit runs, so trying a setting costs re-ranking only: per task one ranking, the file ranking and the
8k pack, through ``localize_bench.evaluate_setting`` (the benchmark's own scoring).

The fit is coordinate ascent over ``FIELDS`` (a fixed order, a fixed grid each, the current default among the
values). For each field in turn every value of its grid is tried with the other fields held; the best replaces
the current value only if it scores strictly more, so a tie keeps the current value and the fit leaves a default
only for a gain. A pass goes through every field; the fit stops after ``--passes`` passes or after a pass that
changed nothing. The objective, counted in tasks so that it is an exact integer:

    tasks with every gold file in the top 5  +  tasks with every gold function in the top 10
    +  tasks with every gold function whole inside the 8k pack

Tasks of the held-aside repositories (``generalization_set.split``) are refused: the fit never sees them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locations  # noqa: E402
import localize_bench as bench  # noqa: E402
import swebench_tasks as tasks_mod  # noqa: E402
from generalization_set import split  # noqa: E402
from swebench_tasks import GoldLabels, Task  # noqa: E402

from indexer.retrieval import RetrievalConfig  # noqa: E402

GEN = locations.corpus() / "gen"
FIT_BUDGET = 8000

# The fields that decide how the signals are fused, in the order they are fitted, each with its grid. Left out:
# the vector weights (the fit runs without vectors), the trace and code-block weights (no mined query has a
# traceback or a code block, so nothing could move them), the walk's edge weights (each change rebuilds the walk
# matrix of every index) and packing limits (not fusion).
FIELDS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("weight_mention", (1.0, 1.5, 2.5, 3.5, 5.0)),      # a name the query spells out, against BM25's best hit (1.0)
    ("weak_mention_factor", (0.0, 0.15, 0.3, 0.5)),  # a capitalized plain word that happens to name a class
    ("weight_graph", (0.2, 0.4, 0.6, 0.8, 1.0, 1.3)),   # what the walk spreads from the seeds
    ("rrf_k", (4.0, 8.0, 16.0, 32.0)),             # how fast BM25's (and the literal search's) ranks lose weight
    ("test_penalty", (0.15, 0.2, 0.3, 0.4)),       # test code below source unless the query is about tests
    ("weight_literal", (1.5, 3.0, 5.0)),           # a quoted message found as a string literal
    ("weight_in_file", (0.0, 0.25, 0.5, 0.75)),    # a best file's functions re-ranked against the query
    ("file_rollup_extra", (0.0, 0.15, 0.3, 0.5)),  # a file's score: its best item plus this of its next two
    ("ppr_restart", (0.2, 0.35, 0.5, 0.65)),             # how close to its seeds the walk stays
)


class FitError(Exception):
    """A fit that cannot start (a held-aside task, a missing clone, a grid without its default): one line."""


# ------------------------------------------------------------------------------------------ the tasks


@dataclass
class Case:
    """One task with its own indexed checkout and its retriever, open for the whole fit."""

    task: Task
    root: Path
    labels: GoldLabels
    retriever: object


def refuse_held(tasks: list[Task]) -> None:
    held = set(split()[1])
    seen = sorted({t.repo for t in tasks} & held)
    if seen:
        raise FitError(f"{', '.join(seen)} is held aside (bench/generalization_set.py): the fit may not look at it")


def snapshot(task: Task, repos_dir: Path, mirrors: Path, cache: Path, index_config) -> Path:
    """The task's own checkout under ``cache``, at its base commit and indexed (incrementally: a no-op once built)."""
    target = cache / task.instance_id
    if not (target / ".git").exists():
        source = tasks_mod.ensure_clone(task.repo, repos_dir, mirrors)
        if source is None:
            raise FitError(f"{task.repo}: no working clone under {repos_dir} and no mirror under {mirrors}")
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--quiet", "--shared", "--no-checkout", str(source), str(target)], check=True)
    tasks_mod.checkout_base(target, task.base_commit)
    tasks_mod.write_assistignore(target)
    bench.index_checkout(target, index_config)
    return target


def open_cases(tasks: list[Task], repos_dir: Path, mirrors: Path, cache: Path, embedders: bench.Embedders,
               log: Callable[[str], None]) -> list[Case]:
    from indexer.graph import load_graph
    from indexer.retrieval import Retriever
    from indexer.state_dir import StateDir

    index_config, _ = bench.index_config(["vectors=off"])
    cases = []
    for number, task in enumerate(tasks, 1):
        started = time.perf_counter()
        root = snapshot(task, repos_dir, mirrors, cache, index_config)
        labels = tasks_mod.gold_labels(task.patch, load_graph(StateDir(root).graph), root)
        retriever = Retriever(root, use_vectors=False)
        embedders.attach(retriever)  # one tokenizer for every pack, as the benchmark counts
        retriever.warm()
        cases.append(Case(task, root, labels, retriever))
        log(f"  [{number}/{len(tasks)}] {task.instance_id} ready in {time.perf_counter() - started:.1f}s")
    return cases


# ------------------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class Score:
    objective: int
    summary: dict  # localize_bench.summarize over the tasks


def objective(summary: dict) -> int:
    """File Acc@5 + function Acc@10 + ctx@8k, in tasks."""
    with_functions = summary.get("n_functions") or 0
    return (round(summary["file_acc@5"] * summary["n"]) + round((summary.get("func_acc@10") or 0) * with_functions)
            + round((summary.get("ctx@8k") or 0) * with_functions))


class Scorer:
    """Scores a setting (``RetrievalConfig`` changes) on the open cases, each distinct setting once."""

    def __init__(self, cases: list[Case], budgets: tuple[int, ...] = (FIT_BUDGET,)) -> None:
        self.cases = cases
        self.budgets = budgets
        self.memo: dict[tuple, Score] = {}
        self.seconds = 0.0

    def __call__(self, setting: dict) -> Score:
        key = tuple(sorted(setting.items()))
        if key not in self.memo:
            started = time.perf_counter()
            results = [bench.evaluate_setting(case.retriever, case.task.problem_statement, case.labels, False,
                                              setting, budgets=self.budgets, timed=False) for case in self.cases]
            summary = bench.summarize(results)
            self.memo[key] = Score(objective(summary), summary)
            self.seconds += time.perf_counter() - started
        return self.memo[key]

    def close(self) -> None:
        for case in self.cases:
            case.retriever.close()


# ------------------------------------------------------------------------------------------ the fit


@dataclass
class Step:
    pass_number: int
    name: str
    tried: list[tuple[float, int]]  # (value, objective)
    chosen: float


@dataclass
class Fit:
    start: dict
    setting: dict
    start_score: Score
    score: Score
    steps: list[Step] = field(default_factory=list)
    pass_scores: list[Score] = field(default_factory=list)

    def changes(self) -> dict:
        """The fitted values that differ from the ``RetrievalConfig`` defaults."""
        defaults = RetrievalConfig()
        return {name: value for name, value in self.setting.items() if getattr(defaults, name) != value}


def _preferred(value: float, current: float, default: float) -> tuple:
    """Order among values that score the same: the current one, then the default, then the smallest step."""
    return (value != current, value != default, abs(value - current))


def coordinate_ascent(score: Callable[[dict], Score], start: dict, grid: tuple[tuple[str, tuple[float, ...]], ...],
                      passes: int, log: Callable[[str], None] = lambda line: None) -> Fit:
    defaults = RetrievalConfig()
    current = dict(start)
    best = score(current)
    fit = Fit(dict(start), current, best, best)
    log(f"start: objective {best.objective}  {figures_text(best.summary)}")
    for pass_number in range(1, passes + 1):
        moved = False
        for name, values in grid:
            tried = [(value, score({**current, name: value}).objective) for value in values]
            top = max(objective for _, objective in tried)
            if top > best.objective:
                chosen = min((v for v, o in tried if o == top),
                             key=lambda v: _preferred(v, current[name], getattr(defaults, name)))
                current[name] = chosen
                best = score(current)
                moved = True
            fit.steps.append(Step(pass_number, name, tried, current[name]))
            log(f"pass {pass_number}  {name:<20} " + "  ".join(
                f"{'[' if v == current[name] else ''}{v:g}:{o}{']' if v == current[name] else ''}" for v, o in tried))
        fit.pass_scores.append(best)
        log(f"pass {pass_number} done: objective {best.objective}  {figures_text(best.summary)}")
        if not moved:
            break
    fit.setting, fit.score = current, best
    return fit


# ------------------------------------------------------------------------------------------ output


FIGURES = (("file_acc@1", "fA@1"), ("file_acc@5", "fA@5"), ("file_acc@10", "fA@10"), ("func_acc@5", "fnA@5"),
           ("func_acc@10", "fnA@10"), ("ctx@8k", "ctx8k"))


def figures_text(summary: dict) -> str:
    return "  ".join(f"{label} {summary[key] * 100:.1f}" if summary.get(key) is not None else f"{label} -"
                     for key, label in FIGURES)


def fit_json(fit: Fit, grid, seconds: dict, load: list[float]) -> dict:
    return {"fields": [{"name": n, "grid": list(v)} for n, v in grid], "start": fit.start, "fitted": fit.setting,
            "changes_from_defaults": fit.changes(),
            "start_objective": fit.start_score.objective, "objective": fit.score.objective,
            "start_summary": fit.start_score.summary, "summary": fit.score.summary,
            "passes": [{"objective": s.objective, "summary": s.summary} for s in fit.pass_scores],
            "steps": [{"pass": s.pass_number, "field": s.name, "tried": s.tried, "chosen": s.chosen}
                      for s in fit.steps],
            "seconds": seconds, "load_average_5min": load}


def _parse_start(items: list[str], grid) -> dict:
    known = {name for name, _ in grid}
    start = {name: getattr(RetrievalConfig(), name) for name, _ in grid}
    for item in items:
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in known:
            raise FitError(f"--start {item}: {name!r} is not one of the fitted fields ({', '.join(sorted(known))})")
        try:
            start[name] = float(value)
        except ValueError:
            raise FitError(f"--start {item}: {value!r} is not a number") from None
    return start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=GEN / "tune.jsonl", help="tuning tasks (default: gen/tune.jsonl)")
    parser.add_argument("--repos-dir", type=Path, default=GEN, help="working clones, one per repository")
    parser.add_argument("--mirrors", type=Path, default=tasks_mod.DEFAULT_MIRRORS, help="bare mirrors, for a clone not made yet")
    parser.add_argument("--cache", type=Path, default=GEN / "fit", help="one indexed checkout per task (default: gen/fit)")
    parser.add_argument("--passes", type=int, default=3, help="most passes over the fields (default 3)")
    parser.add_argument("--fields", default="", help="comma-separated subset of the fitted fields, in their order")
    parser.add_argument("--start", action="append", default=[], metavar="NAME=VALUE",
                        help="start a fitted field here instead of at its default")
    parser.add_argument("--json", type=Path, help="write the path, the figures and the fitted setting here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        wanted = [w.strip() for w in args.fields.split(",") if w.strip()]
        grid = tuple((n, v) for n, v in FIELDS if not wanted or n in wanted)
        unknown = set(wanted) - {n for n, _ in FIELDS}
        if unknown:
            raise FitError(f"--fields: not fitted here: {', '.join(sorted(unknown))}")
        for name, values in grid:
            if getattr(RetrievalConfig(), name) not in values:
                raise FitError(f"the grid of {name} lacks its default {getattr(RetrievalConfig(), name)}")
        start = _parse_start(args.start, grid)
        if not args.tasks.is_file():
            raise FitError(f"no task file at {args.tasks}")
        try:
            tasks = tasks_mod.load_tasks(args.tasks)
        except (ValueError, KeyError) as exc:  # not JSON lines, or a row without a task's fields
            raise FitError(f"{args.tasks}: not a task file ({type(exc).__name__}: {exc})") from None
        refuse_held(tasks)
        fit, seconds, load = run_fit(tasks, args, grid, start)
    except (FitError, OSError, subprocess.CalledProcessError, RuntimeError) as exc:
        print(f"fit_fusion: {exc}", file=sys.stderr)
        return 2
    print(f"\nfitted on {len(tasks)} tasks ({args.tasks}): objective {fit.start_score.objective} -> "
          f"{fit.score.objective}; {seconds['prepare']:.0f}s preparing, {seconds['fit']:.0f}s fitting, "
          f"load average {load[0]:.1f} at start, {load[1]:.1f} at end")
    print(f"before: {figures_text(fit.start_score.summary)}")
    print(f"after:  {figures_text(fit.score.summary)}")
    changes = fit.changes()
    print("changes from the defaults: " + (" ".join(f"--set {n}={v:g}" for n, v in changes.items()) or "none"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(fit_json(fit, grid, seconds, load), indent=1))
        print(f"wrote {args.json}")
    return 0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_fit(tasks: list[Task], args, grid, start: dict) -> tuple[Fit, dict, list[float]]:
    load_at_start = os.getloadavg()[1]
    started = time.perf_counter()
    _log(f"preparing {len(tasks)} task checkouts under {args.cache}")
    cases = open_cases(tasks, args.repos_dir, args.mirrors, args.cache, bench.Embedders(), _log)
    prepared = time.perf_counter()
    scorer = Scorer(cases)
    try:
        fit = coordinate_ascent(scorer, start, grid, args.passes, lambda line: print(line, flush=True))
    finally:
        scorer.close()
    seconds = {"prepare": round(prepared - started, 1), "fit": round(time.perf_counter() - prepared, 1),
               "settings_scored": len(scorer.memo)}
    return fit, seconds, [round(load_at_start, 2), round(os.getloadavg()[1], 2)]


if __name__ == "__main__":
    raise SystemExit(main())

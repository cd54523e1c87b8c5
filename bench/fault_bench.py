"""Fault localization of `assist fix` on injected bugs in real projects: no language model involved.

For each project (an unpacked PyPI sdist with its own test suite, kept outside this tree) the benchmark
copies the project into a work folder, indexes it once with the real pipeline, and records which of its
functions the test suite calls. Then, mutant by mutant (bench/mutants.py, deterministic seed): write the
one-line bug, run the test suite with `assistant.fix.testrun.run_tests` (exactly as `assist fix` does),
keep the mutant only if a test now fails, refresh the index (the pipeline re-reads the one changed file),
`localize()` the parsed failures, score where the mutated function landed, and restore the file.

Figures: Hit@1 / Hit@5 (the mutated function's rank among the suspects: non-test symbols, best first),
MRR, in-pack@4k / @8k (the mutated line shown in a packed code item, not just an outline, at a 4,000 /
8,000-token budget), and the cost: tokens of the context, seconds to run the tests, re-index and
localize. The per-mutant records (the diff line, failures, roles, rank) go to --json.

    nice -n 19 python bench/fault_bench.py --per-project 18 --json out.json   # corpus: $ASSIST_BENCH_CORPUS/fault
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import locations  # noqa: E402
from mutants import Mutant, choose, is_valid, mutation_sites  # noqa: E402


@dataclass(frozen=True)
class Project:
    name: str
    folder: str  # under the corpus directory (the unpacked sdist)
    sources: tuple[str, ...]  # folders whose non-test .py files may be mutated
    tests: tuple[str, ...]  # what pytest runs
    python_path: str = "."  # where the package imports from, relative to the project


PROJECTS = {
    "toolz": Project("toolz", "toolz-0.12.1", ("toolz",), ("toolz/tests",)),
    "more-itertools": Project("more-itertools", "more-itertools-10.2.0", ("more_itertools",), ("tests",)),
    "boltons": Project("boltons", "boltons-24.0.0", ("boltons",), ("tests",)),
    "attrs": Project("attrs", "attrs-23.2.0", ("src/attr", "src/attrs"), ("tests",), "src"),
}
DEFAULT_PROJECTS = ("toolz", "more-itertools", "boltons")


@dataclass
class Record:
    project: str
    mutant: str
    operator: str
    path: str
    line: int
    target: str | None  # the graph node of the mutated function
    killed: bool
    timed_out: bool = False
    failures: int = 0
    first_failure: str = ""
    exc_types: list[str] = field(default_factory=list)
    rank: int | None = None
    in_pack_4k: bool = False
    in_pack_8k: bool = False
    tokens_4k: int = 0
    tokens_8k: int = 0
    excerpt_bytes: int = 0
    seconds_tests: float = 0.0
    seconds_index: float = 0.0
    seconds_localize: float = 0.0
    roles: dict = field(default_factory=dict)
    top5: list[str] = field(default_factory=list)
    test_paths: list[str] = field(default_factory=list)
    note: str = ""


# ------------------------------------------------------------------------------------------- setup


def restore_pristine(source: Path, root: Path) -> list[str]:
    """Make every file of the copy at ``root`` byte-equal to the sdist's again; returns what it put back. A run
    killed by a signal (SIGTERM, SIGKILL) never reaches the ``finally`` that undoes its mutant, and every later
    run would otherwise inject its mutants into, and score against, code that already holds one."""
    restored = []
    for original in sorted(source.rglob("*.py")):
        rel = original.relative_to(source)
        if any(part == "__pycache__" or part.endswith(".egg-info") for part in rel.parts):
            continue
        copy = root / rel
        data = original.read_bytes()
        if not copy.is_file() or copy.read_bytes() != data:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
            restored.append(rel.as_posix())
    return restored


def prepare(project: Project, corpus: Path, work: Path, log) -> Path:
    """A private copy of the project (the sdist stays pristine) with an index."""
    from indexer.pipeline import index_repository

    source = corpus / project.folder
    if not source.is_dir():
        raise SystemExit(f"{source} is missing: unpack the sdist there (see bench/README.md)")
    root = work / project.name
    if not root.exists():
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.egg-info"))
    restored = restore_pristine(source, root)
    if restored:
        log(f"{project.name}: put back {len(restored)} file(s) a killed run left mutated: {', '.join(restored)}")
    started = time.perf_counter()
    report = index_repository(root)
    log(f"{project.name}: indexed {report.files_indexed} files, {report.chunks} chunks "
        f"({report.chunks_embedded} embedded) in {time.perf_counter() - started:.0f}s")
    return root


def profile_suite(project: Project, root: Path, log) -> tuple[dict[tuple[str, int], list[str]], set[str], float]:
    """One profiled run of the whole suite: (path, first line) of every project function it calls → the
    test files that call it; the tests failing before any mutation; the run's seconds. Cached."""
    from assistant.fix.failures import parse_failures

    cache = root / ".assist" / "fault-bench-profile.json"
    if not cache.exists():
        callers_file = root / ".assist" / "fault-bench-callers.json"
        env = {**os.environ, "PYTHONPATH": _python_path(project, root, extra=str(BENCH)),
               "FAULT_PROFILE_ROOT": str(root), "FAULT_PROFILE_OUT": str(callers_file)}
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-rfE", "--color=no", "-p", "fault_profile",
                               "-p", "no:cacheprovider", *project.tests],
                              cwd=root, env=env, capture_output=True, text=True, timeout=3600)
        seconds = time.perf_counter() - started
        baseline = sorted({f.test_id for f in parse_failures(done.stdout + done.stderr, root)})
        cache.write_text(json.dumps({"callers": json.loads(callers_file.read_text()), "baseline": baseline,
                                     "seconds": seconds, "tail": done.stdout[-300:]}))
    data = json.loads(cache.read_text())
    callers = {(p, n): files for p, n, files in data["callers"]}
    log(f"{project.name}: the suite calls {len(callers)} project functions; "
        f"{len(data['baseline'])} tests fail before any mutation (ignored); profiled run {data['seconds']:.0f}s")
    return callers, set(data["baseline"]), data["seconds"]


def _python_path(project: Project, root: Path, extra: str | None = None) -> str:
    parts = [str((root / project.python_path).resolve())]
    if extra:
        parts.append(extra)
    return os.pathsep.join(parts)


def candidate_mutants(project: Project, root: Path, called: dict, rng: random.Random) -> list[Mutant]:
    from indexer.graph import is_test_path

    mutants: list[Mutant] = []
    for folder in project.sources:
        for file in sorted((root / folder).rglob("*.py")):
            relative = file.relative_to(root).as_posix()
            if is_test_path(relative):
                continue
            for mutant in mutation_sites(relative, file.read_text(encoding="utf-8"), validate=False):
                if (relative, mutant.function_first_line) in called:
                    mutants.append(mutant)
    # One mutant per function: the benchmark measures functions found, not one function's many lines.
    ordered = choose(mutants, rng)
    seen: set[tuple[str, tuple[str, ...]]] = set()
    unique = []
    sources: dict[str, tuple[str, str]] = {}
    for mutant in ordered:
        key = (mutant.path, mutant.function)
        if key in seen:
            continue
        if mutant.path not in sources:
            text = (root / mutant.path).read_text(encoding="utf-8")
            sources[mutant.path] = (text, ast.dump(ast.parse(text)))
        if is_valid(mutant, *sources[mutant.path]):
            seen.add(key)
            unique.append(mutant)
    return unique


def target_node(graph, mutant: Mutant) -> str | None:
    """The graph node of the mutated function: the outermost function or method around the site (a
    nested function counts as the function that defines it, as in localize_bench's gold labels)."""
    names = list(mutant.function)
    for end in range(1, len(names) + 1):
        node = f"{mutant.path}::{'.'.join(names[:end])}"
        if node in graph and graph.nodes[node].get("kind") in ("function", "method"):
            return node
    return None


# --------------------------------------------------------------------------------------- one mutant


def cached_run(root: Path, mutant: Mutant, test_paths: list[str], timeout_s: float, fresh: bool,
               cached_only: bool = False):
    """The mutant's test run; kept on disk (output, exit, duration) so that re-scoring a changed
    localizer does not re-run every suite. --fresh runs them all again."""
    from assistant.fix.testrun import TestRun, make_excerpt, run_tests

    key = hashlib.sha1(json.dumps([mutant.describe(), test_paths]).encode()).hexdigest()[:16]
    cache = root / ".assist" / "fault-bench-runs" / f"{key}.json"
    if cache.exists() and not fresh:
        data = json.loads(cache.read_text())
        return TestRun(command=data["command"], exit_code=data["exit_code"], timed_out=data["timed_out"],
                       duration_s=data["duration_s"], log_path=Path(data["log_path"]), output=data["output"],
                       excerpt=make_excerpt(data["output"]), runner="pytest")
    if cached_only:
        return None
    run = run_tests(root, test_paths=test_paths, timeout_s=timeout_s, log_dir=root / ".assist" / "fix" / "logs")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"command": run.command, "exit_code": run.exit_code, "timed_out": run.timed_out,
                                 "duration_s": run.duration_s, "log_path": str(run.log_path), "output": run.output}))
    return run


def run_mutant(project: Project, root: Path, mutant: Mutant, retriever, timeout_s: float, baseline: set[str],
               test_paths: list[str], fresh: bool = False, cached_only: bool = False) -> Record | None:
    from assistant.fix.failures import parse_failures
    from assistant.fix.localize import localize
    from indexer.pipeline import index_repository

    file = root / mutant.path
    original = file.read_bytes()
    record = Record(project.name, mutant.describe(), mutant.operator, mutant.path, mutant.line, None, False)
    try:
        file.write_text(mutant.apply(original.decode("utf-8")), encoding="utf-8")
        record.test_paths = test_paths
        run = cached_run(root, mutant, test_paths, timeout_s, fresh, cached_only)
        if run is None:
            return None
        record.seconds_tests = round(run.duration_s, 2)
        record.timed_out = run.timed_out
        failures = [f for f in parse_failures(run.output, root) if f.test_id not in baseline]
        record.killed = not run.green and (bool(failures) or run.timed_out)
        if not record.killed:
            return record
        record.failures = len(failures)
        record.excerpt_bytes = len(run.excerpt.encode("utf-8"))
        if not failures:
            record.note = "timed out with no parsed failure" if run.timed_out else "no failure parsed"
            return record
        record.first_failure = failures[0].signature[:200]
        record.exc_types = sorted({f.exc_type or "?" for f in failures})
        started = time.perf_counter()
        index_repository(root)
        record.seconds_index = round(time.perf_counter() - started, 2)
        retriever.reader.refresh()
        record.target = target_node(retriever.graph, mutant)
        started = time.perf_counter()
        found = localize(retriever, failures, 8000, ran=test_paths)
        record.seconds_localize = round(time.perf_counter() - started, 3)
        small = localize(retriever, failures, 4000, ran=test_paths)
        record.tokens_8k, record.tokens_4k = found.tokens, small.tokens
        record.roles = {k: v[:5] for k, v in found.nodes.items()}
        record.top5 = found.suspects[:5]
        if record.target in found.suspects:
            record.rank = found.suspects.index(record.target) + 1
        record.in_pack_8k = _shows_line(found.pack, mutant)
        record.in_pack_4k = _shows_line(small.pack, mutant)
        return record
    finally:
        file.write_bytes(original)


def _shows_line(pack, mutant: Mutant) -> bool:
    """The mutated line is inside a packed code item (an outline line does not count)."""
    for item in pack.items:
        if item.path != mutant.path or item.kind == "outline":
            continue
        if any(start <= mutant.line <= end for start, end in item.segments):
            return True
    return False


# ------------------------------------------------------------------------------------------ report


def summarize(records: list[Record]) -> dict:
    scored = [r for r in records if r.killed and r.failures]
    n = len(scored)

    def pct(count: int) -> float:
        return round(100.0 * count / n, 1) if n else 0.0

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3) if values else 0.0

    return {
        "mutants": n,
        "tried": len(records),
        "survived": sum(1 for r in records if not r.killed),
        "killed_unparsed": sum(1 for r in records if r.killed and not r.failures),
        "hit_at_1": pct(sum(1 for r in scored if r.rank == 1)),
        "hit_at_5": pct(sum(1 for r in scored if r.rank is not None and r.rank <= 5)),
        "mrr": round(sum(1.0 / r.rank for r in scored if r.rank) / n, 3) if n else 0.0,
        "in_pack_4k": pct(sum(1 for r in scored if r.in_pack_4k)),
        "in_pack_8k": pct(sum(1 for r in scored if r.in_pack_8k)),
        "median_tokens_4k": median([r.tokens_4k for r in scored]),
        "median_tokens_8k": median([r.tokens_8k for r in scored]),
        "median_excerpt_bytes": median([r.excerpt_bytes for r in scored]),
        "median_seconds_tests": median([r.seconds_tests for r in scored]),
        "median_seconds_index": median([r.seconds_index for r in scored]),
        "median_seconds_localize": median([r.seconds_localize for r in scored]),
    }


def print_table(by_project: dict[str, dict], overall: dict) -> None:
    columns = [("mutants", "n"), ("hit_at_1", "Hit@1%"), ("hit_at_5", "Hit@5%"), ("mrr", "MRR"),
               ("in_pack_4k", "pack@4k%"), ("in_pack_8k", "pack@8k%"), ("median_tokens_8k", "tok@8k"),
               ("median_seconds_tests", "tests s"), ("median_seconds_index", "index s"),
               ("median_seconds_localize", "localize s"), ("survived", "survived")]
    header = f"{'project':<16}" + "".join(f"{title:>11}" for _, title in columns)
    print(header)
    print("-" * len(header))
    for name, summary in [*by_project.items(), ("all", overall)]:
        print(f"{name:<16}" + "".join(f"{summary[key]:>11}" for key, _ in columns))


# -------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=locations.corpus() / "fault",
                        help="folder holding the unpacked sdists (default: $ASSIST_BENCH_CORPUS/fault, "
                             "bench/locations.py)")
    parser.add_argument("--work", type=Path, help="where project copies and indexes live (default: CORPUS/work)")
    parser.add_argument("--projects", default=",".join(DEFAULT_PROJECTS),
                        help=f"comma-separated, from: {', '.join(PROJECTS)}")
    parser.add_argument("--per-project", type=int, default=18, help="killed mutants wanted per project")
    parser.add_argument("--max-tries", type=int, default=0, help="mutants tried per project at most (default 3x)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=0, help="test-run timeout (default: 5x the clean run, >= 60s)")
    parser.add_argument("--fresh", action="store_true", help="run every mutant's tests again (default: reuse runs)")
    parser.add_argument("--cached-only", action="store_true",
                        help="score only mutants whose test run is already cached (re-scoring a changed localizer)")
    parser.add_argument("--json", type=Path, help="write the summary and every mutant's record here")
    args = parser.parse_args(argv)

    from indexer.retrieval import Retriever

    work = args.work or args.corpus / "work"
    work.mkdir(parents=True, exist_ok=True)
    records: list[Record] = []
    by_project: dict[str, dict] = {}
    load = os.getloadavg()
    print(f"# fault_bench seed={args.seed} load={load[0]:.2f},{load[1]:.2f} cpus={os.cpu_count()}", file=sys.stderr)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    for name in [p.strip() for p in args.projects.split(",") if p.strip()]:
        project = PROJECTS[name]
        root = prepare(project, args.corpus, work, log)
        os.environ["PYTHONPATH"] = _python_path(project, root)
        called, baseline, suite_seconds = profile_suite(project, root, log)
        timeout = args.timeout or max(120.0, 2 * suite_seconds)
        rng = random.Random(f"{args.seed}:{name}")
        candidates = candidate_mutants(project, root, called, rng)
        tries = args.max_tries or 3 * args.per_project
        log(f"{name}: {len(candidates)} candidate mutants (one per called function)")
        retriever = Retriever(root)
        killed = 0
        project_records: list[Record] = []
        for mutant in candidates[:tries]:
            if killed >= args.per_project:
                break
            test_paths = called[mutant.path, mutant.function_first_line]
            record = run_mutant(project, root, mutant, retriever, timeout, baseline, test_paths, args.fresh,
                                args.cached_only)
            if record is None:
                continue
            project_records.append(record)
            if record.killed and record.failures:
                killed += 1
                log(f"  [{killed}] rank={record.rank} pack4k={record.in_pack_4k} pack8k={record.in_pack_8k} "
                    f"fails={record.failures} {record.mutant}")
            else:
                log(f"  survived: {record.mutant}" if not record.killed else f"  {record.note}: {record.mutant}")
        retriever.close()
        from indexer.pipeline import index_repository

        index_repository(root)  # leave the index matching the restored files
        by_project[name] = summarize(project_records)
        records.extend(project_records)

    overall = summarize(records)
    print_table(by_project, overall)
    if args.json:
        args.json.write_text(json.dumps({
            "seed": args.seed, "load": load, "projects": by_project, "overall": overall,
            "records": [asdict(r) for r in records],
        }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

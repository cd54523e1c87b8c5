"""The multilingual tuning set of issue 15 (item 5): fix commits mined from three repositories per language (Go,
Rust, Java, JavaScript/TypeScript), each language split by whole repository into a tuning part and a held-aside
part that no tuning may look at, and the figures the issue asks for on both parts.

Usage:
    python bench/multilingual_set.py mine [--per-repo 16]      # clones + <language>.<part>.jsonl
    python bench/multilingual_set.py measure [--only go.tune]   # localize_bench + whole-file BM25 -> results/
    python bench/multilingual_set.py measure --vectors          # the same, indexed with vectors: signals `all`
    python bench/multilingual_set.py table [--signal all]       # the Markdown tables of bench/README.md
    python bench/multilingual_set.py throughput REPO ...        # parse + graph lines/s of assist index --vectors off

Needs each repository's bare mirror under ``$ASSIST_BENCH_MIRRORS`` (what `fetch` makes); clones, task files and
results live under ``$ASSIST_BENCH_CORPUS/lang/``. The split is fixed before anything is measured: per language,
the repositories in the SHA-256 order of their names, the third held aside (generalization_set.split).

``measure`` runs the generalization benchmark's entry point (``localize_bench.py``, vectors off: signal sets
``novector``, the structural retriever, and ``bm25``, plain BM25 over symbols) and beside it a whole-file BM25
baseline: every file the index would read at the task's base commit is one document, tokenized as our lexical
index tokenizes code, ranked for the commit message — a baseline that knows nothing about code structure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locations  # noqa: E402
import localize_bench  # noqa: E402
import swebench_tasks as tasks_mod  # noqa: E402
from generalization_set import split  # noqa: E402
from mine_tasks import mine  # noqa: E402

REPOSITORIES = {
    "go": ("gin-gonic/gin", "spf13/cobra", "urfave/cli"),
    "rust": ("clap-rs/clap", "rust-lang/regex", "serde-rs/json"),
    "java": ("apache/commons-lang", "google/guice", "square/javapoet"),
    "jsts": ("colinhacks/zod", "sindresorhus/got", "fastify/fastify"),
}
PARTS = ("tune", "held")
# The benchmark's .assistignore (swebench_tasks) leaves out *.js and *.rs, written for Python projects: these
# lines, added after it, take them back in. JSON, YAML, Markdown and the like stay out.
REINCLUDE = ("!*.js", "!*.rs")
FILE_DEPTH = localize_bench.FILE_DEPTH


def default_root() -> Path:
    return locations.corpus() / "lang"


def tasks_file(root: Path, language: str, part: str) -> Path:
    return root / f"{language}.{part}.jsonl"


def parts(language: str) -> dict[str, list[str]]:
    tuning, held = split(REPOSITORIES[language])
    return {"tune": tuning, "held": held}


# ------------------------------------------------------------------------------------------------ mine


def mine_all(root: Path, mirrors: Path, per_repo: int, since: str, until: str, max_commits: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for language in REPOSITORIES:
        for part, names in parts(language).items():
            lines = []
            for repo in names:
                clone = tasks_mod.ensure_clone(repo, root, mirrors)
                if clone is None:
                    print(f"{repo}: no mirror under {mirrors}; fetch it first", file=sys.stderr)
                    continue
                tasks = mine(clone, repo, since, until, per_repo, ref="origin/HEAD", language=language,
                             max_commits=max_commits)
                print(f"{language:4} {part:4} {repo:22} {len(tasks):3} tasks, "
                      f"{sum(t['closes_issue'] for t in tasks)} close an issue, "
                      f"{sum(t['bare_title'] for t in tasks)} bare titles", file=sys.stderr)
                lines.extend(json.dumps(task) for task in tasks)
            tasks_file(root, language, part).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


# --------------------------------------------------------------------------------------------- measure


def _index_config():
    from indexer.config import IndexConfig

    return IndexConfig(vectors="off", extra_ignore=list(REINCLUDE))


def indexed_texts(checkout: Path, config) -> dict[str, str]:
    """path -> text of every file the index reads at the current checkout (same discovery, same content rules)."""
    from indexer.files import classify_content, discover

    texts = {}
    for candidate in discover(checkout, config).candidates:
        try:
            data = (checkout / candidate.path).read_bytes()
        except OSError:
            continue
        text, skipped = classify_content(candidate.path, data, config)
        if skipped is None:
            texts[candidate.path] = text
    return texts


def whole_file_ranking(texts: dict[str, str], query: str, depth: int = FILE_DEPTH, stem: bool = False) -> list[str]:
    """Files best first for ``query`` by BM25 over whole files, with our lexical index's code tokenizer; words
    as written unless ``stem`` (the baseline of the tables is unstemmed, as it was before the index stemmed)."""
    from indexer.lexical import LexicalIndex, tokenize_code

    paths = sorted(texts)
    index = LexicalIndex.build(paths, [tokenize_code(texts[p], stem) for p in paths])
    return [path for path, _ in index.search(query, depth, stem)]


def file_bm25_run(task_path: Path, root: Path, mirrors: Path) -> list[dict]:
    """Per task: the gold files' ranks under whole-file BM25 at the task's base commit."""
    config = _index_config()
    rows = []
    for task in tasks_mod.load_tasks(task_path):
        checkout = tasks_mod.ensure_clone(task.repo, root, mirrors)
        if checkout is None:
            continue
        tasks_mod.checkout_base(checkout, task.base_commit)
        tasks_mod.write_assistignore(checkout)
        texts = indexed_texts(checkout, config)
        files = whole_file_ranking(texts, task.problem_statement)
        stemmed = whole_file_ranking(texts, task.problem_statement, stem=True)
        gold = [f.path for f in tasks_mod.parse_unified_diff(task.patch)  # as gold_labels: no test, no new file
                if not tasks_mod.is_test_path(f.path) and f.old_path is not None]
        rows.append({"instance_id": task.instance_id, "repo": task.repo, "file_ranks": _ranks(files, gold),
                     "file_ranks_stemmed": _ranks(stemmed, gold), "top_files": files[:5]})
    return rows


def _ranks(files: list[str], gold: list[str]) -> dict[str, int | None]:
    rank = {path: i + 1 for i, path in reversed(list(enumerate(files)))}
    return {path: rank.get(path) for path in gold}


def measure(root: Path, mirrors: Path, only: set[str], results: Path, vectors: bool = False) -> None:
    """``vectors``: index with the embedding model too (as a user's `assist index` does), in clones of their own
    under ROOT/vectors/ (the vector-less ones stay as they are), and score the signal set ``all`` beside the
    others; the whole-file baseline reads the same files either way."""
    results.mkdir(parents=True, exist_ok=True)
    signals, index_set, clones = "novector,bm25", ["--index-set", "vectors=off"], root
    if vectors:
        signals, index_set, clones = "all,novector,bm25", [], root / "vectors"
        clones.mkdir(exist_ok=True)
    for language in REPOSITORIES:
        for part in PARTS:
            name = f"{language}.{part}"
            if only and name not in only and language not in only:
                continue
            task_path = tasks_file(root, language, part)
            started = time.perf_counter()
            localize_bench.main(["--tasks", str(task_path), "--repos-dir", str(clones), "--mirrors", str(mirrors),
                                 "--signals", signals, "--no-context", *index_set,
                                 "--index-set", "extra_ignore=" + ",".join(REINCLUDE),
                                 "--json", str(results / f"{name}.assist.json")])
            rows = file_bm25_run(task_path, root, mirrors)
            (results / f"{name}.filebm25.json").write_text(json.dumps(
                {"load_average": os.getloadavg(), "tasks": rows}, indent=1))
            print(f"{name}: {len(rows)} tasks in {time.perf_counter() - started:.0f}s", file=sys.stderr)


# ----------------------------------------------------------------------------------------------- table


def _share(flags: list[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):.0f}" if flags else "-"


def _file_flags(file_ranks: list[dict], k: int) -> tuple[list[bool], list[bool]]:
    """(Hit@k, Acc@k) per task: some gold file in the top k, every gold file in the top k."""
    ranks = [[r for r in ranks.values()] for ranks in file_ranks]
    hit = [any(r is not None and r <= k for r in task) for task in ranks]
    acc = [bool(task) and all(r is not None and r <= k for r in task) for task in ranks]
    return hit, acc


def _same_gold(ranks: dict[str, int | None], run: dict) -> dict[str, int | None]:
    """The baseline's ranks of the files the assist run labels (a file whose change is all test code in it,
    Rust's ``mod tests``, is no label there, and the baseline reads only the patch)."""
    return {path: rank for path, rank in ranks.items() if path in run["gold"]["files"]}


def figures(results: Path, language: str, measured_parts: tuple[str, ...], signal: str = "novector") -> dict | None:
    """The issue's columns for one language over these parts, from the saved runs; None when one was not measured.
    ``signal``: the signal set scored as assist (``all`` where the runs were measured with vectors)."""
    runs, baseline = [], {}
    for part in measured_parts:
        assist_path = results / f"{language}.{part}.assist.json"
        bm25_path = results / f"{language}.{part}.filebm25.json"
        if not assist_path.exists() or not bm25_path.exists():
            return None
        runs += [t for t in json.loads(assist_path.read_text())["tasks"] if "signals" in t]
        baseline.update({row["instance_id"]: row for row in json.loads(bm25_path.read_text())["tasks"]})
    runs = [t for t in runs if t["instance_id"] in baseline]
    out = {"tasks": len(runs), "with_functions": sum(1 for t in runs if t["gold"]["functions"])}
    for label, ranks in (("assist", [t["signals"][signal]["file_ranks"] for t in runs]),
                         ("filebm25", [_same_gold(baseline[t["instance_id"]]["file_ranks"], t) for t in runs])):
        hit, acc = _file_flags(ranks, 5)
        out[f"{label}_fH5"], out[f"{label}_fA5"] = _share(hit), _share(acc)
    for label, scored in (("assist", signal), ("bm25", "bm25")):
        with_functions = [t["signals"][scored]["function_ranks"] for t in runs if t["gold"]["functions"]]
        out[f"{label}_fnH10"] = _share([any(r is not None and r <= 10 for r in ranks.values())
                                        for ranks in with_functions])
    return out


def table(results: Path, signal: str = "novector") -> str:
    lines = ["| language | part (repositories) | tasks (with fns) | file Hit@5 assist / whole-file BM25 "
             "| file Acc@5 assist / whole-file BM25 | fn Hit@10 assist / symbol BM25 | Acc@5 ≥ BM25+15 "
             "| fn Hit@10 ≥ 70 |",
             "|---|---|---|---|---|---|---|---|"]
    for language in REPOSITORIES:
        split_parts = parts(language)
        for part, names in [*split_parts.items(), ("both", split_parts["tune"] + split_parts["held"])]:
            short = ", ".join(name.split("/")[1] for name in names)
            f = figures(results, language, PARTS if part == "both" else (part,), signal)
            if f is None:
                lines.append(f"| {language} | {part} ({short}) | not measured | | | | | |")
                continue
            acc_met = f["assist_fA5"] != "-" and int(f["assist_fA5"]) >= int(f["filebm25_fA5"]) + 15
            fn_met = f["assist_fnH10"] != "-" and int(f["assist_fnH10"]) >= 70
            lines.append(f"| {language} | {part} ({short}) | {f['tasks']} ({f['with_functions']}) "
                         f"| {f['assist_fH5']} / {f['filebm25_fH5']} | {f['assist_fA5']} / {f['filebm25_fA5']} "
                         f"| {f['assist_fnH10']} / {f['bm25_fnH10']} | {'met' if acc_met else 'not met'} "
                         f"| {'met' if fn_met else 'not met'} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ throughput


def _lines_of(checkout: Path) -> int:
    listing = subprocess.run(["git", "-C", str(checkout), "ls-files", "-z"], capture_output=True, check=True).stdout
    from indexer.languages import language_for_path

    total = 0
    for path in listing.decode().split("\0"):
        if path and language_for_path(path):
            with open(checkout / path, "rb") as handle:
                total += handle.read().count(b"\n")
    return total


def throughput(checkouts: list[Path], runs: int) -> list[dict]:
    """Cold ``assist index --vectors off`` of each checkout, ``runs`` times in turn (one checkout after the other,
    so load changes hit them alike): parse and graph seconds from its JSON report, the load average beside."""
    import shutil

    # The CLI of the code beside this script (an installed `assist` may be another checkout's).
    assist = [sys.executable, "-c", "import sys; from assistant.cli import main; sys.exit(main())"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    samples: dict[Path, list[dict]] = {c: [] for c in checkouts}
    for _ in range(runs):
        for checkout in checkouts:
            shutil.rmtree(checkout / ".assist", ignore_errors=True)
            started = time.perf_counter()
            out = subprocess.run([*assist, "index", "--vectors", "off", "--json", str(checkout)],
                                 capture_output=True, text=True, check=True, env=env).stdout
            wall = time.perf_counter() - started
            report = json.loads(out)
            samples[checkout].append({"wall_s": wall, "parse_s": report["seconds"]["parse"],
                                      "graph_s": report["seconds"]["graph"], "lines": report["lines"],
                                      "files": report["files_indexed"],
                                      "loadavg": Path("/proc/loadavg").read_text().split()[:3]})
    rows = []
    for checkout, runs_of in samples.items():
        parse_graph = statistics.median(s["parse_s"] + s["graph_s"] for s in runs_of)
        lines = runs_of[0]["lines"]
        rows.append({"checkout": str(checkout), "source_lines": _lines_of(checkout), "indexed_lines": lines,
                     "files": runs_of[0]["files"], "median_parse_graph_s": parse_graph,
                     "median_wall_s": statistics.median(s["wall_s"] for s in runs_of),
                     "lines_per_s": lines / parse_graph if parse_graph else None, "runs": runs_of})
    return rows


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=default_root(),
                        help="clones, task files and results (default: $ASSIST_BENCH_CORPUS/lang)")
    parser.add_argument("--mirrors", type=Path, default=locations.mirrors())
    parser.add_argument("--results", type=Path, help="where the figures are written and read (default: ROOT/results)")
    commands = parser.add_subparsers(dest="command", required=True)
    mine_cmd = commands.add_parser("mine", help="mine the tasks of every language and part")
    mine_cmd.add_argument("--per-repo", type=int, default=16)
    mine_cmd.add_argument("--since", default="2018-01-01")
    mine_cmd.add_argument("--until", default="2099-12-31")
    mine_cmd.add_argument("--max-commits", type=int, default=3000, help="newest commits scanned per repository")
    measure_cmd = commands.add_parser("measure", help="run assist and whole-file BM25 on the mined tasks")
    measure_cmd.add_argument("--only", default="", help="comma-separated languages or language.part (go.tune)")
    measure_cmd.add_argument("--vectors", action="store_true",
                             help="index with vectors as well and score the signal set `all` (slow: embeds)")
    table_cmd = commands.add_parser("table", help="print the per-language table from the saved results")
    table_cmd.add_argument("--signal", default="novector", choices=("novector", "all"),
                           help="the signal set scored as assist (`all` for runs measured with --vectors)")
    speed = commands.add_parser("throughput", help="parse + graph lines/s of assist index --vectors off")
    speed.add_argument("checkouts", type=Path, nargs="+")
    speed.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    results = args.results or args.root / "results"

    if args.command == "mine":
        mine_all(args.root, args.mirrors, args.per_repo, args.since, args.until, args.max_commits)
    elif args.command == "measure":
        measure(args.root, args.mirrors, {w.strip() for w in args.only.split(",") if w.strip()}, results,
                args.vectors)
    elif args.command == "table":
        print(table(results, args.signal))
    else:
        rows = throughput(args.checkouts, args.runs)
        results.mkdir(parents=True, exist_ok=True)
        (results / "throughput.json").write_text(json.dumps(rows, indent=1))
        for row in rows:
            print(f"{row['checkout']}: {row['indexed_lines']} lines indexed ({row['source_lines']} parsed-language "
                  f"lines tracked), {row['files']} files, parse+graph {row['median_parse_graph_s']:.1f}s median, "
                  f"{row['lines_per_s']:.0f} lines/s; load {[r['loadavg'] for r in row['runs']]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

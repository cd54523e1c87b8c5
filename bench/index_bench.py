"""Indexing benchmarks: time to a usable index against aider's repo map (``tiers``), and throughput per
stage, incremental re-runs, memory and size (``stages``).

Usage:
  python bench/index_bench.py tiers [TARGET ...] [--runs 3] [--vector-runs 1] [--sample 256]
                                    [--aider PATH] [--query TEXT ...] [--scratch DIR] [--json FILE]
  python bench/index_bench.py stages REPO [--runs 5] [--sample 512] [--keep]
  (``python bench/index_bench.py REPO ...`` is ``stages``, as before.)

``tiers`` (issue 11), per TARGET — ``CHECKOUT`` or ``CHECKOUT:SUBDIR`` (a git checkout, and the folder of
it to index; default ``$ASSIST_BENCH_CORPUS/pytest`` and ``$ASSIST_BENCH_CORPUS/sqlfluff:src``, where
``$ASSIST_BENCH_CORPUS`` defaults to ``corpus/`` beside this project's checkout). Every cold run works on
a fresh ``git clone`` of the checkout at its current commit, made under the scratch folder, so no index
and no embedding cache exists (the installed ONNX export under ``~/.cache/assist`` is kept: it is part of
the installation). Measured, each through the real CLI in a fresh process:
  - ``assist index SUBDIR --vectors later --json`` cold: ``usable_after_s`` (structural tier committed)
    and the wall time; --runs fresh clones.
  - ``assist index SUBDIR --vectors now --json`` on the first --vector-runs of those clones: the vector
    tier's wall time, chunks embedded, seconds embedding, chunks/s; time to full vectors = both walls.
  - the raw encoders on a sample of the very texts the vector tier embeds (read from the index's pending
    table before it runs): ONNX Runtime (``embed`` of the bundled model, what the pipeline uses once the
    export is installed) and sentence-transformers' ``encode`` (torch), alternating, --runs each.
  - aider's cold ``--show-repo-map`` on the same tree (``--map-tokens 1024``, offline as in GUIDE §8:
    HOME is a scratch folder holding litellm's bundled price list, ``.aider.tags.cache.v4`` deleted before
    every run). For a SUBDIR, aider runs in that folder with ``--subtree-only``, so it maps the same files
    assist indexes. Needs --aider (or ``$AIDER``): the aider executable of its own virtualenv; without it
    the aider figures are skipped, with a line saying so.
  - one-shot ``assist context --budget 1024 QUERY`` with vectors and with ``--no-vectors``, alternating,
    fresh processes, on the clone whose vectors are complete; a no-op ``assist index``; ``assist --help``.
Figures are medians of --runs; the 1-minute load average is recorded before and after every run. Prints
a table (markdown) and one JSON line. Run it niced on a shared machine (``nice -n 10``).

``stages``: REPO is a checkout of a real project, outside this tree (its .assist/ is created there). A
cold run through the CLI (per-stage seconds, embedding chunks/s, peak memory, size on disk); rebuilds that
reuse the embedding cache (files/s and lines/s per stage); no-op and one-file-change re-runs in process
(model load excluded) and through the CLI; the raw encoders' chunks/s on a sample of REPO's chunks.

Environment: ``ASSIST_BENCH_CORPUS`` (default targets), ``AIDER`` (aider executable),
``ASSIST_BENCH_SCRATCH`` (scratch folder; default ``<temp dir>/assist-index-bench``), ``ASSIST_BENCH_CLI``
(the assist command line; default the ``assist`` script beside this Python, else ``python -m
assistant.cli``). Hugging Face, ONNX Runtime and Chroma are forced offline in every child process.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import locations  # noqa: E402
from indexer.state_dir import StateDir  # noqa: E402

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ORT_DISABLE_TELEMETRY": "1",
               "ANONYMIZED_TELEMETRY": "False"}
AIDER_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_ANALYTICS": "false", "AIDER_CHECK_UPDATE": "false",
             "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0", "COLUMNS": "400"}
AIDER_FLAGS = ["--show-repo-map", "--model", "ollama_chat/qwen2.5-coder:7b", "--map-tokens", "1024",
               "--no-check-update", "--no-show-model-warnings", "--no-analytics", "--no-auto-commits",
               "--no-dirty-commits", "--no-gitignore", "--no-show-release-notes", "--no-pretty",
               "--no-fancy-input", "--no-stream"]
QUERIES = {  # default one-shot query per checkout name; --query overrides, in target order
    "pytest": "how are fixtures torn down when a test fails during setup",
    "sqlfluff": "how does the linter apply fixes to the parse tree and write the fixed file",
}
GENERIC_QUERY = "where is the configuration read and validated"


# --------------------------------------------------------------------------------------------- helpers

def load1() -> float:
    return round(os.getloadavg()[0], 2)


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def assist_command() -> list[str]:
    if os.environ.get("ASSIST_BENCH_CLI"):
        return shlex.split(os.environ["ASSIST_BENCH_CLI"])
    script = Path(sys.executable).parent / "assist"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "assistant.cli"]


def run_timed(cmd: list[str], cwd: Path, env: dict | None = None, stdin=subprocess.DEVNULL) -> dict:
    """Run CMD; wall seconds, exit status, peak RSS of that child alone (wait4), stdout, stderr tail, load."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        before = load1()
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=stdin, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"wall_s": round(wall, 3), "rc": proc.returncode, "peak_rss_mib": round(usage.ru_maxrss / 1024),
                "stdout": out.read().decode("utf-8", "replace"),
                "stderr": err.read().decode("utf-8", "replace")[-2000:], "load": [before, load1()]}


def check(result: dict, what: str) -> dict:
    if result["rc"] != 0:
        raise SystemExit(f"{what}: exit {result['rc']}\n{result['stderr']}")
    return result


def series(results: list[dict], key: str = "wall_s") -> dict:
    """Median of a measurement over its runs, every run's value, and the load before the first / after the last."""
    values = [r[key] for r in results if r.get(key) is not None]
    return {"median": median(values), "runs": values,
            "load": [results[0]["load"][0], results[-1]["load"][1]] if results else None,
            "loads": [r["load"] for r in results]}


# ------------------------------------------------------------------------------------------ encoders

def encoder_rates(texts: list[str], runs: int) -> dict:
    """Chunks/s of the bundled model's raw encoders on TEXTS: ONNX Runtime (what indexing uses once the
    export is installed) and sentence-transformers' encode (torch), alternating so load drift hits both."""
    from indexer.embeddings import load_embedder

    onnx = load_embedder("default", backend="auto")
    torch = load_embedder("default", backend="torch")
    encoders = {"onnx": lambda: onnx.embed(texts),
                "torch": lambda: torch.model.encode(texts, batch_size=32, normalize_embeddings=True,
                                                    convert_to_numpy=True)}
    if getattr(onnx, "identity", "").endswith("/torch"):
        del encoders["onnx"]  # no ONNX export installed: the pipeline ran torch too
    onnx.embed(texts[:32])
    torch.model.encode(texts[:32], batch_size=32)  # warm-up (and torch's import, untimed)
    rates: dict[str, list[dict]] = {name: [] for name in encoders}
    for _ in range(runs):
        for name, encode in encoders.items():
            before = load1()
            started = time.perf_counter()
            encode()
            rates[name].append({"chunks_per_s": round(len(texts) / (time.perf_counter() - started), 2),
                                "load": [before, load1()]})
    tokens = [onnx.count_tokens(t) for t in texts]
    out = {"sample_chunks": len(texts), "mean_tokens": round(statistics.mean(tokens), 1),
           "onnx_identity": getattr(onnx, "identity", onnx.name)}
    for name, values in rates.items():
        out[name] = series(values, "chunks_per_s")
    return out


# ---------------------------------------------------------------------------------------------- tiers

def parse_target(spec: str) -> tuple[Path, str]:
    checkout, _, subdir = spec.partition(":")
    path = Path(checkout).expanduser().resolve()
    if not (path / ".git").exists():
        raise SystemExit(f"{spec}: {path} is not a git checkout")
    return path, subdir.strip("/")


def fresh_clone(checkout: Path, commit: str, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(checkout), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", commit], check=True)
    return dest


def pending_sample(tree: Path, size: int) -> tuple[list[str], dict]:
    """A random sample of the chunk texts waiting for the vector tier (exactly what it will embed); their count
    and mean length in characters, beside the sample's (is the sample like the whole?)."""
    db = sqlite3.connect(f"file:{StateDir(tree).index_db}?mode=ro", uri=True)
    try:
        texts = [row[0] for row in db.execute("SELECT text FROM pending WHERE text IS NOT NULL ORDER BY id")]
    finally:
        db.close()
    unique = list(dict.fromkeys(texts))
    sample = random.Random(3).sample(unique, min(size, len(unique)))
    return sample, {"texts": len(texts), "mean_chars": round(statistics.mean(map(len, texts))) if texts else 0,
                    "sample_mean_chars": round(statistics.mean(map(len, sample))) if sample else 0}


def aider_runner(aider: str | None, scratch: Path):
    """A function tree -> run result for aider's cold repo map, or None (with the reason) when aider is absent."""
    if not aider:
        return None, "no aider executable given (--aider PATH or $AIDER): aider column skipped"
    exe = shutil.which(aider) or aider
    if not os.access(exe, os.X_OK):
        return None, f"aider executable {aider!r} not found: aider column skipped"
    venvs = dict.fromkeys([Path(exe).absolute().parent.parent, Path(exe).resolve().parent.parent])
    prices = [hit for venv in venvs for hit in sorted(glob.glob(str(
        venv / "lib" / "python*" / "site-packages" / "litellm" / "model_prices_and_context_window_backup.json")))]
    if not prices:
        return None, f"litellm's price list not found in aider's virtualenv ({', '.join(map(str, venvs))}): aider column skipped"
    home = scratch / "aider-home"
    (home / ".aider" / "caches").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prices[0], home / ".aider" / "caches" / "model_prices_and_context_window.json")
    env = {**os.environ, **AIDER_ENV, "HOME": str(home)}

    def run(git_root: Path, subdir: str) -> dict:
        shutil.rmtree(git_root / ".aider.tags.cache.v4", ignore_errors=True)  # cold
        flags = AIDER_FLAGS + (["--subtree-only"] if subdir else [])
        result = run_timed([exe, *flags], cwd=git_root / subdir if subdir else git_root, env=env)
        if result["rc"] != 0 or "Repo-map:" not in result["stdout"]:
            raise SystemExit(f"aider failed (exit {result['rc']}):\n{result['stdout'][-1500:]}{result['stderr']}")
        return result

    return run, " ".join([exe, *AIDER_FLAGS])


def bench_target(spec: str, query: str, args, scratch: Path, aider, env: dict) -> dict:
    checkout, subdir = parse_target(spec)
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    name = checkout.name + (f"/{subdir}" if subdir else "")
    cli = assist_command()
    out: dict = {"target": name, "commit": commit[:9], "query": query}
    print(f"\n== {name} @ {commit[:9]}  (load {load1()})", flush=True)

    structural, vector_runs, sample, pending = [], [], None, None
    complete: Path | None = None
    for run in range(args.runs):
        clone = fresh_clone(checkout, commit, scratch / f"{checkout.name}-{run}")
        tree = clone / subdir if subdir else clone
        result = check(run_timed([*cli, "index", str(tree), "--vectors", "later", "--json"], scratch, env),
                       "assist index --vectors later")
        report = json.loads(result["stdout"])
        result["usable_after_s"] = report["usable_after_s"]
        result["report"] = {k: report[k] for k in ("files_indexed", "lines", "chunks", "symbols", "seconds", "vectors")}
        structural.append(result)
        print(f"  structural run {run + 1}: usable {report['usable_after_s']:.2f} s, wall {result['wall_s']:.2f} s, "
              f"load {result['load']}", flush=True)
        if sample is None and args.sample:
            sample, pending = pending_sample(tree, args.sample)
        if run < args.vector_runs:
            result = check(run_timed([*cli, "index", str(tree), "--vectors", "now", "--json"], scratch, env),
                           "assist index --vectors now")
            report = json.loads(result["stdout"])
            s = report["seconds"]
            result.update(chunks_embedded=report["chunks_embedded"], embed_s=s.get("embed"),
                          vectors_s=s.get("vectors"), model_load_s=s.get("model_load"), encoder=report.get("encoder"),
                          vectors=report.get("vectors"), notices=report.get("notices"),
                          embed_chunks_per_s=round(report["chunks_embedded"] / s["embed"], 2) if s.get("embed") else None,
                          to_full_vectors_s=round(structural[-1]["wall_s"] + result["wall_s"], 3))
            vector_runs.append(result)
            print(f"  vector tier run {run + 1}: wall {result['wall_s']:.1f} s, {result['chunks_embedded']} chunks "
                  f"embedded in {result['embed_s']} s ({result['embed_chunks_per_s']}/s), load {result['load']}",
                  flush=True)
            complete = tree
        if tree != complete and not args.keep_scratch:
            shutil.rmtree(clone, ignore_errors=True)
    first = structural[0]["report"]
    out.update(files=first["files_indexed"], lines=first["lines"], chunks=first["chunks"],
               pending_chunks=pending)
    out["usable_after_s"] = series(structural, "usable_after_s")
    out["structural_wall_s"] = series(structural)
    out["structural_stages_s"] = {k: median([r["report"]["seconds"].get(k, 0) for r in structural])
                                  for k in ("files", "parse", "store", "graph", "lexical")}
    if vector_runs:
        out["vector_tier"] = {
            "wall_s": series(vector_runs), "to_full_vectors_s": series(vector_runs, "to_full_vectors_s"),
            "embed_s": series(vector_runs, "embed_s"), "model_load_s": series(vector_runs, "model_load_s"),
            "chunks_embedded": vector_runs[0]["chunks_embedded"], "encoder": vector_runs[0]["encoder"],
            "embed_chunks_per_s": series(vector_runs, "embed_chunks_per_s"),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in vector_runs), "vectors": vector_runs[-1]["vectors"]}
    else:
        out["vector_tier"] = None

    if aider[0] is not None:
        clone = fresh_clone(checkout, commit, scratch / f"{checkout.name}-aider")
        runs = [aider[0](clone, subdir) for _ in range(args.runs)]
        files = [line for line in runs[0]["stdout"].splitlines() if line.startswith("Git repo:")]
        out["aider_cold_map_s"] = {**series(runs), "repo_line": files[0] if files else None,
                                   "subtree_only": bool(subdir)}
        print(f"  aider cold map: {out['aider_cold_map_s']['runs']} s", flush=True)
        shutil.rmtree(clone, ignore_errors=True)
    else:
        out["aider_cold_map_s"] = None

    # One-shot commands on the clone with complete vectors (else the last structural one: coverage as it is).
    tree = complete
    if tree is None:
        clone = fresh_clone(checkout, commit, scratch / f"{checkout.name}-oneshot")
        tree = clone / subdir if subdir else clone
        check(run_timed([*cli, "index", str(tree), "--vectors", "later", "--json"], scratch, env), "index")
    context = [*cli, "context", "--budget", "1024", query, "-C", str(tree)]
    with_vectors, without = [], []
    for _ in range(args.runs):
        with_vectors.append(check(run_timed(context, scratch, env), "assist context"))
        without.append(check(run_timed([*context, "--no-vectors"], scratch, env), "assist context --no-vectors"))
    out["oneshot_context_vectors_s"] = series(with_vectors)
    out["oneshot_context_vectors_s"]["notice"] = with_vectors[0]["stderr"].strip()[-300:] or None
    coverage = (vector_runs[-1]["vectors"] if complete is not None and vector_runs else structural[-1]["report"]["vectors"]) or {}
    out["oneshot_context_vectors_s"]["coverage_percent"] = coverage.get("coverage_percent")
    out["oneshot_context_no_vectors_s"] = series(without)
    # With no vector tier run, a plain re-index would embed everything: keep it structural.
    noop_cmd = [*cli, "index", str(tree), "--json"] + (["--vectors", "later"] if complete is None else [])
    noop = [check(run_timed(noop_cmd, scratch, env), "no-op index") for _ in range(args.runs)]
    out["noop_reindex_s"] = series(noop)
    out["noop_reindex_s"]["vectors"] = json.loads(noop[-1]["stdout"]).get("vectors")
    reports = [json.loads(r["stdout"]) for r in noop]
    out["noop_reindex_s"]["chunks_embedded"] = [r["chunks_embedded"] for r in reports]
    out["noop_reindex_s"]["seconds"] = [r["seconds"] for r in reports]
    out["noop_reindex_s"]["notices"] = [r.get("notices") for r in reports]
    print(f"  one-shot context: vectors {out['oneshot_context_vectors_s']['runs']} s, no vectors "
          f"{out['oneshot_context_no_vectors_s']['runs']} s; no-op index {out['noop_reindex_s']['runs']} s", flush=True)

    if sample:
        out["raw_encoders"] = encoder_rates(sample, args.runs)
        print(f"  raw encoders on {len(sample)} pending texts: " + ", ".join(
            f"{k} {out['raw_encoders'][k]['runs']}/s" for k in ("onnx", "torch") if k in out["raw_encoders"]), flush=True)
    if not args.keep_scratch:
        for path in scratch.glob(f"{checkout.name}-*"):
            shutil.rmtree(path, ignore_errors=True)
    return out


def cell(entry: dict | None, unit: str = "s", digits: int = 2) -> str:
    if not entry or entry.get("median") is None:
        return "—"
    load = entry.get("load")
    value = f"{entry['median']:.{digits}f}{' ' + unit if unit else ''}"
    extra = f" (n={len(entry['runs'])}" + (f", load {load[0]:.1f}→{load[1]:.1f})" if load else ")")
    return f"**{value}**{extra}"


def pipeline_vs_raw(vector_tier: dict, result: dict) -> str:
    raw = result.get("raw_encoders") or {}
    encoder = "torch" if (vector_tier.get("encoder") or "").endswith("/torch") else "onnx"
    if not vector_tier or encoder not in raw or not vector_tier["embed_chunks_per_s"]["median"]:
        return "—"
    return f"{vector_tier['embed_chunks_per_s']['median'] / raw[encoder]['median']:.2f} ({encoder})"


def tiers_table(results: list[dict], help_s: dict) -> str:
    rows: list[tuple[str, list[str], str]] = []

    def add(label: str, values: list[str], target: str = "") -> None:
        rows.append((label, values, target))

    add("commit", [r["commit"] for r in results])
    add("files / lines / chunks", [f"{r['files']:,} / {r['lines']:,} / {r['chunks']:,}" for r in results])
    add("cold `index --vectors later`: usable after", [cell(r["usable_after_s"]) for r in results], "≤ 10 s (pytest)")
    add("… its wall time", [cell(r["structural_wall_s"]) for r in results])
    add("aider cold `--show-repo-map` (1024 tokens)", [cell(r["aider_cold_map_s"]) for r in results])
    add("usable after ÷ aider cold map", [
        f"{r['usable_after_s']['median'] / r['aider_cold_map_s']['median']:.2f}×" if r["aider_cold_map_s"] else "—"
        for r in results], "≤ 2×")
    vt = [r["vector_tier"] or {} for r in results]
    add("vector tier: `index --vectors now` wall", [cell(v.get("wall_s"), digits=1) for v in vt], "≤ 200 s (pytest)")
    add("time to full vectors (both walls)", [cell(v.get("to_full_vectors_s"), digits=1) for v in vt])
    add("chunks embedded / embedding s / model load s", [
        f"{v['chunks_embedded']:,} / {v['embed_s']['median']:.1f} / {v['model_load_s']['median'] or 0:.2f}" if v else "—"
        for v in vt])
    add("pipeline chunks/s (chunks ÷ embedding s)", [cell(v.get("embed_chunks_per_s"), "", 1) for v in vt])
    for name, label in (("onnx", "raw ONNX encoder chunks/s, same texts"), ("torch", "raw torch `encode` chunks/s, same texts")):
        add(label, [cell((r.get("raw_encoders") or {}).get(name), "", 1) for r in results])
    add("raw sample: texts of pending; mean tokens; mean chars", [
        f"{r['raw_encoders']['sample_chunks']} of {r['pending_chunks']['texts']:,}; {r['raw_encoders']['mean_tokens']} tokens; "
        f"{r['pending_chunks']['sample_mean_chars']} chars (all: {r['pending_chunks']['mean_chars']})"
        if r.get("raw_encoders") else "—" for r in results])
    add("pipeline ÷ raw (same encoder)", [pipeline_vs_raw(v, r) for v, r in zip(vt, results)])
    add("one-shot `context --budget 1024`, vectors", [
        cell(r["oneshot_context_vectors_s"]) + ("" if r["oneshot_context_vectors_s"].get("coverage_percent") == 100 else
                                                f", vector coverage {r['oneshot_context_vectors_s'].get('coverage_percent')} %")
        for r in results], "≤ 1.5 s")
    add("one-shot `context --budget 1024 --no-vectors`", [cell(r["oneshot_context_no_vectors_s"]) for r in results])
    add("no-op `assist index`", [cell(r["noop_reindex_s"]) for r in results], "≤ 1 s")
    add("`assist --help`", [cell(help_s)] + [""] * (len(results) - 1), "≤ 0.3 s")
    head = "| what | " + " | ".join(r["target"] for r in results) + " | target |"
    lines = [head, "|---|" + "---|" * len(results) + "---|"]
    lines += [f"| {label} | " + " | ".join(values) + f" | {target} |" for label, values, target in rows]
    return "\n".join(lines)


def tiers(args) -> int:
    env = {**os.environ, **OFFLINE_ENV}
    scratch = Path(args.scratch or os.environ.get("ASSIST_BENCH_SCRATCH")
                   or Path(tempfile.gettempdir()) / "assist-index-bench").resolve()
    scratch.mkdir(parents=True, exist_ok=True)
    corpus = locations.corpus()
    targets = args.targets or [str(corpus / "pytest"), str(corpus / "sqlfluff") + ":src"]
    queries = list(args.query or [])
    aider = aider_runner(args.aider or os.environ.get("AIDER"), scratch)
    head = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(PROJECT), "status", "--porcelain", "--untracked-files=no", "--", "indexer", "assistant"],
                           capture_output=True, text=True).stdout.split("\n")
    dirty = [line[3:] for line in dirty if line.strip()]
    print(f"assist {head}{' + uncommitted changes in ' + ', '.join(dirty) if dirty else ''}; cli {' '.join(assist_command())}; "
          f"{os.cpu_count()} cores; nice {os.nice(0)}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"scratch {scratch}")
    print(aider[1] if aider[0] is None else f"aider: {aider[1]}  (cold: .aider.tags.cache.v4 deleted first)")
    results = []
    for i, spec in enumerate(targets):
        checkout = Path(spec.partition(":")[0]).name
        query = queries[i] if i < len(queries) else QUERIES.get(checkout, GENERIC_QUERY)
        results.append(bench_target(spec, query, args, scratch, aider, env))
    help_runs = [check(run_timed([*assist_command(), "--help"], scratch, env), "assist --help") for _ in range(args.runs)]
    help_s = series(help_runs)
    print()
    print(tiers_table(results, help_s))
    summary = {"assist_commit": head, "assist_uncommitted": dirty, "cores": os.cpu_count(), "nice": os.nice(0),
               "runs": args.runs, "vector_runs": args.vector_runs, "aider": None if aider[0] is None else aider[1],
               "help_s": help_s, "targets": results, "load_end": list(os.getloadavg())}
    line = json.dumps(summary)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")
    return 0


# --------------------------------------------------------------------------------------------- stages

def cli_index(repo: Path) -> tuple[dict, float, int]:
    result = check(run_timed([*assist_command(), "index", str(repo), "--json"], PROJECT,
                             {**os.environ, **OFFLINE_ENV}), "assist index")
    return json.loads(result["stdout"]), result["wall_s"], result["peak_rss_mib"]


def rebuild_keeping_cache(repo: Path, runs: int) -> list[dict]:
    """Drop everything but the embedding cache and re-index: every file is parsed, nothing embedded."""
    from indexer.pipeline import index_repository

    dirs = StateDir(repo)
    reports = []
    for _ in range(runs):
        dirs.remove_index()
        reports.append(index_repository(repo).to_json())
    return reports


def one_file_changes(repo: Path, runs: int) -> list[dict]:
    from indexer.pipeline import index_repository

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


def chunk_texts(repo: Path, sample: int) -> list[str]:
    from indexer.chunks import chunk_file
    from indexer.embeddings import load_embedder
    from indexer.extract import extract_file
    from indexer.languages import language_for_path

    embedder = load_embedder("default")
    texts: list[str] = []
    for path in sorted(repo.rglob("*.py")):
        if ".assist" in path.parts:
            continue
        rel = path.relative_to(repo).as_posix()
        source = path.read_bytes()
        extract = extract_file(rel, source, language_for_path(rel))
        texts += [c.text for c in chunk_file(rel, source.decode("utf-8", "replace"), extract, 256, embedder.count_tokens)]
    texts = list(dict.fromkeys(texts))
    return random.Random(3).sample(texts, min(sample, len(texts)))


def excl_model_load(seconds: dict) -> float:
    """A run's seconds without the model load: "total" where the report has it ("vectors" sums embed + store)."""
    if "total" in seconds:
        return seconds["total"] - seconds.get("model_load", 0)
    return sum(v for k, v in seconds.items() if k not in ("model_load", "vectors"))


def stages(args) -> int:
    from indexer.pipeline import index_repository

    repo = args.repo.resolve()
    dirs = StateDir(repo)
    if not args.keep:
        shutil.rmtree(dirs.path, ignore_errors=True)

    cold, cold_wall, peak_rss_mib = cli_index(repo)
    lines, files = cold["lines"], cold["files_indexed"]
    s = cold["seconds"]
    out: dict = {
        "repo": str(repo), "files": files, "lines": lines, "symbols": cold["symbols"], "edges": cold["edges"],
        "chunks": cold["chunks"], "load_start": load1(),
        "cold": {
            "wall_s": round(cold_wall, 1), "usable_after_s": cold.get("usable_after_s"), "seconds": s,
            "chunks_embedded": cold["chunks_embedded"], "encoder": cold.get("encoder"),
            "embed_chunks_per_s": round(cold["chunks_embedded"] / s["embed"], 1) if s.get("embed") else None,
            "peak_rss_mib": peak_rss_mib,
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
    out["noop_rerun_s"] = {"in_process": median([excl_model_load(x) for x in noop]), "cli_wall": median(noop_cli)}

    changes = one_file_changes(repo, args.runs)
    out["one_file_change_s"] = {
        "in_process_excl_model_load": median([excl_model_load(r["seconds"]) for r in changes]),
        "chunks_embedded": [r["chunks_embedded"] for r in changes],
        "stages": {k: median([r["seconds"].get(k, 0) for r in changes]) for k in ("files", "parse", "embed", "store", "graph", "lexical")},
    }
    out["raw_encoders"] = encoder_rates(chunk_texts(repo, args.sample), max(3, args.runs // 2))
    out["model_load_s"] = cold["seconds"].get("model_load")
    out["load_end"] = load1()
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in ("tiers", "stages", "-h", "--help"):
        argv = ["stages", *argv]  # the old form: index_bench.py REPO [...]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    sub = parser.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("tiers", help="issue 11: usable after / full vectors / aider's cold map / one-shot queries")
    t.add_argument("targets", nargs="*", metavar="TARGET",
                   help="CHECKOUT or CHECKOUT:SUBDIR (default: $ASSIST_BENCH_CORPUS/pytest and $ASSIST_BENCH_CORPUS/sqlfluff:src)")
    t.add_argument("--runs", type=int, default=3, help="runs of every cheap measurement (median reported)")
    t.add_argument("--vector-runs", type=int, default=1, help="vector tiers to run per target (minutes each; ≤ --runs)")
    t.add_argument("--sample", type=int, default=256, help="pending chunk texts for the raw-encoder comparison (0: skip)")
    t.add_argument("--aider", help="aider executable in its own virtualenv (default $AIDER; none: aider skipped)")
    t.add_argument("--query", action="append", help="one-shot query, once per target in order (defaults per checkout name)")
    t.add_argument("--scratch", help="folder for the clones and aider's HOME (default $ASSIST_BENCH_SCRATCH, "
                                     "else <temp dir>/assist-index-bench)")
    t.add_argument("--keep-scratch", action="store_true", help="leave the clones in the scratch folder")
    t.add_argument("--json", help="also write the JSON line to this file")
    s = sub.add_parser("stages", help="per-stage throughput, incremental re-runs, memory and size on one REPO")
    s.add_argument("repo", type=Path)
    s.add_argument("--runs", type=int, default=5)
    s.add_argument("--sample", type=int, default=512, help="chunks for the raw-encoder comparison")
    s.add_argument("--keep", action="store_true", help="reuse an existing index instead of a cold start")
    args = parser.parse_args(argv)
    if args.mode == "tiers":
        args.vector_runs = min(args.vector_runs, args.runs)
        return tiers(args)
    return stages(args)


if __name__ == "__main__":
    sys.exit(main())

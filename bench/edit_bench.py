"""How often `assist edit`'s pipeline applies a well-formed edit, on requests mined from real projects.

Usage:  python bench/edit_bench.py [--projects pallets+click psf+requests …] [--per-project 4] [--model M]

A task is a non-merge commit of a mirrored project (``locations.mirrors()``: ``<owner>+<name>/repo``) whose
subject is an imperative request (Add/Make/Use/Allow/Remove/Return/Raise/… as its first word; fixes, docs,
tests, typing, CI and releases left out) and whose diff changes one non-test Python file in at most
``MAX_CHANGED`` lines. The project at the commit's parent is unpacked to a temporary directory; the request
is the subject; the known correct outcome is the file as the commit left it.

The oracle model (``scripted``) replies with the commit's own diff as search/replace blocks (hunks with
``CONTEXT`` lines around them), so every failure is the pipeline's: the share applied should be 100 %, and
an applied edit must leave the file byte-identical to the commit's. ``--model`` runs the same requests
with a real model (its share applied, the share identical to the commit, and seconds per request). The
projects' own tests are not run: their dependencies are not installed here, so only "applies" and
"identical to the commit" are measured. The retriever runs without vectors (the structural index only).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import locations  # noqa: E402

from indexer.graph import is_test_path  # noqa: E402

DEFAULT_PROJECTS = ("pallets+click", "psf+requests", "python-attrs+attrs", "marshmallow-code+marshmallow")
MAX_CHANGED = 30
CONTEXT = 4
SCANNED = 4000  # commits looked at per project, newest first
_IMPERATIVE = re.compile(r"^(Add|Make|Use|Allow|Remove|Return|Raise|Support|Handle|Avoid|Replace|Move|Skip|Drop|"
                         r"Ensure|Prefer|Show|Pass|Accept|Expose|Include|Let|Keep|Warn|Deprecate|Simplify|"
                         r"Improve|Change|Set|Store|Check|Validate|Convert|Treat|Reject|Respect|Emit|Clarify)\b")
_NOT_A_REQUEST = re.compile(r"\bfix|typo|typing|changelog|docs?\b|lint|\bci\b|pre-commit|bump|release|test|merge|"
                            r"revert|version|annotation|#\d+", re.IGNORECASE)


@dataclass
class Task:
    project: str
    commit: str
    parent: str
    path: str
    request: str


def _git(repo: Path, *args: str, text: bool = True):
    done = subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=text, check=True)
    return done.stdout


def mine(project: str, limit: int) -> list[Task]:
    repo = locations.mirrors() / project / "repo"
    log = _git(repo, "log", "--no-merges", f"-n{SCANNED}", "--format=%H%x00%P%x00%s", "HEAD")
    tasks: list[Task] = []
    for line in log.splitlines():
        commit, parents, subject = line.split("\0")
        if " " in parents or not parents or not _IMPERATIVE.match(subject) or _NOT_A_REQUEST.search(subject):
            continue
        numstat = _git(repo, "diff", "--numstat", "-M", parents, commit).splitlines()
        if len(numstat) != 1:
            continue
        added, deleted, path = numstat[0].split("\t")
        if (not path.endswith(".py") or is_test_path(path) or "=>" in path or added == "-"
                or not 0 < int(added) + int(deleted) <= MAX_CHANGED or int(deleted) == 0):
            continue
        tasks.append(Task(project, commit, parents, path, subject))
        if len(tasks) >= limit:
            break
    return tasks


def oracle_reply(task: Task) -> str:
    """The commit's diff as search/replace blocks: each hunk's old lines (context and removed) → new lines."""
    repo = locations.mirrors() / task.project / "repo"
    diff = _git(repo, "diff", f"-U{CONTEXT}", task.parent, task.commit, "--", task.path)
    blocks, old, new, inside = [], [], [], False
    for line in diff.splitlines():
        if line.startswith("@@"):
            if inside:
                blocks.append((old, new))
            old, new, inside = [], [], True
        elif inside and line.startswith("\\"):
            continue  # "\ No newline at end of file"
        elif inside and line[:1] in (" ", "-", "+", ""):
            body = line[1:]
            if line[:1] in (" ", "", "-"):
                old.append(body)
            if line[:1] in (" ", "", "+"):
                new.append(body)
    if inside:
        blocks.append((old, new))
    return "\n".join(f"{task.path}\n<<<<<<< SEARCH\n" + "\n".join(o) + "\n=======\n" + "\n".join(n)
                     + "\n>>>>>>> REPLACE\n" for o, n in blocks)


def unpack(task: Task, into: Path) -> Path:
    repo = locations.mirrors() / task.project / "repo"
    archive = _git(repo, "archive", "--format=tar", task.parent, text=False)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run_edit(root: Path, task: Task, provider) -> tuple[str, bool, float]:
    """(status, file identical to the commit's, seconds) of one `assist edit --yes --no-test` run."""
    from assistant.edit.run import EditOptions, EditRun

    started = time.monotonic()
    run = EditRun(root, provider, task.request, [], EditOptions(run_tests=False, use_vectors=False, sandbox="off"))
    for _ in run.run():
        pass
    seconds = time.monotonic() - started
    repo = locations.mirrors() / task.project / "repo"
    expected = _git(repo, "show", f"{task.commit}:{task.path}", text=False)
    return run.result.status, (root / task.path).read_bytes() == expected, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", nargs="+", default=list(DEFAULT_PROJECTS))
    parser.add_argument("--per-project", type=int, default=4)
    parser.add_argument("--model", help="also run each request with this model (e.g. ollama:qwen2.5-coder:7b)")
    parser.add_argument("--base-url")
    args = parser.parse_args(argv)
    from assistant.providers.scripted import ScriptedProvider

    tasks = [task for project in args.projects for task in mine(project, args.per_project)]
    rows = []
    for task in tasks:
        with tempfile.TemporaryDirectory(prefix="edit-bench-") as tmp:
            root = unpack(task, Path(tmp) / "project")
            base = Path(tmp) / "base"
            shutil.copytree(root, base, symlinks=True)
            oracle = run_edit(root, task, ScriptedProvider([oracle_reply(task)], name="scripted:oracle"))
            real = None
            if args.model:
                from assistant.fix.models import open_model

                shutil.rmtree(root)
                shutil.copytree(base, root, symlinks=True)
                real = run_edit(root, task, open_model(root, args.model, args.base_url))
        rows.append((task, oracle, real))
        print(f"{task.project:32} {task.commit[:10]} {task.path:40.40} oracle {oracle[0]:11} "
              f"{'same' if oracle[1] else 'DIFFERS'} {oracle[2]:5.1f} s"
              + (f" | {args.model} {real[0]} {'same' if real[1] else 'differs'} {real[2]:.1f} s" if real else "")
              + f"  {task.request[:60]}", flush=True)
    if not rows:
        print("no tasks found: are the mirrors there? (ASSIST_BENCH_MIRRORS)")
        return 1
    applied = sum(1 for _, oracle, _ in rows if oracle[0] == "applied")
    same = sum(1 for _, oracle, _ in rows if oracle[0] == "applied" and oracle[1])
    print(f"\noracle: {applied}/{len(rows)} applied ({100 * applied / len(rows):.0f} %), {same}/{len(rows)} "
          f"identical to the commit; median {statistics.median(o[2] for _, o, _ in rows):.1f} s per request")
    if args.model:
        real_applied = sum(1 for *_, real in rows if real[0] == "applied")
        real_same = sum(1 for *_, real in rows if real[0] == "applied" and real[1])
        print(f"{args.model}: {real_applied}/{len(rows)} applied, {real_same}/{len(rows)} identical to the commit; "
              f"median {statistics.median(r[2] for *_, r in rows):.1f} s per request")
    print("load: " + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

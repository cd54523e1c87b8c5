"""Mine localization tasks from a repository's history, to check tuning on data it was not tuned on.

Usage:  python bench/mine_tasks.py CLONE --repo OWNER/NAME --since 2021-09-01 --until 2023-01-01 [--limit 8]
        [--language go|rust|java|jsts] [--max-commits 2000]

A task is a non-merge commit whose subject says it fixes something (``fix``/``fixes`` as a word; typing,
docs, lint, CI, release, test-only and rename commits are left out, and a cherry-picked repeat of a
subject counts once) and that changes one or two non-test Python files in at most 400 diff lines. The
query is the commit message, the patch its Python diff, the base commit its parent; lines are written as
the SWE-bench JSONL that ``localize_bench.py --tasks`` reads, plus ``closes_issue`` (the message names an issue
it fixes; those are taken first) and ``bare_title`` (the message is one line: a weaker query). Never point it at
this project's own code.

Other languages (``--language``, issue 15) are mined the same way from their own source files (Go, Rust, Java,
JavaScript/TypeScript), one to three non-test files changed, and keep only commits that change a function, method
or class: each task also carries ``language`` and ``functions``, the changed symbols our own extractor finds in
the parent commit's files (the labels the benchmark derives from its index of that commit).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.extract import ParseTimeout, extract_file  # noqa: E402
from indexer.graph import build_graph, is_test_path  # noqa: E402
from indexer.languages import language_for_path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from swebench_tasks import gold_labels, parse_unified_diff  # noqa: E402

_FIX = re.compile(r"\bfix(es)?\b", re.IGNORECASE)
_NOT_A_BUG = re.compile(r"typo|typing|changelog|docs?\b|lint|ci\b|pre-commit|bump|release|test|rename|master",
                        re.IGNORECASE)
MAX_DIFF_LINES = 400

# The files each mined language is made of (JavaScript and TypeScript are one group, as issue 15 names them).
LANGUAGE_SUFFIXES = {
    "python": (".py",),
    "go": (".go",),
    "rust": (".rs",),
    "java": (".java",),
    "jsts": (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"),
}
# Non-test files a commit of another language may change: up to three (a Go fix often touches a sibling file).
MAX_SOURCE_FILES = {"python": 2}
DEFAULT_MAX_SOURCE_FILES = 3


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(clone), *args], capture_output=True, text=True, check=True).stdout


_CLOSES = re.compile(r"\b(?:fix(?:e[sd])?|close[sd]?|resolve[sd]?)\s*:?\s+(?:#\d+|https://github\.com/\S+/issues/\d+)",
                     re.IGNORECASE)
_TRAILER = re.compile(r"^[\w-]+: .+$")  # Co-authored-by:, Signed-off-by: … say nothing about the bug


def closes_issue(message: str) -> bool:
    """The message says it fixes/closes/resolves a numbered issue (a bare ``(#123)`` names the pull request)."""
    return bool(_CLOSES.search(message))


def is_bare_title(message: str) -> bool:
    """Only a subject line (and trailers): the query a task gets is then one line, weaker than an issue's text."""
    body = [line for line in message.splitlines()[1:] if line.strip() and not _TRAILER.match(line.strip())]
    return not body


def _commits(clone: Path, since: str, until: str, ref: str, max_commits: int | None) -> list[tuple[str, str]]:
    """(sha, message) of the window's non-merge commits, newest first, read in one ``git log``."""
    args = ["log", "--no-merges", "--format=%H%n%B%x00", f"--since={since}", f"--until={until}"]
    if max_commits:
        args.append(f"--max-count={max_commits}")
    commits = []
    for record in _git(clone, *args, ref).split("\0"):
        sha, _, message = record.strip("\n").partition("\n")
        if sha:
            commits.append((sha, message.strip()))
    return commits


def changed_symbols(clone: Path, sha: str, patch: str) -> list[str]:
    """The functions, methods and classes ``patch`` changes in its non-test files, as our own extractor and graph
    builder see the parent commit's versions of those files (the benchmark's gold labels, without an index)."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        extracts = {}
        for file_patch in parse_unified_diff(patch):
            path = file_patch.old_path
            language = language_for_path(path) if path else None
            if path is None or language is None or is_test_path(path):
                continue
            source = subprocess.run(["git", "-C", str(clone), "show", f"{sha}^:{path}"], capture_output=True,
                                    check=True).stdout
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(source)
            try:
                extracts[path] = extract_file(path, source, language)
            except (ParseTimeout, ValueError, RecursionError):
                continue  # an unparsable file labels nothing, as in the index
        return gold_labels(patch, build_graph(extracts), root).functions


def mine(clone: Path, repo: str, since: str, until: str, limit: int, ref: str = "HEAD", language: str = "python",
         max_commits: int | None = None) -> list[dict]:
    """Up to ``limit`` tasks from the window (its newest ``max_commits`` commits when given), commits that close an
    issue first, each group newest first."""
    suffixes = LANGUAGE_SUFFIXES[language]
    max_files = MAX_SOURCE_FILES.get(language, DEFAULT_MAX_SOURCE_FILES)
    candidates: list[dict] = []
    seen: set[str] = set()
    for sha, message in _commits(clone, since, until, ref, max_commits):
        subject = message.splitlines()[0] if message else ""
        if not _FIX.search(subject) or len(subject) < 25 or _NOT_A_BUG.search(subject):
            continue
        key = re.sub(r"\(#\d+\)", "", subject).strip().lower()
        if key in seen:
            continue
        seen.add(key)
        sources = [f for f in _git(clone, "diff", "--name-only", f"{sha}^", sha).split() if f.endswith(suffixes)]
        if not 1 <= len([f for f in sources if not is_test_path(f)]) <= max_files:
            continue
        patch = _git(clone, "diff", f"{sha}^", sha, "--", *sources)
        if patch.count("\n") > MAX_DIFF_LINES:
            continue
        task = {"repo": repo, "instance_id": f"{repo.replace('/', '__')}-{sha[:8]}",
                "base_commit": _git(clone, "rev-parse", f"{sha}^").strip(),
                "problem_statement": message, "patch": patch,
                "closes_issue": closes_issue(message), "bare_title": is_bare_title(message)}
        if language != "python":  # Python's tasks stay as they were; the others must change a symbol
            functions = changed_symbols(clone, sha, patch)
            if not functions:
                continue
            task.update(language=language, functions=functions)
        candidates.append(task)
    candidates.sort(key=lambda task: not task["closes_issue"])  # stable: newest first inside each group
    return candidates[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clone", type=Path, help="a git clone with the history to mine")
    parser.add_argument("--repo", required=True, help="owner/name, as the tasks file names it")
    parser.add_argument("--since", required=True)
    parser.add_argument("--until", required=True)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--ref", default="HEAD", help="the history to walk (a mirror's clone: origin/HEAD)")
    parser.add_argument("--language", choices=sorted(LANGUAGE_SUFFIXES), default="python")
    parser.add_argument("--max-commits", type=int, default=None, help="scan only the window's newest N commits")
    args = parser.parse_args(argv)
    for task in mine(args.clone, args.repo, args.since, args.until, args.limit, args.ref, args.language,
                     args.max_commits):
        print(json.dumps(task))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Mine localization tasks from a repository's history, to check tuning on data it was not tuned on.

Usage:  python bench/mine_tasks.py CLONE --repo OWNER/NAME --since 2021-09-01 --until 2023-01-01 [--limit 8]

A task is a non-merge commit whose subject says it fixes something (``fix``/``fixes`` as a word; typing,
docs, lint, CI, release, test-only and rename commits are left out, and a cherry-picked repeat of a
subject counts once) and that changes one or two non-test Python files in at most 400 diff lines. The
query is the commit message, the patch its Python diff, the base commit its parent; lines are written as
the SWE-bench JSONL that ``localize_bench.py --tasks`` reads, plus ``closes_issue`` (the message names an issue
it fixes; those are taken first) and ``bare_title`` (the message is one line: a weaker query). Never point it at
this project's own code.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from indexer.graph import is_test_path  # noqa: E402

_FIX = re.compile(r"\bfix(es)?\b", re.IGNORECASE)
_NOT_A_BUG = re.compile(r"typo|typing|changelog|docs?\b|lint|ci\b|pre-commit|bump|release|test|rename|master",
                        re.IGNORECASE)
MAX_DIFF_LINES = 400


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


def mine(clone: Path, repo: str, since: str, until: str, limit: int, ref: str = "HEAD") -> list[dict]:
    """Up to ``limit`` tasks from the window, commits that close an issue first, each group newest first."""
    candidates: list[dict] = []
    seen: set[str] = set()
    for sha in _git(clone, "log", "--no-merges", "--format=%H", f"--since={since}", f"--until={until}", ref).split():
        message = _git(clone, "show", "-s", "--format=%B", sha).strip()
        subject = message.splitlines()[0] if message else ""
        if not _FIX.search(subject) or len(subject) < 25 or _NOT_A_BUG.search(subject):
            continue
        key = re.sub(r"\(#\d+\)", "", subject).strip().lower()
        if key in seen:
            continue
        seen.add(key)
        python = [f for f in _git(clone, "diff", "--name-only", f"{sha}^", sha).split() if f.endswith(".py")]
        if not 1 <= len([f for f in python if not is_test_path(f)]) <= 2:
            continue
        patch = _git(clone, "diff", f"{sha}^", sha, "--", *python)
        if patch.count("\n") > MAX_DIFF_LINES:
            continue
        candidates.append({"repo": repo, "instance_id": f"{repo.replace('/', '__')}-{sha[:8]}",
                           "base_commit": _git(clone, "rev-parse", f"{sha}^").strip(),
                           "problem_statement": message, "patch": patch,
                           "closes_issue": closes_issue(message), "bare_title": is_bare_title(message)})
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
    args = parser.parse_args(argv)
    for task in mine(args.clone, args.repo, args.since, args.until, args.limit, args.ref):
        print(json.dumps(task))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

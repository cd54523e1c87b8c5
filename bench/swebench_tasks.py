"""SWE-bench tasks for the localization benchmark: loading them, checking out their base commits, and the
gold locations their fixing patches touch.

Gold labels follow the usual localization convention (SweRank, LocAgent): the files a patch changes, and
the innermost class/function/method around each pre-image line it removes or modifies. A nested function
is lifted to the function that holds it (retrieval works on top-level functions and methods); a pure
insertion is labelled by the symbol enclosing the insertion point; a hunk that touches module-level code
only labels its file and no symbol.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import locations
from indexer.graph import is_test_path
from indexer.model import as_written

DEFAULT_TASKS = locations.shared_data() / "swebench_lite_dev.jsonl"
DEFAULT_MIRRORS = locations.mirrors()
DEFAULT_REPOS_DIR = locations.corpus() / "swe"

SYMBOL_KINDS = ("class", "function", "method")

# Bulky non-source data that would cost embedding time and crowd code out of the rankings. Every .py
# file stays in, tests included: ranking tests below source is the retriever's job.
ASSISTIGNORE_LINES = (
    "# written by bench/swebench_tasks.py: leave out data and prose, keep every .py file",
    ".github/",
    "*.sql", "*.yml", "*.yaml", "*.json", "*.toml", "*.cfg", "*.ini",
    "*.csv", "*.CSV", "*.dat", "*.epw", "*.h5", "*.gz", "*.ipynb", "*.txt", "*.dcm", "*.DCM",
    "*.rst", "*.md", "*.html", "*.css", "*.js", "*.svg", "*.bib", "*.inc", "*.sqlfluff",
    "*.rs",  # sqlfluff's later Rust parser: not what these Python tasks are about
)  # fmt: skip


@dataclass
class Task:
    repo: str  # "owner/name"
    instance_id: str
    base_commit: str
    problem_statement: str
    patch: str

    @property
    def checkout_name(self) -> str:
        return self.repo.replace("/", "+")


def load_tasks(path: Path = DEFAULT_TASKS) -> list[Task]:
    tasks = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                tasks.append(Task(row["repo"], row["instance_id"], row["base_commit"],
                                  row["problem_statement"], row["patch"]))
    return tasks


# ------------------------------------------------------------------------------------------ diffs


@dataclass
class Hunk:
    old_start: int
    changed_lines: list[int] = field(default_factory=list)
    """Pre-image lines removed or replaced."""
    insertions: list[int] = field(default_factory=list)
    """Pure insertions, each as the pre-image line the new text follows (0: before the first line)."""
    inserted_text: list[str] = field(default_factory=list)
    """The first non-blank added line of each pure insertion, for its indentation."""


@dataclass
class FilePatch:
    old_path: str | None  # None for a new file
    new_path: str | None  # None for a deleted file
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.old_path or self.new_path or ""


_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _diff_path(text: str) -> str | None:
    text = text.split("\t", 1)[0].strip()
    if text == "/dev/null":
        return None
    return text[2:] if text.startswith(("a/", "b/")) else text


def parse_unified_diff(patch: str) -> list[FilePatch]:
    """The files and hunks of a git-style unified diff, with pre-image line numbers of what changed."""
    files: list[FilePatch] = []
    current: FilePatch | None = None
    hunk: Hunk | None = None
    old_line = 0
    old_left = new_left = 0
    pending_insert = False  # the previous line was an added line that follows no removal
    after_removal = False
    for line in patch.splitlines():
        if hunk is not None and (old_left > 0 or new_left > 0):
            tag, text = line[:1], line[1:]
            if tag == "\\":  # "\ No newline at end of file"
                continue
            if tag == "-":
                hunk.changed_lines.append(old_line)
                old_line += 1
                old_left -= 1
                after_removal, pending_insert = True, False
            elif tag == "+":
                if not after_removal and not pending_insert:
                    hunk.insertions.append(old_line - 1)
                    hunk.inserted_text.append(text)
                    pending_insert = True
                elif pending_insert and not hunk.inserted_text[-1].strip():
                    hunk.inserted_text[-1] = text  # indentation is read from the first non-blank line
                new_left -= 1
            else:  # context (a blank context line may have lost its leading space)
                old_line += 1
                old_left -= 1
                new_left -= 1
                after_removal = pending_insert = False
            continue
        if line.startswith("diff --git "):
            current = FilePatch(None, None)
            files.append(current)
            hunk = None
        elif line.startswith("--- ") and current is not None:
            current.old_path = _diff_path(line[4:])
        elif line.startswith("+++ ") and current is not None:
            current.new_path = _diff_path(line[4:])
        elif (match := _HUNK_HEADER.match(line)) and current is not None:
            old_start = int(match.group(1))
            old_left = int(match.group(2) if match.group(2) is not None else 1)
            new_left = int(match.group(4) if match.group(4) is not None else 1)
            # An empty pre-image range "-N,0" names the line *before* the insertion.
            old_line = old_start if old_left else old_start + 1
            hunk = Hunk(old_start)
            current.hunks.append(hunk)
            after_removal = pending_insert = False
    return files


# ------------------------------------------------------------------------------------------ labels


@dataclass
class GoldLabels:
    files: list[str]  # changed non-test files, in patch order
    functions: list[str]  # qualified names of the changed symbols in those files
    module_level_hunks: int = 0  # hunks that labelled their file only
    test_files: list[str] = field(default_factory=list)  # changed test files, not labels
    test_symbols: list[str] = field(default_factory=list)
    """Changed test code inside a source file (Rust's ``#[cfg(test)] mod tests``), not labels either, as a test
    file is not: a fix's new regression test says where the fix was checked, not where it is."""
    created_files: list[str] = field(default_factory=list)
    """Files the patch creates, not labels either: the base commit has no such file to rank, so a task whose
    labels held one could be won by no retriever."""
    spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """What a context pack must show per label: the whole touched function or method (two definitions
    can share a qualified name, a property's getter and setter: only the touched one counts); for a
    class, only the lines of its own body that changed (its header line for inserted code)."""


@dataclass(frozen=True)
class _Def:
    start: int
    end: int
    qname: str
    kind: str


def _definitions(path: str, root: Path, graph) -> list[_Def]:
    """The file's class/function/method definitions that are graph nodes, with every span: the graph
    keeps one node per qualified name, so same-named definitions are taken from a fresh parse (the
    indexer's own extractor on the same bytes)."""
    from indexer.extract import extract_file
    from indexer.languages import language_for_path

    language = language_for_path(path)
    if language is not None:
        try:
            extract = extract_file(path, (root / path).read_bytes(), language)
        except (OSError, ValueError, RecursionError):
            extract = None
        if extract is not None:
            return [_Def(s.start_line, s.end_line, s.qname, s.kind) for s in extract.symbols
                    if s.kind in SYMBOL_KINDS and s.qname in graph]
    return [_Def(a["start_line"], a["end_line"], node, a["kind"]) for node, a in graph.nodes(data=True)
            if a.get("kind") in SYMBOL_KINDS and a.get("path") == path and "::" in node]


def _lift_nested(owner: _Def, defs: list[_Def]) -> _Def:
    """A function defined inside another function is labelled by the outermost such function."""
    path, dotted = owner.qname.split("::", 1)
    parts = dotted.split(".")
    for depth in range(1, len(parts)):
        outer = f"{path}::{'.'.join(parts[:depth])}"
        for d in defs:
            if d.qname == outer and d.kind in ("function", "method") and d.start <= owner.start <= d.end:
                return d
    return owner


def _innermost(defs: list[_Def], line: int) -> _Def | None:
    containing = [d for d in defs if d.start <= line <= d.end]
    return min(containing, key=lambda d: (d.end - d.start, -d.start)) if containing else None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _insertion_owner(defs: list[_Def], after_line: int, inserted: str, source_lines: list[str]) -> _Def | None:
    """The definition that new text inserted after pre-image line ``after_line`` lands in.

    Text between two lines of one definition is inside it. At a definition's edge (code appended to a
    body, a method added after the last one of a class, usually past blank lines) indentation decides:
    Python's block structure is its indentation.
    """
    before = after_line
    while before > 0 and before <= len(source_lines) and not source_lines[before - 1].strip():
        before -= 1
    after = after_line + 1
    while after <= len(source_lines) and not source_lines[after - 1].strip():
        after += 1
    both = [d for d in defs if d.start <= before and after <= d.end]
    if both:
        return min(both, key=lambda d: d.end - d.start)
    if not inserted.strip():
        return None
    new_indent = _indent(inserted)
    # Text right above a definition's first line is not inside it.
    edge = [d for d in defs if d.start <= before <= d.end or d.start < after <= d.end]
    inside = [d for d in edge if 0 < d.start <= len(source_lines) and _indent(source_lines[d.start - 1]) < new_indent]
    return min(inside, key=lambda d: d.end - d.start) if inside else None


def gold_labels(patch: str, graph, root: Path) -> GoldLabels:
    """Gold files and symbols of ``patch`` against the index of its base commit checked out at ``root``."""
    labels = GoldLabels([], [])
    for file_patch in parse_unified_diff(patch):
        path = file_patch.path
        if is_test_path(path):
            labels.test_files.append(path)
            continue
        if file_patch.old_path is None:  # a new file: nothing at the base commit to find
            labels.created_files.append(path)
            continue
        defs = _definitions(path, root, graph)
        only_test_code = True
        try:
            source_lines = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            source_lines = []
        for hunk in file_patch.hunks:
            # (owner, the pre-image line that must be seen; None for an insertion)
            touched = [(_innermost(defs, line), line) for line in hunk.changed_lines]
            touched += [(_insertion_owner(defs, after, text, source_lines), None)
                        for after, text in zip(hunk.insertions, hunk.inserted_text)]
            found = [(_lift_nested(owner, defs), line) for owner, line in touched if owner is not None]
            if not found:
                labels.module_level_hunks += 1
                only_test_code = False
            for owner, line in found:
                # Labels name a symbol as written: a property's setter or an overload (``value~2`` in the
                # graph) is found by whichever of its definitions ranks first, as a name-based gold label reads.
                name = as_written(owner.qname)
                if graph.nodes[owner.qname].get("test_code"):
                    if name not in labels.test_symbols:
                        labels.test_symbols.append(name)
                    continue
                only_test_code = False
                if name not in labels.functions:
                    labels.functions.append(name)
                if owner.kind == "class":
                    # A class is a label when its own body changes (docstring, attributes, a method
                    # added): what must be seen is the changed line, or the class's header for new code,
                    # not the whole class.
                    span = (line, line) if line is not None else (owner.start, owner.start)
                else:
                    span = (owner.start, owner.end)
                spans = labels.spans.setdefault(name, [])
                if span not in spans:
                    spans.append(span)
        (labels.test_files if only_test_code and file_patch.hunks else labels.files).append(path)
    return labels


# ---------------------------------------------------------------------------------------- checkouts


def _git(repo: Path, *args: str, input_text: str | None = None) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], input=input_text, capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo} failed: {result.stderr.strip()}")
    return result.stdout


def mirror_of(repo: str, mirrors: Path = DEFAULT_MIRRORS) -> Path | None:
    path = mirrors / repo.replace("/", "+") / "repo"
    return path if path.is_dir() else None


def ensure_clone(repo: str, repos_dir: Path = DEFAULT_REPOS_DIR, mirrors: Path = DEFAULT_MIRRORS) -> Path | None:
    """The one working clone of ``repo`` under ``repos_dir``, cloned from its mirror without a checkout;
    None when there is no mirror."""
    target = repos_dir / repo.replace("/", "+")
    if (target / ".git").is_dir():
        return target
    mirror = mirror_of(repo, mirrors)
    if mirror is None:
        return None
    repos_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(mirror), str(target)], check=True)
    return target


def missing_blobs(checkout: Path, commit: str) -> list[str]:
    """Paths at ``commit`` whose contents the mirror lacks (its largest files may be absent)."""
    listing = _git(checkout, "ls-tree", "-r", commit)
    blobs = {}
    for line in listing.splitlines():
        meta, path = line.split("\t", 1)
        mode, kind, sha = meta.split()
        if kind == "blob":
            blobs.setdefault(sha, []).append(path)
    if not blobs:
        return []
    check = _git(checkout, "cat-file", "--batch-check", input_text="\n".join(blobs) + "\n")
    missing = []
    for line in check.splitlines():
        if line.endswith(" missing"):
            missing.extend(blobs.get(line.split()[0], []))
    return sorted(missing)


def checkout_base(checkout: Path, commit: str) -> list[str]:
    """Check ``commit`` out in place and clean the tree, keeping the index (``.assist``) and the ignore
    file so the embedding cache carries across tasks. Returns the paths left out for missing blobs."""
    missing = missing_blobs(checkout, commit)
    git_dir = Path(_git(checkout, "rev-parse", "--absolute-git-dir").strip())
    # A sparse checkout that leaves out the absent files: git cannot write what it does not have.
    (git_dir / "info").mkdir(exist_ok=True)
    sparse = ["/*"] + [f"!/{_escape_pattern(path)}" for path in missing]
    (git_dir / "info" / "sparse-checkout").write_text("\n".join(sparse) + "\n")
    _git(checkout, "config", "core.sparseCheckout", "true")
    exclude = git_dir / "info" / "exclude"
    wanted = ["/.assist/", "/.assistignore"]
    present = exclude.read_text().splitlines() if exclude.exists() else []
    if any(line not in present for line in wanted):
        exclude.write_text("\n".join(present + [w for w in wanted if w not in present]) + "\n")
    _git(checkout, "checkout", "--quiet", "-f", commit)
    _git(checkout, "clean", "-q", "-fdx", "-e", ".assist", "-e", ".assistignore")
    return missing


def _escape_pattern(path: str) -> str:
    return re.sub(r"([*?\[\]!#\\])", r"\\\1", path)


def write_assistignore(checkout: Path) -> Path:
    path = checkout / ".assistignore"
    text = "\n".join(ASSISTIGNORE_LINES) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path

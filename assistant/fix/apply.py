"""Turn parsed edits into new file contents, check them, and write them all or none.

``plan`` does everything that can fail before a byte is written — paths resolved inside the repository,
blocks matched (exact, then whitespace-tolerant; two matches are ambiguous and refused), the syntax checked
with tree-sitter — and raises ``EditRefused`` listing every problem, each with the real lines of the file
where a block did not match. ``write`` then hands each file to a ``FileWriter`` (atomic local writes by
default; an editor integration may route them elsewhere) after ``before_write`` (the checkpoint) has saved
it; if any write fails or the run is interrupted, the files already written are put back. Local writes go
through ``safe_fs``: the path is walked again from the repository root at the moment of writing, so a
directory swapped for a symlink after ``plan`` checked it is refused, never followed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from indexer.safe_fs import SafeRoot, atomic_write

from . import matching, syntax, textfile
from .edits import Edit, SearchReplace, WholeFile
from .paths import UnsafePath, resolve_inside


class EditRefused(ValueError):
    """One or more edits of a reply cannot be applied; nothing was written. The message is for the model."""

    def __init__(self, problems: list[str]):
        super().__init__("\n\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the repository, '/'-separated
    absolute: Path
    old: bytes | None  # None: the file is created
    new: bytes
    mode: int | None  # the mode to keep; None: a new file (default mode)

    def diff(self) -> str:
        return unified_diff(self.path, self.old, self.new)

    @property
    def root(self) -> Path:
        """The repository ``path`` is relative to (``absolute`` is ``root / path``)."""
        return self.absolute.parents[self.path.count("/")]


class FileWriter(Protocol):
    def write(self, path: Path, data: bytes, mode: int | None) -> None:
        """Replace ``path`` with ``data`` (creating parent directories) so a reader sees old or new, never half."""
        ...


class AtomicWriter:
    """Temp file beside the target, fsync, mode, ``os.replace``, then read back and compare — reached from
    ``root`` without following a link (``write`` gives a writer made without one the changes' repository)."""

    def __init__(self, root: Path | None = None):
        self.root = root

    def write(self, path: Path, data: bytes, mode: int | None) -> None:
        atomic_write(path, data, mode=mode, root=self.root)


def plan(root: Path, edits: list[Edit]) -> list[FileChange]:
    """The new content of every file the edits touch, in the order first named; raises EditRefused."""
    problems: list[str] = []
    states: dict[str, tuple[Path, bytes | None, textfile.TextFile, list[str]]] = {}
    for edit in edits:
        try:
            rel, absolute = resolve_inside(root, edit.path)
        except UnsafePath as exc:
            problems.append(f"block {edit.block}: refused: {exc}")
            continue
        if rel not in states:
            try:
                states[rel] = _load(root, rel, absolute)
            except (textfile.NotText, OSError) as exc:
                problems.append(f"block {edit.block}: {rel} cannot be edited: {exc}")
                continue
        path, old, text, lines = states[rel]
        try:
            states[rel] = (path, old, text, _apply_one(rel, old is not None, lines, edit))
        except EditProblem as exc:
            problems.append(str(exc))
    changes = [] if problems else _encode(states, problems)
    if problems:
        raise EditRefused(problems)
    if not changes:
        raise EditRefused(["the edits change nothing: every REPLACE is the same as its SEARCH"])
    return changes


class EditProblem(ValueError):
    pass


def _load(root: Path, rel: str, absolute: Path) -> tuple[Path, bytes | None, textfile.TextFile, list[str]]:
    tree = SafeRoot(root)
    found = tree.lstat(rel)
    if found is None:
        return absolute, None, textfile.new_file(), []
    data = tree.read_bytes(rel)  # by the same no-link walk: what is shown in the diff is what is replaced
    text = textfile.decode(data, found.st_mode & 0o7777)
    return absolute, data, text, list(text.lines)


def _apply_one(rel: str, exists: bool, lines: list[str], edit: Edit) -> list[str]:
    if isinstance(edit, WholeFile):
        return list(edit.lines)
    assert isinstance(edit, SearchReplace)
    if not any(line.strip() for line in edit.search):
        if exists and any(line.strip() for line in lines):
            raise EditProblem(f"block {edit.block} ({rel}): the SEARCH part is empty, but {rel} exists: quote "
                              f"the lines to replace")
        return list(edit.replace)
    if not exists:
        raise EditProblem(f"block {edit.block}: {rel} does not exist; to create it, leave the SEARCH part empty")
    try:
        found = matching.find_block(lines, edit.search)
    except matching.Ambiguous as exc:
        where = ", ".join(str(n) for n in exc.lines)
        raise EditProblem(f"block {edit.block} ({rel}): refused as ambiguous: the SEARCH lines match {len(exc.lines)} "
                          f"places (lines {where}); include more surrounding lines so they match exactly one") from None
    except matching.NoMatch as exc:
        shown = "\n".join(f"{number:>5}| {line}" for number, line in exc.nearby)
        raise EditProblem(f"block {edit.block} ({rel}): the SEARCH lines are not in the file. The closest lines in "
                          f"{rel} are:\n{shown}\nCopy the lines to replace exactly as they are in the file.") from None
    replacement = matching.reindent(_trim_like(edit.search, edit.replace), found.indent_fix)
    return lines[:found.start] + replacement + lines[found.end:]


def _trim_like(search: list[str], replace: list[str]) -> list[str]:
    """The match ignored blank lines at the edges of SEARCH; drop the same blank edges from REPLACE."""
    start, end = 0, len(replace)
    lead = next((i for i, line in enumerate(search) if line.strip()), len(search))
    trail = next((i for i, line in enumerate(reversed(search)) if line.strip()), len(search))
    while start < min(lead, end) and not replace[start].strip():
        start += 1
    while end > start and trail and not replace[end - 1].strip():
        end -= 1
        trail -= 1
    return replace[start:end]


def _encode(states, problems: list[str]) -> list[FileChange]:
    changes: list[FileChange] = []
    for rel, (absolute, old, text, lines) in states.items():
        try:
            new = text.encode(lines, final_newline=True if old is None or not text.lines else None)
        except textfile.NotText as exc:
            problems.append(f"{rel}: {exc}")
            continue
        if new == old:
            continue
        error = syntax.syntax_error(rel, new)
        if error and (old is None or not syntax.has_errors(rel, old)):
            problems.append(f"{rel}: refused: after the edit the file does not parse: {error}")
            continue
        changes.append(FileChange(rel, absolute, old, new, text.mode))
    return changes


def write(changes: list[FileChange], writer: FileWriter | None = None,
          before_write: Callable[[FileChange], None] | None = None,
          after_write: Callable[[FileChange], None] | None = None) -> None:
    """Write every change or none: a failure (or Ctrl-C) puts back the files already written, then re-raises."""
    root = changes[0].root if changes else None
    writer = writer or AtomicWriter(root)
    if isinstance(writer, AtomicWriter) and writer.root is None:
        writer.root = root  # a local writer made without a root still writes only inside this repository
    done: list[FileChange] = []
    try:
        for change in changes:
            if before_write is not None:
                before_write(change)
            writer.write(change.absolute, change.new, change.mode)
            done.append(change)
            if after_write is not None:
                after_write(change)
    except BaseException:
        for change in reversed(done):
            _put_back(change)
        raise


def _put_back(change: FileChange) -> None:
    try:
        if change.old is None:
            SafeRoot(change.root).unlink(change.path, missing_ok=True)
        else:
            atomic_write(change.absolute, change.old, mode=change.mode, root=change.root)
    except OSError:
        pass  # the checkpoint still has the original: `assist undo` restores it


def unified_diff(path: str, old: bytes | None, new: bytes | None) -> str:
    def lines(data: bytes | None) -> list[str]:
        if data is None:
            return []
        return textfile.decode(data, None).lines

    before = "/dev/null" if old is None else f"a/{path}"
    after = "/dev/null" if new is None else f"b/{path}"
    return "".join(line + "\n" for line in difflib.unified_diff(lines(old), lines(new), before, after, lineterm=""))

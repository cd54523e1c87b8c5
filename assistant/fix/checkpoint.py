"""Save what a fix run is about to change, so that `assist undo` restores it byte for byte.

Before a file is first written, its original bytes and mode are copied to ``.assist/checkpoints/<id>/``
and the manifest listing it is replaced atomically; only then is the file written. So at every instant —
including after a SIGKILL — each file is either untouched, or listed with its original saved. Undo puts
back the saved bytes and mode, deletes the files the run created (and the directories it made for them),
and removes temp files an interrupted write left. It works the same in a dirty git tree, with staged
changes, or outside git: git's history and index are never touched, and neither are files the run did not
write (untracked and ignored files included). A file changed again after the run is not overwritten
unless forced: that change would be lost.

Every read, write, delete and ``rmdir`` goes through ``safe_fs`` from the repository root: if a directory
on a saved path was swapped for a symlink after the run (a test run can do that), the path is refused and
left as it is, and ``UndoReport.refused`` says which and why; nothing outside the repository is touched.
The checkpoint then stays active, so `assist undo` can be run again once the link is gone.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer.lock import IndexLock
from indexer.safe_fs import PathRefused, SafeRoot, components, protected_reason, temp_prefix
from indexer.state_dir import StateDir

from .apply import FileChange

CHECKPOINTS = "checkpoints"
MANIFEST = "manifest.json"
_BLOB_NAME = re.compile(r"^[0-9]{5,}$")
_REFUSED = object()  # _current's answer for a path safe_fs will not read


class NothingToUndo(Exception):
    pass


class UndoConflict(Exception):
    """Files were changed after the run; restoring them would lose that work."""

    def __init__(self, message: str, paths: list[str]):
        super().__init__(message)
        self.paths = paths


class CommittedChange(UndoConflict):
    """The latest run's changes were committed to git (`assist edit --commit`): undo does not rewrite history
    behind the user's back; the message says how to revert the commit instead."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checkpoints_dir(root: Path) -> Path:
    return root / ".assist" / CHECKPOINTS


def fix_lock(root: Path) -> IndexLock:
    """One fix run or undo at a time per repository. Two runs would each save the other's edits as
    originals, and an undo during a run would restore files the run then overwrites: the second one stops
    at once, with lock.IndexBusy naming the holder."""
    state_dir = StateDir(root)
    state_dir.ensure()
    return IndexLock(state_dir.path, wait_s=0.0, name="fix.lock", activity="fixing this repository")


def new_id() -> str:
    """Sortable by time, to the nanosecond: `undo` takes the newest."""
    now = time.time_ns()
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now // 1_000_000_000)) + f"-{now % 1_000_000_000:09d}"


class Checkpoint:
    """One run's saved originals. Nothing is created on disk until the first ``save``."""

    def __init__(self, root: Path, checkpoint_id: str | None = None):
        self.root = root.resolve()
        self.id = checkpoint_id or new_id()
        self.path = checkpoints_dir(self.root) / self.id
        self._tree = SafeRoot(self.root)
        self._rel = f".assist/{CHECKPOINTS}/{self.id}"
        self.entries: dict[str, dict] = {}
        self.created_at = time.time()
        self.about: dict[str, str] = {}  # what made the change (command, request) and its commit, for undo

    def save(self, change: FileChange) -> None:
        """Keep ``change.path``'s current state, once per run: later writes must not replace the original."""
        if change.path in self.entries:
            return
        if not self.entries:
            StateDir(self.root).ensure()  # .assist/ with its '*' .gitignore: checkpoints never show in git status
            self._tree.make_dirs(f"{self._rel}/blobs")
        found = self._tree.lstat(change.path)
        entry: dict = {"path": change.path, "existed": found is not None}
        if found is not None:
            data = self._tree.read_bytes(change.path)  # refuses a link swapped in since the edit was planned
            blob = f"{len(self.entries):05d}"
            self._tree.write_bytes(f"{self._rel}/blobs/{blob}", data, 0o600)
            entry.update(blob=blob, mode=stat.S_IMODE(found.st_mode), sha256=_sha(data))
        else:
            entry["created_dirs"] = _missing_dirs(self._tree, change.path)
        self.entries[change.path] = entry
        self._write_manifest()

    def written(self, change: FileChange) -> None:
        self.entries[change.path]["written_sha256"] = _sha(change.new)
        self._write_manifest()

    def describe(self, **about: str) -> None:
        """Record what made the change (``command``, ``request``) and, once committed, its ``commit``; kept in
        the manifest from the next save on (at once when files are already saved)."""
        self.about.update(about)
        if self.entries:
            self._write_manifest()

    @property
    def files(self) -> list[str]:
        return list(self.entries)

    def _write_manifest(self, state: str = "active") -> None:
        manifest = {"id": self.id, "created_at": self.created_at, "state": state, **self.about,
                    "files": list(self.entries.values())}
        self._tree.write_bytes(f"{self._rel}/{MANIFEST}", json.dumps(manifest, indent=1).encode(), 0o600)


def _missing_dirs(tree: SafeRoot, path: str) -> list[str]:
    """The parent directories of ``path`` that do not exist yet, deepest first: the write will create them."""
    parents = components(path)[:-1]
    missing = []
    for depth in range(len(parents), 0, -1):
        directory = "/".join(parents[:depth])
        if tree.lstat(directory) is not None:
            break
        missing.append(directory)
    return missing


@dataclass
class UndoReport:
    id: str
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already as they were before the run
    refused: list[dict] = field(default_factory=list)  # {"path", "reason"}: left as they are, nothing followed

    def to_json(self) -> dict:
        return {"checkpoint": self.id, "restored": self.restored, "deleted": self.deleted, "unchanged": self.unchanged,
                "refused": self.refused}

    def summary(self, again: str) -> str:
        """One paragraph for a chat: what was put back, deleted and left alone, then the refusals, if any, with
        how to finish (``again``: the command that undoes in that front end, e.g. ``/undo``)."""
        parts = []
        if self.restored:
            parts.append(f"restored {', '.join(self.restored)}")
        if self.deleted:
            parts.append(f"deleted {', '.join(self.deleted)} (created by the run)")
        if self.unchanged:
            parts.append(f"kept {', '.join(self.unchanged)} (already as before the run)")
        said = "; ".join(parts) or "the files were already as before the run"
        return f"{said}. {self.refusal_note(again)}" if self.refused else said

    def refusal_note(self, again: str) -> str:
        """Why some files were left alone: a directory on their path became a link since the run. Nothing outside
        the repository was touched, and the checkpoint stays, so ``again`` works once the link is gone."""
        refused = "; ".join(f"{refusal['path']} ({refusal['reason']})" for refusal in self.refused)
        return (f"Refused, and left as they are: {refused}; nothing outside the repository was touched, and the "
                f"originals stay under .assist/checkpoints/{self.id}/: remove the link named, then run {again} again")


def latest(root: Path) -> tuple[Path, dict] | None:
    """The newest checkpoint not yet undone that saved at least one file."""
    base = checkpoints_dir(root.resolve())
    if not base.is_dir():
        return None
    for folder in sorted((p for p in base.iterdir() if p.is_dir()), reverse=True):
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            continue  # killed before its first manifest: nothing was written under it
        if manifest.get("state") == "active" and manifest.get("files"):
            return folder, manifest
    return None


def undo_latest(root: Path, force: bool = False) -> UndoReport:
    """Restore the files of the latest fix or edit run. Raises NothingToUndo, CommittedChange (the run
    committed its change: even ``force`` does not rewrite git history), or UndoConflict (unless ``force``)."""
    root = root.resolve()
    if latest(root) is None:
        raise NothingToUndo("nothing to undo: no `assist fix` or `assist edit` run has changed files here (or it "
                            "was undone)")
    with fix_lock(root):
        found = latest(root)
        if found is None:
            raise NothingToUndo("nothing to undo: the latest run was undone meanwhile")
        commit = found[1].get("commit")
        if isinstance(commit, str) and commit:
            paths = [entry.get("path", "") for entry in found[1]["files"] if isinstance(entry, dict)]
            raise CommittedChange(
                f"the latest change ({found[1].get('command', 'assist')} of {', '.join(paths)}) was committed to git "
                f"as {commit[:12]}: undo does not rewrite history; run `git revert {commit[:12]}` to undo it with a "
                f"new commit", paths)
        return _undo(root, *found, force)


def _undo(root: Path, folder: Path, manifest: dict, force: bool) -> UndoReport:
    entries = [entry for entry in manifest["files"] if _entry_problem(entry) is None]
    if not force:
        conflicts = [entry["path"] for entry in entries if _changed_since(root, entry)]
        if conflicts:
            raise UndoConflict(
                "changed again after the fix run: " + ", ".join(conflicts)
                + "; undo would overwrite those changes (use --force to restore the saved versions anyway)", conflicts)
    tree = SafeRoot(root)
    report = UndoReport(manifest["id"])
    for entry in manifest["files"]:
        problem = _entry_problem(entry)
        if problem:
            named = entry.get("path") if isinstance(entry, dict) else None
            report.refused.append({"path": named if isinstance(named, str) else "(unnamed)", "reason": problem})
            continue
        try:
            _restore(tree, f".assist/{CHECKPOINTS}/{folder.name}", entry, report)
        except PathRefused as exc:
            report.refused.append({"path": str(entry.get("path")), "reason": exc.reason})
    if not report.refused:  # otherwise it stays active: run undo again once the refused paths are fixed
        manifest["state"] = "undone"
        manifest["undone_at"] = time.time()
    tree.write_bytes(f".assist/{CHECKPOINTS}/{folder.name}/{MANIFEST}", json.dumps(manifest, indent=1).encode(),
                     0o600)
    return report


def _entry_problem(entry) -> str | None:
    """Why a manifest entry cannot be acted on (the manifest is a file on disk: damaged, or not ours)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not isinstance(entry.get("existed"),
                                                                                                 bool):
        return "the checkpoint's record of this file is damaged"
    if entry["existed"] and not (isinstance(entry.get("mode"), int) and _BLOB_NAME.match(str(entry.get("blob")))):
        return "the checkpoint's record of this file is damaged (no saved copy or mode)"
    if not all(isinstance(directory, str) for directory in entry.get("created_dirs", [])):
        return "the checkpoint's record of this file is damaged (its created directories)"
    return None


def _current(tree: SafeRoot, path: str):
    """The file's bytes; None when there is no regular file; _REFUSED when reaching it would follow a link."""
    try:
        found = tree.lstat(path)
        if found is None or not stat.S_ISREG(found.st_mode):
            return None
        return tree.read_bytes(path)
    except PathRefused:
        return _REFUSED


def _changed_since(root: Path, entry: dict) -> bool:
    """Whether the file holds something neither the run nor the original had (someone edited it since)."""
    written = entry.get("written_sha256")
    if written is None:
        return False  # the run may have died around its write: either state is the run's doing
    now = _current(SafeRoot(root), entry["path"])
    if now is _REFUSED:
        return False  # not a later edit: a path undo refuses to go through, reported as refused
    now_sha = _sha(now) if now is not None else None
    return now_sha not in (written, entry.get("sha256"))


def _checked(path: str) -> str:
    """A saved path as undo may use it: the manifest is a file on disk, so it gets the edit rules again."""
    reason = protected_reason(components(path))
    if reason:
        raise PathRefused(path, reason)
    return path


def _restore(tree: SafeRoot, folder: str, entry: dict, report: UndoReport) -> None:
    path = _checked(entry["path"])
    _remove_temp_files(tree, path)
    found = tree.lstat(path)
    if found is not None and stat.S_ISLNK(found.st_mode):
        tree.unlink(path)  # the link itself, inside the repository; never what it points to
        found = None
    if entry["existed"]:
        original = tree.read_bytes(f"{folder}/blobs/{entry['blob']}")
        mode = stat.S_IMODE(entry["mode"])
        if found is not None and _current(tree, path) == original and stat.S_IMODE(found.st_mode) == mode:
            report.unchanged.append(path)
            return
        tree.write_bytes(path, original, mode)
        report.restored.append(path)
        return
    if found is not None:
        tree.unlink(path)
        report.deleted.append(path)
    else:
        report.unchanged.append(path)
    for directory in entry.get("created_dirs", []):
        try:
            tree.rmdir(_checked(directory))
        except PathRefused:
            raise  # reported by the caller (PathRefused is an OSError too)
        except OSError:
            break  # not empty: something else lives there now


def _remove_temp_files(tree: SafeRoot, path: str) -> None:
    parts = components(path)
    parent = "/".join(parts[:-1]) or "."
    prefix = temp_prefix(parts[-1])
    try:
        names = tree.listdir(parent)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(prefix):
            tree.unlink(f"{parent}/{name}" if parent != "." else name, missing_ok=True)

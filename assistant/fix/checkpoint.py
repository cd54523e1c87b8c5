"""Save what a fix run is about to change, so that `assist undo` restores it byte for byte.

Before a file is first written, its original bytes and mode are copied to ``.assist/checkpoints/<id>/``
and the manifest listing it is replaced atomically; only then is the file written. So at every instant —
including after a SIGKILL — each file is either untouched, or listed with its original saved. Undo puts
back the saved bytes and mode, deletes the files the run created (and the directories it made for them),
and removes temp files an interrupted write left. It works the same in a dirty git tree, with staged
changes, or outside git: git's history and index are never touched, and neither are files the run did not
write (untracked and ignored files included). A file changed again after the run is not overwritten
unless forced: that change would be lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from indexer.lock import IndexLock
from indexer.state_dir import StateDir

from .apply import TEMP_MARK, FileChange, atomic_write

CHECKPOINTS = "checkpoints"
MANIFEST = "manifest.json"


class NothingToUndo(Exception):
    pass


class UndoConflict(Exception):
    """Files were changed after the run; restoring them would lose that work."""

    def __init__(self, message: str, paths: list[str]):
        super().__init__(message)
        self.paths = paths


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
        self.entries: dict[str, dict] = {}
        self.created_at = time.time()

    def save(self, change: FileChange) -> None:
        """Keep ``change.path``'s current state, once per run: later writes must not replace the original."""
        if change.path in self.entries:
            return
        if not self.entries:
            StateDir(self.root).ensure()  # .assist/ with its '*' .gitignore: checkpoints never show in git status
            (self.path / "blobs").mkdir(parents=True, exist_ok=True)
        absolute = self.root / change.path
        entry: dict = {"path": change.path, "existed": absolute.exists()}
        if entry["existed"]:
            data = absolute.read_bytes()
            blob = f"{len(self.entries):05d}"
            atomic_write(self.path / "blobs" / blob, data, 0o600)
            entry.update(blob=blob, mode=os.stat(absolute).st_mode & 0o7777, sha256=_sha(data))
        else:
            entry["created_dirs"] = _missing_dirs(self.root, absolute.parent)
        self.entries[change.path] = entry
        self._write_manifest()

    def written(self, change: FileChange) -> None:
        self.entries[change.path]["written_sha256"] = _sha(change.new)
        self._write_manifest()

    @property
    def files(self) -> list[str]:
        return list(self.entries)

    def _write_manifest(self, state: str = "active") -> None:
        manifest = {"id": self.id, "created_at": self.created_at, "state": state, "files": list(self.entries.values())}
        atomic_write(self.path / MANIFEST, json.dumps(manifest, indent=1).encode(), 0o600)


def _missing_dirs(root: Path, directory: Path) -> list[str]:
    missing = []
    while directory != root and not directory.exists():
        missing.append(directory.relative_to(root).as_posix())
        directory = directory.parent
    return missing


@dataclass
class UndoReport:
    id: str
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already as they were before the run

    def to_json(self) -> dict:
        return {"checkpoint": self.id, "restored": self.restored, "deleted": self.deleted, "unchanged": self.unchanged}


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
    """Restore the files of the latest fix run. Raises NothingToUndo, or UndoConflict (unless ``force``)."""
    root = root.resolve()
    if latest(root) is None:
        raise NothingToUndo("nothing to undo: no `assist fix` run has changed files here (or it was undone)")
    with fix_lock(root):
        return _undo(root, *latest(root), force)


def _undo(root: Path, folder: Path, manifest: dict, force: bool) -> UndoReport:
    if not force:
        conflicts = [entry["path"] for entry in manifest["files"] if _changed_since(root, entry)]
        if conflicts:
            raise UndoConflict(
                "changed again after the fix run: " + ", ".join(conflicts)
                + "; undo would overwrite those changes (use --force to restore the saved versions anyway)", conflicts)
    report = UndoReport(manifest["id"])
    for entry in manifest["files"]:
        _restore(root, folder, entry, report)
    manifest["state"] = "undone"
    manifest["undone_at"] = time.time()
    atomic_write(folder / MANIFEST, json.dumps(manifest, indent=1).encode(), 0o600)
    return report


def _current(root: Path, path: str) -> bytes | None:
    target = root / path
    if target.is_symlink() or not target.is_file():
        return None
    return target.read_bytes()


def _changed_since(root: Path, entry: dict) -> bool:
    """Whether the file holds something neither the run nor the original had (someone edited it since)."""
    written = entry.get("written_sha256")
    if written is None:
        return False  # the run may have died around its write: either state is the run's doing
    now = _current(root, entry["path"])
    now_sha = _sha(now) if now is not None else None
    return now_sha not in (written, entry.get("sha256"))


def _restore(root: Path, folder: Path, entry: dict, report: UndoReport) -> None:
    path = entry["path"]
    target = root / path
    _remove_temp_files(target)
    if target.is_symlink():
        target.unlink()
    if entry["existed"]:
        original = (folder / "blobs" / entry["blob"]).read_bytes()
        if _current(root, path) == original and os.stat(target).st_mode & 0o7777 == entry["mode"]:
            report.unchanged.append(path)
            return
        atomic_write(target, original, entry["mode"])
        report.restored.append(path)
        return
    if target.exists():
        target.unlink()
        report.deleted.append(path)
    else:
        report.unchanged.append(path)
    for directory in entry.get("created_dirs", []):
        try:
            (root / directory).rmdir()
        except OSError:
            break  # not empty: something else lives there now


def _remove_temp_files(target: Path) -> None:
    if target.parent.is_dir():
        for leftover in target.parent.glob(f".{target.name}{TEMP_MARK}*"):
            leftover.unlink(missing_ok=True)

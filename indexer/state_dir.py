"""Where an index lives: ``<repo>/.assist/`` and the files inside it, and whether we may trust them.

A cloned repository can ship its own ``.assist/``. Nothing in it is ever a format that runs code when
read, and on top of that the state carries an identity stamp: the directory it was built for, by path
and by device/inode. A ``.assist/`` copied from anywhere else fails the stamp and is rebuilt, not read.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from .safe_fs import atomic_write

STATE_DIR_NAME = ".assist"
IDENTITY_FORMAT = "assist-index-identity"
_IDENTITY_MAX_BYTES = 4096

# What the indexer owns under .assist/ (config.toml, fix/ and checkpoints/ belong to the user and to
# `assist fix`, and are never removed here).
_LEGACY_FILES = ("graph.pickle",)


class StateDirUnusable(OSError):
    """``.assist`` exists but is not a directory we can keep an index in (e.g. a regular file). An OSError, so
    every front end that reports a file-system failure in one line reports this one too."""


class StateDir:
    def __init__(self, root: Path):
        self.root = root
        self.path = root / STATE_DIR_NAME
        self.index_db = self.path / "index.sqlite"
        self.embedding_cache = self.path / "embeddings.sqlite"
        self.vectors = self.path / "vectors"
        self.graph = self.path / "graph.json.gz"
        self.lexical = self.path / "lexical"
        self.identity = self.path / "identity.json"
        self._generation_file = self.path / "derived-generation"

    # -- creation and safety -----------------------------------------------------------------------
    def ensure(self) -> list[str]:
        """Make ``.assist/`` a real directory with no symbolic links among our files; returns a notice per
        repair. Raises StateDirUnusable when ``.assist`` is something we must not remove (a regular file)."""
        notices = []
        if self.path.is_symlink():
            target = os.readlink(self.path)
            # Only the link goes: whatever it points at is never touched.
            self.path.unlink()
            notices.append(f"{self.path} was a symbolic link (to {target}); assist keeps its index only in a "
                           "real directory, so the link was replaced (its target was not touched)")
        elif self.path.exists() and not self.path.is_dir():
            raise StateDirUnusable(f"{self.path} exists and is not a directory; move it away and run `assist index` again")
        self.path.mkdir(parents=True, exist_ok=True)
        notices.extend(self.remove_symlinks())
        ignore = self.path / ".gitignore"
        if not ignore.exists():
            # Keeps the index out of `git status` and out of our own git-based file list.
            atomic_write(ignore, b"*\n")
        return notices

    def owned_paths(self) -> list[Path]:
        paths = [self.index_db, self.embedding_cache, self.vectors, self.graph, self.lexical, self.identity,
                 self._generation_file, self.path / "lock", self.path / ".gitignore"]
        paths += [Path(f"{db}{suffix}") for db in (self.index_db, self.embedding_cache) for suffix in ("-wal", "-shm")]
        return paths + [self.path / name for name in _LEGACY_FILES]

    def symlinks(self) -> list[Path]:
        """Symbolic links where our files are (a link would let a read or a write land outside .assist/)."""
        found = []
        for path in self.owned_paths():
            if path.is_symlink():
                found.append(path)
            elif path.is_dir():
                for dirpath, dirnames, filenames in os.walk(path):  # does not follow links
                    found += [Path(dirpath, name) for name in dirnames + filenames if Path(dirpath, name).is_symlink()]
        return found

    def remove_symlinks(self) -> list[str]:
        notices = []
        for link in self.symlinks():
            link.unlink()
            notices.append(f"removed the symbolic link {link} (assist never follows links inside {STATE_DIR_NAME}/)")
        return notices

    def unsafe_reason(self) -> str | None:
        """Why a reader must not open this state, or None (read-only: repairs are the indexer's)."""
        if self.path.is_symlink():
            return f"{self.path} is a symbolic link"
        links = self.symlinks()
        if links:
            return f"{links[0]} is a symbolic link"
        return None

    # -- identity ----------------------------------------------------------------------------------
    def stamp_identity(self) -> None:
        """Record that this state belongs to this directory (called when an index is created here)."""
        st = os.stat(self.root)
        record = {
            "format": IDENTITY_FORMAT,
            "id": uuid.uuid4().hex,
            "root": str(Path(os.path.realpath(self.root))),
            "device": st.st_dev,
            "inode": st.st_ino,
        }
        atomic_write(self.identity, json.dumps(record).encode())

    def read_identity(self) -> dict | None:
        try:
            st = os.lstat(self.identity)
            if not stat.S_ISREG(st.st_mode) or st.st_size > _IDENTITY_MAX_BYTES:
                return None
            record = json.loads(self.identity.read_bytes())
        except (OSError, ValueError):
            return None
        fields = {"format": str, "id": str, "root": str, "device": int, "inode": int}
        if not isinstance(record, dict) or record.get("format") != IDENTITY_FORMAT:
            return None
        if not all(type(record.get(name)) is kind for name, kind in fields.items()):
            return None
        return record

    def foreign_reason(self) -> str | None:
        """None when this state was built for this very directory; else why it is not to be trusted.

        Trusted: the same directory by inode and by device or path. A repository moved or renamed on the
        same file system keeps its inode and stays trusted; a copy (a clone that committed .assist/, a
        folder copied from another machine, a backup restored) gets a new inode and is rebuilt."""
        record = self.read_identity()
        if record is None:
            if self.identity.exists() or self.identity.is_symlink():
                return "its identity stamp is damaged"
            return "it carries no identity stamp (it was made by an older assist, or copied from elsewhere)"
        st = os.stat(self.root)
        here = str(Path(os.path.realpath(self.root)))
        if record["inode"] == st.st_ino and (record["device"] == st.st_dev or record["root"] == here):
            return None
        if record["root"] == here:
            return "it was made for another directory that had this path (a copy, a fresh clone or a restored backup)"
        return (f"it was made for {record['root']} (copied from there; a repository moved to another "
                "file system is rebuilt too)")

    def adopt(self) -> None:
        """Trust a ``.assist/`` that you copied here yourself from one of your own repositories: re-stamps
        it for this directory. Never call this for a state that came with someone else's repository."""
        self.stamp_identity()

    # -- removal -----------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.index_db.exists()

    def remove_derived(self) -> None:
        """Drop everything rebuilt from the manifest; the embedding cache is kept."""
        shutil.rmtree(self.vectors, ignore_errors=True)
        shutil.rmtree(self.lexical, ignore_errors=True)
        for path in (self.graph, self._generation_file, *(self.path / name for name in _LEGACY_FILES)):
            path.unlink(missing_ok=True)

    def remove_index(self) -> None:
        self.remove_derived()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.index_db}{suffix}").unlink(missing_ok=True)

    def remove_all(self) -> None:
        """Everything the indexer wrote, the embedding cache and the identity stamp included (a foreign
        state: its cached vectors could be anything). The user's config and `assist fix` data stay."""
        self.remove_index()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.embedding_cache}{suffix}").unlink(missing_ok=True)
        self.identity.unlink(missing_ok=True)

    # -- derived-structure bookkeeping -------------------------------------------------------------
    def derived_generation(self) -> int | None:
        try:
            return int(self._generation_file.read_text()[:32])
        except (OSError, ValueError, UnicodeError):
            return None

    def set_derived_generation(self, generation: int) -> None:
        atomic_write(self._generation_file, str(generation).encode())

    def vector_fingerprint(self) -> str:
        """Sizes and mtimes of the vector store's files: cheap to compute, and it moves if anything
        but us touched them (we record it after every clean run)."""
        return _fingerprint(self.vectors)

    def derived_fingerprint(self) -> str:
        """The same for the graph and the lexical index, which the indexer alone writes."""
        return _fingerprint(self.graph) + "|" + _fingerprint(self.lexical)

    def size_on_disk(self) -> dict[str, int]:
        """Bytes of each part of the state. The indexer may swap the lexical index or the vectors while this
        runs (a re-index beside a status poll): a file or folder that vanishes mid-count counts as gone."""

        def size(path: Path) -> int:
            try:
                if path.is_symlink():
                    return 0
                if path.is_file():
                    return path.stat().st_size
            except OSError:
                return 0
            return sum(found.st_size for _, found in _files_under(path) if stat.S_ISREG(found.st_mode))

        sizes = {
            "manifest": sum(size(Path(f"{self.index_db}{s}")) for s in ("", "-wal", "-shm")),
            "embedding_cache": sum(size(Path(f"{self.embedding_cache}{s}")) for s in ("", "-wal", "-shm")),
            "vectors": size(self.vectors),
            "graph": size(self.graph),
            "lexical": size(self.lexical),
        }
        sizes["total"] = sum(sizes.values())
        return sizes


def _fingerprint(path: Path) -> str:
    if not path.is_dir():
        try:
            st = os.lstat(path)
        except OSError:
            return f"{path.name}:missing"
        return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"
    parts = [f"{os.path.relpath(full, path)}:{st.st_size}:{st.st_mtime_ns}" for full, st in _files_under(path)]
    return "|".join(sorted(parts))


def _files_under(path: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of each file under ``path`` that still exists when it is reached: the indexer may swap a
    folder while a reader walks it, and a file or folder gone by then is skipped (os.walk skips what it can no
    longer list)."""
    for folder, _, names in os.walk(path):
        for name in names:
            full = os.path.join(folder, name)
            try:
                found = os.lstat(full)
            except OSError:
                continue
            yield full, found


def adopt_copied_index(root: Path) -> None:
    """Public entry for tests and tools that copy one of their own indexes: see ``StateDir.adopt``."""
    StateDir(Path(root).resolve()).adopt()


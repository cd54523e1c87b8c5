"""Where an index lives: ``<repo>/.assist/`` and the files inside it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

STATE_DIR_NAME = ".assist"


class StateDir:
    def __init__(self, root: Path):
        self.root = root
        self.path = root / STATE_DIR_NAME
        self.index_db = self.path / "index.sqlite"
        self.embedding_cache = self.path / "embeddings.sqlite"
        self.vectors = self.path / "vectors"
        self.graph = self.path / "graph.pickle"
        self.lexical = self.path / "lexical"
        self._generation_file = self.path / "derived-generation"

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        ignore = self.path / ".gitignore"
        if not ignore.exists():
            # Keeps the index out of `git status` and out of our own git-based file list.
            atomic_write_bytes(ignore, b"*\n")

    def exists(self) -> bool:
        return self.index_db.exists()

    def remove_derived(self) -> None:
        """Drop everything rebuilt from the manifest; the embedding cache is kept."""
        shutil.rmtree(self.vectors, ignore_errors=True)
        shutil.rmtree(self.lexical, ignore_errors=True)
        for path in (self.graph, self._generation_file):
            path.unlink(missing_ok=True)

    def remove_index(self) -> None:
        self.remove_derived()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.index_db}{suffix}").unlink(missing_ok=True)

    def derived_generation(self) -> int | None:
        try:
            return int(self._generation_file.read_text())
        except (OSError, ValueError):
            return None

    def set_derived_generation(self, generation: int) -> None:
        atomic_write_bytes(self._generation_file, str(generation).encode())

    def vector_fingerprint(self) -> str:
        """Sizes and mtimes of the vector store's files: cheap to compute, and it moves if anything
        but us touched them (we record it after every clean run)."""
        parts = []
        for dirpath, _, filenames in os.walk(self.vectors):
            for name in sorted(filenames):
                st = os.stat(os.path.join(dirpath, name))
                parts.append(f"{os.path.relpath(os.path.join(dirpath, name), self.vectors)}:{st.st_size}:{st.st_mtime_ns}")
        return "|".join(sorted(parts))

    def size_on_disk(self) -> dict[str, int]:
        def size(path: Path) -> int:
            if path.is_file():
                return path.stat().st_size
            return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0

        sizes = {
            "manifest": sum(size(Path(f"{self.index_db}{s}")) for s in ("", "-wal", "-shm")),
            "embedding_cache": sum(size(Path(f"{self.embedding_cache}{s}")) for s in ("", "-wal", "-shm")),
            "vectors": size(self.vectors),
            "graph": size(self.graph),
            "lexical": size(self.lexical),
        }
        sizes["total"] = sum(sizes.values())
        return sizes


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and os.replace, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)

"""The working tree's current text of indexed files, secrets masked, and whether it moved since indexing.

Chunk text is not stored in the index, so packed code is read from the files. A file edited since
indexing is still served (what the user has now is what matters) but flagged stale, and its symbol
spans are re-read from the current text so that packed code is whole; a deleted file yields nothing.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..config import IndexConfig
from ..files import classify_content
from ..languages import language_for_path
from ..model import Symbol
from ..secrets import is_secret_path


@dataclass(frozen=True)
class IndexedFile:
    """What the manifest recorded about a file."""

    hash: str
    size: int
    mtime_ns: int
    inode: int
    language: str | None
    line_count: int


@dataclass
class SourceText:
    path: str
    lines: list[str]  # line n is lines[n - 1]
    stale: bool  # differs from the indexed content
    _fresh_symbols: dict[str, Symbol] | None = field(default=None, repr=False)

    def slice(self, first: int, last: int) -> list[str]:
        return self.lines[max(first, 1) - 1 : max(last, 0)]


class SourceFiles:
    """Reads files on demand and keeps them while their size and mtime stay put."""

    def __init__(self, root: Path, indexed: dict[str, IndexedFile], config: IndexConfig | None = None):
        self.root = root
        self.indexed = indexed
        self.config = config or IndexConfig()
        self._cache: dict[str, tuple[tuple[int, int, int], SourceText | None]] = {}
        self._lock = threading.Lock()
        self._real_root: str | None = None

    def get(self, path: str) -> SourceText | None:
        """The file's current text, or None when it is gone, unreadable or no longer text."""
        full = self.root / path
        try:
            st = os.lstat(full)
        except OSError:
            return None
        # The indexer never follows links; neither does reading: a file replaced by a symlink since indexing
        # (or one under a linked directory that leads out of the repository) is not served.
        if not stat.S_ISREG(st.st_mode) or not self._inside_root(full):
            return None
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        source = self._read(path, full, stamp)
        with self._lock:
            self._cache[path] = (stamp, source)
        return source

    def _inside_root(self, full: Path) -> bool:
        if self._real_root is None:
            self._real_root = os.path.realpath(self.root)
        real = os.path.realpath(full)
        return real.startswith(self._real_root + os.sep)

    def is_stale(self, path: str) -> bool | None:
        """True when the file changed since indexing, None when it is gone."""
        source = self.get(path)
        return None if source is None else source.stale

    def _read(self, path: str, full: Path, stamp: tuple[int, int, int]) -> SourceText | None:
        if is_secret_path(path):
            return None
        try:
            data = full.read_bytes()
        except OSError:
            return None
        record = self.indexed.get(path)
        if record is None:
            stale = True
        elif (record.size, record.mtime_ns, record.inode) == stamp:
            stale = False
        else:
            stale = hashlib.sha256(data).hexdigest() != record.hash
        # The same reading the indexer does: secrets masked, binary and generated files refused.
        text, skipped = classify_content(path, data, self.config)
        if text is None or skipped is not None:
            return None
        return SourceText(path, [line.rstrip("\r") for line in text.split("\n")], stale)

    def fresh_symbols(self, source: SourceText) -> dict[str, Symbol]:
        """Symbols of a stale file parsed from its current text, by qualified name (empty when unparsed)."""
        if source._fresh_symbols is None:
            found: dict[str, Symbol] = {}
            language = language_for_path(source.path)
            if language is not None:
                from ..extract import ParseTimeout, extract_file

                try:
                    extract = extract_file(source.path, "\n".join(source.lines).encode("utf-8"), language,
                                           self.config.parse_timeout_s)
                except ParseTimeout:
                    extract = None
                if extract is not None:
                    for symbol in extract.symbols:
                        found.setdefault(symbol.qname, symbol)
            source._fresh_symbols = found
        return source._fresh_symbols

"""What an index holds and how far the working tree has moved away from it. Read-only: takes no lock."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import files as discovery
from .config import IndexConfig
from .errors import IndexingError
from .state_dir import StateDir
from .store import IndexState, StateCorrupt


def coverage_percent(stored: int, total: int) -> int:
    """Rounded down, so that 100 % means every chunk has its vector."""
    return 100 if total <= 0 else (100 * stored) // total


def coverage_text(stored: int, total: int) -> str:
    return f"vectors: {stored:,} / {total:,} chunks, {coverage_percent(stored, total)} %"


class NoIndex(IndexingError):
    """There is no index at this path yet."""


@dataclass
class IndexStatus:
    root: str
    indexed_at: float | None
    embedding_model: str | None
    encoder: str | None  # what computed the latest vectors (ONNX or torch for the bundled model)
    files_indexed: int
    chunks: int
    lines: int
    symbols: int
    edges: dict[str, int]
    skipped: dict[str, int]
    skipped_files: list[dict] = field(default_factory=list)
    stale: dict[str, list[str]] = field(default_factory=dict)  # modified / added / deleted
    size_on_disk: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    vectors: dict = field(default_factory=dict)
    """stored (chunks with a vector), chunks, coverage_percent, and text ("vectors: 4,210 / 11,801 chunks, 35 %");
    with vectors on a store server, store: its url, tenant and database."""

    @property
    def is_stale(self) -> bool:
        return any(self.stale.values())

    def to_json(self) -> dict:
        data = dict(self.__dict__)
        data["is_stale"] = self.is_stale
        return data


def index_status(root: Path, config: IndexConfig | None = None, check_stale: bool = True) -> IndexStatus:
    config = config or IndexConfig()
    root = root.resolve()
    dirs = StateDir(root)
    unsafe = dirs.unsafe_reason()
    if unsafe:
        raise NoIndex(f"the index at {root} is not safe to read ({unsafe}); run `assist index {root}` to repair it")
    if not dirs.exists():
        raise NoIndex(f"no index at {root}; run `assist index {root}` to build one")
    foreign = dirs.foreign_reason()
    if foreign:
        raise NoIndex(f"the index at {root} was not built here: {foreign}; run `assist index {root}` to rebuild it")
    try:
        state = IndexState(dirs.index_db)
    except StateCorrupt as exc:
        raise NoIndex(f"the index at {root} is damaged ({exc}); run `assist index {root}` to rebuild it") from exc
    try:
        meta = state.all_meta()
        counts = state.counts()
        skipped = state.skipped()
        records = state.file_records()
        stored, total = state.vector_counts()
    finally:
        state.close()
    try:
        summary = json.loads(meta.get("graph_summary", "{}") or "{}")
        indexed_at = float(meta["last_indexed_at"]) if "last_indexed_at" in meta else None
    except ValueError:
        raise NoIndex(f"the index at {root} is damaged (its stamps do not parse); run `assist index {root}`") from None
    if not isinstance(summary, dict):
        summary = {}
    status = IndexStatus(
        root=str(root),
        indexed_at=indexed_at,
        embedding_model=meta.get("embedding_model"),
        encoder=meta.get("encoder"),
        files_indexed=counts["files"],
        chunks=counts["chunks"],
        lines=counts["lines"],
        symbols=summary.get("symbols", 0),
        edges=summary.get("edges", {}),
        skipped=dict(Counter(s.reason for s in skipped)),
        skipped_files=[{"path": s.path, "reason": s.reason, "detail": s.detail} for s in skipped],
        size_on_disk=dirs.size_on_disk(),
        interrupted=meta.get("running") == "1",
        vectors={"stored": stored, "chunks": total, "coverage_percent": coverage_percent(stored, total),
                 "text": coverage_text(stored, total)},
    )
    from .chroma_server import StoreAddress

    address = StoreAddress.from_record(meta.get("vector_store"))
    if address is not None:
        status.vectors["store"] = {"url": address.url, "tenant": address.tenant, "database": address.database}
    if check_stale:
        status.stale = _stale_files(root, config, records, {s.path for s in skipped})
    return status


def _stale_files(root: Path, config: IndexConfig, records: dict, skipped_paths: set[str]) -> dict[str, list[str]]:
    found = discovery.discover(root, config)
    modified, added = [], []
    for cand in found.candidates:
        rec = records.get(cand.path)
        if rec is None:
            if cand.path not in skipped_paths:
                added.append(cand.path)
        elif (rec.size, rec.mtime_ns, rec.inode) != (cand.size, cand.mtime_ns, cand.inode):
            try:
                digest = hashlib.sha256((root / cand.path).read_bytes()).hexdigest()
            except OSError:
                digest = None
            if digest != rec.hash:
                modified.append(cand.path)
    present = {c.path for c in found.candidates}
    deleted = sorted(p for p in records if p not in present)
    return {"modified": modified, "added": added, "deleted": deleted}

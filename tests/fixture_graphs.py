"""The code graph of a sample project under tests/fixtures/languages/, through the real extractor and graph
builder, and its edges of one kind as a set to assert exactly; or a copy of one indexed for real and opened."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.config import IndexConfig
from indexer.extract import extract_file
from indexer.graph import build_graph
from indexer.pipeline import index_repository
from indexer.retrieval import Retriever

LANGUAGE_FIXTURES = Path(__file__).parent / "fixtures" / "languages"


def graph_of(folder: Path, pattern: str, language: str):
    files = sorted(folder.rglob(pattern))
    return build_graph({
        str(f.relative_to(folder)): extract_file(str(f.relative_to(folder)), f.read_bytes(), language) for f in files
    })


def edges(graph, kind: str) -> set[tuple]:
    """(source, target, resolution) for calls, (source, target) for the other kinds."""
    return {
        (source, target, attrs.get("resolution")) if kind == "calls" else (source, target)
        for source, target, key, attrs in graph.edges(keys=True, data=True)
        if key == kind
    }


@contextmanager
def indexed_copy(source: Path, dest: Path) -> Iterator[Retriever]:
    """``source`` copied to ``dest``, indexed (structural tier) by the real pipeline and opened for retrieval."""
    shutil.copytree(source, dest)
    index_repository(dest, IndexConfig(vectors="off"))
    with Retriever(dest, use_vectors=False) as retriever:
        yield retriever


def indexed_project(root: Path, files: dict[str, str]) -> Path:
    """An invented project written under ``root`` (path -> text, leading newlines dropped) and indexed by the real
    pipeline, structural tier only."""
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text.lstrip("\n"))
    index_repository(root, IndexConfig(vectors="off"))
    return root

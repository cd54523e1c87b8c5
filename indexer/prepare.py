"""What happens to one changed file before embedding: classify, parse, extract, chunk, tokenize.

Big change sets run on every core (a cold index of a large repository); small ones stay in process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from . import files as discovery
from .config import IndexConfig
from .model import Chunk, FileExtract, SkippedFile
from .store import FileRecord

CountTokens = Callable[[str], int]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ParsedFile:
    record: FileRecord
    extract: FileExtract | None
    chunks: list[Chunk]
    chunk_tokens: list[list[str]]  # lexical tokens per chunk


# Below this much changed source, starting worker processes costs more than it saves.
PARALLEL_PARSE_MIN_BYTES = 4 * 1024 * 1024


def prepare_file(cand, data: bytes, config: IndexConfig, count_tokens) -> ParsedFile | SkippedFile:
    """Everything that happens to one changed file before embedding; runs in a worker for big jobs."""
    from .chunks import chunk_file
    from .extract import ParseTimeout, extract_file
    from .languages import language_for_path
    from .lexical import tokenize_code

    text, skip = discovery.classify_content(cand.path, data, config)
    if skip is not None:
        return skip
    language = language_for_path(cand.path)
    extract = None
    if language is not None:
        try:
            extract = extract_file(cand.path, text.encode("utf-8"), language, config.parse_timeout_s)
        except ParseTimeout as exc:
            return SkippedFile(cand.path, "parse_timeout", str(exc))
        except (RecursionError, ValueError, UnicodeError) as exc:
            # A grammar or extractor failure on one odd file must not stop the whole index.
            return SkippedFile(cand.path, "parse_error", f"{type(exc).__name__}: {exc}")
    chunks = chunk_file(cand.path, text, extract, config.chunk_max_tokens, count_tokens)
    record = FileRecord(
        path=cand.path, hash=sha256_hex(data), size=cand.size, mtime_ns=cand.mtime_ns, inode=cand.inode,
        language=language, line_count=text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        chunk_ids=[c.id for c in chunks],
    )
    return ParsedFile(record, extract, chunks, [tokenize_code(c.text) for c in chunks])


_worker_count_tokens = None


def _init_parse_worker(config: IndexConfig) -> None:
    global _worker_count_tokens
    from .chunks import estimate_tokens
    from .embeddings import load_embedder

    # A model on a server has no local tokenizer (its count is an estimate), and probing it per worker is waste.
    from .embed_servers import is_server_spec

    if is_server_spec(config.embedding_model):
        _worker_count_tokens = estimate_tokens
    else:
        _worker_count_tokens = load_embedder(config.embedding_model).count_tokens


def _prepare_in_worker(job, config: IndexConfig) -> ParsedFile | SkippedFile:
    return prepare_file(job[0], job[1], config, _worker_count_tokens)


def prepare_files(
    jobs: list[tuple[discovery.Candidate, bytes]], config: IndexConfig, count_tokens: Callable[[], CountTokens]
) -> Iterator[ParsedFile | SkippedFile]:
    """Prepare each (candidate, bytes) job, in input order. ``count_tokens`` is asked for lazily, and
    only when the work stays in this process."""
    total_bytes = sum(len(data) for _, data in jobs)
    if total_bytes >= PARALLEL_PARSE_MIN_BYTES and (os.cpu_count() or 1) > 1:
        yield from _prepare_in_workers(jobs, config)
    elif jobs:
        counter = count_tokens()
        for cand, data in jobs:
            yield prepare_file(cand, data, config, counter)


def _prepare_in_workers(jobs: Iterable[tuple[discovery.Candidate, bytes]], config: IndexConfig):
    """Parse and chunk on every core; results come back in input order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    workers = min(os.cpu_count() or 1, 8)
    # spawn, not fork: the parent may already hold chromadb's or torch's threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_parse_worker,
                             initargs=(config,)) as pool:
        yield from pool.map(partial(_prepare_in_worker, config=config), jobs, chunksize=8)



"""What happens to one changed file before embedding: classify, parse, extract, chunk, tokenize.

Big change sets run on every core (a cold index of a large repository); small ones stay in process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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


def _code_fingerprint() -> str | None:
    """Which version of this package's code sits on disk: its .py files' paths, sizes and modification times
    (stat only: under a millisecond for the whole package, where hashing the bytes would read 700 KB).
    None when the package is not plain files (a zip import): then nothing can be compared."""
    package = Path(__file__).resolve().parent
    entries: list[tuple[str, int, int]] = []

    def walk(directory: Path) -> None:
        with os.scandir(directory) as found:
            for entry in found:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        walk(Path(entry.path))
                elif entry.name.endswith(".py"):
                    stat = entry.stat(follow_symlinks=False)
                    entries.append((os.path.relpath(entry.path, package), stat.st_size, stat.st_mtime_ns))

    try:
        walk(package)
    except OSError:
        return None
    return hashlib.sha256(repr(sorted(entries)).encode()).hexdigest()


# Taken when this module is first imported, i.e. when this process loaded the indexer's code. Taking it when a
# pool starts instead would miss an upgrade made between start-up and the first big index run: the very case
# of a TUI or MCP server left open across `pip install -U` or `git pull`.
CODE_FINGERPRINT = _code_fingerprint()

CODE_CHANGED_NOTICE = ("assist's files changed on disk since this process started; files were parsed in this "
                       "process with the code it runs — restart it to use the new version")


class CodeChangedOnDisk(RuntimeError):
    """A parse worker (which imports the indexer afresh from disk) found other code than its parent runs."""


# Set once a pool met changed code: later runs in this process parse in-process without starting a doomed pool.
_code_changed = False

_worker_count_tokens = None
_worker_refusal: str | None = None


def _init_parse_worker(config: IndexConfig, parent_fingerprint: str | None = None) -> None:
    global _worker_count_tokens, _worker_refusal
    if CODE_FINGERPRINT != parent_fingerprint:
        # Refused here, raised per job (an initializer's exception only breaks the pool, with a traceback on
        # stderr): the parent must get the reason and parse with its own code, or its queries would tokenize
        # differently from the index. No tokenizer is loaded for work that will not be done.
        _worker_refusal = "this worker imported another version of assist's code than its parent runs"
        return
    from .chunks import estimate_tokens
    from .embeddings import load_embedder

    # A model on a server has no local tokenizer (its count is an estimate), and probing it per worker is waste.
    from .embed_servers import is_server_spec

    if is_server_spec(config.embedding_model):
        _worker_count_tokens = estimate_tokens
    else:
        _worker_count_tokens = load_embedder(config.embedding_model).count_tokens


def _prepare_in_worker(job, config: IndexConfig) -> ParsedFile | SkippedFile:
    if _worker_refusal is not None:
        raise CodeChangedOnDisk(_worker_refusal)
    return prepare_file(job[0], job[1], config, _worker_count_tokens)


def prepare_files(
    jobs: list[tuple[discovery.Candidate, bytes]], config: IndexConfig, count_tokens: Callable[[], CountTokens],
    notice: Callable[[str], None] = lambda message: None,
) -> Iterator[ParsedFile | SkippedFile]:
    """Prepare each (candidate, bytes) job, in input order. ``count_tokens`` is asked for lazily, and
    only when the work stays in this process. ``notice`` hears, once, that assist's code changed on disk
    (the work then stays in this process)."""
    total_bytes = sum(len(data) for _, data in jobs)
    if total_bytes >= PARALLEL_PARSE_MIN_BYTES and (os.cpu_count() or 1) > 1:
        if _code_changed:
            notice(CODE_CHANGED_NOTICE)
            yield from _prepare_here(jobs, config, count_tokens)
        else:
            yield from _prepare_in_workers(jobs, config, count_tokens, notice)
    elif jobs:
        yield from _prepare_here(jobs, config, count_tokens)


def _prepare_here(jobs: list[tuple[discovery.Candidate, bytes]], config: IndexConfig,
                  count_tokens: Callable[[], CountTokens]) -> Iterator[ParsedFile | SkippedFile]:
    if not jobs:
        return
    counter = count_tokens()
    for cand, data in jobs:
        yield prepare_file(cand, data, config, counter)


def _prepare_in_workers(jobs: list[tuple[discovery.Candidate, bytes]], config: IndexConfig,
                        count_tokens: Callable[[], CountTokens], notice: Callable[[str], None]):
    """Parse and chunk on every core; results come back in input order. Workers that run other code than
    this process (assist was upgraded on disk meanwhile) refuse; their jobs, and every later one, are then
    parsed here, so the whole index is made by the code that will query it."""
    global _code_changed
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    workers = min(os.cpu_count() or 1, 8)
    # spawn, not fork: the parent may already hold chromadb's or torch's threads.
    context = multiprocessing.get_context("spawn")
    done = 0
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_parse_worker,
                               initargs=(config, CODE_FINGERPRINT))
    try:
        for result in pool.map(partial(_prepare_in_worker, config=config), jobs, chunksize=8):
            yield result
            done += 1
    except CodeChangedOnDisk:
        _code_changed = refused = True
    else:
        refused = False
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if refused:  # the rest is parsed here, once the pool is gone
        notice(CODE_CHANGED_NOTICE)
        yield from _prepare_here(jobs[done:], config, count_tokens)

"""BM25 over code-aware tokens: the lexical half of search.

Identifiers are indexed whole *and* by their parts, so a query for ``parse_config`` meets a chunk that
defines ``parseConfig`` (both give ``parseconfig``, ``parse``, ``config``). Every word is reduced to its English
stem (Snowball), so a report's "docstrings", "parsing" or "redirects" meets ``is_docstring``, ``parse`` and
``max_redirect``: issue text inflects the words that code spells once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import threading
import uuid
from functools import lru_cache
from pathlib import Path

import numpy

from .safe_fs import atomic_write, sync_directory

_WORD = re.compile(r"\w+")
_IDENTIFIER_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# A word and the number written onto it are also one part ("f32" of deserialize_f32, "Float64" of Float64Slice,
# "utf8" of utf8Decode, "IPv6" of isValidIPv6): a report writes them whole, and "f" alone is too short to keep. An
# acronym keeps the one lower-case letter before its number ("IPv6", "TLSv1"); a longer run starts a new word, as
# "Response2" of getHTTPResponse2.
_NUMBERED_PART = re.compile(r"[A-Z]{2,}[a-z]\d+|(?:[A-Z]?[a-z]+|[A-Z]+)\d+")

# Words in nearly every chunk of code or prose: they only add noise to BM25 scores.
STOP_WORDS = frozenset(
    """
    self cls def return the import from as class if else elif for while in is not and or none null nil
    true false pass try except finally with raise lambda yield async await this that of to be are was it
    on at by an var let const function func fn public private protected static void package then do
    """.split()
)

_POINTER = "CURRENT"
_IDS_FILE = "ids.json"


_stemmers = threading.local()  # a PyStemmer object must not be shared between threads


def stem_word(token: str) -> str:
    """A lower-case word's English stem ("docstrings", "docstring" -> "docstr"); other tokens as they are."""
    if not token.isalpha():
        return token
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(token)


@lru_cache(maxsize=200_000)
def _word_tokens(word: str, stem: bool = True) -> tuple[str, ...]:
    whole = word.replace("_", "").lower()
    words = [whole] if len(whole) > 1 and whole not in STOP_WORDS else []
    for part in _IDENTIFIER_PART.findall(word):
        part = part.lower()
        if len(part) > 1 and part != whole and part not in STOP_WORDS:
            words.append(part)
    if not stem:
        return tuple(words)
    words += [part for part in map(str.lower, _NUMBERED_PART.findall(word)) if part != whole and part not in words]
    stems: list[str] = []
    for token in map(stem_word, words):
        if token not in stems:
            stems.append(token)
    return tuple(stems)


def tokenize_code(text: str, stem: bool = True) -> list[str]:
    """Lowercased identifiers, whole (underscores dropped) and split into their snake/camel-case parts, each
    reduced to its stem; dotted paths fall apart into their names. Syntax words and one-character tokens are
    dropped. ``stem=False`` gives the plain baseline the benchmarks compare against: words as written, and no
    word-and-number parts ("f32" of ``deserialize_f32``), as before either existed."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        tokens.extend(_word_tokens(word, stem))
    return tokens


class LexicalIndex:
    """A BM25 index over chunk ids. Build it from token lists; search it with a raw query string."""

    def __init__(self, ids: list[str], retriever: object | None):
        self.ids = ids
        self._retriever = retriever  # a bm25s.BM25, or None for an empty corpus

    @classmethod
    def build(cls, ids: list[str], token_lists: list[list[str]]) -> LexicalIndex:
        if len(ids) != len(token_lists):
            raise ValueError(f"{len(ids)} ids but {len(token_lists)} token lists")
        if not any(token_lists):
            return cls(list(ids), None)
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(token_lists, show_progress=False)
        return cls(list(ids), retriever)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int, stem: bool = True) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` as (id, BM25 score), best first; only scores above zero.
        ``stem`` must match how the index's token lists were made."""
        return self.best(self.scores(query, stem), k)

    def scores(self, query: str, stem: bool = True) -> numpy.ndarray | None:
        """Every chunk's BM25 score for ``query``, in the order of ``ids``; None when no query word is indexed."""
        if self._retriever is None:
            return None
        vocab: dict[str, int] = self._retriever.vocab_dict
        token_ids = sorted({vocab[t] for t in tokenize_code(query, stem) if t in vocab})
        if not token_ids:
            return None
        return self._retriever.get_scores_from_ids(token_ids)

    def best(self, scores: numpy.ndarray | None, k: int) -> list[tuple[str, float]]:
        """The ``k`` best of ``scores`` (from ``scores()``) as (id, score), best first; only scores above zero."""
        if scores is None or k <= 0:
            return []
        if k < len(scores):
            top = numpy.argpartition(-scores, k - 1)[:k]
        else:
            top = numpy.arange(len(scores))
        top = top[numpy.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, directory: Path) -> None:
        """Write into a fresh generation folder, flush it, then switch the pointer file atomically, so a crash
        or power cut leaves either the old index or the new one, never a mix."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        generation = f"gen-{uuid.uuid4().hex[:12]}"
        target = directory / generation
        target.mkdir()
        if self._retriever is not None:
            self._retriever.save(str(target), show_progress=False)
        else:
            atomic_write(target / _NO_TERMS_FILE, b"")  # says the BM25 files are absent on purpose
        atomic_write(target / _IDS_FILE, json.dumps(self.ids).encode("utf-8"))
        sync_directory(target)  # the pointer may only name a generation whose files survive a power cut
        atomic_write(directory / _POINTER, generation.encode("utf-8"))
        for old in directory.glob("gen-*"):
            if old.name != generation:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Raises FileNotFoundError when no index was saved there, LexicalIndexUnreadable when what is
        there is not an index we wrote. Nothing is read through a symbolic link or outside ``directory``."""
        directory = Path(directory)
        generation = _read_small(directory / _POINTER, 256).decode("utf-8", errors="replace").strip()
        if not _GENERATION.fullmatch(generation):
            raise LexicalIndexUnreadable(f"{directory / _POINTER} does not name an index generation")
        source = directory / generation
        if source.is_symlink() or not source.is_dir():
            raise LexicalIndexUnreadable(f"{source} is not a directory")
        ids = _load_json(source / _IDS_FILE, _MAX_JSON_BYTES)
        if type(ids) is not list or not all(type(i) is str for i in ids):
            raise LexicalIndexUnreadable(f"{source / _IDS_FILE} is not a list of chunk ids")
        if (source / _NO_TERMS_FILE).is_file() and not (source / _NO_TERMS_FILE).is_symlink():
            return cls(ids, None)
        return cls(ids, _load_bm25(source, len(ids)))


class LexicalIndexUnreadable(ValueError):
    """A lexical index file is damaged or is not one we wrote."""


_GENERATION = re.compile(r"gen-[0-9a-f]{1,64}")
_PARAMS_FILE = "params.index.json"
_NO_TERMS_FILE = "no-terms"
_MAX_JSON_BYTES = 1 << 30
# Exactly what our bm25s.BM25() writes: anything else (another backend, a corpus) is not ours.
_PARAMS = {"k1": (int, float), "b": (int, float), "delta": (int, float), "method": (str,), "idf_method": (str,),
           "dtype": (str,), "int_dtype": (str,), "num_docs": (int,), "version": (str,), "backend": (str,)}
_ARRAYS = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json")


def _read_small(path: Path, limit: int) -> bytes:
    """A regular file's bytes, never through a symbolic link (O_NOFOLLOW), at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise LexicalIndexUnreadable(f"{path} cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise LexicalIndexUnreadable(f"{path} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise LexicalIndexUnreadable(f"{path} is larger than any index file we write")
    return data


def _load_json(path: Path, limit: int) -> object:
    try:
        return json.loads(_read_small(path, limit))
    except FileNotFoundError:
        raise LexicalIndexUnreadable(f"{path} is missing") from None
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, LexicalIndexUnreadable):
            raise
        raise LexicalIndexUnreadable(f"{path} is not valid JSON") from None


def _load_bm25(source: Path, doc_count: int) -> object:
    params = _load_json(source / _PARAMS_FILE, 1 << 16)
    if type(params) is not dict or params.keys() != _PARAMS.keys() or not all(
        type(params[k]) in kinds for k, kinds in _PARAMS.items()
    ):
        raise LexicalIndexUnreadable(f"{source / _PARAMS_FILE} does not hold our BM25 parameters")
    if params["backend"] != "numpy" or params["num_docs"] != doc_count:
        raise LexicalIndexUnreadable(f"{source / _PARAMS_FILE} does not match the index's {doc_count} chunks")
    vocab = _load_json(source / "vocab.index.json", _MAX_JSON_BYTES)
    if type(vocab) is not dict or not all(type(v) is int for v in vocab.values()):
        raise LexicalIndexUnreadable(f"{source / 'vocab.index.json'} is not a vocabulary")
    for name in _ARRAYS:
        if (source / name).is_symlink():
            raise LexicalIndexUnreadable(f"{source / name} is a symbolic link")
    import bm25s

    try:
        # allow_pickle=False: numpy refuses object arrays, the one way an .npy file could run code.
        retriever = bm25s.BM25.load(str(source), show_progress=False, allow_pickle=False, mmap=False)
    except FileNotFoundError as exc:
        raise LexicalIndexUnreadable(f"a file of the lexical index is missing ({exc.filename})") from None
    except (ValueError, TypeError, KeyError, OSError, EOFError) as exc:
        raise LexicalIndexUnreadable(f"the lexical index in {source} cannot be read ({exc})") from None
    _check_scores(retriever, len(vocab), doc_count, source)
    return retriever


def _check_scores(retriever, vocab_size: int, doc_count: int, source: Path) -> None:
    """The CSC arrays must describe vocab_size columns over doc_count documents, or a query would index
    out of bounds (or silently score the wrong chunks)."""
    scores = retriever.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    ok = (
        data.ndim == indices.ndim == indptr.ndim == 1
        and data.dtype.kind == "f" and indices.dtype.kind in "iu" and indptr.dtype.kind in "iu"
        # bm25s gives the empty token a vocabulary id but no column
        and vocab_size <= len(indptr) <= vocab_size + 1
        and len(data) == len(indices)
        and (len(indptr) == 0 or (int(indptr[0]) == 0 and int(indptr[-1]) == len(data)))
        and bool((numpy.diff(indptr) >= 0).all())
        and (len(indices) == 0 or (int(indices.min()) >= 0 and int(indices.max()) < doc_count))
        and bool(numpy.isfinite(data).all())
        and set(retriever.vocab_dict.values()) == set(range(vocab_size))
        and all(i < len(indptr) - 1 for t, i in retriever.vocab_dict.items() if t)
    )
    if not ok:
        raise LexicalIndexUnreadable(f"the lexical index in {source} is inconsistent")


"""BM25 over code-aware tokens: the lexical half of search.

Identifiers are indexed whole *and* by their parts, so a query for ``parse_config`` meets a chunk that
defines ``parseConfig`` (both give ``parseconfig``, ``parse``, ``config``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from functools import lru_cache
from pathlib import Path

import numpy

_WORD = re.compile(r"\w+")
_IDENTIFIER_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

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


@lru_cache(maxsize=200_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    whole = word.replace("_", "").lower()
    tokens = [whole] if len(whole) > 1 and whole not in STOP_WORDS else []
    for part in _IDENTIFIER_PART.findall(word):
        part = part.lower()
        if len(part) > 1 and part != whole and part not in STOP_WORDS:
            tokens.append(part)
    return tuple(tokens)


def tokenize_code(text: str) -> list[str]:
    """Lowercased identifiers, whole (underscores dropped) and split into their snake/camel-case parts;
    dotted paths fall apart into their names. Syntax words and one-character tokens are dropped."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        tokens.extend(_word_tokens(word))
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

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` as (id, BM25 score), best first; only scores above zero."""
        if self._retriever is None or k <= 0:
            return []
        vocab: dict[str, int] = self._retriever.vocab_dict
        token_ids = sorted({vocab[t] for t in tokenize_code(query) if t in vocab})
        if not token_ids:
            return []
        scores = self._retriever.get_scores_from_ids(token_ids)
        if k < len(scores):
            top = numpy.argpartition(-scores, k - 1)[:k]
        else:
            top = numpy.arange(len(scores))
        top = top[numpy.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def save(self, directory: Path) -> None:
        """Write into a fresh generation folder, then switch the pointer file with os.replace, so a crash
        leaves either the old index or the new one, never a mix."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        generation = f"gen-{uuid.uuid4().hex[:12]}"
        target = directory / generation
        target.mkdir()
        if self._retriever is not None:
            self._retriever.save(str(target), show_progress=False)
        _write_atomic(target / _IDS_FILE, json.dumps(self.ids))
        _write_atomic(directory / _POINTER, generation)
        for old in directory.glob("gen-*"):
            if old.name != generation:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Raises FileNotFoundError when no index was saved there."""
        directory = Path(directory)
        generation = (directory / _POINTER).read_text(encoding="utf-8").strip()
        source = directory / generation
        ids = json.loads((source / _IDS_FILE).read_text(encoding="utf-8"))
        if not (source / "params.index.json").is_file():
            return cls(ids, None)
        import bm25s

        retriever = bm25s.BM25.load(str(source), show_progress=False)
        return cls(ids, retriever)


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)

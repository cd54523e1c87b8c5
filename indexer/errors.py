"""The one base class for everything that can stop an index run or keep an index from opening, so a front end
catches ``IndexingError`` once instead of listing the indexer's exceptions (and missing the next one)."""

from __future__ import annotations


class IndexingError(Exception):
    """An index could not be built, refreshed or opened; the message is one line for the user."""


class StoreWriteError(IndexingError):
    """A store of the index (manifest, embedding cache, vectors) refused a write: a full disk, a read-only
    file system, a damaged database. Everything committed before stays; a re-run continues from there."""

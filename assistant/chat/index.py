"""The index a chat answers from: checked once per session, re-indexed on request, vectors filled meanwhile.

``ChatIndex`` builds a missing index and refreshes a stale one (the structural tier: no question waits for
embedding) through ``indexer.lifecycle``, opens the retriever, and says in one word where the index stands
(``missing``, ``refreshing``, ``fresh``, ``stale``) for the status line. Indexing holds its own lock for as
long as the indexer runs; nothing here touches the conversation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from indexer.config import IndexConfig
from indexer.lifecycle import IndexingError, VectorFiller, ensure_fresh, reindex
from indexer.retrieval import RetrievalError, Retriever
from indexer.status import coverage_percent

from .errors import ChatError
from .events import Notice

Progress = Callable[[str, int, int], None]


class ChatIndex:
    def __init__(self, repo_root: Path, retriever: Retriever | None, use_vectors: bool,
                 config: IndexConfig | None) -> None:
        """``retriever``: one the caller owns and keeps open (else one is opened here, and closed by ``close``)."""
        self.repo_root = repo_root
        self.use_vectors = use_vectors
        self.retriever = retriever
        self._owns_retriever = retriever is None
        self._config = config
        self._filler: VectorFiller | None = None
        self._lock = threading.RLock()
        self._checked = False
        self.state = "fresh" if retriever is not None or (repo_root / ".assist").is_dir() else "missing"

    @property
    def config(self) -> IndexConfig:
        """The repository's ``[index]`` settings unless given; ChatError when its config file is wrong."""
        if self._config is None:
            from ..index_settings import repository_index_config

            self._config = repository_index_config(self.repo_root, ChatError)
        return self._config

    def ensure(self, progress: Progress | None = None) -> list[Notice]:
        """Once: build a missing index, refresh a stale one, open the retriever; notices for the user."""
        with self._lock:
            if self._checked and self.retriever is not None:
                return []
            notices: list[Notice] = []
            previous, self.state = self.state, "refreshing"
            try:
                refresh = ensure_fresh(self.repo_root, self.config, progress=progress,
                                       notice=lambda text: notices.append(Notice(text)))
            except IndexingError as exc:
                self.state = previous
                raise ChatError(f"indexing {self.repo_root} failed: {exc}") from exc
            if refresh.warning:
                self.state = "stale"
                notices.append(Notice(refresh.warning, "warning"))
            else:
                self.state = "fresh"
            if refresh.report is not None:
                notices.append(Notice(index_summary(refresh.report)))
            self._open_retriever()
            self._checked = True
            return notices

    def reindex(self, progress: Progress | None = None,
                tell: Callable[[list[Notice]], None] = lambda notices: None) -> str:
        """Bring the index up to date now, vectors included (a background filler steps aside); returns a one-line
        summary. What the indexer said on the way goes to ``tell`` once it has finished."""
        with self._lock:
            previous, self.state = self.state, "refreshing"
            said: list[str] = []
            try:
                report = reindex(self.repo_root, self.config, progress=progress, notice=said.append)
            except IndexingError as exc:
                self.state = previous
                raise ChatError(f"indexing {self.repo_root} failed: {exc}") from exc
            self.state = "fresh"
            tell([Notice(text) for text in said])
            self._open_retriever()
            self._checked = True
            if self._filler is not None:
                self._filler.poke()
            return index_summary(report)

    def noticed_stale(self) -> None:
        """A retrieved file changed after the index was checked: say so on the status line."""
        if self.state == "fresh":
            self.state = "stale"

    def fill_vectors_in_background(self, on_change: Callable[[], None] | None = None) -> VectorFiller:
        with self._lock:
            if self._filler is None:
                self._filler = VectorFiller(self.repo_root, self.config, on_change=on_change)
            return self._filler.start()

    def vectors_label(self) -> str:
        """``vectors 42 %`` (and the filler's state when it is not filling) while vectors are being filled in."""
        filler = self._filler
        if filler is None or filler.state in ("complete", "stopped") or not filler.coverage[1]:
            return ""
        stored, total = filler.coverage
        return f"vectors {coverage_percent(stored, total)} %" + ("" if filler.state == "filling" else f" ({filler.state})")

    def stop_filling(self) -> None:
        if self._filler is not None:
            self._filler.stop()

    def close(self) -> None:
        """Stop the filler (what it stored stays) and close the retriever if it was opened here."""
        self.stop_filling()
        if self._owns_retriever and self.retriever is not None:
            self.retriever.close()

    def _open_retriever(self) -> None:
        if self.retriever is None:
            try:
                self.retriever = Retriever(self.repo_root, use_vectors=self.use_vectors)
            except RetrievalError as exc:
                raise ChatError(str(exc)) from exc


def index_summary(report) -> str:
    if report is None:
        return "the index was not refreshed"
    seconds = sum(report.seconds.values())
    return (f"indexed {report.files_indexed} files: {report.files_changed} changed, {report.files_removed} removed, "
            f"{report.chunks_embedded} chunks embedded ({seconds:.1f} s)")

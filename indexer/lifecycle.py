"""Keeping an index usable for a front end: build it when missing, refresh it when stale, fill its vectors behind.

``ensure_fresh`` is the one rule every front end follows (chat and the TUI, ``ask``, ``fix``, MCP, ACP): a missing
index is built, a stale or interrupted one refreshed, a fresh one left alone, always only up to the structural
tier, so that no question waits for embedding. A long-running front end then starts a ``VectorFiller``: a child
process at the lowest CPU priority that embeds what is missing while the front end answers, and steps aside for
any other writer (see ``lock.IndexLock``). Readers never wait for it: retrieval uses the vectors there are.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import IndexConfig
from .errors import IndexingError
from .pipeline import IndexReport, ProgressCallback, index_repository
from .status import NoIndex, index_status

# Exit status of the filler's child process (indexer/fill.py).
FINISHED, FAILED, BUSY, YIELDED = 0, 1, 3, 4
SECRET_ENV = {"ASSIST_STORE_TOKEN": "store_token", "ASSIST_EMBED_API_KEY": "embed_api_key"}
"""Settings the filler's child gets in its environment, never on its command line (every user of the machine can
read a command line): environment variable → IndexConfig field."""

__all__ = ["IndexingError", "Refresh", "VectorFiller", "coverage", "ensure_fresh", "reindex", "with_index_model"]


@dataclass
class Refresh:
    """What ``ensure_fresh`` did."""

    action: str
    """"fresh" (nothing to do), "built", "refreshed", or "kept" (the refresh failed; the old index stays in use)."""
    report: IndexReport | None = None
    notices: list[str] = field(default_factory=list)
    """For the user, in order; each was also passed to the ``notice`` callback as it happened."""
    warning: str | None = None
    """Why a refresh failed ("kept")."""


def ensure_fresh(root: Path, config: IndexConfig | None = None, *,
                 progress: ProgressCallback | None = None, notice: Callable[[str], None] | None = None,
                 keep_going: bool = True) -> Refresh:
    """Bring the index at ``root`` up to date, structural tier only; the vector tier is left to a ``VectorFiller``
    or the next ``assist index``. An existing index keeps the embedding model it was built with.

    Raises IndexingError when a missing index cannot be built, and — unless ``keep_going`` — when a stale one cannot
    be refreshed; with ``keep_going`` that failure is a warning and the index stays as it is."""
    config = dataclasses.replace(config or IndexConfig())
    if config.vectors != "off":
        config.vectors = "later"
    result = Refresh("fresh")

    def say(text: str) -> None:
        result.notices.append(text)
        if notice is not None:
            notice(text)

    try:
        status = index_status(root, config)
    except NoIndex:
        say(f"{root} has no index yet; indexing it now (the structural index first: names, the graph and text "
            f"search work within seconds)")
        result.action = "built"
        result.report = _run(root, config, progress, say)
        return result
    if not (status.is_stale or status.interrupted):
        return result
    if status.embedding_model:
        config.embedding_model = status.embedding_model
    changed = sum(len(paths) for paths in status.stale.values())
    say(f"{changed} {'file' if changed == 1 else 'files'} changed since indexing; refreshing the index" if changed
        else "the last index run was interrupted; refreshing the index")
    try:
        result.report = _run(root, config, progress, say)
        result.action = "refreshed"
    except IndexingError as exc:
        if not keep_going:
            raise
        result.action, result.warning = "kept", f"could not refresh the index ({exc}); using the index as it is"
    return result


def reindex(root: Path, config: IndexConfig | None = None, *, progress: ProgressCallback | None = None,
            notice: Callable[[str], None] | None = None) -> IndexReport:
    """An explicit re-index (``/reindex``, the MCP ``reindex`` tool): both tiers as configured, keeping the index's
    embedding model. A background filler steps aside for it. Raises IndexingError."""
    return _run(root, with_index_model(root, config), progress, notice or (lambda text: None))


def with_index_model(root: Path, config: IndexConfig | None = None) -> IndexConfig:
    """A copy of ``config`` that embeds with the model the index at ``root`` was built with (if there is one)."""
    config = dataclasses.replace(config or IndexConfig())
    try:
        recorded = index_status(root, config, check_stale=False).embedding_model
    except NoIndex:
        recorded = None
    if recorded:
        config.embedding_model = recorded
    return config


def _run(root: Path, config: IndexConfig, progress: ProgressCallback | None,
         notice: Callable[[str], None]) -> IndexReport:
    try:
        return index_repository(root, config, progress=progress or (lambda *args: None), notice=notice)
    except OSError as exc:  # .assist unusable: a plain file, no permission, a full disk
        raise IndexingError(f"cannot index {root}: {exc}") from exc


def coverage(root: Path) -> tuple[int, int]:
    """(chunks with a stored vector, all chunks), read without any lock; (0, 0) when there is no index."""
    try:
        vectors = index_status(root, check_stale=False).vectors
    except NoIndex:
        return 0, 0
    return vectors["stored"], vectors["chunks"]


class VectorFiller:
    """Embeds, in the background, the chunks of an index that have no vector yet.

    A watcher thread starts ``python -m indexer.fill`` (nice 19; it dies with this process) whenever vectors are
    missing; when another process holds the index lock it waits and tries again, so of two front ends open on one
    repository one fills and the other reads. ``state`` is "filling", "waiting" (another writer), "complete",
    "failed: <why>" or "stopped"; ``on_change`` is called (from the watcher thread) whenever it or the coverage
    moves."""

    def __init__(self, root: Path, config: IndexConfig | None = None, *, poll_s: float = 2.0,
                 on_change: Callable[[], None] | None = None):
        self.root = Path(root).resolve()
        self.config = config or IndexConfig()
        self.poll_s = poll_s
        self.on_change = on_change or (lambda: None)
        self.state = "stopped"
        self.coverage: tuple[int, int] = (0, 0)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._child: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> VectorFiller:
        """Start watching (idempotent). Nothing happens for an index whose vectors are off."""
        if self.config.vectors == "off" or (self._thread is not None and self._thread.is_alive()):
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._watch, name="vector-filler", daemon=True)
        self._thread.start()
        return self

    def poke(self) -> None:
        """Look again now (after a re-index added chunks, say) instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the child (what it stored stays) and the watcher."""
        self._stopping.set()
        self._wake.set()
        self._end_child()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._set("stopped")

    # -------------------------------------------------------------------------------- the watcher

    def _watch(self) -> None:
        while not self._stopping.is_set():
            stored, total = self._look()
            if stored >= total:  # (0, 0): no index yet; it is for a foreground run to build one
                self._set("complete")
            else:
                outcome = self._fill_once()
                if outcome is not None:
                    self._set(outcome)
                    if outcome.startswith("failed"):
                        # Do not spin on a model that cannot load: wait for a poke (a re-index) or a long while.
                        self._wake.wait(60 * self.poll_s)
                        self._wake.clear()
                        continue
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _fill_once(self) -> str | None:
        settings = {k: v for k, v in dataclasses.asdict(self.config).items()
                    if k not in ("vectors", "lock_wait_s", *SECRET_ENV.values())}
        # Tokens and keys go by environment: a command line is visible to every user of the machine (ps).
        env = {**os.environ, **{name: getattr(self.config, attr) for name, attr in SECRET_ENV.items()
                                if getattr(self.config, attr)}}
        with self._lock:
            if self._stopping.is_set():
                return None
            self._child = subprocess.Popen(
                [sys.executable, "-m", "indexer.fill", str(self.root), json.dumps(settings)],
                cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True, errors="replace", env=env)
        self._set("filling")
        child = self._child
        while True:
            try:
                child.wait(self.poll_s)
                break
            except subprocess.TimeoutExpired:
                self._look()
        errors = child.stderr.read() if child.stderr else ""
        self._look()
        if self._stopping.is_set():
            return None
        if child.returncode == BUSY:
            return "waiting"
        if child.returncode in (FINISHED, YIELDED):
            return "filling"
        lines = [line for line in errors.splitlines() if line.strip()]
        return f"failed: {lines[-1] if lines else f'the vector filler exited with status {child.returncode}'}"

    def _end_child(self) -> None:
        with self._lock:
            child = self._child
        if child is not None and child.poll() is None:
            child.terminate()  # the vector tier crosses a group off only after storing it: nothing is lost
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def _look(self) -> tuple[int, int]:
        try:
            now = coverage(self.root)
        except (IndexingError, OSError):  # a state that an indexer rewrites this instant: look again next time
            now = self.coverage
        if now != self.coverage:
            self.coverage = now
            self.on_change()
        return now

    def _set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.on_change()

"""The index kept in step with what a fix run, an edit or an undo wrote: the structural tier only (names, graph and
text search of the changed files, about a second), so the next question, here or in a chat that stays open, reads
the code as it now is. Vectors follow in the background (a chat's filler) or at the next `assist index`."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from indexer.pipeline import IndexReport

from .checkpoint import UndoReport
from .events import FixNotice


def refresh_index(root: Path, doing: str) -> Generator[FixNotice, None, IndexReport | None]:
    """Bring the index at ``root`` up to date; what the indexer says comes as notices. Returns the index run's
    report, None when nothing needed doing or it failed (a warning says so; the index stays as it was)."""
    from indexer.lifecycle import IndexingError, ensure_fresh

    try:
        refresh = ensure_fresh(root)
    except IndexingError as exc:
        yield FixNotice(f"{doing} failed ({exc}); using the index as it is", "warning")
        return None
    for text in refresh.notices:
        yield FixNotice(text)
    if refresh.warning:
        yield FixNotice(refresh.warning, "warning")
    return refresh.report


def refresh_after_undo(root: Path, report: UndoReport, retry: str = "/reindex") -> str | None:
    """After an undo: refresh the index, if the undo put back or deleted a file and there is an index (an undo does
    not build one); a warning for the user when that failed, ending in ``retry``, the command that re-indexes in
    that front end; else None."""
    from indexer.state_dir import StateDir

    if not (report.restored or report.deleted) or not StateDir(root).exists():
        return None
    warnings = [notice.text for notice in refresh_index(root, "re-indexing the restored files")
                if notice.level == "warning"]
    return f"{'; '.join(warnings)}; run {retry} to retry" if warnings else None

"""A per-stage progress bar for long work on a terminal; silent when output is not a terminal."""

from __future__ import annotations

from rich.text import Text
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .terminal import console, inert_lines

_STAGE_LABELS = {
    "files": "Scanning files",
    "parse": "Parsing",
    "model": "Loading model",
    "embed": "Embedding chunks",
    "store": "Storing vectors",
    "graph": "Building graph",
    "lexical": "Lexical index",
}


class StageProgress:
    """Adapts the indexer's (stage, done, total) callback to rich progress bars, one bar per stage."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._console = console(stderr=True)  # piped, a notice stays one line however long its paths
        self._progress: Progress | None = None
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> "StageProgress":
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description:<18}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, stage: str, done: int, total: int) -> None:
        if self._progress is None:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(_STAGE_LABELS.get(stage, stage), total=total)
        self._progress.update(self._tasks[stage], completed=done, total=total)

    def notice(self, message: str) -> None:
        """Notices (a rebuilt store, a changed model) are shown whether or not bars are."""
        # A notice can name files and echo their errors: never read as markup, control characters shown.
        self._console.print(Text.assemble(("assist:", "yellow"), " ", inert_lines(message)), highlight=False)

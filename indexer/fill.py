"""The vector filler's child process: ``python -m indexer.fill ROOT [CONFIG_JSON]``.

Runs one index pass with the vector tier, at the lowest CPU priority, as a background writer that gives the lock
to any other writer between two groups of vectors. The embedding model is the one the index already uses, so a
long-running front end never switches an index back to its own default while someone else re-indexes it with
another model. Exit status: 0 finished, 3 another writer holds the lock, 4 stepped aside for a writer, 1 failed
(the reason on stderr's last line).
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path

def _die_with_parent() -> None:
    """Linux: SIGTERM when the front end that started us goes away, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    from .config import IndexConfig
    from .errors import IndexingError
    from .lifecycle import BUSY, FAILED, FINISHED, SECRET_ENV, YIELDED, with_index_model
    from .lock import IndexBusy
    from .pipeline import index_repository

    try:
        os.nice(19)
    except OSError:
        pass
    _die_with_parent()
    root = Path(argv[0])
    fields = {f.name for f in dataclasses.fields(IndexConfig)}
    settings = json.loads(argv[1]) if len(argv) > 1 else {}
    settings = {k: v for k, v in settings.items() if k in fields and k not in SECRET_ENV.values()}
    settings.update({attr: os.environ[name] for name, attr in SECRET_ENV.items() if os.environ.get(name)})
    config = with_index_model(root, IndexConfig(**settings))
    config.vectors, config.lock_wait_s = "now", 0.0
    try:
        report = index_repository(root, config, background=True)
    except IndexBusy:
        return BUSY
    except (IndexingError, OSError) as exc:
        print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
        return FAILED
    return YIELDED if report.vectors.get("yielded") else FINISHED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

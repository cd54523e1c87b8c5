"""One writer at a time per repository: an advisory lock that the kernel releases when its holder dies."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .errors import IndexingError


class IndexBusy(IndexingError):
    """Another process holds the lock and did not release it within the wait."""

    def __init__(self, lock_path: Path, holder: str, waited_s: float, activity: str = "writing this index"):
        self.lock_path = lock_path
        self.holder = holder
        super().__init__(
            f"another assist process ({holder}) is {activity}; gave up after {waited_s:g}s. "
            f"Wait for it to finish, or stop it (lock file: {lock_path})."
        )


class IndexLock:
    """``with IndexLock(state_dir, wait_s):`` — flock-based, so a SIGKILLed holder never leaves a stale lock."""

    def __init__(self, state_dir: Path, wait_s: float = 5.0, name: str = "lock",
                 activity: str = "writing this index"):
        self.path = state_dir / name
        self.wait_s = wait_s
        self.activity = activity
        self._fd: int | None = None

    def __enter__(self) -> "IndexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a lock file swapped for a link would have us truncate whatever it points to.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise IndexBusy(self.path, holder, self.wait_s, self.activity) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "unknown pid"

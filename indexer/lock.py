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


BACKGROUND = "filling vectors in the background"
YIELD_WAIT_S = 120.0
"""How long a writer waits for a background vector filler to finish its current group and step aside."""


class IndexLock:
    """``with IndexLock(state_dir, wait_s):`` — flock-based, so a SIGKILLed holder never leaves a stale lock.

    A ``background`` holder (a vector filler) gives way: a writer that finds it holding the lock leaves a request
    file beside the lock, the holder sees it through ``wanted()`` between two groups of vectors, stores what it has
    and lets go, and the writer gets the lock within one group's time instead of failing after ``wait_s``."""

    def __init__(self, state_dir: Path, wait_s: float = 5.0, name: str = "lock",
                 activity: str = "writing this index", background: bool = False):
        self.path = state_dir / name
        self.request = state_dir / f"{name}.wanted"
        self.wait_s = wait_s
        self.activity = activity
        self.background = background
        self._fd: int | None = None

    def __enter__(self) -> "IndexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a lock file swapped for a link would have us truncate whatever it points to.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        started = time.monotonic()
        deadline, asked = started + self.wait_s, False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not self.background and not self.wanted() and BACKGROUND in _read_holder(fd):
                    # Asked again if a filler that started meanwhile cleared the request (see below).
                    asked = self._ask_to_yield() or asked
                    deadline = max(deadline, started + YIELD_WAIT_S) if asked else deadline
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise IndexBusy(self.path, holder, round(time.monotonic() - started, 1), self.activity) from None
                time.sleep(0.05)
        if asked or self.background:
            # A filler clears what it finds: a request left by a writer that gave up or died would otherwise stop
            # every filler at once, forever; a writer still waiting asks again within 50 ms.
            self._withdraw_request()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}{f' ({BACKGROUND})' if self.background else ''}\n".encode(), 0)
        self._fd = fd
        return self

    def wanted(self) -> bool:
        """Another writer is waiting for this (background) holder to step aside."""
        return os.path.lexists(self.request)

    def _ask_to_yield(self) -> bool:
        try:
            os.close(os.open(self.request, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644))
            return True
        except OSError:
            return False

    def _withdraw_request(self) -> None:
        try:
            os.unlink(self.request)
        except FileNotFoundError:
            pass

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

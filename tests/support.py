"""Helpers shared by the tests: real sample repositories and the real `assist` entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PROJECT = PROJECT_ROOT / "examples" / "inventory"

# Planted in the sample repository; must never be found anywhere under .assist/.
PLANTED_SECRET = "ghp_" + "R3aLlyS3cretT0kenForT3st1ngOnly0123"
PLANTED_AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_sample_repo(dest: Path) -> Path:
    """A git repository: the example project plus files that must be skipped or masked."""
    shutil.copytree(EXAMPLE_PROJECT, dest, ignore=shutil.ignore_patterns(".assist", "__pycache__", ".pytest_cache"))
    (dest / ".env").write_text(f"GITHUB_TOKEN={PLANTED_SECRET}\n")
    (dest / ".env.example").write_text("GITHUB_TOKEN=put-your-token-here\n")
    (dest / "inventory" / "settings.py").write_text(
        '"""Deployment settings."""\n\n'
        f'AWS_ACCESS_KEY_ID = "{PLANTED_AWS_KEY}"\n'
        f'DEPLOY_TOKEN = "{PLANTED_SECRET}"\n\n\n'
        "def region() -> str:\n    return \"eu-west-1\"\n"
    )
    (dest / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (dest / "NOTES.md").write_text("# Notes\n\nStock is reserved when an order is placed and released on cancel.\n")
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "sample")
    return dest


def scripted_model(replies_file: Path, replies: list[str], **options: object) -> str:
    """Write a ``scripted:FILE`` replies file (``options``: context_window, chunk, pause_s, silence_s) and
    return the ``--model`` value that replays it: the deterministic provider, for tests of what the front ends
    do with a reply rather than of the wire."""
    replies_file.parent.mkdir(parents=True, exist_ok=True)
    replies_file.write_text(json.dumps({"replies": replies, **options}), encoding="utf-8")
    return f"scripted:{replies_file}"


# Answers in the shape a model gives: prose citing the sample repository's code by path:line.
SAMPLE_ANSWERS = [
    "Stock is reserved in `Order.place` (inventory/orders.py:106), which asks the warehouse for every line of "
    "the order before it is confirmed; a shortage raises before anything is kept.",
    "It is released again when the order is cancelled: `Order.cancel` hands each reserved line back to the "
    "warehouse (inventory/orders.py:128), so the stock can be sold again.",
]


def run_assist(*args: str, cwd: Path | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `assist` console entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=cwd or PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, **kwargs,
    )


def run_on_terminal(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
                    columns: int = 80, wait_for: bytes | None = None, keys: bytes = b"",
                    at_wait_for: Callable[[bytes], None] | None = None,
                    timeout: float = 240) -> tuple[bytes, int]:
    """Run ``command`` on a pseudo-terminal ``columns`` wide (its stdin, stdout and stderr); once ``wait_for`` has
    been drawn, call ``at_wait_for(output so far)`` and type ``keys``. Returns everything it printed and its exit
    status; a run that outlives ``timeout`` is killed with its whole session."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios
    import time

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen(command, cwd=cwd or PROJECT_ROOT, env=env, stdin=child, stdout=child, stderr=child,
                               start_new_session=True)
    os.close(child)
    output = b""
    sent = wait_for is None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([main], [], [], 0.2)[0]:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
            if not sent and wait_for in output.replace(b"\x1b[0m", b""):
                if at_wait_for is not None:
                    at_wait_for(output)
                time.sleep(0.5)  # a TUI draws its prompt a moment before it reads keys
                os.write(main, keys)
                sent = True
        assert sent, f"{wait_for!r} never appeared: {output.decode(errors='replace')[-2000:]}"
        returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(main)
    return output, returncode

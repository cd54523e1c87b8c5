"""Running the project's tests: one bounded run, everything it started cleaned up, its output kept.

Every run starts through ``contain.py``, a small helper that is a child subreaper: whatever the tests start
— test servers, subprocesses, processes that ``setsid()`` or double-fork to detach — stays its descendant,
and a timeout, a Ctrl-C or a cancel kills that whole tree (a last sweep also kills any process still
carrying the run's marker in its environment). With a ``Sandbox`` (see ``sandbox.py``) the helper confines
the run first: writes only inside the repository and a private temp dir, no TCP.

The output streams through a pipe: secrets are masked as it arrives (the index's detectors), and the log on
disk keeps at most ``LOG_CAP`` bytes — the head and the tail, with a line saying how much was cut between.
The model sees an excerpt of at most ``EXCERPT_CAP`` bytes: the start of the run, the head and tail of each
failure, and the end with the summary.
"""

from __future__ import annotations

import codecs
import configparser
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from indexer.secrets import StreamMasker

from .failures import Failure, parse_failures, pytest_counts
from .contain import EXIT_SETUP_FAILED, SANDBOX_FAILED
from .sandbox import CONTAIN, Sandbox

__all__ = ["EXCERPT_CAP", "LOG_CAP", "TestRun", "TestRunError", "run_tests", "uses_pytest", "project_python"]

EXCERPT_CAP = 10 * 1024
LOG_CAP = 10 * 1024 * 1024  # the most of one run's output kept on disk (and in memory)
_LOG_HEAD = 2 * 1024 * 1024  # ... of which the start; the rest is the end, where the failures and summary are
_KILL_GRACE_S = 2.0
_HELPER_WAIT_S = 10.0  # the helper's own grace and kill rounds, with room to spare
_READER_WAIT_S = 5.0
_POLL_S = 0.05
PYTEST_NO_TESTS = 5
RUN_MARKER = "ASSIST_TEST_RUN"  # in the environment of every process of a run, for the last sweep


class TestRunError(Exception):
    """The tests could not be started (no runner found, a command that is empty, a missing path)."""

    __test__ = False  # not a test class, whatever pytest thinks of the name


@dataclass
class TestRun:
    __test__ = False

    command: str
    exit_code: int | None  # None when the run was killed (timeout, interrupt)
    timed_out: bool
    duration_s: float
    log_path: Path
    output: str  # what the log kept (secrets masked; head and tail only past LOG_CAP)
    excerpt: str  # what the model sees: at most EXCERPT_CAP bytes of UTF-8
    failures: list[Failure] = field(default_factory=list)
    passed: int | None = None
    failed: int | None = None
    runner: str = "command"  # pytest | command
    cancelled: bool = False
    cut_bytes: int = 0  # output left out of the log (past LOG_CAP)

    @property
    def green(self) -> bool:
        """The selected tests ran and passed. pytest's "no tests collected" (exit 5) is not a pass."""
        return self.exit_code == 0 and not self.timed_out and not self.cancelled

    @property
    def no_tests(self) -> bool:
        return self.runner == "pytest" and self.exit_code == PYTEST_NO_TESTS

    def describe(self) -> str:
        """One line for people: what happened to the run."""
        if self.timed_out:
            return f"timed out after {self.duration_s:.0f}s (every process it started was killed)"
        if self.cancelled:
            return "interrupted (every process it started was killed)"
        if self.no_tests:
            return "no tests were collected"
        counts = []
        if self.passed is not None:
            counts.append(f"{self.passed} passed")
        if self.failed is not None:
            counts.append(f"{self.failed} failed")
        state = "passed" if self.green else f"failed (exit {self.exit_code})"
        return f"{state}" + (f": {', '.join(counts)}" if counts else "") + f" in {self.duration_s:.1f}s"


# ------------------------------------------------------------------------------------------- running


def run_tests(
    root: Path,
    *,
    test_paths: list[str] | None = None,
    command: str | None = None,
    timeout_s: float = 300.0,
    log_dir: Path,
    cancel: threading.Event | None = None,
    sandbox: Sandbox | None = None,
) -> TestRun:
    """Run the tests of ``root`` once: ``command`` through the shell if given, else pytest on ``test_paths``
    (pytest must then be how the project tests, or paths must be given). Raises TestRunError if nothing
    can be started; a run that fails, hangs or is interrupted is a TestRun, never an exception — except
    KeyboardInterrupt, which is re-raised once every process of the run is gone."""
    root = Path(root).resolve()
    if command is not None and not command.strip():
        raise TestRunError("the test command is empty")
    if command is not None:
        argv = ["/bin/sh", "-c", command]
        shown = command
        runner = "command"
    else:
        if not test_paths and not uses_pytest(root):
            raise TestRunError(
                f"cannot tell how {root} runs its tests: no pytest configuration or test files found; "
                "name the tests (--test tests/) or give the command (--cmd 'make test')"
            )
        for path in test_paths or []:
            target = root / path.split("::", 1)[0]
            if not target.exists():
                raise TestRunError(f"test path not found: {path} (paths are relative to {root})")
        argv = [str(project_python(root)), "-m", "pytest", "-rfE", "--color=no", *(test_paths or [])]
        shown = shlex.join(["python" if a == argv[0] else a for a in argv])
        runner = "pytest"

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%f")
    log_path = log_dir / f"tests-{stamp}.log"
    marker = uuid.uuid4().hex
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "PY_COLORS": "0", "CI": os.environ.get("CI", "1"),
           RUN_MARKER: marker}
    env.pop("FORCE_COLOR", None)
    private_tmp = None
    helper = [sys.executable, "-I", str(CONTAIN)]
    if sandbox is not None and sandbox.active:
        private_tmp = Path(tempfile.mkdtemp(prefix="assist-tests-"))
        env.update(TMPDIR=str(private_tmp), TMP=str(private_tmp), TEMP=str(private_tmp))
        helper += sandbox.contain_options(root, private_tmp)
        argv = sandbox.wrap(argv, root, private_tmp)

    started = time.monotonic()
    timed_out = cancelled = False
    log = CappedLog(log_path)
    try:
        try:
            process = subprocess.Popen(
                [*helper, "--", *argv], cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            raise TestRunError(f"cannot start the tests ({shown}): {exc}") from exc
        reader = _Reader(process.stdout, log)
        reader.start()
        try:
            deadline = started + max(0.0, timeout_s)
            while True:
                try:
                    process.wait(timeout=_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
        except BaseException:
            # Ctrl-C (or any error here): nothing the tests started may outlive us.
            stop_run(process, marker)
            reader.finish()
            raise
        stop_run(process, marker)  # after a normal end the helper already swept; this only checks
        reader.finish()
    finally:
        log.close()
        if private_tmp is not None:
            shutil.rmtree(private_tmp, ignore_errors=True)
    duration = time.monotonic() - started
    exit_code = None if (timed_out or cancelled) else process.returncode

    output = log.text()
    if exit_code == EXIT_SETUP_FAILED and output.startswith(SANDBOX_FAILED):
        # Not a failing test: the model must not be asked to fix the sandbox.
        raise TestRunError(f"{output.splitlines()[0].removeprefix('assist: ')}; run with --sandbox off to run "
                           "the tests unsandboxed")
    if timed_out:
        output += f"\n[assist: the test run exceeded its {timeout_s:g}s timeout and was killed]\n"
    elif cancelled:
        output += "\n[assist: the test run was interrupted and killed]\n"
    failures = parse_failures(output, root)
    passed, failed = pytest_counts(output) if runner == "pytest" else (None, None)
    if failed is None and failures:
        failed = len(failures)
    return TestRun(
        command=shown, exit_code=exit_code, timed_out=timed_out, duration_s=duration, log_path=log_path,
        output=output, excerpt=make_excerpt(output), failures=failures, passed=passed, failed=failed,
        runner=runner, cancelled=cancelled, cut_bytes=log.cut,
    )


def stop_run(process: subprocess.Popen, marker: str) -> None:
    """End a run: the helper kills its whole tree on SIGTERM; if it cannot (a test killed it), its group
    and every process carrying the run's marker are killed here."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=_HELPER_WAIT_S)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    kill_group(process)
    sweep(marker)


def sweep(marker: str) -> list[int]:
    """Kill every process whose environment carries ``RUN_MARKER=marker``, until none is left (Linux)."""
    if not Path("/proc/self/environ").exists():
        return []
    needle = f"{RUN_MARKER}={marker}".encode()
    killed: list[int] = []
    for _ in range(50):
        found = [pid for pid in _live_pids() if needle in _environ(pid).split(b"\0")]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        killed.extend(found)
        time.sleep(0.02)
    return killed


def _live_pids() -> list[int]:
    me = os.getpid()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != me:
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat[stat.rfind(")") + 2 :].split()[:1] != ["Z"]:
                pids.append(int(entry.name))
    return pids


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


class _Reader(threading.Thread):
    """Drains the run's output into the log as it comes, so a chatty run never blocks on a full pipe."""

    def __init__(self, stream, log: CappedLog):
        super().__init__(name="test-output", daemon=True)
        self.fd = stream.fileno()
        self.stream = stream
        self.log = log
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._done = threading.Event()

    def run(self) -> None:
        try:
            while True:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    if self._done.is_set():
                        break  # the run is over and nothing more is coming (a writer we could not kill)
                    continue
                data = os.read(self.fd, 1 << 16)
                if not data:
                    break
                self.log.write(self.decoder.decode(data))
            self.log.write(self.decoder.decode(b"", final=True))
        except (OSError, ValueError):
            pass

    def finish(self) -> None:
        self._done.set()
        self.join(_READER_WAIT_S)
        self.stream.close()


class CappedLog:
    """A test run's log, written while the run streams: secrets masked, the first ``head`` bytes written at
    once, the last ``cap - head`` bytes held in memory and written at the end after a line saying how many
    bytes were cut between. Never more than ``cap`` bytes of output on disk or in memory."""

    def __init__(self, path: Path, cap: int = LOG_CAP, head: int = _LOG_HEAD):
        self.path = path
        self.file = open(path, "wb")
        self.head_room = head
        self.tail_cap = cap - head
        self.head: list[bytes] = []
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.cut = 0
        self.masker = StreamMasker()
        self._lock = threading.Lock()
        self._closed = False

    def write(self, text: str) -> None:
        self._put(self.masker.feed(text).encode("utf-8"))

    def _put(self, data: bytes) -> None:
        with self._lock:
            if self._closed or not data:
                return
            if self.head_room > 0:
                first = data[: self.head_room]
                self.file.write(first)
                self.head.append(first)
                self.head_room -= len(first)
                data = data[len(first) :]
            if data:
                self.tail.append(data)
                self.tail_size += len(data)
                while self.tail_size > self.tail_cap:
                    extra = self.tail_size - self.tail_cap
                    oldest = self.tail[0]
                    if len(oldest) <= extra:
                        self.tail.popleft()
                        self.tail_size -= len(oldest)
                        self.cut += len(oldest)
                    else:
                        self.tail[0] = oldest[extra:]
                        self.tail_size -= extra
                        self.cut += extra

    def close(self) -> None:
        self._put(self.masker.flush().encode("utf-8"))
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.cut:
                    self.file.write(self._cut_line().encode())
                self.file.write(b"".join(self.tail))
            finally:
                self.file.close()

    def _cut_line(self) -> str:
        return (f"\n[assist: {self.cut:,} bytes of output were cut here; this log keeps the first and the last "
                f"{LOG_CAP // (1024 * 1024)} MiB of a run]\n")

    def text(self) -> str:
        """What the log kept, as text."""
        tail = b"".join(self.tail)
        head = b"".join(self.head).decode("utf-8", errors="replace")
        if not self.cut:
            return head + tail.decode("utf-8", errors="replace")
        return head + self._cut_line() + tail.decode("utf-8", errors="ignore")


def kill_group(process: subprocess.Popen) -> None:
    """Stop the process's whole group: SIGTERM, a short grace, then SIGKILL; reap the leader."""
    pgid = process.pid  # start_new_session made the leader's pid the group id
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    else:
        deadline = time.monotonic() + _KILL_GRACE_S
        while time.monotonic() < deadline and group_alive(pgid):
            if process.poll() is None:
                try:
                    process.wait(timeout=_POLL_S)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(_POLL_S)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        pass


def group_alive(pgid: int) -> bool:
    """Whether any live process is left in group ``pgid``. Zombies do not count: they run nothing, and
    where no init reaps orphans (some containers) they would otherwise look alive forever."""
    return bool(group_members(pgid)) if Path("/proc/self/stat").exists() else _signal_probe(pgid)


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in group ``pgid``, read from /proc (Linux)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_probe(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------------------------ choosing pytest


def uses_pytest(root: Path) -> bool:
    """Whether the project tests with pytest: its configuration, a conftest.py, or test_*.py files."""
    root = Path(root)
    if (root / "pytest.ini").is_file() or (root / "conftest.py").is_file():
        return True
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
        if "pytest" in data.get("tool", {}):
            return True
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        config = root / name
        if config.is_file():
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read(config, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if parser.has_section(section):
                return True
    for folder in ("tests", "test", "."):
        directory = root / folder
        if directory.is_dir() and (
            any(directory.glob("test_*.py")) or any(directory.glob("*_test.py")) or (directory / "conftest.py").is_file()
        ):
            return True
    return False


def project_python(root: Path) -> Path:
    """The interpreter of the project's own virtual environment when it has one with pytest installed,
    else the interpreter running assist."""
    root = Path(root)
    for folder in (".venv", "venv", "env", ".env"):
        env = root / folder
        if not (env / "pyvenv.cfg").is_file():
            continue
        python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        if python.exists() and _has_pytest(env):
            return python
    return Path(sys.executable)


def _has_pytest(env: Path) -> bool:
    return any(env.glob("lib/python3*/site-packages/pytest")) or (env / "Lib/site-packages/pytest").is_dir()


# ------------------------------------------------------------------------------------------ excerpt


def make_excerpt(output: str, cap: int = EXCERPT_CAP) -> str:
    """At most ``cap`` bytes of ``output`` for a model: the first lines, the head and tail of each failure
    block (pytest's failure sections, or each runner's failure markers), and the last lines."""
    if len(output.encode("utf-8")) <= cap:
        return output
    lines = [_short_line(line) for line in output.splitlines()]
    blocks = _failure_blocks(lines)
    head_n, tail_n = 6, 20
    keep_each = 40
    kept_blocks = len(blocks)
    while True:
        spans = [(0, min(head_n, len(lines)))]
        for start, end in blocks[:kept_blocks]:
            if end - start <= 2 * keep_each:
                spans.append((start, end))
            else:
                spans.append((start, start + keep_each))
                spans.append((end - keep_each, end))
        spans.append((max(0, len(lines) - tail_n), len(lines)))
        text = _render(lines, spans, len(blocks) - kept_blocks)
        if len(text.encode("utf-8")) <= cap:
            return text
        if keep_each > 4:
            keep_each = max(4, keep_each * 2 // 3)
        elif kept_blocks > 1:
            kept_blocks -= 1
        elif tail_n > 6:
            tail_n = 6
        else:
            break
    # Still too big (enormous single lines): keep the start and the end of what we have.
    data = text.encode("utf-8")
    marker = "\n[… excerpt cut to fit; the full output is in the log …]\n".encode()
    half = (cap - len(marker)) // 2
    return (data[:half] + marker + data[len(data) - half :]).decode("utf-8", errors="ignore")


def _short_line(line: str, limit: int = 400) -> str:
    return line if len(line) <= limit else line[: limit - 30] + f" […{len(line) - limit + 30} chars]"


def _failure_blocks(lines: list[str]) -> list[tuple[int, int]]:
    from .failures import _GO_FAIL, _JEST_FAIL, _PY_TRACEBACK, _RULE, _RUST_FAIL, _SECTION, _UNITTEST

    starts: list[int] = []
    ends: list[int] = []
    in_report = False
    for i, line in enumerate(lines):
        rule = _RULE.match(line)
        if rule:
            if in_report:
                ends.append(i)
            in_report = rule["title"] in ("FAILURES", "ERRORS")
            continue
        section = _SECTION.match(line)
        if in_report and section and not section["title"].startswith("_ _"):
            starts.append(i)
    if starts:
        bounds = sorted(set(starts) | set(ends))
        blocks = []
        for start in starts:
            later = [b for b in bounds if b > start]
            blocks.append((start, later[0] if later else len(lines)))
        return blocks
    markers = [i for i, line in enumerate(lines)
               if any(p.match(line) for p in (_UNITTEST, _GO_FAIL, _RUST_FAIL, _JEST_FAIL)) or _PY_TRACEBACK in line]
    return [(start, end) for start, end in zip(markers, [*markers[1:], len(lines)])]


def _render(lines: list[str], spans: list[tuple[int, int]], dropped: int) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts: list[str] = []
    position = 0
    for start, end in merged:
        if start > position:
            parts.append(f"[… {start - position} lines omitted …]")
        parts.extend(lines[start:end])
        position = end
    if position < len(lines):
        parts.append(f"[… {len(lines) - position} lines omitted …]")
    if dropped:
        parts.append(f"[… {dropped} more failure(s) only in the full log …]")
    return "\n".join(parts) + "\n"

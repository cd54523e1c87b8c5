"""Run one command so that nothing it starts outlives it, optionally inside a Landlock sandbox.

    python -I contain.py [--write DIR]... [--no-tcp] -- ARGV...
    python -I contain.py --probe [--write DIR]... [--no-tcp]      # exit 0 when the sandbox can be set up

The test runner (``testrun.py``) starts every test run through this small process instead of directly:

- It makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so a process the tests start
  that calls ``setsid()`` or double-forks to detach is re-parented to it, not to init: everything the run
  started stays its descendant. When the command ends, or this process gets SIGTERM/SIGINT/SIGHUP (a
  timeout, a cancel), every descendant is killed — SIGTERM, a short grace, then SIGKILL until none is
  left — and reaped. It exits with the command's status (128+N when a signal N ended it).
- Being a separate process, the subreaper flag and the ``waitpid(-1)`` reaping touch nothing else that
  assist runs (git, model servers, the store probe keep their own children and exit statuses).
- With ``--write``/``--no-tcp`` the command starts under Landlock (this supervisor stays outside): files may be
  created, written, renamed or deleted only beneath the ``--write`` directories (plus /dev/null and
  similar devices), TCP connect and bind are refused (kernel 6.7+, Landlock ABI 4), and, from ABI 6,
  signals and abstract Unix sockets cannot reach processes outside the sandbox. Reading is not limited.

Standard library only, and run with ``-I``: nothing from the repository under test is imported here.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time

GRACE_S = 2.0
KILL_ROUNDS_S = 5.0
EXIT_SETUP_FAILED = 125
SANDBOX_FAILED = "assist: the sandbox could not be set up: "

# ------------------------------------------------------------------------------------------ Landlock

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same numbers on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36

_FS_WRITE_FILE = 1 << 1
_FS_WRITES_ABI1 = (
    _FS_WRITE_FILE | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12)
)  # write file, remove dir/file, make char/dir/reg/sock/fifo/block/sym
_FS_REFER = 1 << 13  # ABI 2: link or rename across directories
_FS_TRUNCATE = 1 << 14  # ABI 3
_NET_TCP = (1 << 0) | (1 << 1)  # ABI 4: bind, connect
_SCOPES = (1 << 0) | (1 << 1)  # ABI 6: abstract Unix sockets, signals
_WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom")


class SandboxError(OSError):
    pass


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.restype = ctypes.c_int
    return libc


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (not Linux, too old, or disabled)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(ctypes.c_long(_CREATE_RULESET), None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def restrict_self(writable: list[str], no_tcp: bool) -> None:
    """Landlock this process (and what it starts): writes only beneath ``writable``; no TCP if asked."""
    enforce(prepare_ruleset(writable, no_tcp))


def prepare_ruleset(writable: list[str], no_tcp: bool) -> int:
    """A Landlock ruleset allowing writes beneath ``writable`` (and to a few devices), TCP refused if asked;
    its file descriptor, for ``enforce``. Everything that can fail for a reason worth telling fails here."""
    abi = landlock_abi()
    if abi < 1:
        raise SandboxError("Landlock is not available in this kernel")
    libc = _libc()
    fs = _FS_WRITES_ABI1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    attr = _RulesetAttr(fs, _NET_TCP if no_tcp and abi >= 4 else 0, _SCOPES if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # older kernels reject fields they do not know
    ruleset = int(libc.syscall(ctypes.c_long(_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
                               ctypes.c_uint32(0)))
    if ruleset < 0:
        raise SandboxError(f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    try:
        for path in writable:
            _allow(libc, ruleset, path, fs)
        for device in _WRITABLE_DEVICES:
            if os.path.exists(device):
                _allow(libc, ruleset, device, _FS_WRITE_FILE | (_FS_TRUNCATE if abi >= 3 else 0))
    except BaseException:
        os.close(ruleset)
        raise
    return ruleset


def enforce(ruleset: int) -> None:
    """Put the calling process under ``ruleset`` for good (and whatever it starts afterwards)."""
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SandboxError(f"prctl(NO_NEW_PRIVS) failed: {os.strerror(ctypes.get_errno())}")
    if libc.syscall(ctypes.c_long(_RESTRICT_SELF), ctypes.c_long(ruleset), ctypes.c_uint32(0)) != 0:
        raise SandboxError(f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}")


def _allow(libc, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise SandboxError(f"cannot allow writes to {path}: {exc.strerror}") from exc
    try:
        rule = _PathBeneathAttr(access, fd)
        if libc.syscall(ctypes.c_long(_ADD_RULE), ctypes.c_long(ruleset), ctypes.c_long(_RULE_PATH_BENEATH),
                        ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise SandboxError(f"landlock_add_rule({path}) failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------ the tree


def become_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def descendants(root: int) -> list[int]:
    """Live (non-zombie) descendants of ``root``, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    state: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            pid = int(name)
            state[pid] = fields[0]
            children.setdefault(int(fields[1]), []).append(pid)
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            queue.append(child)
            if state.get(child) != "Z":
                found.append(child)
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def kill_tree(leader: int) -> None:
    """Kill every descendant of this process (Linux) or the leader's process group (elsewhere)."""
    if not os.path.isdir("/proc/self"):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(leader, sig)
            except (ProcessLookupError, PermissionError):
                pass
            time.sleep(GRACE_S if sig == signal.SIGTERM else 0)
            _reap()
        return
    me = os.getpid()
    pids = descendants(me)
    if pids:
        _signal_all(pids, signal.SIGTERM)
        _signal_all(pids, signal.SIGCONT)  # a stopped process only sees SIGTERM once it runs again
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline:
            _reap()
            if not descendants(me):
                break
            time.sleep(0.05)
    deadline = time.monotonic() + KILL_ROUNDS_S
    while True:  # forks racing the kill show up in the next round
        _reap()
        pids = descendants(me)
        if not pids or time.monotonic() > deadline:
            break
        _signal_all(pids, signal.SIGKILL)
        time.sleep(0.02)
    _reap()


# ------------------------------------------------------------------------------------------ main


class _Stop(Exception):
    pass


def _stop(signum, frame) -> None:
    raise _Stop(signum)


def _parse(argv: list[str]) -> tuple[list[str], bool, bool, list[str]]:
    writable, no_tcp, probe = [], False, False
    i = 0
    while i < len(argv) and argv[i] != "--":
        option = argv[i]
        if option == "--write" and i + 1 < len(argv):
            writable.append(argv[i + 1])
            i += 2
            continue
        if option == "--no-tcp":
            no_tcp = True
        elif option == "--probe":
            probe = True
        else:
            raise SystemExit(f"contain.py: unknown option {option!r}")
        i += 1
    return writable, no_tcp, probe, argv[i + 1 :]


def main(argv: list[str]) -> int:
    writable, no_tcp, probe, command = _parse(argv)
    ruleset = None
    if writable or no_tcp:
        try:
            ruleset = prepare_ruleset(writable, no_tcp)
            if probe:
                enforce(ruleset)
        except OSError as exc:
            print(f"{SANDBOX_FAILED}{exc}", file=sys.stderr, flush=True)
            return EXIT_SETUP_FAILED
    if probe:
        return 0
    if not command:
        print("contain.py: no command given after --", file=sys.stderr)
        return EXIT_SETUP_FAILED
    become_subreaper()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    status = None
    child = None
    try:
        # Its own session: a test that kills its process group does not take this process with it. The
        # sandbox is entered in the child only (this process is single-threaded, so preexec_fn is safe):
        # this supervisor stays outside it, where, from Landlock ABI 6, the tests' signals cannot reach it.
        try:
            child = subprocess.Popen(command, start_new_session=True,
                                     preexec_fn=(lambda: enforce(ruleset)) if ruleset is not None else None)
        except subprocess.SubprocessError as exc:
            print(f"{SANDBOX_FAILED}{exc}", file=sys.stderr, flush=True)
            return EXIT_SETUP_FAILED
        while status is None:
            pid, raw = os.waitpid(-1, 0)  # reaps orphans re-parented to us as they end
            if pid == child.pid:
                status = os.waitstatus_to_exitcode(raw)
    except _Stop:
        pass
    except OSError as exc:
        print(f"assist: cannot start {command[0]}: {exc}", file=sys.stderr, flush=True)
        return 127
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the clean-up below is not to be interrupted
        if child is not None:
            kill_tree(child.pid)
    if status is None:
        return 128 + signal.SIGTERM
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

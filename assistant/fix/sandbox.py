"""Which sandbox the test runs of `assist fix` get: ``--sandbox auto|on|off``.

The model's edits run when the tests run, with the user's rights. Where the OS allows, the test command
runs with writes limited to the repository and a private temporary directory, and without TCP:

- Linux: Landlock (kernel 5.13+; TCP needs 6.7+; signals and abstract Unix sockets kept inside from 6.12),
  set up by ``contain.py`` as the command starts; no package needed.
- macOS: ``sandbox-exec`` with a profile denying writes outside those directories and network access.

``auto`` uses what works and otherwise runs unsandboxed, saying so; ``on`` stops with an error instead;
``off`` never sandboxes. Reading files is not limited by any of them, and the repository itself
(including ``.git/`` and ``.assist/``) stays writable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .contain import landlock_abi

MODES = ("auto", "on", "off")
CONTAIN = Path(__file__).with_name("contain.py")
LANDLOCK_TCP_ABI = 4
LANDLOCK_SCOPE_ABI = 6  # signals and abstract Unix sockets stay inside the sandbox (kernel 6.12+)


class SandboxUnavailable(Exception):
    """``--sandbox on`` where no sandbox works."""


@dataclass(frozen=True)
class Sandbox:
    mechanism: str  # "landlock" | "sandbox-exec" | "" (none)
    description: str  # one line for the run's header
    no_tcp: bool = False

    @property
    def active(self) -> bool:
        return bool(self.mechanism)

    def contain_options(self, root: Path, tmp: Path) -> list[str]:
        """Options for ``contain.py`` (Landlock is applied there, just before the command starts)."""
        if self.mechanism != "landlock":
            return []
        writable = [str(root), str(tmp), *(d for d in ("/dev/shm",) if os.path.isdir(d))]
        return [option for path in writable for option in ("--write", path)] + (["--no-tcp"] if self.no_tcp else [])

    def wrap(self, argv: list[str], root: Path, tmp: Path) -> list[str]:
        """The command as it must be started (sandbox-exec wraps it; Landlock needs no wrapper)."""
        if self.mechanism != "sandbox-exec":
            return argv
        return ["sandbox-exec", "-p", _macos_profile(root, tmp), *argv]


def choose_sandbox(mode: str = "auto") -> Sandbox:
    """The sandbox for ``mode``; raises SandboxUnavailable for ``on`` where none works."""
    if mode not in MODES:
        raise ValueError(f"--sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return Sandbox("", "off (--sandbox off): the tests run with your full rights")
    found = _available()
    if found is not None:
        return found
    if mode == "on":
        raise SandboxUnavailable(
            "--sandbox on: no sandbox works here (it needs Linux with Landlock, kernel 5.13 or newer, or macOS "
            "sandbox-exec); run with --sandbox auto or off to run the tests unsandboxed")
    return Sandbox("", "none available here: the tests run with your full rights")


@cache
def _available() -> Sandbox | None:
    if sys.platform.startswith("linux"):
        abi = landlock_abi()
        if abi >= 1 and _probe_landlock(abi >= LANDLOCK_TCP_ABI):
            network = "no TCP" if abi >= LANDLOCK_TCP_ABI else "network not limited (kernel older than 6.7)"
            signals = "; no signals to processes outside it" if abi >= LANDLOCK_SCOPE_ABI else ""
            return Sandbox("landlock", f"landlock: writes only inside the repository and a private temp dir; "
                                       f"{network}{signals}", abi >= LANDLOCK_TCP_ABI)
        return None
    if sys.platform == "darwin" and shutil.which("sandbox-exec") and _probe_macos():
        return Sandbox("sandbox-exec", "sandbox-exec: writes only inside the repository and a private temp dir; "
                                       "no network", True)
    return None


def _probe_landlock(no_tcp: bool) -> bool:
    """Set the sandbox up once in a throwaway process: a kernel can list Landlock and still refuse it."""
    probe = [sys.executable, "-I", str(CONTAIN), "--probe", "--write", os.path.realpath(os.curdir)]
    try:
        return subprocess.run(probe + (["--no-tcp"] if no_tcp else []), capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _probe_macos() -> bool:
    here = Path(os.path.realpath(os.curdir))
    try:
        return subprocess.run(["sandbox-exec", "-p", _macos_profile(here, here), "/usr/bin/true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _macos_profile(root: Path, tmp: Path) -> str:
    def quoted(path: Path | str) -> str:
        return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'

    writable = " ".join(f"(subpath {quoted(os.path.realpath(p))})" for p in (root, tmp))
    return (
        "(version 1)\n(allow default)\n(deny network*)\n(allow network* (local unix))\n(deny file-write*)\n"
        f"(allow file-write* {writable} (literal \"/dev/null\") (literal \"/dev/zero\") (literal \"/dev/tty\") "
        "(regex #\"^/dev/fd/\"))\n"
    )

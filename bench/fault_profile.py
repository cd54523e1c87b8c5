"""pytest plugin for the fault benchmark: which test files call which of the project's functions.

Loaded with ``-p fault_profile`` (bench/ on PYTHONPATH). A profile hook sees every function call while a
test runs; for each code object whose file is under FAULT_PROFILE_ROOT it notes the test file running
at the time. FAULT_PROFILE_OUT receives ``[[path, first line, [test files...]], ...]`` at the end.

The benchmark mutates only functions some test calls, and runs the test files that call the mutated
function — what a developer selecting "the tests of this code" would run. It does not favour functions
that tests call directly: a call anywhere below a test counts.
"""

from __future__ import annotations

import json
import os
import sys
import threading

_ROOT = os.path.realpath(os.environ.get("FAULT_PROFILE_ROOT", os.getcwd())) + os.sep
_CALLERS: dict[tuple[str, int], set[str]] = {}
_SEEN: set[tuple[int, str]] = set()
_FILES: dict[int, str | None] = {}
_current = ""


def _hook(frame, event, arg):
    if event != "call" or not _current:
        return
    code = frame.f_code
    key = (id(code), _current)
    if key in _SEEN:
        return
    _SEEN.add(key)
    relative = _FILES.get(id(code), "")
    if relative == "":
        filename = os.path.realpath(code.co_filename)
        relative = _FILES[id(code)] = filename[len(_ROOT):] if filename.startswith(_ROOT) else None
    if relative is not None:
        _CALLERS.setdefault((relative, code.co_firstlineno), set()).add(_current)


def pytest_runtest_protocol(item, nextitem):
    global _current
    _current = item.nodeid.split("::", 1)[0]


def pytest_configure(config):
    sys.setprofile(_hook)
    threading.setprofile(_hook)


def pytest_unconfigure(config):
    sys.setprofile(None)
    threading.setprofile(None)
    out = os.environ.get("FAULT_PROFILE_OUT")
    if out:
        with open(out, "w") as handle:
            json.dump(sorted([path, line, sorted(files)] for (path, line), files in _CALLERS.items()), handle)

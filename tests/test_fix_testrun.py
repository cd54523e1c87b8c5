"""Test runs for `assist fix`: real pytest and shell commands in their own process group, bounded, logged."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from assistant.fix.testrun import EXCERPT_CAP, TestRunError, group_members, run_tests

LIB = "def double(x):\n    return x * 2\n"


@pytest.fixture(autouse=True)
def no_plugin_autoload(monkeypatch):
    """The small projects' pytest runs need none of this venv's third-party plugins (hypothesis, textual
    snapshots); loading them only slows every run down."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def make_project(root: Path, tests: str, config: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "lib.py").write_text(LIB)
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "test_lib.py").write_text(tests)
    if config:
        (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\npythonpath = ['.']\n")
    return root


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2] != "Z"


def test_green_run_counts_and_logs_everything(tmp_path: Path):
    root = make_project(tmp_path / "p", "from lib import double\n\ndef test_double():\n    assert double(2) == 4\n")
    run = run_tests(root, log_dir=tmp_path / "logs")
    assert run.green and run.exit_code == 0 and not run.timed_out
    assert (run.passed, run.failed) == (1, 0)
    assert run.runner == "pytest" and "-m pytest" in run.command
    assert run.log_path.parent == tmp_path / "logs"
    assert run.log_path.read_text() == run.output
    assert "1 passed" in run.excerpt


def test_failing_run_has_parsed_failures(tmp_path: Path):
    root = make_project(tmp_path / "p", "from lib import double\n\ndef test_double():\n    assert double(2) == 5\n"
                                        "\ndef test_ok():\n    assert double(0) == 0\n")
    run = run_tests(root, test_paths=["tests/test_lib.py"], log_dir=tmp_path / "logs")
    assert not run.green and run.exit_code == 1
    assert (run.passed, run.failed) == (1, 1)
    [failure] = run.failures
    assert failure.test_id == "tests/test_lib.py::test_double"
    assert failure.message == "assert 4 == 5"
    assert "failed" in run.describe()


def test_no_tests_collected_is_not_green(tmp_path: Path):
    root = make_project(tmp_path / "p", "def helper():\n    pass\n")
    run = run_tests(root, test_paths=["tests"], log_dir=tmp_path / "logs")
    assert run.exit_code == 5 and run.no_tests and not run.green
    assert run.describe() == "no tests were collected"


HANGING = '''\
import os, subprocess, sys, time
from pathlib import Path

def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(os.environ["PIDS_FILE"]).write_text(f"{os.getpgrp()} {os.getpid()} {child.pid}")
    time.sleep(600)
'''


def wait_for(path: Path, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def test_hanging_test_is_killed_with_its_whole_process_group(tmp_path: Path, monkeypatch):
    root = make_project(tmp_path / "p", HANGING)
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    # The timeout must outlast pytest's start-up on a loaded machine, so wait for the test to be running.
    run = run_tests(root, test_paths=["tests"], timeout_s=40, log_dir=tmp_path / "logs")
    group, pytest_pid, child_pid = map(int, wait_for(pids_file).split())
    assert run.timed_out and run.exit_code is None and not run.green
    assert "timed out" in run.describe()
    assert "timeout" in run.output and "timeout" in run.excerpt
    assert group_members(group) == []
    assert not alive(pytest_pid) and not alive(child_pid)


def test_cancel_kills_the_group(tmp_path: Path, monkeypatch):
    root = make_project(tmp_path / "p", HANGING)
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    cancel = threading.Event()

    def cancel_when_running():
        wait_for(pids_file)
        cancel.set()

    threading.Thread(target=cancel_when_running, daemon=True).start()
    run = run_tests(root, test_paths=["tests"], timeout_s=300, log_dir=tmp_path / "logs", cancel=cancel)
    group, pytest_pid, child_pid = map(int, pids_file.read_text().split())
    assert run.cancelled and run.exit_code is None and not run.green and not run.timed_out
    assert group_members(group) == [] and not alive(child_pid)


def test_keyboard_interrupt_kills_the_group_then_propagates(tmp_path: Path, monkeypatch):
    root = make_project(tmp_path / "p", HANGING)
    pids_file = tmp_path / "pids"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))

    def interrupt_when_running():
        wait_for(pids_file)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_tests(root, test_paths=["tests"], timeout_s=300, log_dir=tmp_path / "logs")
    group, pytest_pid, child_pid = map(int, pids_file.read_text().split())
    assert group_members(group) == [] and not alive(pytest_pid) and not alive(child_pid)


def test_huge_output_is_capped_for_the_model_and_complete_in_the_log(tmp_path: Path):
    tests = (
        "def test_noisy():\n"
        "    for i in range(60000):\n"
        "        print(f'noise line {i:06d} ' + 'x' * 80)\n"
        "    assert 'needle' == 'haystack'\n"
        "\ndef test_other():\n    raise KeyError('second-failure')\n"
    )
    root = make_project(tmp_path / "p", tests)
    run = run_tests(root, test_paths=["tests"], log_dir=tmp_path / "logs")
    log = run.log_path.read_text()
    assert len(log) > 5_000_000
    assert "noise line 059999" in log and "noise line 000000" in log
    assert len(run.excerpt.encode("utf-8")) <= EXCERPT_CAP
    # The model still sees each failure's point and the final summary.
    assert "assert 'needle' == 'haystack'" in run.excerpt
    assert "second-failure" in run.excerpt
    assert "2 failed" in run.excerpt
    assert {f.test_id for f in run.failures} == {"tests/test_lib.py::test_noisy", "tests/test_lib.py::test_other"}


def test_any_shell_command(tmp_path: Path):
    root = make_project(tmp_path / "p", "", config=False)
    run = run_tests(root, command="echo checking; echo 'lib.py:2: error: wrong result' >&2; exit 3",
                    log_dir=tmp_path / "logs")
    assert run.exit_code == 3 and not run.green and run.runner == "command"
    assert "checking" in run.output and "wrong result" in run.output
    assert run.failures and run.failures[0].frames[-1].path == "lib.py"


def test_clear_errors_before_anything_runs(tmp_path: Path):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "main.py").write_text("print('hi')\n")
    with pytest.raises(TestRunError, match="--cmd"):
        run_tests(bare, log_dir=tmp_path / "logs")
    root = make_project(tmp_path / "p", "def test_x():\n    pass\n")
    with pytest.raises(TestRunError, match="not found: tests/missing.py"):
        run_tests(root, test_paths=["tests/missing.py"], log_dir=tmp_path / "logs")
    with pytest.raises(TestRunError, match="empty"):
        run_tests(root, command="  ", log_dir=tmp_path / "logs")


# Fake credentials, assembled at run time so that secret scanners do not flag this file.
GITHUB_TOKEN = "ghp" + "_" + "x7Kq2Lm9Pz4Rt8Vw1Yb5Nc3Hd6Fg0Js2Ae7Uo"
KEY_BODY = "MIIEowIBAAKCAQEA7x2kL9q3Zp8Vn4Rt1Wy6"


def test_secrets_printed_by_a_run_are_masked_in_its_log_and_in_what_the_model_sees(tmp_path: Path):
    script = tmp_path / "p" / "leak.py"
    script.parent.mkdir()
    # The key block straddles the reader's 64 KiB pieces; the token is printed again after megabytes of noise.
    script.write_text(
        "import sys\n"
        f"print('export GITHUB_TOKEN={GITHUB_TOKEN}')\n"
        "print('x' * 65_500)\n"
        f"print('-----BEGIN RSA PRIVATE KEY-----\\n' + '{KEY_BODY}\\n' * 400 + '-----END RSA PRIVATE KEY-----')\n"
        "for i in range(30_000):\n    print(f'noise {i}')\n"
        f"print('AssertionError: token {GITHUB_TOKEN} was refused')\n"
        "sys.exit(1)\n"
    )
    run = run_tests(script.parent, command="python3 leak.py", log_dir=tmp_path / "logs")
    log = run.log_path.read_text()
    assert "was refused" in log and "BEGIN RSA PRIVATE KEY" in log and "noise 29999" in log
    for text in (log, run.output, run.excerpt):
        assert GITHUB_TOKEN not in text and KEY_BODY[:12] not in text


def test_a_run_that_kills_its_own_supervisor_still_leaves_no_process_behind(tmp_path: Path):
    marker = f"assist-orphan-{os.getpid()}-{time.monotonic_ns()}"
    root = tmp_path / "p"
    root.mkdir()
    # A hostile suite detaches a sleeper, then SIGKILLs the process that watches over it (only when that is
    # the supervisor: on a runner without one, its parent is the test process itself).
    (root / "suite.sh").write_text(
        f"setsid python3 -c 'import time; time.sleep(600)' {marker} &\n"
        "sleep 0.5\n"
        "grep -q contain.py /proc/$PPID/cmdline && kill -9 $PPID\n"
        "sleep 600\n"
    )
    run = run_tests(root, command="sh suite.sh", timeout_s=6, log_dir=tmp_path / "logs")
    deadline = time.monotonic() + 5
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:  # this test's own sleepers, by pid, should the check fail
        os.kill(pid, signal.SIGKILL)
    assert left == [] and not run.green


def _marked(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_sandbox_that_cannot_be_set_up_is_an_error_not_a_failing_test(tmp_path: Path):
    from assistant.fix.sandbox import Sandbox

    class AllowsAMissingFolder(Sandbox):  # Landlock takes no rule for a folder that is not there
        def contain_options(self, root, tmp):
            return ["--write", str(root / "missing")]

    root = make_project(tmp_path / "p", "def test_ok():\n    assert True\n")
    with pytest.raises(TestRunError, match="sandbox could not be set up.*--sandbox off"):
        run_tests(root, test_paths=["tests"], log_dir=tmp_path / "logs",
                  sandbox=AllowsAMissingFolder("landlock", "landlock (test)"))

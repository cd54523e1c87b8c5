"""What a test run can do, and what of it leaves for the model: attacks a hostile test suite or model reply
can mount through `assist fix`, each checked where a user would notice it.

- secrets printed by failing tests never reach a model request (checked at a loopback OpenAI-compatible
  server that logs every request body) nor any file under .assist/;
- processes that setsid() or double-fork do not survive the run's timeout;
- a 200 MB test output leaves a capped log that says what was cut, with memory bounded;
- the sandbox stops writes outside the repository, TCP connections and signals to processes outside it;
  `--sandbox on` without one fails;
- a reply adding tests/conftest.py is not written under --yes without --allow-test-config.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fix_support import buggy, indexed_buggy  # noqa: F401
from support import PROJECT_ROOT, run_assist

from assistant.fix.events import EditRejected, FixFinished
from assistant.fix.loop import FixLoop, FixOptions
from assistant.fix.sandbox import choose_sandbox
from assistant.providers.scripted import ScriptedProvider
from assistant.fix.testrun import LOG_CAP, run_tests

# Fake credentials, assembled at run time so that secret scanners do not flag this file.
GITHUB_TOKEN = "ghp" + "_" + "x7Kq2Lm9Pz4Rt8Vw1Yb5Nc3Hd6Fg0Js2Ae7Uo"
API_KEY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
DB_PASSWORD = "S3cr3t" + "P4ssw0rdQz"
SECRETS = (GITHUB_TOKEN, API_KEY, DB_PASSWORD)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ASSIST_") and k != "OLLAMA_HOST"}


# ------------------------------------------------------------------------------------------ secrets


class _RecordingModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that keeps every request body and answers with a reply that edits nothing."""

    bodies: list[bytes]

    def log_message(self, *args) -> None:
        pass

    def _json(self, status: int, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.bodies.append(self.path.encode())
        if self.path.endswith("/models"):
            self._json(200, {"data": [{"id": "recorder", "max_model_len": 16384}]})
        else:
            self._json(404, {"error": "not here"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append(self.path.encode() + b"\n" + body)
        if not self.path.endswith("/chat/completions"):
            self._json(404, {"error": "not here"})
            return
        turn = sum(b.startswith(b"/v1/chat/completions") for b in self.server.bodies)
        reply = f"I cannot see the bug yet (attempt {turn})."
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in ({"choices": [{"delta": {"content": reply}, "finish_reason": None}]},
                      {"choices": [{"delta": {}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 100, "completion_tokens": 10}}):
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


@pytest.fixture
def recording_model():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingModel)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


LEAKY_TEST = f'''
from pathlib import Path

from lib import login


def test_login_prints_its_secrets():
    print(Path(".env").read_text())
    print("using token {GITHUB_TOKEN}")
    API_KEY = "{API_KEY}"
    assert login(API_KEY), f"login failed for {{API_KEY}}"
'''


def test_secrets_in_failing_test_output_reach_no_model_request_and_no_file_under_assist(tmp_path, recording_model):
    repo = tmp_path / "leaky"
    (repo / "tests").mkdir(parents=True)
    (repo / "lib.py").write_text("def login(key):\n    return key == 'nope'\n")
    (repo / "tests" / "test_login.py").write_text(LEAKY_TEST)
    (repo / ".env").write_text(f"GITHUB_TOKEN={GITHUB_TOKEN}\nDB_PASSWORD={DB_PASSWORD}\n")
    (repo / "pyproject.toml").write_text("[tool.pytest.ini_options]\npythonpath = ['.']\n")
    url = f"http://127.0.0.1:{recording_model.server_address[1]}/v1"

    result = run_assist("fix", "-C", str(repo), "--model", "openai:recorder", "--base-url", url, "--yes", "--json",
                        "--no-vectors", "--max-iterations", "2", env=clean_env(), timeout=900)

    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert report["tests_before"]["failed"] == 1  # the failing test ran and printed its secrets
    assert report["sandbox"]  # the run's header says how its tests were confined (or that they were not)
    requests = [b for b in recording_model.bodies if b.startswith(b"/v1/chat/completions")]
    assert len(requests) == 2
    sent = b"\n".join(recording_model.bodies).decode()
    assert "login failed for" in sent and "using token" in sent and "DB_PASSWORD=" in sent  # the output went
    for secret in SECRETS:
        assert secret not in sent, f"{secret[:6]}… reached the model"
    state = [path for path in (repo / ".assist").rglob("*") if path.is_file()]
    logs = [path for path in state if path.name.startswith("tests-") and path.suffix == ".log"]
    assert logs and all("login failed for" in path.read_text() for path in logs)
    for path in state:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"{secret[:6]}… is kept in {path.relative_to(repo)}"


# ------------------------------------------------------------------------------------------ processes


def _with_marker(marker: str) -> list[int]:
    """Pids of live processes whose command line carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _escaping_suite(marker: str, then: str) -> str:
    """A shell script that starts sleepers that detach every way they can, then ``then``."""
    sleeper = f"{sys.executable} -c 'import time; time.sleep(600)' {marker}"
    double_fork = (f"{sys.executable} -c \"import os, time\nif os.fork() == 0:\n    os.setsid()\n"
                   f"    if os.fork() == 0:\n        os.execv('{sys.executable}', ['{sys.executable}', '-c', "
                   f"'import time; time.sleep(600)', '{marker}'])\n    os._exit(0)\ntime.sleep(0.3)\"")
    return "\n".join([
        f"setsid {sleeper} &",
        f"( ( {sleeper} & ) & )",
        f"( setsid sh -c \"{sleeper} &\" & )",
        double_fork,
        f"nohup {sleeper} >/dev/null 2>&1 &",
        f"{sleeper} &",
        "sleep 1; echo all started",
        then,
    ]) + "\n"


def _wait_until_gone(marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := _with_marker(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _kill_leftovers(pids: list[int]) -> None:
    for pid in pids:  # only the ones this test started, by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("ending", ["timeout", "normal exit"])
def test_processes_that_setsid_or_double_fork_do_not_outlive_the_run(tmp_path, ending):
    marker = f"assist-escape-{uuid.uuid4().hex}"
    (tmp_path / "suite.sh").write_text(_escaping_suite(marker, "sleep 600" if ending == "timeout" else "exit 1"))
    run = run_tests(tmp_path, command="sh suite.sh", timeout_s=8, log_dir=tmp_path / "logs")
    try:
        assert "all started" in run.output
        assert run.timed_out == (ending == "timeout")
        left = _wait_until_gone(marker)
        assert left == [], f"{len(left)} test processes outlived the run"
    finally:
        _kill_leftovers(_with_marker(marker))


# ------------------------------------------------------------------------------------------ logs

BIG_OUTPUT = """
import sys
line = "x" * 99 + "\\n"
block = line * 10_000
sys.stdout.write("FIRST LINE\\n")
for _ in range(200):
    sys.stdout.write(block)
sys.stdout.write("LAST LINE\\n")
sys.exit(1)
"""

# VmHWM, not getrusage's ru_maxrss: the latter survives exec, so a child of a big pytest process would report the
# parent's size at fork time.
MEASURE = """
import re, sys
from pathlib import Path
from assistant.fix.testrun import run_tests
root = Path(sys.argv[1])
run = run_tests(root, command=f"{sys.executable} big.py", timeout_s=600, log_dir=root / "logs")
peak_kib = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1]
print(run.log_path, peak_kib, run.exit_code)
"""


def test_a_200_mb_test_output_leaves_a_capped_log_that_says_what_was_cut(tmp_path):
    (tmp_path / "big.py").write_text(BIG_OUTPUT)
    measured = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path)], capture_output=True, text=True,
                              cwd=PROJECT_ROOT, timeout=600)
    assert measured.returncode == 0, measured.stderr
    log_path, peak_kib, exit_code = measured.stdout.split()
    log = Path(log_path)
    assert int(exit_code) == 1
    assert log.stat().st_size <= LOG_CAP + 1024
    text = log.read_text()
    assert text.startswith("FIRST LINE\n") and text.endswith("LAST LINE\n")
    assert "bytes of output were cut here" in text
    cut = int(text.split("[assist: ", 1)[1].split(" bytes", 1)[0].replace(",", ""))
    assert cut + log.stat().st_size >= 200_000_000
    assert int(peak_kib) < 200 * 1024  # the run's process never held the 200 MB


# ------------------------------------------------------------------------------------------ sandbox

OUTSIDE_WRITER = """
import os, socket, sys, tempfile
from pathlib import Path
outside, port, runner = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
Path("inside.txt").write_text("repository: ok")
Path(tempfile.gettempdir(), "scratch.txt").write_text("temp: ok")
print("temp write ok")
try:
    Path(outside).write_text("escaped")
    print("WROTE OUTSIDE")
except OSError as exc:
    print("outside write refused:", exc)
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).sendall(b"exfiltrated")
    print("CONNECTED")
except OSError as exc:
    print("connection refused:", exc)
try:
    os.kill(runner, 0)  # signal 0 only asks whether a signal could be sent: harmless either way
    print("SIGNALLED OUTSIDE")
except OSError as exc:
    print("signal refused:", exc)
"""


def test_the_sandbox_stops_writes_outside_the_repository_tcp_connections_and_signals(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "probe.py").write_text(OUTSIDE_WRITER)
    outside = tmp_path / "outside.txt"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        run = run_tests(repo, command=f"{sys.executable} probe.py {outside} {port} {os.getpid()}", timeout_s=120,
                        log_dir=tmp_path / "logs", sandbox=choose_sandbox("on"))
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert "temp write ok" in run.output and (repo / "inside.txt").read_text() == "repository: ok"
    assert "outside write refused" in run.output and not outside.exists()
    assert "connection refused" in run.output and "CONNECTED" not in run.output
    assert "signal refused" in run.output and "SIGNALLED OUTSIDE" not in run.output


def test_sandbox_on_without_a_mechanism_is_a_clear_error(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from assistant import cli
    from assistant.fix import sandbox

    monkeypatch.setattr(sandbox, "_available", lambda: None)  # as on a kernel without Landlock
    result = CliRunner().invoke(cli.app, ["fix", "-C", str(tmp_path), "--sandbox", "on", "--yes", "--model",
                                          f"scripted:{PROJECT_ROOT / 'examples' / 'bookings' / 'demo-fix.json'}"])
    assert result.exit_code == 1
    assert "--sandbox on: no sandbox works here" in result.output and "Traceback" not in result.output
    assert choose_sandbox("auto").description.startswith("none available here")


# ------------------------------------------------------------------------------------------ test config

# A new conftest.py beside the tests' own, and a change to theirs: either runs code on the next test run.
CONFTEST_REPLY = ("conftest.py\n<<<<<<< SEARCH\n=======\nimport os\nos.system('touch pwned')\n>>>>>>> REPLACE\n\n"
                  "tests/conftest.py\n<<<<<<< SEARCH\nfrom decimal import Decimal\n=======\nimport os\n"
                  "os.system('touch pwned-too')\nfrom decimal import Decimal\n>>>>>>> REPLACE\n")


def test_a_reply_adding_a_conftest_is_not_written_under_yes_and_the_model_is_told(buggy):
    provider = ScriptedProvider([CONFTEST_REPLY, "still no edit"])
    loop = FixLoop(buggy, provider, FixOptions(test_paths=["tests/test_pricing.py"], use_vectors=False,
                                               reindex=False, max_iterations=2))
    events = list(loop.run())
    assert isinstance(events[-1], FixFinished)
    assert not (buggy / "conftest.py").exists() and "pwned" not in (buggy / "tests" / "conftest.py").read_text()
    assert not (buggy / "pwned").exists() and not (buggy / "pwned-too").exists()
    rejected = [e for e in events if isinstance(e, EditRejected)]
    assert rejected and "conftest.py, tests/conftest.py" in rejected[0].reason
    assert "test infrastructure" in provider.prompts[1][-1].content  # the next round says why


def test_allow_test_config_lets_a_conftest_through(buggy):
    provider = ScriptedProvider([CONFTEST_REPLY])
    loop = FixLoop(buggy, provider, FixOptions(test_paths=["tests/test_pricing.py"], use_vectors=False,
                                               reindex=False, max_iterations=1, allow_test_config=True))
    list(loop.run())
    assert (buggy / "conftest.py").exists() and (buggy / "pwned").exists() and (buggy / "pwned-too").exists()

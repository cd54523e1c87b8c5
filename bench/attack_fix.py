"""Attacks a hostile test suite or model reply can mount through `assist fix`, counted (issue 10, items 3, 4, 6).

    python bench/attack_fix.py            # from a checkout's root: attacks the assist in that checkout

Each attack is tried and counted as held or not; the figures are printed as one JSON object. It runs on
older checkouts too (a feature they lack counts as not held), so before/after figures come from the same
script:

- secrets: a failing test prints a GitHub token, an API_KEY literal and .env lines; `assist fix --yes`
  runs against a loopback OpenAI-compatible server that logs every request body; counted: copies of each
  secret in the requests and in files under .assist/;
- escape: a test suite starts 6 sleepers that setsid, double-fork, nohup or just background; counted:
  those alive 5 s after the run ended (by timeout, and by a normal exit);
- log: a test run printing 200 MB; counted: bytes of its log on disk;
- sandbox: a test writes outside the repository and connects to a loopback listener;
- conftest: a reply adds conftest.py under --yes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path.cwd()
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_fix_hardening import (  # noqa: E402  (the same fakes and suites as the tests)
    BIG_OUTPUT, LEAKY_TEST, OUTSIDE_WRITER, SECRETS, _escaping_suite, _kill_leftovers, _RecordingModel,
    _with_marker, clean_env,
)


def secrets(work: Path) -> dict:
    from http.server import ThreadingHTTPServer

    repo = work / "leaky"
    (repo / "tests").mkdir(parents=True)
    (repo / "lib.py").write_text("def login(key):\n    return key == 'nope'\n")
    (repo / "tests" / "test_login.py").write_text(LEAKY_TEST)
    (repo / ".env").write_text(f"GITHUB_TOKEN={SECRETS[0]}\nDB_PASSWORD={SECRETS[2]}\n")
    (repo / "pyproject.toml").write_text("[tool.pytest.ini_options]\npythonpath = ['.']\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingModel)
    server.bodies = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        subprocess.run([sys.executable, "-m", "assistant.cli", "fix", "-C", str(repo), "--model", "openai:recorder",
                        "--base-url", f"http://127.0.0.1:{server.server_address[1]}/v1", "--yes", "--json",
                        "--no-vectors", "--max-iterations", "2"], cwd=ROOT, env=clean_env(), capture_output=True,
                       timeout=900)
    finally:
        server.shutdown()
    sent = b"\n".join(server.bodies).decode()
    stored = b"".join(p.read_bytes() for p in (repo / ".assist").rglob("*") if p.is_file())
    return {
        "secrets": len(SECRETS),
        "requests": sum(b.startswith(b"/v1/chat/completions") for b in server.bodies),
        "copies_in_requests": {s[:6] + "…": sent.count(s) for s in SECRETS},
        "copies_under_assist": {s[:6] + "…": stored.count(s.encode()) for s in SECRETS},
    }


def escape(work: Path) -> dict:
    from assistant.fix.testrun import run_tests

    result = {}
    for ending, then in (("timeout", "sleep 600"), ("normal_exit", "exit 1")):
        marker = f"assist-escape-{uuid.uuid4().hex}"
        folder = work / f"escape-{ending}"
        folder.mkdir()
        (folder / "suite.sh").write_text(_escaping_suite(marker, then))
        run_tests(folder, command="sh suite.sh", timeout_s=8, log_dir=folder / "logs")
        time.sleep(5)
        left = _with_marker(marker)
        result[ending] = {"sleepers": 6, "alive_5s_after": len(left)}
        _kill_leftovers(left)
    return result


def log(work: Path) -> dict:
    from assistant.fix.testrun import run_tests

    folder = work / "big"
    folder.mkdir()
    (folder / "big.py").write_text(BIG_OUTPUT)
    run = run_tests(folder, command=f"{sys.executable} big.py", timeout_s=600, log_dir=folder / "logs")
    return {"output_bytes": 200 * 10_000 * 100 + 22, "log_bytes": run.log_path.stat().st_size}


def sandbox(work: Path) -> dict:
    from assistant.fix.testrun import run_tests

    try:
        from assistant.fix.sandbox import choose_sandbox

        extra = {"sandbox": choose_sandbox("on")}
    except ImportError:
        extra = {}
    repo = work / "sandboxed"
    repo.mkdir()
    (repo / "probe.py").write_text(OUTSIDE_WRITER)
    outside = work / "outside.txt"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(1)
    try:
        run = run_tests(repo, command=f"{sys.executable} probe.py {outside} {listener.getsockname()[1]} {os.getpid()}",
                        timeout_s=120, log_dir=work / "sandbox-logs", **extra)
        try:
            listener.accept()[0].close()
            connected = True
        except TimeoutError:
            connected = False
    finally:
        listener.close()
    return {"write_outside_succeeded": outside.exists(), "tcp_connect_succeeded": connected,
            "signal_outside_succeeded": "SIGNALLED OUTSIDE" in run.output}


def conftest(work: Path) -> dict:
    from assistant.fix.loop import FixLoop, FixOptions
    from assistant.providers.scripted import ScriptedProvider

    repo = work / "conftest"
    (repo / "tests").mkdir(parents=True)
    (repo / "lib.py").write_text("def double(x):\n    return x * 3\n")
    (repo / "tests" / "test_lib.py").write_text("from lib import double\n\n\ndef test_double():\n"
                                                "    assert double(2) == 4\n")
    (repo / "pyproject.toml").write_text("[tool.pytest.ini_options]\npythonpath = ['.']\n")
    reply = "conftest.py\n<<<<<<< SEARCH\n=======\nimport os\nos.system('touch pwned')\n>>>>>>> REPLACE\n"
    from indexer.pipeline import index_repository

    index_repository(repo)
    loop = FixLoop(repo, ScriptedProvider([reply, "nothing"]), FixOptions(use_vectors=False, reindex=False,
                                                                          max_iterations=2))
    for _ in loop.run():
        pass
    return {"conftest_written": (repo / "conftest.py").exists(), "its_code_ran": (repo / "pwned").exists()}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    work = Path(tempfile.mkdtemp(prefix="attack-fix-"))
    figures = {}
    try:
        for attack in (secrets, escape, log, sandbox, conftest):
            try:
                figures[attack.__name__] = attack(work)
            except Exception as exc:  # an attack the code under test cannot even be asked about
                figures[attack.__name__] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
